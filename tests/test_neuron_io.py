"""Neuron reads from an EKF file: every mode returns the file's rows, coalescing cuts the
number of reads, O_DIRECT falls back with a warning where the filesystem refuses it."""
from __future__ import annotations

import errno
import json
import os
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from edgekiln.errors import InputError
from edgekiln.cli import main
from edgekiln.flash_offload.dense import ekf_format as ekf
from edgekiln.flash_offload.dense.cost_model import CostModel
from edgekiln.flash_offload.dense.neuron_io import NeuronReader, plan_runs
from edgekiln.flash_offload.io.direct import DirectIOWarning
from flash_offload_synth import synthetic_model


def _o_direct_supported(folder: str) -> bool:
    """Whether files under `folder` (where pytest puts tmp_path) open with O_DIRECT."""
    import tempfile
    try:
        with tempfile.NamedTemporaryFile(dir=folder) as fh:
            os.close(os.open(fh.name, os.O_RDONLY | os.O_DIRECT))
        return True
    except (OSError, AttributeError):
        return False


def _tmp_root() -> str:
    import tempfile
    return tempfile.gettempdir()


O_DIRECT_HERE = _o_direct_supported(_tmp_root())
FADVISE_HERE = hasattr(os, "posix_fadvise") and hasattr(os, "preadv")


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    config, resident, ffn = synthetic_model(d=24, f=300, L=2)
    path = ekf.write_ekf(tmp_path_factory.mktemp("io") / "m.ekf", config, resident, ffn)
    return path, ffn


@pytest.mark.parametrize("mode", ["bundled", "split", "layer"])
@pytest.mark.parametrize("threads,direct,gap", [(1, True, 0), (4, True, 8192), (3, False, 100)])
def test_rows_match_file(packed, mode, threads, direct, gap):
    path, ffn = packed
    rng = np.random.default_rng(threads + gap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirectIOWarning)
        r = NeuronReader(path, threads=threads, direct=direct, gap_bytes=gap, mode=mode,
                         max_read_bytes=8192)
    with r:
        for layer in (0, 1):
            ids = rng.choice(300, size=37, replace=False)
            ids = np.append(ids, ids[:3])  # duplicates come back in order too
            up, b, down = r.read(layer, ids)
            np.testing.assert_array_equal(up, ffn[layer][0][ids])
            np.testing.assert_array_equal(b, ffn[layer][1][ids])
            np.testing.assert_array_equal(down, ffn[layer][2][ids])
        assert r.stats.neurons == 2 * 37 and r.stats.n_reads > 0
        assert r.stats.bytes_read >= r.stats.useful_bytes > 0


@pytest.mark.skipif(not O_DIRECT_HERE, reason=f"the filesystem of {_tmp_root()} refuses O_DIRECT "
                    "(the fallback is tested by test_no_o_direct_falls_back_with_warning)")
def test_direct_io_on_disk_counts_aligned_bytes(packed):
    path, _ = packed
    with NeuronReader(path, threads=2, gap_bytes=0) as r:
        assert r.direct
        r.read(0, [5])
        # one bundle (196 bytes) costs one aligned 4 KiB read
        assert (r.stats.n_reads, r.stats.bytes_read) == (1, 4096)
        r.stats.reset()
        r.read(0, [0, 1, 2, 3])  # adjacent bundles: one read
        assert r.stats.n_reads == 1


def test_coalescing_and_split_cost_more_reads(packed):
    path, _ = packed
    ids = np.arange(0, 300, 3)  # every third neuron
    counts = {}
    for name, mode, gap in [("bundled", "bundled", 0), ("gap", "bundled", 1024),
                            ("split", "split", 0)]:
        with NeuronReader(path, threads=1, direct=False, gap_bytes=gap, mode=mode,
                          cold=False) as r:
            r.read(1, ids)
            counts[name] = r.stats.n_reads
    # non-direct reads: no page rounding, so each non-adjacent bundle is its own read
    assert counts["bundled"] == len(ids)
    assert counts["gap"] < 10  # holes of 2 bundles (392 bytes) are read through
    assert counts["split"] == 3 * len(ids)  # up row, down row, b_up: the no-bundling baseline


