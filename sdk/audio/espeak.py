"""Keyword clips spoken by espeak-ng (the Debian package `espeak-ng`; scripts/setup.sh installs it).

`speak` runs espeak-ng once (voice, words per minute, pitch) and reads its 22,050 Hz WAV;
`keyword_clip` resamples to 16 kHz, trims the silence espeak puts around a word (samples
below 2% of the peak at either end), centres the word in a 1 s window and stores it as int16
PCM. espeak-ng's output is deterministic for one version and set of parameters."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import InputError, ToolchainError
from .clips import CLIP_SAMPLES, SAMPLE_RATE, centre_window, resample

TRIM_FRACTION = 0.02


@dataclass(frozen=True)
class ClipSpec:
    """One utterance: `voice` is an espeak-ng voice, optionally with a variant (`en-gb+f2`)."""

    word: str
    voice: str
    speed: int   # words per minute (espeak-ng -s)
    pitch: int   # 0..99 (espeak-ng -p)

    def __post_init__(self) -> None:
        if not self.word.replace(" ", "").isalpha():
            raise InputError(f"espeak clips speak plain words, not {self.word!r}")
        if not (80 <= self.speed <= 450 and 0 <= self.pitch <= 99):
            raise InputError(f"speed {self.speed} wpm / pitch {self.pitch}: espeak-ng takes 80..450 wpm and pitch 0..99")


def _binary() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ToolchainError("espeak-ng is not installed: apt-get install espeak-ng (scripts/setup.sh installs it)")
    return exe


@lru_cache(maxsize=1)
def espeak_version() -> str:
    out = subprocess.run([_binary(), "--version"], capture_output=True, text=True, timeout=30).stdout
    return out.split("Data at")[0].strip()


def speak(spec: ClipSpec) -> tuple[np.ndarray, int]:
    """espeak-ng's samples (int16) and sample rate for one utterance."""
    fd, path = tempfile.mkstemp(suffix=".wav", prefix="ek_espeak_")
    os.close(fd)
    try:
        cmd = [_binary(), "-v", spec.voice, "-s", str(spec.speed), "-p", str(spec.pitch), "-w", path, spec.word]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 or os.path.getsize(path) <= 44:
            raise ToolchainError(f"espeak-ng failed for {spec}: {(proc.stderr or proc.stdout).strip()[:300]}")
        with wave.open(path, "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise ToolchainError(f"espeak-ng wrote {w.getnchannels()} channel(s) of {8 * w.getsampwidth()}-bit "
                                     "samples; expected mono 16-bit")
            rate = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    finally:
        os.unlink(path)
    return data, rate


def trim(x: np.ndarray, fraction: float = TRIM_FRACTION) -> np.ndarray:
    """`x` without the quiet ends (samples with |x| below `fraction` of the peak)."""
    peak = float(np.abs(x).max()) if len(x) else 0.0
    if peak == 0.0:
        return x[:0]
    loud = np.flatnonzero(np.abs(x) >= fraction * peak)
    return x[loud[0]:loud[-1] + 1]


def keyword_clip(spec: ClipSpec) -> np.ndarray:
    """The utterance at 16 kHz, trimmed and centred in 16,000 samples, as int16 PCM."""
    raw, rate = speak(spec)
    x = raw.astype(np.float32) / np.float32(32768.0)
    if rate != SAMPLE_RATE:
        x = resample(x, rate)
    x = centre_window(trim(x), CLIP_SAMPLES)
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
