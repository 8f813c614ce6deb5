"""EKF bundled weight file: round trips, both layouts, the byte layout the C reader relies on,
and clear errors for corrupt, truncated or foreign files."""
from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from edgekiln.errors import InputError
from edgekiln.flash_offload.dense import ekf_format as ekf
from flash_offload_synth import synthetic_model


@pytest.fixture
def model():
    return synthetic_model()


@pytest.mark.parametrize("layouts", [("bundled", "split"), ("bundled",), ("split",)])
def test_round_trip(tmp_path, model, layouts):
    config, resident, ffn = model
    path = ekf.write_ekf(tmp_path / "m.ekf", config, resident, ffn, layouts=layouts)
    f = ekf.EkfFile(path)
    assert f.config == config
    assert f.model_hash == ekf.model_hash(config, resident, ffn)
    assert f.layouts == layouts
    got = f.resident()
    assert sorted(got) == sorted(resident)
    for k in resident:
        np.testing.assert_array_equal(got[k], resident[k])
    for i, (up, b, down) in enumerate(ffn):
        u2, b2, d2 = f.ffn(i)
        np.testing.assert_array_equal(u2, up)
        np.testing.assert_array_equal(b2, b)
        np.testing.assert_array_equal(d2, down)
    f.verify()
    assert path.stat().st_size == f.file_size and f.file_size % ekf.ALIGN == 0
    for s in f.sections.values():
        assert s.offset % ekf.ALIGN == 0, s.name


def test_bundle_bytes_at_documented_offsets(tmp_path, model):
    """Bundle j of layer i is [up j | down j | b_up j] at offset + j*stride, raw little-endian
    float32: what the C runtime preads."""
    config, resident, ffn = model
    path = ekf.write_ekf(tmp_path / "m.ekf", config, resident, ffn, bundle_align=64)
    f = ekf.EkfFile(path)
    d = f.d_model
    assert f.bundle_stride == 192 and f.bundle_stride >= 4 * (2 * d + 1)
    raw = path.read_bytes()
    for i, (up, b, down) in enumerate(ffn):
        s = f.bundled_section(i)
        for j in (0, 7, up.shape[0] - 1):
            at = s.offset + j * s.stride
            row = np.frombuffer(raw[at:at + 4 * (2 * d + 1)], dtype="<f4")
            np.testing.assert_array_equal(row[:d], up[j])
            np.testing.assert_array_equal(row[d:2 * d], down[j])
            assert row[2 * d] == b[j]


def test_binary_table_matches_json(tmp_path, model):
    """The fixed header and the 128-byte section records (the C reader's view)."""
    config, resident, ffn = model
    path = ekf.write_ekf(tmp_path / "m.ekf", config, resident, ffn)
    raw = path.read_bytes()
    magic, version, n, start, size, t_off, j_off, j_len, hcrc = struct.unpack_from(
        "<8sIIQQIIII", raw, 0)
    assert (magic, version, size) == (ekf.MAGIC, 1, len(raw))
    assert start % 4096 == 0 and j_off + j_len <= start
    assert zlib.crc32(raw[t_off:j_off + j_len]) == hcrc
    meta = json.loads(raw[j_off:j_off + j_len])
    assert len(meta["sections"]) == n
    for k, js in enumerate(meta["sections"]):
        rec = raw[t_off + 128 * k: t_off + 128 * (k + 1)]
        name = rec[:64].rstrip(b"\0").decode()
        kind, layer, ndim, *dims = struct.unpack_from("<8I", rec, 64)
        crc, = dims[4:]
        off, nbytes, stride = struct.unpack_from("<3Q", rec, 96)
        assert name == js["name"] and ekf.KIND_NAMES[kind] == js["kind"]
        assert (layer if layer != ekf.NO_LAYER else None) == js["layer"]
        assert dims[:ndim] == js["shape"] and (off, nbytes, stride) == (
            js["offset"], js["nbytes"], js["stride"])
        assert crc == int(js["crc32"], 16) == zlib.crc32(raw[off:off + nbytes])


def test_model_hash_depends_on_weights_not_layout(model):
    config, resident, ffn = model
    h = ekf.model_hash(config, resident, ffn)
    ffn2 = [(u.copy(), b.copy(), d.copy()) for u, b, d in ffn]
    ffn2[1][2][3, 4] += 1e-3
    assert ekf.model_hash(config, resident, ffn2) != h
    assert ekf.model_hash(dict(config, h=4), resident, ffn) != h


def test_checksum_error_names_section(tmp_path, model):
    config, resident, ffn = model
    path = ekf.write_ekf(tmp_path / "m.ekf", config, resident, ffn)
    f = ekf.EkfFile(path)
    s = f.sections["l1.down"]
    raw = bytearray(path.read_bytes())
    raw[s.offset + 5] ^= 0x40
    path.write_bytes(bytes(raw))
    f = ekf.EkfFile(path)  # the header is intact
    with pytest.raises(ekf.EkfChecksumError, match="l1.down") as e:
        f.verify()
    assert e.value.section == "l1.down" and isinstance(e.value, InputError)