def test_no_o_direct_falls_back_with_warning(packed, monkeypatch):
    """A filesystem refusing O_DIRECT (tmpfs before Linux 6.6, some FUSE/NFS) opens with
    EINVAL: the reader warns and reads buffered, dropping the page cache for cold reads."""
    path, ffn = packed
    real_open = os.open

    def refuse_direct(p, flags, *a):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(p, flags, *a)

    monkeypatch.setattr(os, "open", refuse_direct)
    dropped = []
    with pytest.warns(DirectIOWarning, match="O_DIRECT is unavailable.*Invalid argument"):
        r = NeuronReader(path, direct=True)
    monkeypatch.setattr(r, "drop_cache", lambda: dropped.append(1))
    with r:
        assert not r.direct
        up, _, _ = r.read(0, [7, 3])
        np.testing.assert_array_equal(up, ffn[0][0][[7, 3]])
    assert dropped == [1]


@pytest.mark.skipif(not FADVISE_HERE, reason="this platform has no posix_fadvise/preadv (Linux has both)")
def test_drop_cache_evicts_pages(packed):
    """posix_fadvise(DONTNEED) is what cold buffered reads rely on: check it works here
    (mincore(2) through ctypes counts the file's pages in the page cache)."""
    path, _ = packed
    assert _resident_pages(path) is not None, "mincore(2) failed: cannot inspect the page cache"
    path.read_bytes()
    assert _resident_pages(path) > 0
    with NeuronReader(path, direct=False) as r:
        r.drop_cache()
    assert _resident_pages(path) == 0


