"""EKM bit-plane expert file: round trip, planes 1..k == the k-bit expert, corrupt files."""
from __future__ import annotations

import numpy as np
import pytest

from edgekiln.errors import InputError
from edgekiln.flash_offload.moe.file import (MoeChecksumError, MoeFile, MoeFileError, PlaneReader,
                                             write_moe_file)
from edgekiln.flash_offload.moe.kernel import decode_rows, expert_from_blobs, expert_planes_forward
from edgekiln.flash_offload.moe.model import expert_forward
from edgekiln.flash_offload.moe.memory import MemoryMeter, PlaneBuffer
from edgekiln.quantize.matryoshka import reconstruct

from moe_synth import quantized_experts, random_moe


@pytest.fixture(scope="module", params=[("mwq", 5, 8), ("slice", 2, 4)])
def packed(request, tmp_path_factory):
    mode, lo, hi = request.param
    m = random_moe(seed=3, L=2, E=3)
    qe = quantized_experts(m, mode, lo, hi)
    path = write_moe_file(tmp_path_factory.mktemp("ekm") / "m.ekm", m.config, m.resident, qe, 32, mode)
    return m, qe, path


def test_round_trip_metadata_and_alignment(packed):
    m, qe, path = packed
    mf = MoeFile(path)
    assert mf.bits == qe[0][0].bits and mf.n_layers == 2 and mf.n_experts == 3
    assert mf.config == m.config and mf.group_size == 32 and len(mf.model_hash) == 64
    for name, a in mf.resident().items():
        assert np.array_equal(a, m.resident[name])
    assert set(mf.resident()) == set(m.resident)
    for li in range(2):
        for e in range(3):
            for k in range(1, mf.n_planes + 1):
                s = mf.plane(li, e, k)
                assert s.offset % 4096 == 0 and s.nbytes == len(qe[li][e].plane_bytes(k - 1))
    assert path.stat().st_size % 4096 == 0
    mf.verify()


@pytest.mark.parametrize("direct", [True, False])
def test_planes_1_to_k_give_the_k_bit_expert(packed, direct):
    m, qe, path = packed
    with _maybe_warn(), PlaneReader(path, direct=direct) as rd:
        for li, e in [(0, 0), (1, 2)]:
            for k in range(1, rd.file.n_planes + 1):
                lp = rd.read_planes(li, e, 1, k)
                ex = expert_from_blobs([lp.blob(j) for j in range(1, k + 1)])
                want = qe[li][e].weights(qe[li][e].bits[k - 1])
                for a, b in zip(ex.weights(), want):
                    assert np.array_equal(a, b)
                lp.release()


def _maybe_warn():
    import contextlib
    import warnings
    ctx = contextlib.ExitStack()
    ctx.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")  # O_DIRECT may be refused (tmpfs): the fallback is tested in test_neuron_io
    return ctx


def test_single_plane_reads_and_row_kernel_match(packed):
    m, qe, path = packed
    ex = qe[1][1]
    H = np.random.default_rng(0).normal(size=(5, m.config["d"])).astype(np.float32)
    with _maybe_warn(), PlaneReader(path) as rd:
        blobs = []
        for k in range(1, rd.file.n_planes + 1):
            buf = PlaneBuffer(rd.file.plane_bytes(1, 1, k), None)
            blobs.append(rd.read_into(buf, 1, 1, k).blob(k))
        got = expert_from_blobs(blobs)
    for k in range(1, ex.n_planes + 1):
        full = reconstruct(ex.up.planes[:k])
        for _, rows in decode_rows(got.up.planes, 8, 24, [k]):
            assert np.array_equal(rows, full[8:24])
    work = [(1, H[:2]), (ex.n_planes, H[2:])]
    for (k, X), y in zip(work, expert_planes_forward(got, work, block_weights=16 * 64)):
        np.testing.assert_allclose(y, expert_forward(X, *ex.weights(ex.bits[k - 1])), rtol=1e-5, atol=1e-5)


def _corrupt(path, at: int, tmp_path):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x40
    out = tmp_path / "bad.ekm"
    out.write_bytes(bytes(data))
    return out


