"""MFCC golden model (float), numpy only: the front end of the MLPerf Tiny KWS DS-CNN.

The parameters are node attributes (`KWS_MFCC` in `edgekiln.audio.features` is the README
table of ../shared/models/kws_dscnn); the steps are TensorFlow's (`tf.signal.stft` with a
periodic Hann window, `abs`, `linear_to_mel_weight_matrix`, `log(mel + offset)`,
`mfccs_from_log_mel_spectrograms`):

1. x / max(x) per clip (the clip's maximum, not its largest magnitude). Where TF divides by
   zero (max(x) <= 0) we divide by max(|x|), and an all-zero clip stays zero (every frame is
   then the silent frame: c0 = sqrt(2/M) * M * ln(offset), c1.. = 0);
2. frames of `frame_length` every `frame_step` samples from sample 0, no padding;
3. periodic Hann window, `fft_length`-point rfft (frame zero-padded), magnitude;
4. mel = |X| @ W (HTK mel scale, triangles in mel, peak 1, DC row zero);
5. L = ln(mel + log_offset); c_k = sqrt(2/M) sum_n L_n cos(pi k (n + 1/2) / M), k < num_coefficients.
Output float32 [frames, num_coefficients] per clip (float64 inside)."""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from edgekiln.errors import InputError


@dataclass(frozen=True)
class MfccParams:
    sample_rate: int
    clip_samples: int
    frame_length: int
    frame_step: int
    fft_length: int
    num_mel_bins: int
    lower_hz: float
    upper_hz: float
    log_offset: float
    num_coefficients: int

    @classmethod
    def from_attrs(cls, attrs: dict) -> "MfccParams":
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in attrs]
        if missing:
            raise InputError(f"mfcc needs the attribute(s) {', '.join(missing)}")
        p = cls(**{n: attrs[n] for n in names})
        if not (0 < p.frame_length <= p.fft_length and p.fft_length & (p.fft_length - 1) == 0):
            raise InputError(f"mfcc: fft_length {p.fft_length} must be a power of two >= frame_length {p.frame_length}")
        if p.frame_step <= 0 or p.clip_samples < p.frame_length:
            raise InputError("mfcc: frame_step must be positive and the clip at least one frame long")
        if not (0 <= p.lower_hz < p.upper_hz <= p.sample_rate / 2):
            raise InputError(f"mfcc: mel range {p.lower_hz}..{p.upper_hz} Hz must lie in 0..{p.sample_rate / 2} Hz")
        if not (0 < p.num_coefficients <= p.num_mel_bins):
            raise InputError("mfcc: num_coefficients must be 1..num_mel_bins")
        return p

    @property
    def num_frames(self) -> int:
        return 1 + (self.clip_samples - self.frame_length) // self.frame_step

    @property
    def num_bins(self) -> int:
        return self.fft_length // 2 + 1


def hann(p: MfccParams) -> np.ndarray:
    n = np.arange(p.frame_length)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / p.frame_length)


def hz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_matrix(p: MfccParams) -> np.ndarray:
    """[num_bins, num_mel_bins] triangle weights (tf.signal.linear_to_mel_weight_matrix), float64."""
    freqs = np.linspace(0.0, p.sample_rate / 2.0, p.num_bins)[1:]
    bins_mel = hz_to_mel(freqs)[:, None]
    edges = np.linspace(hz_to_mel(p.lower_hz), hz_to_mel(p.upper_hz), p.num_mel_bins + 2)
    lo, centre, hi = edges[:-2], edges[1:-1], edges[2:]
    w = np.maximum(0.0, np.minimum((bins_mel - lo) / (centre - lo), (hi - bins_mel) / (hi - centre)))
    return np.concatenate([np.zeros((1, p.num_mel_bins)), w])


def dct_matrix(p: MfccParams) -> np.ndarray:
    """[num_coefficients, num_mel_bins]: DCT-II scaled by sqrt(2/M) (TF's mfccs_from_log_mel_spectrograms)."""
    m = p.num_mel_bins
    k = np.arange(p.num_coefficients)[:, None]
    n = np.arange(m)[None, :]
    return np.sqrt(2.0 / m) * np.cos(np.pi * k * (n + 0.5) / m)


def normalise(x: np.ndarray) -> np.ndarray:
    """x / max(x) per clip (last axis), with the rule above where max(x) <= 0."""
    x = np.asarray(x, dtype=np.float32)
    top = x.max(axis=-1, keepdims=True)
    mag = np.abs(x).max(axis=-1, keepdims=True)
    d = np.where(top > 0, top, np.where(mag > 0, mag, np.float32(1)))
    return (x / d).astype(np.float32)


def frames(x: np.ndarray, p: MfccParams) -> np.ndarray:
    idx = np.arange(p.num_frames)[:, None] * p.frame_step + np.arange(p.frame_length)[None, :]
    return x[..., idx]


def log_mel(audio, p: MfccParams) -> np.ndarray:
    x = check_audio(audio, p)
    f = frames(normalise(x).astype(np.float64), p) * hann(p)
    mag = np.abs(np.fft.rfft(f, n=p.fft_length, axis=-1))
    return np.log(mag @ mel_matrix(p) + p.log_offset)


def check_audio(audio, p: MfccParams) -> np.ndarray:
    x = np.asarray(audio)
    if x.shape[-1] != p.clip_samples:
        raise InputError(f"mfcc takes clips of {p.clip_samples} samples, got a last axis of {x.shape[-1]} "
                         "(edgekiln.audio.fit_clip pads, resamples or refuses)")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise InputError("mfcc input holds NaN or infinite samples")
    return x


def mfcc(audio, attrs: dict) -> np.ndarray:
    """Features [..., frames, num_coefficients] (float32) of clips [..., clip_samples]."""
    p = MfccParams.from_attrs(attrs)
    return (log_mel(audio, p) @ dct_matrix(p).T).astype(np.float32)


def quantize_features(features, scale: float, zero_point: int) -> np.ndarray:
    """int8 model input: clamp(round(x / scale) + zero_point), rounding half away from zero as TFLite."""
    v = np.asarray(features, dtype=np.float64) / float(np.float32(scale))
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)