def _resident_pages(path):
    """Pages of `path` in the page cache (mincore(2) through ctypes), or None."""
    import ctypes
    import mmap
    size = path.stat().st_size
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        with open(path, "rb") as fh:  # a private map is writable, so ctypes can take its address
            m = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY)
    except OSError:
        return None
    try:
        vec = (ctypes.c_ubyte * -(-size // mmap.PAGESIZE))()
        anchor = ctypes.c_char.from_buffer(m)
        ok = libc.mincore(ctypes.c_void_p(ctypes.addressof(anchor)), ctypes.c_size_t(size), vec)
        del anchor
        return None if ok != 0 else sum(v & 1 for v in vec)
    finally:
        m.close()


def test_cost_model_fit_recovers_parameters():
    true = {1: (120e-6, 800e6), 4: (40e-6, 2000e6)}
    pts = [{"threads": n, "chunk_bytes": c, "n_reads": 100,
            "seconds": 100 * (lat + c / bw)} for n, (lat, bw) in true.items()
           for c in (4096, 16384, 65536, 262144)]
    m = CostModel.fit(pts)
    for n, (lat, bw) in true.items():
        assert m.latency(n) == pytest.approx(lat, rel=1e-6)
        assert m.bandwidth(n) == pytest.approx(bw, rel=1e-6)
    assert m.latency(2) == m.latency(1) and m.latency(16) == m.latency(4)  # nearest below
    assert m.best_gap_bytes(1) == int(120e-6 * 800e6) // 4096 * 4096
    assert m.best_threads(65536) == 4
    m2 = CostModel.from_json(json.loads(json.dumps(m.to_json())))
    assert m2.read_seconds(10, 1 << 20, 4) == pytest.approx(m.read_seconds(10, 1 << 20, 4))
    with pytest.raises(InputError, match="bench-io"):
        CostModel.from_json({"points": []})


def test_reader_gap_from_cost_model(packed):
    path, _ = packed
    m = CostModel({1: (1e-3, 1e6)})  # 1 ms per read at 1 MB/s: read through 1000-byte holes
    with NeuronReader(path, threads=1, direct=False, gap_bytes=None, cost_model=m) as r:
        assert r.gap_bytes == 0  # 1000 bytes rounds down to 0 pages
    m = CostModel({1: (1e-2, 1e6)})
    with NeuronReader(path, threads=1, direct=False, gap_bytes=None, cost_model=m,
                      cold=False) as r:
        assert r.gap_bytes == 8192
        r.read(0, np.arange(0, 300, 10))  # holes of 9 bundles (1764 bytes): one read
        assert r.stats.n_reads == 1


def test_bench_io_cli_writes_points_and_model(tmp_path):
    out = tmp_path / "r.json"
    res = CliRunner().invoke(main, ["flash-offload", "bench-io", "--dir", str(tmp_path),
                                    "--size-mib", "4", "--read-mib", "1", "--threads", "1,2",
                                    "--chunk-kib", "4,64", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "MB/s" in res.output and "latency" in res.output
    r = json.loads(out.read_text())
    assert {(p["threads"], p["chunk_bytes"]) for p in r["points"]} == {
        (1, 4096), (1, 65536), (2, 4096), (2, 65536)}
    assert all(p["bytes"] == p["n_reads"] * p["chunk_bytes"] > 0 for p in r["points"])
    m = CostModel.load(out)
    assert sorted(m.params) == [1, 2] and all(bw > 0 for _, bw in m.params.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # scratch removed
    bad = CliRunner().invoke(main, ["flash-offload", "bench-io", "--dir", str(tmp_path),
                                    "--chunk-kib", "6"])
    assert bad.exit_code != 0 and "multiples of 4 KiB" in " ".join(bad.output.split())


@pytest.mark.parametrize("mode", ["bundled", "split", "layer"])
@pytest.mark.parametrize("direct", [True, False])
def test_reserved_buffer_never_grows(packed, mode, direct):
    """After reserve(), big requests are read in batches that fit the fixed buffer."""
    path, ffn = packed
    with NeuronReader(path, threads=2, direct=direct, mode=mode, gap_bytes=512) as r:
        need = r.buffer_bytes_for(0, 1)
        assert need < r.buffer_bytes_for(0, 300) or mode == "layer"
        r.reserve(need if mode != "layer" else 3 * 4096)
        size, mm = r.buffer_bytes, r._buf
        ids = np.random.default_rng(2).permutation(300)[:200]
        up, b, down = r.read(1, ids)
        np.testing.assert_array_equal(up, ffn[1][0][ids])
        np.testing.assert_array_equal(b, ffn[1][1][ids])
        np.testing.assert_array_equal(down, ffn[1][2][ids])
        assert r.buffer_bytes == size and r._buf is mm
        assert r.stats.n_reads > 1


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.integers(0, 500), min_size=1, max_size=40, unique=True),
       row=st.integers(1, 600).map(lambda x: 4 * x), gap=st.integers(0, 5000),
       align=st.sampled_from([4, 512, 4096]))
def test_plan_runs_covers_every_row_once(ids, row, gap, align):
    stride = row + 4 * (ids[0] % 7)
    starts = 4096 + np.sort(np.array(ids)) * stride
    runs = plan_runs(starts, row, gap, align)
    assert (runs % align == 0).all() and (runs[:, 1] > runs[:, 0]).all()
    assert (runs[1:, 0] - runs[:-1, 1] > gap).all()  # holes left are larger than the gap
    for s in starts:  # each row lies inside exactly one run
        inside = (runs[:, 0] <= s) & (s + row <= runs[:, 1])
        assert inside.sum() == 1


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.integers(0, 299), min_size=1, max_size=120, unique=True),
       pages=st.integers(3, 12), gap=st.integers(0, 3000), direct=st.booleans())
def test_batches_fit_any_reserved_buffer(packed, ids, pages, gap, direct):
    """Whatever the ids and buffer size, batches fit the buffer and the rows are right."""
    path, ffn = packed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirectIOWarning)
        r = NeuronReader(path, threads=2, direct=direct, gap_bytes=gap, cold=False)
    with r:
        r.reserve(pages * 4096)
        ids = np.array(ids)
        up, b, down = r.read(0, ids)
        np.testing.assert_array_equal(up, ffn[0][0][ids])
        np.testing.assert_array_equal(down, ffn[0][2][ids])
        assert r.buffer_bytes == pages * 4096
