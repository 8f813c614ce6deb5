"""One clip -> the window a KWS model takes: mono float32, 16 kHz, 16,000 samples (1 s).

Rules (docs/networks.md, "Audio"): NaN or infinite samples are refused; another sample rate
is resampled (polyphase, scipy's `resample_poly`) with an `AudioNotice`, or refused with
`resample=False`; a shorter clip is zero-padded at the end (as the MLPerf Tiny pipeline does)
with a notice; a longer one is refused (cut it first: `centre_window`). int16 PCM is read
as x / 32768."""
from __future__ import annotations

import warnings
import wave
from math import gcd
from pathlib import Path

import numpy as np

from ..errors import InputError

SAMPLE_RATE = 16_000
CLIP_SAMPLES = 16_000


class AudioNotice(UserWarning):
    """The clip was changed to fit (resampled, padded): what was done, once per clip."""


def as_float(audio) -> np.ndarray:
    """Mono samples as float32: int16 PCM / 32768, floats unchanged; NaN/inf refused."""
    a = np.asarray(audio)
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise InputError(f"a clip is one mono channel of samples; got an array of shape {a.shape} "
                         "(mix the channels down first, e.g. x.mean(axis=1))")
    if a.size == 0:
        raise InputError("the clip is empty (0 samples)")
    if a.dtype == np.int16:
        return a.astype(np.float32) / np.float32(32768.0)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise InputError(f"clip samples must be numbers (int16 PCM or float), not {a.dtype}")
    a = a.astype(np.float32)
    bad = ~np.isfinite(a)
    if bad.any():
        raise InputError(f"the clip holds {int(bad.sum())} NaN or infinite sample(s) (first at index "
                         f"{int(np.flatnonzero(bad)[0])}); clean the audio before featurising it")
    return a


def resample(x: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly, its default Kaiser window), float32."""
    from scipy.signal import resample_poly

    if rate_in <= 0:
        raise InputError(f"sample rate must be a positive number of Hz, not {rate_in}")
    g = gcd(int(rate_in), int(rate_out))
    return resample_poly(x.astype(np.float64), rate_out // g, int(rate_in) // g).astype(np.float32)


def centre_window(x: np.ndarray, n: int = CLIP_SAMPLES) -> np.ndarray:
    """`x` centred in n samples: zero-padded on both sides, or its middle n samples."""
    if len(x) >= n:
        start = (len(x) - n) // 2
        return x[start:start + n].copy()
    out = np.zeros(n, dtype=x.dtype)
    start = (n - len(x)) // 2
    out[start:start + len(x)] = x
    return out


def fit_clip(audio, sample_rate: int = SAMPLE_RATE, *, resample_ok: bool = True) -> np.ndarray:
    """The model's 1 s window of a clip (float32, 16,000 samples at 16 kHz); see the module rules."""
    x = as_float(audio)
    if int(sample_rate) != SAMPLE_RATE:
        if not resample_ok:
            raise InputError(f"the clip is sampled at {sample_rate} Hz; the model takes {SAMPLE_RATE} Hz "
                             "(resample it, or allow resampling)")
        n_in = len(x)
        x = resample(x, int(sample_rate))
        warnings.warn(AudioNotice(f"resampled the clip from {sample_rate} Hz to {SAMPLE_RATE} Hz "
                                  f"({n_in} -> {len(x)} samples)"), stacklevel=2)
    if len(x) > CLIP_SAMPLES:
        raise InputError(f"the clip is {len(x)} samples ({len(x) / SAMPLE_RATE:.3f} s); the model takes one "
                         f"1 s window of {CLIP_SAMPLES} samples: cut it first (edgekiln.audio.clips.centre_window)")
    if len(x) < CLIP_SAMPLES:
        warnings.warn(AudioNotice(f"zero-padded the clip at the end from {len(x)} to {CLIP_SAMPLES} samples"),
                      stacklevel=2)
        x = np.concatenate([x, np.zeros(CLIP_SAMPLES - len(x), np.float32)])
    return x


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(samples, sample rate) of a PCM WAV file: int16 for 16-bit files, float32 for 8/24/32-bit
    ones (scaled to [-1, 1)); channels are refused, not mixed (`fit_clip` says how)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"audio file {p} does not exist")
    try:
        with wave.open(str(p), "rb") as w:
            rate, width, channels, n = w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()
            data = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise InputError(f"{p} is not a PCM WAV file ({e or type(e).__name__})") from None
    if len(data) != n * width * channels:
        raise InputError(f"{p} is truncated: {len(data)} bytes of audio for {n} frames")
    if width == 2:
        x = np.frombuffer(data, dtype="<i2").astype(np.int16)
    elif width == 1:
        x = (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (3, 4):
        b = np.frombuffer(data, dtype=np.uint8).reshape(-1, width)
        v = np.zeros(len(b), np.int64)
        for i in range(width):
            v |= b[:, i].astype(np.int64) << (8 * i)
        v = np.where(v >= 1 << (8 * width - 1), v - (1 << (8 * width)), v)
        x = (v / float(1 << (8 * width - 1))).astype(np.float32)
    else:
        raise InputError(f"{p}: {8 * width}-bit samples are not supported (8, 16, 24 or 32-bit PCM)")
    return (x.reshape(-1, channels) if channels > 1 else x), rate
