"""Training text that ships on the machine: the Python standard library's own sources.

Files are taken in sorted order (tests and site-/dist-packages excluded) and split into
train / held-out by a hash of their relative path, so the split does not depend on which
other files exist. The corpus digest goes into checkpoints so a run names what it saw.
"""
from __future__ import annotations

import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekiln.errors import InputError

DEFAULT_ROOTS = ("/usr/lib/python3.11",)
HELDOUT_EVERY = 10  # one file in ten (by path hash) is held out


@dataclass
class Corpus:
    root: str
    train: np.ndarray  # uint8 bytes
    heldout: np.ndarray
    digest: str
    files: int

    def describe(self) -> dict:
        return {"corpus": "python-stdlib-sources", "root": self.root, "files": self.files,
                "train_bytes": int(self.train.size), "heldout_bytes": int(self.heldout.size), "sha256": self.digest}


def default_root() -> Path:
    for r in DEFAULT_ROOTS:
        if Path(r, "os.py").is_file():
            return Path(r)
    return Path(sysconfig.get_paths()["stdlib"])


def _is_heldout(rel: str) -> bool:
    return int(hashlib.sha1(rel.encode()).hexdigest()[:8], 16) % HELDOUT_EVERY == 0


def load_corpus(root: str | Path | None = None, max_bytes: int = 8 << 20) -> Corpus:
    """Read up to max_bytes of .py sources under root (default: the system Python's stdlib)."""
    base = Path(root) if root else default_root()
    if not base.is_dir():
        raise InputError(f"corpus root {base} is not a directory; pass --corpus DIR with .py files")
    paths = sorted(p for p in base.rglob("*.py")
                   if not any(part in ("test", "tests", "site-packages", "dist-packages", "idlelib") or part.startswith("lib2to3")
                              for part in p.relative_to(base).parts))
    train, held, total, n = [], [], 0, 0
    h = hashlib.sha256()
    for p in paths:
        try:
            data = p.read_bytes()
        except OSError:
            continue
        rel = str(p.relative_to(base))
        h.update(rel.encode() + b"\0" + data)
        (held if _is_heldout(rel) else train).append(data)
        total += len(data)
        n += 1
        if total >= max_bytes:
            break
    if not train or not held:
        raise InputError(f"corpus root {base} has too few .py files ({n}) for a train/held-out split")
    cat = lambda parts: np.frombuffer(b"\n".join(parts), dtype=np.uint8).copy()  # noqa: E731
    return Corpus(str(base), cat(train), cat(held), h.hexdigest(), n)


def heldout_windows(data: np.ndarray, length: int, count: int) -> list[np.ndarray]:
    """`count` evenly spaced, non-overlapping windows of `length` bytes (deterministic)."""
    if data.size < length:
        raise InputError(f"held-out text ({data.size} bytes) is shorter than one window of {length}")
    starts = np.linspace(0, data.size - length, num=count).astype(np.int64)
    return [data[s:s + length].astype(np.int64) for s in starts]
