"""Matryoshka bit-planes: nested exactness, byte round-trips, baselines, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from edgekiln.errors import InputError, ModelLoadError
from edgekiln.quantize import group_quant as gq
from edgekiln.quantize import matryoshka as mq


def _data(out=48, n_in=128, n=256, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((out, n_in)).astype(np.float32) * 0.1
    W[:, 5] *= 8  # an outlier column makes clipping and GPTQ matter
    X = rng.standard_normal((n, n_in)).astype(np.float32)
    X[:, :16] *= 4  # uneven input scales: output-aware choices differ from weight MSE
    return W, X


def _independent_mwq(W, X, base, k, g):
    """The k-bit MWQ matrix computed directly from the definition, not from planes."""
    s, z = gq.clipped_params(W, base, g, X)
    Wk = gq.dequantize(gq.quantize_codes(W, s, z, base, g), s, z, g)
    for _ in range(base + 1, k + 1):
        R = W - Wk
        sk = np.abs(R.reshape(R.shape[0], -1, g)).mean(axis=2).astype(np.float32)
        Q = np.where(R >= 0, np.float32(1), np.float32(-1))
        Wk = (Wk + np.repeat(sk, g, axis=1) * Q).astype(np.float32)
    return Wk


@pytest.mark.parametrize("base,top", [(2, 4), (5, 8)])
def test_mwq_planes_nest_exactly(base, top):
    W, X = _data()
    m = mq.quantize_mwq(W, X, base, top, group=32)
    assert m.bits == tuple(range(base, top + 1))
    for k in m.bits:
        got = mq.reconstruct(m.planes[:k - base + 1])
        want = _independent_mwq(W, X, base, k, 32)
        assert got.dtype == np.float32 and np.array_equal(got.view(np.uint32), want.view(np.uint32))
        # a lower-top quantization is the prefix of a higher one
        assert np.array_equal(mq.quantize_mwq(W, X, base, k, group=32).reconstruct(), got)
        # bytes round-trip plane by plane, then decode to the same bits
        back = mq.MatryoshkaWeight.from_bytes(m.to_bytes()[:k - base + 1])
        assert np.array_equal(back.reconstruct(k).view(np.uint32), got.view(np.uint32))


def test_mwq_error_falls_with_each_plane():
    W, X = _data()
    m = mq.quantize_mwq(W, X, 2, 4, group=32)
    errs = [gq.output_error(W, m.reconstruct(k), X) for k in m.bits]
    assert errs[0] > errs[1] > errs[2]
    # plane sizes: base 2 bits/weight, residuals 1 bit/weight
    assert len(m.planes[0].payload) == 2 * W.size // 8 and len(m.planes[1].payload) == W.size // 8


def test_output_aware_base_beats_plain_minmax_on_calibration_output():
    W, X = _data(seed=3)
    m = mq.quantize_mwq(W, X, 2, 2, group=32)
    assert gq.output_error(W, m.reconstruct(2), X) < gq.output_error(W, gq.rtn(W, 2, 32), X)


def test_slice_mode_is_top_bits_of_int8():
    W, _ = _data(seed=1)
    m = mq.quantize_slice(W, 2, 8, group=32)
    codes, s, z = mq.slice_codes(W, 32)
    for k in m.bits:
        want = mq.slice_dequant(codes >> (8 - k), k, s, z, 32)
        got = mq.MatryoshkaWeight.from_bytes(m.to_bytes()[:k - 1]).reconstruct(k)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert np.array_equal(m.reconstruct(8), gq.dequantize(codes, s, z, 32))
    err = [float(np.abs(W - m.reconstruct(k)).max()) for k in m.bits]
    assert all(a > b for a, b in zip(err, err[1:]))


def test_gptq_beats_rtn_on_output_error():
    W, X = _data(seed=2)
    for bits in (3, 4):
        e_rtn = gq.output_error(W, gq.rtn(W, bits, 32), X)
        e_gptq = gq.output_error(W, gq.gptq(W, X, bits, 32), X)
        assert e_gptq < e_rtn
    # at 8 bits both are close to the float weights
    assert gq.output_error(W, gq.gptq(W, X, 8, 32), X) < 0.01


def test_expert_planes_round_trip():
    rng = np.random.default_rng(4)
    f, d = 64, 32
    up, down = rng.standard_normal((f, d)).astype(np.float32), rng.standard_normal((f, d)).astype(np.float32)
    b_up, b_down = rng.standard_normal(f).astype(np.float32), rng.standard_normal(d).astype(np.float32)
    X = rng.standard_normal((100, d)).astype(np.float32)
    e = mq.quantize_expert(up, b_up, down, b_down, X, "mwq", 2, 4, group=16)
    blobs = [e.plane_bytes(j) for j in range(e.n_planes)]
    assert [len(b) for b in blobs] == [e.plane_nbytes(j) for j in range(e.n_planes)]
    assert e.nbytes(3) == len(blobs[0]) + len(blobs[1])
    for j, k in enumerate(e.bits):
        part = mq.MatryoshkaExpert.from_plane_bytes(blobs[:j + 1])
        assert part.bits[-1] == k
        for a, b in zip(part.weights(k), e.weights(k)):
            assert np.array_equal(a, b)
    u, bu, dn, bd = e.weights(4)
    assert u.shape == (f, d) and dn.shape == (f, d) and np.array_equal(bu, b_up)


def test_bad_bit_widths_and_planes():
    W, X = _data()
    m = mq.quantize_mwq(W, X, 2, 4, group=32)
    for bad in (1, 5, 9, 2.5):
        with pytest.raises(InputError, match="outside the stored range"):
            m.reconstruct(bad)
    with pytest.raises(InputError, match="max_bits"):
        mq.quantize_mwq(W, X, 5, 4, group=32)
    with pytest.raises(InputError, match="group size"):
        mq.quantize_mwq(W, X, 2, 4, group=48)
    with pytest.raises(InputError, match="calibration"):
        mq.quantize_mwq(W, X[:, :10], 2, 4, group=32)
    with pytest.raises(InputError, match="mode"):
        mq.quantize_matryoshka(W, X, "fp4")
    other = mq.quantize_mwq(W[:, :64], X[:, :64], 2, 4, group=32)
    with pytest.raises(InputError, match="base is"):
        mq.reconstruct([m.planes[0], other.planes[1]])
    with pytest.raises(InputError, match="one bit at a time"):
        mq.reconstruct([m.planes[0], m.planes[2]])
    with pytest.raises(InputError, match="first plane must be a base"):
        mq.reconstruct(m.planes[1:])
    with pytest.raises(InputError, match="must be mwq_sign"):
        mq.reconstruct([m.planes[0], mq.quantize_slice(W, 2, 3, 32).planes[1]])
    with pytest.raises(InputError, match="at least its base"):
        mq.reconstruct([])
    p = m.planes[0]
    with pytest.raises(InputError, match="scales have shape"):
        mq.Plane(p.kind, p.bits, p.code_bits, p.rows, p.cols, p.group, p.payload, p.scales[:, :1], p.zeros)
    with pytest.raises(InputError, match="payload"):
        mq.Plane(p.kind, p.bits, p.code_bits, p.rows, p.cols, p.group, p.payload[:-1], p.scales, p.zeros)


def test_corrupt_plane_bytes():
    W, X = _data()
    raw = bytearray(mq.quantize_mwq(W, X, 2, 3, group=32).planes[1].to_bytes())
    assert mq.Plane.from_bytes(bytes(raw)).bits == 3
    flipped = bytearray(raw)
    flipped[-1] ^= 1
    with pytest.raises(ModelLoadError, match="checksum"):
        mq.Plane.from_bytes(bytes(flipped))
    with pytest.raises(ModelLoadError, match="truncated"):
        mq.Plane.from_bytes(bytes(raw[:-3]))
    with pytest.raises(ModelLoadError, match="not a matryoshka plane"):
        mq.Plane.from_bytes(b"XXXX" + bytes(raw[4:]))
    e = mq.quantize_expert(W[:32, :32], np.zeros(32), W[:32, :32], np.zeros(32), None, "slice", 4, 6, group=16)
    blobs = [e.plane_bytes(j) for j in range(e.n_planes)]
    with pytest.raises(ModelLoadError, match="starting at the base"):
        mq.MatryoshkaExpert.from_plane_bytes(blobs[1:])
    bad = bytearray(blobs[0])
    bad[-2] ^= 0x40
    with pytest.raises(ModelLoadError, match="checksum"):
        mq.MatryoshkaExpert.from_plane_bytes([bytes(bad)])
