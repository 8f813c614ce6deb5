"""Integer MFCC: the golden model of runtime_c/kernels/ref/ek_mfcc_s32.c (bit-exact), for
targets without an FPU (gap8). int16 PCM in, int32 Q16 features out; int64 inside.

Per clip: m = max(x) (the float model's x / max(x), applied in the log domain; the same rule
where max(x) <= 0). Per frame:
1. v = x * w (Hann in Q30, int32; v in int64); block floating point: v shifted by `sh` so that max|v|
   lies in [2^(H-1), 2^H), H = 30 - bit_length(frame_length) (21 for 480: the FFT's values,
   doubled by step 2, stay below 2 * frame_length * 2^H < 2^31); right shifts round half up;
2. the real frame's FFT through a complex one of half the length: z[m] = v[2m] + i v[2m+1],
   Z = radix-2 FFT of fft_length/2 points (decimation in time, bit-reversed input, twiddles in
   Q30 (the table of fft_length, every second entry), each product rounded:
   t = (b*w + 2^29) >> 30; no scaling between stages); then for each bin k the bands read,
   2 X[k] = E + W^k (-i D) with E = Z[k] + conj(Z[M-k]), D = Z[k] - conj(Z[M-k]) (the product
   rounded as above): twice the spectrum, one bit of gain (`FFT_GAIN_BITS`);
3. |X_k| = floor(sqrt(p >> e)) << (e / 2), p = re^2 + im^2 and e the smallest even shift that
   brings p under 2^32 (a 32-bit square root: 16 significant bits, relative error < 2^-15),
   for the bins the bands read;
4. mel_j = sum |X_k| * W_jk (weights Q15, the float model's triangles, sparse per band);
5. y_j = mel_j + (m * K + round) >> (50 - 46 + sh) (a left shift where that is negative),
   K = round(log_offset * 2^50): the offset of ln(mel / m + log_offset) in the same units
   (mel_j * 2^(sh - 46) is the float mel);
6. log2(y_j) in Q24: exponent + a 257-entry table of log2(1 + i/256) with linear interpolation;
   L_j = log2(y_j) + (sh - 46) * 2^24 - log2(m) (the units and the normalisation);
7. c_k = (sum_j D_kj * L_j + 2^37) >> 38 with D = the float DCT * ln 2 in Q30: features in Q16.
`q16_to_s8` quantizes the features for an int8 model (scale as a multiplier and shift,
rounding half away from zero, as quantize_features does with floats)."""
from __future__ import annotations

import math

import numpy as np

from .mfcc import MfccParams, check_audio, dct_matrix, hann, mel_matrix

Q_LOG, Q_DCT, Q_TW, Q_W, Q_WIN = 24, 30, 30, 15, 30
FFT_GAIN_BITS = 1  # the real-input FFT computes 2 X[k]
LOG2_TABLE_BITS = 8
OUT_Q = 16


def _bitlen(a: np.ndarray) -> np.ndarray:
    """Bit length of non-negative int64 values (0 for 0), exact."""
    a = np.asarray(a, dtype=np.int64)
    out = np.zeros(a.shape, dtype=np.int64)
    v = a.copy()
    for s in (32, 16, 8, 4, 2, 1):
        big = v >= (np.int64(1) << s)
        out += np.where(big, s, 0)
        v = np.where(big, v >> s, v)
    return out + (v > 0)


def headroom_bits(frame_length: int) -> int:
    """Bits of max|v| after the block shift: 2 * frame_length * (2^H - 1) < 2^31 bounds every
    FFT value, the doubled spectrum of the real-input step included."""
    return 30 - int(frame_length).bit_length()   # 480 -> 21 (2 * 480 * 2^21 < 2^31)


def isqrt(n: np.ndarray) -> np.ndarray:
    """floor(sqrt(n)) of non-negative int64 values below 2^62, exact."""
    n = np.asarray(n, dtype=np.int64)
    s = np.floor(np.sqrt(n.astype(np.float64))).astype(np.int64)
    for _ in range(3):
        s = np.where(s * s > n, s - 1, s)
        s = np.where((s + 1) * (s + 1) <= n, s + 1, s)
    return s


