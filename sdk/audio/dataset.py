"""Seeded, cached keyword sets spoken by espeak-ng, in the DS-CNN's 12 labels.

Labels (README of ../shared/models/kws_dscnn, the TFDS speech_commands order): the ten
words alphabetically, then `_silence_` and `_unknown_`. `_unknown_` clips speak other words
(Speech Commands' auxiliary words); `_silence_` clips are seeded background noise (white,
pink or brown, a random level; the MFCC divides each clip by its maximum, so the level only
matters to the integer front end's rounding).

Splits never share a voice (espeak-ng language + variant) or a speed:
- `train` (training and calibration): 4 languages x 6 variants x 3 speeds x 2 pitches;
- `eval` (held out): 3 other languages x 4 other variants x 2 other speeds, one pitch each
  (taken in turn from its own two), 240 word clips + 24 unknown + 24 silence = 288.
A set is cached as a .npz keyed by a hash of the clip list, the generator version and
espeak-ng's version ($EDGEKILN_CACHE/audio, default ~/.cache/edgekiln/audio)."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from itertools import product
from pathlib import Path

import numpy as np

from ..errors import InputError
from .clips import CLIP_SAMPLES
from .espeak import ClipSpec, espeak_version, keyword_clip

GENERATOR_VERSION = 1
WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")  # speaking order
LABELS = ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "_silence_", "_unknown_")
SILENCE, UNKNOWN = LABELS.index("_silence_"), LABELS.index("_unknown_")
UNKNOWN_WORDS = ("bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
                 "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class Split:
    languages: tuple[str, ...]
    variants: tuple[str, ...]
    speeds: tuple[int, ...]
    pitches: tuple[int, ...]
    all_pitches: bool   # every pitch for every voice/speed, or one each in turn
    seed: int


SPLITS = {
    "train": Split(("en-us", "en-gb", "en-gb-scotland", "en-029"), ("m1", "m3", "m5", "f1", "f3", "f5"),
                   (120, 150, 185), (30, 65), True, 1),
    "eval": Split(("en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd"), ("m2", "m4", "f2", "f4"),
                  (135, 170), (45, 55), False, 2),
}


@dataclass
class KwsSet:
    """Clips (int16 PCM, [n, 16000]), label indices into LABELS, and what each clip is."""

    split: str
    audio: np.ndarray
    labels: np.ndarray
    specs: list[dict]   # {"kind": "word"|"unknown"|"silence", "word"|"noise", "voice", "speed", "pitch", ...}

    def __len__(self) -> int:
        return len(self.labels)

    def float_audio(self) -> np.ndarray:
        return self.audio.astype(np.float32) / np.float32(32768.0)

    def select(self, mask) -> "KwsSet":
        idx = np.flatnonzero(np.asarray(mask))
        return KwsSet(self.split, self.audio[idx], self.labels[idx], [self.specs[i] for i in idx])


def _renditions(split: Split) -> list[tuple[str, int, int]]:
    """(voice, speed, pitch) of a split, in a fixed order."""
    out = []
    for i, (lang, var, speed) in enumerate(product(split.languages, split.variants, split.speeds)):
        pitches = split.pitches if split.all_pitches else (split.pitches[i % len(split.pitches)],)
        out += [(f"{lang}+{var}", speed, pitch) for pitch in pitches]
    return out


def clip_list(split_name: str) -> list[dict]:
    """Every clip of a split, deterministic (the seeded choices included)."""
    if split_name not in SPLITS:
        raise InputError(f"unknown split {split_name!r}; choose one of {', '.join(SPLITS)}")
    split = SPLITS[split_name]
    rng = np.random.default_rng(split.seed)
    items = []
    renditions = _renditions(split)
    for voice, speed, pitch in renditions:
        for w in WORDS:
            items.append({"kind": "word", "word": w, "voice": voice, "speed": speed, "pitch": pitch})
    # two unknown words and two silence clips per voice (eval) or per voice and speed (train)
    per_voice = {}
    for voice, speed, pitch in renditions:
        per_voice.setdefault((voice, speed) if split.all_pitches else voice, (voice, speed, pitch))
    for voice, speed, pitch in [r for r in per_voice.values() for _ in range(2)]:
        word = UNKNOWN_WORDS[int(rng.integers(len(UNKNOWN_WORDS)))]
        items.append({"kind": "unknown", "word": word, "voice": voice, "speed": speed, "pitch": pitch})
    for _ in range(2 * len(per_voice)):
        items.append({"kind": "silence", "noise": ("white", "pink", "brown")[int(rng.integers(3))],
                      "level_db": float(np.round(rng.uniform(-60.0, -20.0), 1)), "seed": int(rng.integers(2**31))})
    return items


def label_of(item: dict) -> int:
    if item["kind"] == "word":
        return LABELS.index(item["word"])
    return UNKNOWN if item["kind"] == "unknown" else SILENCE


def noise_clip(kind: str, level_db: float, seed: int) -> np.ndarray:
    """Seeded coloured noise at `level_db` dBFS RMS, int16."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(CLIP_SAMPLES)
    if kind == "white":
        x = white
    else:
        spec = np.fft.rfft(white)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        spec /= np.sqrt(f) if kind == "pink" else f
        spec[0] = 0.0
        x = np.fft.irfft(spec, n=CLIP_SAMPLES)
    x = x / np.sqrt(np.mean(x * x)) * 10 ** (level_db / 20.0)
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def render(item: dict) -> np.ndarray:
    if item["kind"] == "silence":
        return noise_clip(item["noise"], item["level_db"], item["seed"])
    return keyword_clip(ClipSpec(item["word"], item["voice"], item["speed"], item["pitch"]))


def cache_dir() -> Path:
    root = os.environ.get("EDGEKILN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgekiln")
    return Path(root) / "audio"


def build_set(split: str, cache: str | Path | None = None, workers: int = 2) -> KwsSet:
    """The clips of `split`, generated once and then read from the cache."""
    items = clip_list(split)
    key = hashlib.sha256(json.dumps({"v": GENERATOR_VERSION, "espeak": espeak_version(), "items": items},
                                    sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(cache) if cache is not None else cache_dir()
    path = folder / f"kws_{split}_{key}.npz"
    labels = np.array([label_of(i) for i in items], dtype=np.int64)
    if path.exists():
        with np.load(path) as d:
            audio = d["audio"]
        if audio.shape == (len(items), CLIP_SAMPLES):
            return KwsSet(split, audio, labels, items)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        audio = np.stack(list(pool.map(render, items)))
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kws_", suffix=".npz", dir=folder)
    os.close(fd)
    try:
        np.savez_compressed(tmp, audio=audio)
        os.replace(tmp, path)  # atomic: a parallel test never reads half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return KwsSet(split, audio, labels, items)


def split_overlap(a: str, b: str) -> dict[str, set]:
    """Voices and speeds two splits share (empty sets: disjoint)."""
    va, vb = ({(i["voice"], i["speed"]) for i in clip_list(s) if "voice" in i} for s in (a, b))
    return {"voices": {v for v, _ in va} & {v for v, _ in vb}, "speeds": {s for _, s in va} & {s for _, s in vb}}
