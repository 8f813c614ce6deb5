"""The EnergyRunner / MLPerf Tiny text protocol (`--main energyrunner`) on emulated boards:
the commands EEMBC's host tools send, over the same serial links as the framed protocol.
Results equal the simulator harness bit for bit (via the exact m-results-bits line), the
m-lap-us stamps move, malformed commands get e-[...] and the board keeps answering, a
killed board resumes to the uninterrupted run's results."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import edgekiln
from edgekiln.boards.energyrunner import EnergyRunnerLink
from edgekiln.boards.link import LinkError, ModelMismatch
from edgekiln.boards.registry import get_board
from edgekiln.boards.session import board_project, open_board, run_on_board
from edgekiln.errors import InputError
from edgekiln.targets.build import build_project
from edgekiln.targets.simulators import run_firmware

from conftest import require_target

pytestmark = pytest.mark.qemu
# cortex-m4 (CMSDK UART on mps2-an386) and one RISC-V (16550 on QEMU virt)
TARGETS = ["cortex-m4", "gap8"]


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    return RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, y), X


@pytest.fixture(scope="module")
def projects(tmp_path_factory, iris):
    made = {}

    def get(target: str):
        if target not in made:
            require_target(target)
            out = tmp_path_factory.mktemp(f"er-{target}")
            edgekiln.export(iris[0], target, out, name="iris", options={"main": "energyrunner"})
            build_project(out)
            made[target] = out
        return made[target]

    return get


@pytest.mark.parametrize("target", TARGETS)
def test_energyrunner_run_equals_the_harness(projects, iris, tmp_path, target):
    est, X = iris
    project = projects(target)
    r = run_on_board(project, get_board(f"emulated-{target}"), X)
    harness = edgekiln.convert(est, target, name="iris", workdir=tmp_path / "h")
    ref = run_firmware(harness.build.elf, harness.target, X, preload=False)
    assert np.array_equal(r.labels, ref.labels)
    assert np.array_equal(r.outputs.view(np.uint32), ref.outputs.view(np.uint32))
    assert np.array_equal(est.classes_[r.labels], est.predict(X))
    assert r.instructions is not None and len(r.instructions) == len(X)
    assert np.abs(np.array(r.instructions) - np.array(ref.instructions)).max() <= 8
    link = r.extra["link"]
    assert link["protocol"] == "energyrunner" and link["retries"] == 0 and link["crc_errors"] == 0
    assert r.extra["hello"]["model"] == "iris" and r.extra["hello"]["target"] == target
    assert r.cycles is None  # QEMU: no cycle counter


@pytest.mark.parametrize("target", TARGETS)
def test_energyrunner_commands_and_errors(projects, iris, target):
    est, X = iris
    project = projects(target)
    board = get_board(f"emulated-{target}")
    _, _, expected = board_project(project, board)
    with open_board(board, project / "fw.elf", count_instructions=False) as (ser, url, emu):
        link = EnergyRunnerLink(ser, timeout=5.0, expected_hash=expected)
        info = link.connect()
        assert info["name"] == "m-name-dut-[edgekiln]" and info["hash"] == expected and info["n_in"] == "4"
        # the EEMBC grammar: infer N W -> warm-up and timed lines, two m-lap-us stamps
        link.load(X[7])
        lines = link.command("infer 20 3")
        assert lines[:3] == ["m-warmup-start-3", "m-warmup-done", "m-infer-start-20"]
        laps = [int(ln.rsplit("-", 1)[1]) for ln in lines if ln.startswith("m-lap-us-")]
        assert len(laps) == 2 and laps[1] >= laps[0] > 0  # the emulator's clock moves
        label, outs = link.parse_results(link.command("results"))
        assert est.classes_[label] == est.predict(X[7:8])[0]
        assert np.allclose(outs, est.predict_proba(X[7:8])[0], atol=1e-6)
        assert any(ln.startswith("m-buffer-") for ln in link.command("db print 16 0"))
        assert link.command("timestamp")[0].startswith("m-lap-us-")
        assert "results      : Print the last results" in link.command("help")
        # malformed commands: an e-[...] line, then m-ready, and nothing changes
        bad = {"frobnicate": "Unknown command", "db load 99999": "db load N", "db 123": "Insufficient",
               "db zz": "Invalid hex", "infer 0": "iterations must be >0", "infer 1 -2": "warmup must be",
               "x" * 200: "Command too long", "db": "requires a subcommand", "a b c d e": "Too many arguments",
               "db load 8": None}
        for cmd, why in bad.items():
            lines = link.command(cmd, check=False)
            if why:
                assert any(ln.startswith("e-[") and why in ln for ln in lines), (cmd, lines)
        link.command("db 0011223344556677")            # 8 bytes loaded: not an input of 16
        with pytest.raises(LinkError, match="Load the input first"):
            link.command("infer 1 0")
        link.load(X[7])                                # a full upload works again afterwards
        assert link.parse_results(link.command("infer 1 0"))[0] == label
        ser.write(bytes(range(1, 256)).replace(b"%", b""))  # garbage: one long junk command
        link.sync()
        assert link.infer(1, 0)["label"] == label
        link.exit()


def test_energyrunner_wrong_model_is_refused(projects):
    project = projects("cortex-m4")
    board = get_board("emulated-cortex-m4")
    with open_board(board, project / "fw.elf", count_instructions=False) as (ser, url, emu):
        with pytest.raises(ModelMismatch, match="flash this project first"):
            EnergyRunnerLink(ser, expected_hash="00" * 32).connect()


def test_energyrunner_killed_board_resumes(projects, iris):
    est, X = iris
    project = projects("gap8")
    board = get_board("emulated-gap8")
    with pytest.raises(LinkError, match=r"last acknowledged sample: (\d+).*--resume"):
        run_on_board(project, board, X[:60], kill_after=25)
    with pytest.raises(InputError, match="other data"):  # the checkpoint belongs to X[:60]
        run_on_board(project, board, X[:50], resume=True)
    resumed = run_on_board(project, board, X[:60], resume=True)
    assert resumed.extra["link"]["resumed_from"] >= 25
    full = run_on_board(project, board, X[:60])
    assert np.array_equal(resumed.labels, full.labels)
    assert np.array_equal(resumed.outputs.view(np.uint32), full.outputs.view(np.uint32))
    assert not (project / "board_run.partial.npz").exists()
