"""HEBF: hottest queue head first, each plane loaded once and shared by every token needing
it or more bits, outputs equal to the k-bit experts, I/O and compute overlapped."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from edgekiln.flash_offload.moe.hebf import HebfScheduler
from edgekiln.flash_offload.moe.file import MoeFile, PlaneReader, write_moe_file
from edgekiln.flash_offload.moe.kernel import expert_from_blobs, expert_planes_forward
from edgekiln.flash_offload.moe.model import expert_forward
from edgekiln.flash_offload.moe.memory import MemoryMeter

from moe_synth import quantized_experts, random_moe


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    m = random_moe(seed=5, L=2, E=3)
    qe = quantized_experts(m, "mwq", 5, 8)
    return m, qe, write_moe_file(tmp_path_factory.mktemp("hebf") / "m.ekm", m.config, m.resident, qe, 32, "mwq")


def _scheduler(path, budget=None, overlap=False, compute=None, io_threads=2):
    warnings.simplefilter("ignore")  # O_DIRECT may be refused on tmpfs
    rd = PlaneReader(MoeFile(path))
    meter = MemoryMeter(budget)
    H = {}

    def run(layer, e, work, blobs):
        return expert_planes_forward(expert_from_blobs(blobs), [(k, H["h"][rows]) for k, rows in work])

    s = HebfScheduler(rd, meter, compute or run, io_threads=io_threads, overlap=overlap)
    return s, H


# (expert, planes) per assignment: expert 2 wanted by 3 tokens (planes 1,2,2), expert 0 by 2
# tokens (3,3), expert 1 by one token (1)
ASSIGN = [(2, 1), (2, 2), (2, 2), (0, 3), (0, 3), (1, 1)]


def _run(s, H, layer, d, seed=0):
    rng = np.random.default_rng(seed)
    n = len(ASSIGN)
    H["h"] = rng.normal(size=(n, d)).astype(np.float32)
    e = np.array([a for a, _ in ASSIGN])
    k = np.array([b for _, b in ASSIGN])
    w = rng.uniform(0.2, 1, n).astype(np.float32)
    out = np.zeros((n, d), np.float32)
    st = s.run_layer(layer, np.arange(n), e, k, out, w)
    return st, out, e, k, w


def test_most_requested_head_first_and_low_bit_reuse(packed):
    m, qe, path = packed
    s, H = _scheduler(path)
    st, *_ = _run(s, H, 0, m.config["d"])
    # heads by (tokens wanting them desc, plane asc, expert asc): e2p1 (3 tokens), e0p1 (2),
    # e0p2 (2), e2p2 (2), e0p3 (2), e1p1 (1)
    assert st.loads == [(2, 1), (0, 1), (0, 2), (2, 2), (0, 3), (1, 1)]
    # each plane read once although 3 tokens use e2's plane 1 and 2 tokens e0's planes
    mf = MoeFile(path)
    assert st.bytes_read == sum(mf.plane_bytes(0, e, p) for e, p in st.loads)
    # a group runs when its planes land: e2 at 1 plane (1 token) before e2 at 2 planes
    assert st.computes.index((2, 1, 1)) < st.computes.index((2, 2, 2))
    # cached planes serve the next step: nothing is read again
    st2, *_ = _run(s, H, 0, m.config["d"], seed=1)
    assert st2.loads == [] and st2.bytes_read == 0
    s.close()


@pytest.mark.parametrize("overlap", [False, True])
def test_outputs_equal_the_k_bit_experts(packed, overlap):
    m, qe, path = packed
    d = m.config["d"]
    s, H = _scheduler(path, overlap=overlap)
    for layer in (0, 1):
        st, out, e, k, w = _run(s, H, layer, d, seed=layer)
        want = np.zeros_like(out)
        for i in range(len(e)):
            ex = qe[layer][e[i]]
            want[i] += w[i] * expert_forward(H["h"][i:i + 1], *ex.weights(ex.bits[k[i] - 1]))[0]
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
        assert sorted(st.loads) == sorted({(a, p) for a, b in ASSIGN for p in range(1, b + 1)})
    s.close()


def test_io_and_compute_overlap(packed):
    """With overlap, a compute runs while later planes are still being loaded."""
    import threading
    import time

    m, qe, path = packed
    events = []
    lock = threading.Lock()

    def slow_compute(layer, e, work, blobs):
        with lock:
            events.append(("start", e, time.perf_counter()))
        time.sleep(0.05)
        with lock:
            events.append(("end", e, time.perf_counter()))
        return [np.zeros((len(rows), m.config["d"]), np.float32) for _, rows in work]

    s, H = _scheduler(path, overlap=True, compute=slow_compute)
    orig = s.reader.read_into
    loads = []

    def timed_read(*a, **kw):
        r = orig(*a, **kw)
        loads.append(time.perf_counter())
        return r

    s.reader.read_into = timed_read
    _run(s, H, 1, m.config["d"])
    first_start = min(t for ev, _, t in events if ev == "start")
    assert any(t > first_start for t in loads), "no plane landed while an expert was computing"
    s.close()


def test_profile_measures_every_bit_width_and_feeds_the_tie_break(packed):
    from edgekiln.flash_offload.moe.engine import D2Moe

    m, qe, path = packed
    warnings.simplefilter("ignore")
    sysm = D2Moe(MoeFile(path), None, lambda layer, e, H, s: np.full(len(H), 8))
    prof = sysm.profile(m.config["d"], 4)
    bits = list(MoeFile(path).bits)
    assert sorted(prof["load_ms"]) == bits and sorted(prof["compute_ms"]) == bits
    assert all(v > 0 for v in prof["load_ms"].values()) and all(v > 0 for v in prof["compute_ms"].values())
    mf = MoeFile(path)
    assert prof["plane_bytes"] == {b: mf.plane_bytes(0, 0, k + 1) for k, b in enumerate(bits)}
    assert mf.plane(0, 0, 1).nbytes > mf.plane(0, 0, 2).nbytes  # the base plane is the big one
    assert sysm.sched.load_cost == [prof["load_ms"][b] for b in bits]
    sysm.close()


def test_busy_compute_thread_merges_bit_widths_into_one_pass(packed):
    """A low-bit group whose expert still waits for higher planes starts at once only if the
    compute thread is idle; while it is busy the groups wait and share one decoding pass."""
    import time

    m, qe, path = packed
    d = m.config["d"]
    calls = []

    def slow_compute(layer, e, work, blobs):
        calls.append((e, [k for k, _ in work]))
        time.sleep(0.3)
        return [np.zeros((len(rows), d), np.float32) for _, rows in work]

    s, H = _scheduler(path, overlap=True, compute=slow_compute, io_threads=1)  # loads land in issue order
    # expert 1: 3 tokens at 1 plane (hottest, computed first); expert 0: 1 token at 1 plane, 1 at 3
    e = np.array([1, 1, 1, 0, 0])
    k = np.array([1, 1, 1, 1, 3])
    out = np.zeros((5, d), np.float32)
    st = s.run_layer(0, np.arange(5), e, k, out, np.ones(5, np.float32))
    assert st.loads[0] == (1, 1)
    assert calls == [(1, [1]), (0, [1, 3])]
    s.close()
