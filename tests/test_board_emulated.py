"""Boards end to end on emulated boards: a board-mode firmware on QEMU, driven over its serial
port (a TCP socket, or a pty for qemu-aarch64) through the framed protocol. Outputs equal the
simulator harness's bit for bit and scikit-learn's predictions; faults (garbage, a corrupting
relay, a killed or hung board, a reset, a wrong model, an oversize frame) end correct or with
a clear error, never with a wrong result."""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import edgekiln
from edgekiln.boards import messages as m
from edgekiln.boards.emulated import EmulatedBoard
from edgekiln.boards.framing import FrameDecoder, FrameError, encode_frame
from edgekiln.boards.link import BoardLink, LinkError, LinkTimeout, ModelMismatch, open_port
from edgekiln.boards.registry import get_board
from edgekiln.boards.session import board_link, board_project, run_on_board
from edgekiln.targets.build import build_project
from edgekiln.targets.simulators import run_firmware

from edgekiln.boards.relay import FaultRelay
from conftest import require_target

pytestmark = pytest.mark.qemu


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    return RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, y), X


def _project(tmp_path_factory, est, target: str):
    require_target(target)
    out = tmp_path_factory.mktemp(f"board-{target}")
    edgekiln.export(est, target, out, name="iris", options={"main": "board"})
    build_project(out)
    return out


@pytest.fixture(scope="module")
def m4(tmp_path_factory, iris):
    return _project(tmp_path_factory, iris[0], "cortex-m4")


@pytest.mark.parametrize("target", ["cortex-m4", "gap8", "pulp-open", "arm"])
def test_board_run_equals_the_harness_and_sklearn(tmp_path_factory, iris, target):
    est, X = iris
    project = _project(tmp_path_factory, est, target)
    board = get_board(f"emulated-{target}")
    r = run_on_board(project, board, X)
    harness = edgekiln.convert(est, target, name="iris", workdir=tmp_path_factory.mktemp(f"h-{target}"))
    ref = run_firmware(harness.build.elf, harness.target, X, preload=False)
    assert np.array_equal(r.labels, ref.labels)
    assert np.array_equal(r.outputs.view(np.uint32), ref.outputs.view(np.uint32))  # bit for bit
    assert np.array_equal(est.classes_[r.labels], est.predict(X))
    # The same model counted the same way; only the call site between the markers differs
    # (argument set-up in the two mains): a few instructions at most.
    assert len(r.instructions) == len(X)
    assert np.abs(np.array(r.instructions) - np.array(ref.instructions)).max() <= 8
    link = r.extra["link"]
    assert link["retries"] == 0 and link["frames_sent"] >= len(X) // r.extra["hello"]["max_batch"]
    assert r.extra["hello"]["counter"] is None and r.cycles is None  # QEMU ports: no cycle counter
    one = run_on_board(project, board, X[:20], batch=False)
    assert np.array_equal(one.labels, r.labels[:20])


def test_garbage_on_the_line_is_survived(m4, iris):
    est, X = iris
    board = get_board("emulated-cortex-m4")
    _, _, expected = board_project(m4, board)
    rng = np.random.default_rng(0)
    with board_link(board, m4 / "fw.elf", expected, timeout=1.0) as (link, _):
        got = []
        for i in range(0, len(X), 25):
            link.port.write(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())  # noise, zeros included
            got.append(link.infer_many(X[:i + 25], start=i)[0])
        prof = link.profile()
        assert np.array_equal(est.classes_[np.concatenate(got)], est.predict(X))
        assert prof["crc_errors"] + prof["cobs_errors"] + prof["short_frames"] + prof["oversize_frames"] > 0
        assert link.stats.board_frame_errors > 0


@pytest.mark.parametrize("rates,mode", [((0.0005, 0.0002, 0.0002), "batch"), ((0.0005, 0.0002, 0.0002), "batch-w1"),
                                        ((0.001, 0.0004, 0.0004), "batch"), ((0.004, 0.002, 0.002), "one")])