def magnitude(power: np.ndarray) -> np.ndarray:
    """|X| from re^2 + im^2 (int64, below 2^62) as ek_mfcc_s32 computes it: a 32-bit isqrt."""
    power = np.asarray(power, dtype=np.int64)
    e = np.maximum(_bitlen(power) - 32, 0)
    e = e + (e & 1)
    return isqrt(power >> e) << (e // 2)


def tables(attrs: dict) -> dict:
    """Every constant the integer kernel reads (also rendered into ek_mfcc_kws_tables.h)."""
    p = MfccParams.from_attrs(attrs)
    w = np.round(hann(p) * (1 << Q_WIN)).astype(np.int32)
    k = np.arange(p.fft_length // 2)
    tw_re = np.round(np.cos(2 * np.pi * k / p.fft_length) * (1 << Q_TW)).astype(np.int32)
    tw_im = np.round(-np.sin(2 * np.pi * k / p.fft_length) * (1 << Q_TW)).astype(np.int32)
    mel = mel_matrix(p)
    start, count, weights = [], [], []
    for j in range(p.num_mel_bins):
        nz = np.flatnonzero(mel[:, j] > 0)
        lo, hi = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, 0)
        start.append(lo)
        count.append(hi - lo)
        weights += list(mel[lo:hi, j])
    i = np.arange((1 << LOG2_TABLE_BITS) + 1)
    log2_table = np.round(np.log2(1.0 + i / (1 << LOG2_TABLE_BITS)) * (1 << Q_LOG)).astype(np.int32)
    dct = np.round(dct_matrix(p) * math.log(2.0) * (1 << Q_DCT)).astype(np.int32)
    return {"params": p, "window_q30": w, "twiddle_re_q30": tw_re, "twiddle_im_q30": tw_im,
            "mel_start": np.array(start, np.int16), "mel_count": np.array(count, np.int16),
            "mel_weights_q15": np.round(np.array(weights) * (1 << Q_W)).astype(np.int32),
            "mel_weights_f32": np.array(weights, np.float32),
            "log2_table_q24": log2_table, "dct_q30": dct, "dct_f32": dct_matrix(p).astype(np.float32),
            "window_f32": hann(p).astype(np.float32),
            "twiddle_re_f32": np.cos(2 * np.pi * k / p.fft_length).astype(np.float32),
            "twiddle_im_f32": (-np.sin(2 * np.pi * k / p.fft_length)).astype(np.float32),
            "log_offset_q50": int(round(p.log_offset * 2.0 ** 50))}


def log2_q24(y: np.ndarray, table: np.ndarray) -> np.ndarray:
    """log2 of positive int64 values in Q24 (exponent + interpolated table)."""
    y = np.asarray(y, dtype=np.int64)
    p = _bitlen(y) - 1
    mant = np.where(p >= 30, y >> np.maximum(p - 30, 0), y << np.maximum(30 - p, 0))
    frac = mant - (np.int64(1) << 30)
    idx = frac >> (30 - LOG2_TABLE_BITS)
    r = frac & ((np.int64(1) << (30 - LOG2_TABLE_BITS)) - 1)
    t = table.astype(np.int64)
    half = np.int64(1) << (30 - LOG2_TABLE_BITS - 1)
    val = t[idx] + (((t[idx + 1] - t[idx]) * r + half) >> (30 - LOG2_TABLE_BITS))
    return (p << Q_LOG) + val


def _fft_int(re: np.ndarray, im: np.ndarray, tw_re: np.ndarray, tw_im: np.ndarray,
             tw_stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Radix-2 DIT FFT of int64 rows [frames, n] (bit-reversed first); twiddle j of a stage of
    `size` points is table entry j * (n / size) * tw_stride."""
    n = re.shape[-1]
    bits = n.bit_length() - 1
    rev = np.array([int(format(i, f"0{bits}b")[::-1], 2) for i in range(n)])
    re, im = re[:, rev].copy(), im[:, rev].copy()
    size = 2
    while size <= n:
        half, step = size // 2, n // size
        j = np.arange(half)
        wr, wi = tw_re[j * step * tw_stride].astype(np.int64), tw_im[j * step * tw_stride].astype(np.int64)
        starts = np.arange(0, n, size)
        a_idx = (starts[:, None] + j[None, :]).ravel()
        b_idx = a_idx + half
        wr, wi = np.tile(wr, len(starts)), np.tile(wi, len(starts))
        br, bi = re[:, b_idx], im[:, b_idx]
        rnd = np.int64(1) << (Q_TW - 1)
        tr = (br * wr - bi * wi + rnd) >> Q_TW
        ti = (br * wi + bi * wr + rnd) >> Q_TW
        ar, ai = re[:, a_idx], im[:, a_idx]
        re[:, a_idx], im[:, a_idx] = ar + tr, ai + ti
        re[:, b_idx], im[:, b_idx] = ar - tr, ai - ti
        size *= 2
    return re, im


def clip_scale(x: np.ndarray) -> int:
    top = int(x.max())
    if top > 0:
        return top
    mag = int(np.abs(x.astype(np.int64)).max())
    return mag if mag > 0 else 1


def mfcc_s32(audio, attrs: dict, t: dict | None = None) -> np.ndarray:
    """Q16 int32 features [frames, num_coefficients] of one int16 clip."""
    t = tables(attrs) if t is None else t
    p: MfccParams = t["params"]
    x = np.asarray(audio)
    if x.dtype != np.int16:
        raise TypeError(f"the integer MFCC takes int16 PCM, not {x.dtype}")
    check_audio(x, p)
    m = clip_scale(x)
    log2m = int(log2_q24(np.array([m]), t["log2_table_q24"])[0])
    idx = np.arange(p.num_frames)[:, None] * p.frame_step + np.arange(p.frame_length)[None, :]
    v = x.astype(np.int64)[idx] * t["window_q30"].astype(np.int64)
    amax = np.abs(v).max(axis=1)
    sh = np.maximum(_bitlen(amax), 1) - headroom_bits(p.frame_length)  # a zero frame: as max|v| = 1
    right = np.maximum(sh, 0)[:, None]
    rnd = np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)
    v = np.where(sh[:, None] > 0, (v + rnd) >> right, v << np.maximum(-sh, 0)[:, None])
    frame = np.zeros((p.num_frames, p.fft_length), np.int64)
    frame[:, :p.frame_length] = v
    half = p.fft_length // 2
    zr, zi = _fft_int(frame[:, 0::2].copy(), frame[:, 1::2].copy(), t["twiddle_re_q30"], t["twiddle_im_q30"], 2)
    k = np.arange(p.num_bins)
    kc = (half - k) % half                      # conj(Z[M - k]), Z[M] = Z[0]
    kz = k % half
    er, ei = zr[:, kz] + zr[:, kc], zi[:, kz] - zi[:, kc]
    dr, di = zr[:, kz] - zr[:, kc], zi[:, kz] + zi[:, kc]
    orr, oi = di, -dr                           # -i D
    tw = np.concatenate([t["twiddle_re_q30"], -t["twiddle_re_q30"][:1]]).astype(np.int64)   # W^k, k <= M
    twi = np.concatenate([t["twiddle_im_q30"], -t["twiddle_im_q30"][:1]]).astype(np.int64)
    wr, wi = tw[k], twi[k]
    rnd = np.int64(1) << (Q_TW - 1)
    xr = er + ((orr * wr - oi * wi + rnd) >> Q_TW)
    xi = ei + ((orr * wi + oi * wr + rnd) >> Q_TW)
    mag = magnitude(xr * xr + xi * xi)
    mel = np.zeros((p.num_frames, p.num_mel_bins), np.int64)
    off = 0
    for j, (s, c) in enumerate(zip(t["mel_start"], t["mel_count"])):
        mel[:, j] = mag[:, s:s + c] @ t["mel_weights_q15"][off:off + c].astype(np.int64)
        off += c
    s2 = 50 - Q_WIN - Q_W - FFT_GAIN_BITS + sh
    mk = np.int64(m) * np.int64(t["log_offset_q50"])
    offset = np.where(s2 > 0, (mk + (np.int64(1) << np.maximum(s2 - 1, 0))) >> np.maximum(s2, 0),
                      mk << np.maximum(-s2, 0))
    y = mel + offset[:, None]
    L = log2_q24(y, t["log2_table_q24"]) + ((sh - Q_WIN - Q_W - FFT_GAIN_BITS) << Q_LOG)[:, None] - log2m
    acc = L @ t["dct_q30"].astype(np.int64).T
    shift = Q_LOG + Q_DCT - OUT_Q
    return ((acc + (np.int64(1) << (shift - 1))) >> shift).astype(np.int32)


def q16_to_float(q: np.ndarray) -> np.ndarray:
    return (np.asarray(q, dtype=np.float64) / (1 << OUT_Q)).astype(np.float32)


def s8_multiplier(scale: float) -> tuple[int, int]:
    """(multiplier in [2^30, 2^31), shift) with 1/scale = multiplier * 2^-shift."""
    inv = 1.0 / float(np.float32(scale))
    mant, exp = math.frexp(inv)            # inv = mant * 2^exp, mant in [0.5, 1)
    mult = int(round(mant * (1 << 31)))
    if mult == 1 << 31:
        mult, exp = mult // 2, exp + 1
    return mult, 31 - exp


def q16_to_s8(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 model input from Q16 features: round(q * mult / 2^(16 + shift)) half away, + zp, clamped."""
    mult, shift = s8_multiplier(scale)
    v = np.asarray(q, dtype=np.int64) * mult
    total = OUT_Q + shift
    half = np.int64(1) << (total - 1)
    r = np.where(v >= 0, (v + half) >> total, -((-v + half) >> total))
    return np.clip(r + zero_point, -128, 127).astype(np.int8)


CONST_KEYS = ("mel_start", "mel_count", "window_f32", "twiddle_re_f32", "twiddle_im_f32", "mel_weights_f32", "dct_f32",
              "window_q30", "twiddle_re_q30", "twiddle_im_q30", "mel_weights_q15", "log2_table_q24", "dct_q30")


def node_consts(attrs: dict) -> dict[str, np.ndarray]:
    """The tables an `mfcc` node carries to codegen (node.consts): codegen decides no number."""
    t = tables(attrs)
    out = {k: np.ascontiguousarray(t[k]) for k in CONST_KEYS}
    out["log_offset_q50"] = np.array([t["log_offset_q50"]], np.int64)
    out["headroom_bits"] = np.array([headroom_bits(t["params"].frame_length)], np.int32)
    return out


def s8_params(quant) -> dict:
    """attrs["int8"] of an mfcc node writing an int8 model input (ek_mfcc_s8_quant_t)."""
    if quant is None:
        raise ValueError("an int8 mfcc output needs a scale and zero point")
    mult, shift = s8_multiplier(quant.scale[0])
    return {"multiplier": mult, "shift": shift, "zero_point": int(quant.zero_point[0])}