def test_corrupt_header_truncated_magic_version(tmp_path, model):
    config, resident, ffn = model
    path = ekf.write_ekf(tmp_path / "m.ekf", config, resident, ffn)
    raw = path.read_bytes()
    cases = {
        "trunc": (raw[:len(raw) - 4096], ekf.EkfTruncatedError, "truncated"),
        "magic": (b"PK\x03\x04" + raw[4:], ekf.EkfBadMagicError, "not an EKF"),
        "version": (raw[:8] + struct.pack("<I", 99) + raw[12:], ekf.EkfVersionError, "99"),
        "json": (raw[:300] + bytes([raw[300] ^ 1]) + raw[301:], ekf.EkfChecksumError, "header"),
        "empty": (b"", ekf.EkfBadMagicError, "magic"),
        "offsets": (raw[:40] + struct.pack("<I", 10**9) + raw[44:], ekf.EkfFormatError,
                    "corrupt EKF header"),
    }
    for name, (data, err, msg) in cases.items():
        p = tmp_path / f"{name}.ekf"
        p.write_bytes(data)
        with pytest.raises(err, match=msg):
            ekf.EkfFile(p)
    with pytest.raises(ekf.EkfFormatError, match="no such file"):
        ekf.EkfFile(tmp_path / "missing.ekf")


def test_failed_write_leaves_old_file(tmp_path, model):
    """Atomic write: an error mid-way keeps the previous file and leaves no temp file."""
    config, resident, ffn = model
    path = ekf.write_ekf(tmp_path / "m.ekf", config, resident, ffn)
    before = path.read_bytes()

    class Boom:  # fails when the writer converts it, after the header is planned
        shape = (40, 16)
        ndim = 2

        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("disk on fire")

    bad = list(ffn)
    bad[1] = (Boom(), ffn[1][1], ffn[1][2])
    with pytest.raises(RuntimeError):
        ekf.write_ekf(path, config, resident, bad)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.ekf"]


def test_bad_model_shapes(tmp_path, model):
    config, resident, ffn = model
    up, b, down = ffn[0]
    with pytest.raises(InputError, match="layer 0"):
        ekf.write_ekf(tmp_path / "x.ekf", config, resident, [(up, b, down[:, :3])])
    with pytest.raises(InputError, match="layouts"):
        ekf.write_ekf(tmp_path / "x.ekf", config, resident, ffn, layouts=("columns",))
    with pytest.raises(InputError, match="JSON-serialisable"):
        ekf.write_ekf(tmp_path / "x.ekf", dict(config, bad=object()), resident, ffn)
    with pytest.raises(InputError, match="clashes"):
        ekf.write_ekf(tmp_path / "x.ekf", config, dict(resident, **{"l0.up": up}), ffn)
    f = ekf.EkfFile(ekf.write_ekf(tmp_path / "b.ekf", config, resident, ffn, layouts=("bundled",)))
    with pytest.raises(InputError, match="re-pack with --layout split"):
        f.split_sections(0)


def test_pack_cli_round_trip(tmp_path, model):
    from click.testing import CliRunner

    from edgekiln.cli import main
    from edgekiln.flash_offload.lm.model import save_checkpoint

    config, resident, ffn = model
    save_checkpoint(tmp_path / "m.npz", config, resident, ffn)
    out = tmp_path / "m.ekf"
    res = CliRunner().invoke(main, ["flash-offload", "pack", str(tmp_path / "m.npz"),
                                    "-o", str(out),
                                    "--layout", "bundled"])
    assert res.exit_code == 0, res.output
    assert "checksums verified" in res.output
    f = ekf.EkfFile(out)
    assert f.layouts == ("bundled",) and f.config == config
    assert f.model_hash == ekf.model_hash(config, resident, ffn)
    np.testing.assert_array_equal(f.ffn(1)[2], ffn[1][2])
    bad = CliRunner().invoke(main, ["flash-offload", "pack", str(out),
                                    "-o", str(tmp_path / "x.ekf")])
    msg = " ".join(bad.output.split())
    assert bad.exit_code != 0 and "not a flash_offload .npz checkpoint" in msg


def test_verify_cli_names_the_bad_section(tmp_path, model):
    from click.testing import CliRunner

    from edgekiln.cli import main

    config, resident, ffn = model
    path = ekf.write_ekf(tmp_path / "m.ekf", config, resident, ffn)
    ok = CliRunner().invoke(main, ["flash-offload", "verify", str(path), "--sections"])
    assert ok.exit_code == 0 and "checksums OK" in ok.output and "l1.bundled" in ok.output
    s = ekf.EkfFile(path).sections["l0.bundled"]
    raw = bytearray(path.read_bytes())
    raw[s.offset + s.nbytes - 1] ^= 1
    path.write_bytes(bytes(raw))
    bad = CliRunner().invoke(main, ["flash-offload", "verify", str(path)])
    assert bad.exit_code != 0 and "'l0.bundled'" in " ".join(bad.output.split())


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_file_respects_the_umask(tmp_path, model, umask, mode):
    """An .ekf is an output like any other: its permissions follow the umask (mkstemp's 0600 does not)."""
    import os
    import stat

    from edgekiln.flash_offload.io.sections import atomic_write

    config, resident, ffn = model
    old = os.umask(umask)
    try:
        path = ekf.write_ekf(tmp_path / "m.ekf", config, resident, ffn)
        with atomic_write(tmp_path / "plain.bin") as fh:
            fh.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "plain.bin").stat().st_mode) == mode
