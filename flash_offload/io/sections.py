"""Aligned, checksummed sections: the alignment both weight files use, the error a bad
checksum raises, and the atomic write that puts a finished file in place."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from edgekiln.errors import InputError

ALIGN = 4096  # every section starts on a page boundary, so O_DIRECT reads need no copy


def align_up(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


def crc_hex(crc: int) -> str:
    """Fixed width, so a JSON header's length does not depend on checksum values."""
    return f"{crc:08x}"


class SectionChecksumError(InputError):
    """A section (or the header) whose crc32 does not match: the file is corrupt.
    `section` names it ("header" for the header)."""

    def __init__(self, message: str, section: str):
        super().__init__(message)
        self.section = section


def _umask() -> int:
    """The process umask (reading it means setting it; set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """A file handle on a temp file beside `path`; on success it is fsynced and renamed over
    `path` (and the rename made durable), on error removed: readers never see half a file.
    The file gets the mode any output gets (0666 less the umask), not mkstemp's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