def test_plane_checksum_names_the_plane(packed, tmp_path):
    _, _, path = packed
    s = MoeFile(path).plane(1, 2, 2)
    bad = _corrupt(path, s.offset + s.nbytes // 2, tmp_path)
    mf = MoeFile(bad)  # header intact
    with _maybe_warn(), PlaneReader(mf) as rd:
        rd.read_planes(1, 2, 1, 1).release()  # other planes still read
        with pytest.raises(MoeChecksumError, match=r"plane 2 of expert 1\.2") as e:
            rd.read_planes(1, 2, 1, 3)
        assert e.value.section == "l1.e2.p2"
    with pytest.raises(MoeChecksumError):
        mf.verify()


def test_header_corruption_truncation_and_magic(packed, tmp_path):
    _, _, path = packed
    with pytest.raises(MoeChecksumError, match="header"):
        MoeFile(_corrupt(path, 100, tmp_path))
    with pytest.raises(MoeFileError, match="bad magic"):
        MoeFile(_corrupt(path, 1, tmp_path))
    short = tmp_path / "short.ekm"
    short.write_bytes(path.read_bytes()[:-5000])
    with pytest.raises(MoeFileError, match="truncated"):
        MoeFile(short)
    with pytest.raises(MoeFileError, match="no such file"):
        MoeFile(tmp_path / "missing.ekm")


def test_bit_widths_outside_the_stored_range(packed):
    _, qe, path = packed
    mf = MoeFile(path)
    assert mf.planes_for_bits(mf.bits[-1]) == mf.n_planes
    for b in (mf.bits[0] - 1, mf.bits[-1] + 1):
        with pytest.raises(InputError, match="outside the stored range"):
            mf.planes_for_bits(b)
    with pytest.raises(InputError, match="plane"):
        mf.plane(0, 0, mf.n_planes + 1)


def test_writer_refuses_mixed_bit_widths(tmp_path):
    m = random_moe(seed=1, L=1, E=2)
    a, b = quantized_experts(m, "mwq", 5, 8)[0], quantized_experts(m, "mwq", 2, 4)[0]
    with pytest.raises(InputError, match="same configuration"):
        write_moe_file(tmp_path / "x.ekm", m.config, m.resident, [[a[0], b[1]]], 32, "mwq")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_buffers_are_metered(packed):
    _, _, path = packed
    meter = MemoryMeter()
    with _maybe_warn(), PlaneReader(path) as rd:
        lp = rd.read_planes(0, 1, 1, 2, meter)
        assert meter.used == lp.nbytes == MoeFile(path).expert_bytes(0, 1, 2)
        lp.release()
    assert meter.used == 0 and meter.peak > 0


def test_kiln_moe_pack_run_and_bad_budget(tmp_path):
    from click.testing import CliRunner

    from edgekiln.cli import main
    from edgekiln.flash_offload.moe.model import save_moe

    ckpt = tmp_path / "m.npz"
    save_moe(ckpt, random_moe(seed=4, d=32, L=1, E=2, f=64, T=16))
    out = tmp_path / "m.ekm"
    r = CliRunner().invoke(main, ["moe", "pack", str(ckpt), "-o", str(out), "--calib-windows", "0", "--group", "32"])
    assert r.exit_code == 0, r.output
    assert MoeFile(out).bits == (5, 6, 7, 8)
    r = CliRunner().invoke(main, ["moe", "run", str(out), "--requests", "2", "--tokens", "8", "--buffered",
                                  "--json", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    import json
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["name"] == "d2moe" and d["tokens"] == 16 and np.isfinite(d["perplexity"])
    r = CliRunner().invoke(main, ["moe", "run", str(out), "--budget", "1000", "--requests", "2", "--tokens", "8"])
    assert r.exit_code != 0 and "below the minimum" in r.output and "--budget" in r.output


def test_router_bit_widths_outside_the_file_are_refused(packed):
    from edgekiln.flash_offload.moe.engine import D2Moe, LruFixedBits, run_requests
    from edgekiln.flash_offload.moe.model import MoEModel

    m, _, path = packed
    mf = MoeFile(path)
    base = MoEModel(m.config, m.resident, None)
    wins = [np.arange(6) % m.config["V"] for _ in range(2)]
    too_low = mf.bits[0] - 1
    with _maybe_warn(), pytest.raises(InputError, match=f"bit-width {too_low} is outside the stored range"):
        run_requests(D2Moe(mf, None, lambda layer, e, H, s: np.full(len(H), too_low)), base, wins)
    with _maybe_warn(), pytest.raises(InputError, match="outside the stored range"):
        LruFixedBits(mf, None, bits=mf.bits[-1] + 1)