def test_fault_injecting_relay_never_gives_a_wrong_result(m4, iris, rates, mode):
    """batch: BATCH streamed (HELLO's window in flight); batch-w1: stop-and-wait; one: INFER."""
    est, X = iris
    with EmulatedBoard(get_board("emulated-cortex-m4"), m4 / "fw.elf", count_instructions=False) as emu:
        relay = FaultRelay(int(emu.url.rsplit(":", 1)[1]), corrupt=rates[0], drop=rates[1], dup=rates[2],
                           delay=0.05, delay_s=0.05, seed=1)
        port = open_port(relay.url)
        link = BoardLink(port, timeout=0.3, retries=60, expected_hash=board_project(m4, emu.board)[2],
                         window=1 if mode == "batch-w1" else None)
        link.connect()
        labels, outs, _ = link.infer_many(X, batch=mode != "one")
        port.close()
        relay.close()
    assert np.array_equal(est.classes_[labels], est.predict(X))
    assert np.allclose(outs, est.predict_proba(X), atol=1e-6)
    assert sum(relay.faults.values()) > 0 and link.stats.retries > 0
    print(f"relay rates {rates} {mode} (window {link.hello.window if mode == 'batch' else 1}): "
          f"faults {relay.faults}, retries {link.stats.retries}, timeouts {link.stats.timeouts}, corrupt at host "
          f"{link.stats.host_frame_errors}, at board {link.stats.board_frame_errors}, results lost 0")


def test_killed_board_names_the_last_sample_and_resume_finishes(m4, iris):
    est, X = iris
    board = get_board("emulated-cortex-m4")
    with pytest.raises(LinkError, match=r"last acknowledged sample: (\d+).*--resume") as e:
        run_on_board(m4, board, X, timeout=0.5, retries=1, kill_after=64)
    assert (m4 / "board_run.partial.npz").exists()
    resumed = run_on_board(m4, board, X, resume=True)
    full = run_on_board(m4, board, X)
    assert resumed.extra["link"]["resumed_from"] >= 64
    assert np.array_equal(resumed.labels, full.labels) and np.array_equal(resumed.outputs, full.outputs)
    assert not (m4 / "board_run.partial.npz").exists()
    assert "socket" in str(e.value) or "lost" in str(e.value) or "did not answer" in str(e.value)


def test_wrong_model_hash_is_refused(m4):
    board = get_board("emulated-cortex-m4")
    with pytest.raises(ModelMismatch, match="flash this project first"):
        with board_link(board, m4 / "fw.elf", "00" * 32):
            pass


def test_hung_board_times_out_with_a_clear_error(m4):
    board = get_board("emulated-cortex-m4")
    with board_link(board, m4 / "fw.elf", None, timeout=0.3, retries=2) as (link, emu):
        os.kill(emu.proc.pid, signal.SIGSTOP)  # the board stops answering, its port stays open
        try:
            began = time.monotonic()
            with pytest.raises(LinkTimeout, match=r"did not answer PING \(seq \d+\) after 3 tries"):
                link.ping(b"x")
            assert time.monotonic() - began < 5
        finally:
            os.kill(emu.proc.pid, signal.SIGCONT)


def test_oversize_frame_gets_error_and_the_board_still_answers(m4):
    board = get_board("emulated-cortex-m4")
    with board_link(board, m4 / "fw.elf", None) as (link, _):
        link.port.write(b"\x41" * 5000 + b"\x00")
        dec, deadline, errors = FrameDecoder(), time.monotonic() + 5, []
        while not errors and time.monotonic() < deadline:
            errors = [e for e in dec.feed(link.port.read(256)) if not isinstance(e, FrameError) and e.type == m.ERROR]
        assert errors and m.parse_error(errors[0].payload)[0] == "oversize"
        assert link.ping(b"still here") == b"still here"
        with pytest.raises(LinkError, match="payload length"):
            link.request(m.INFER, b"\x00" * 3)
        prof = link.profile()
        assert prof["oversize_frames"] == 1 and prof["inferences"] == 0 and prof["bad_requests"] >= 1


def test_board_reset_is_detected_and_the_run_continues(m4, iris):
    est, X = iris
    board = get_board("emulated-cortex-m4")
    with board_link(board, m4 / "fw.elf", board_project(m4, board)[2], timeout=1.0) as (link, emu):
        first = link.infer_many(X[:50])[0]
        emu.reset()
        rest = link.infer_many(X, start=50)[0]
        assert link.stats.resets == 1 and link.profile()["inferences"] == 100
    assert np.array_equal(est.classes_[np.concatenate([first, rest])], est.predict(X))
