"""Cold positional reads: an O_DIRECT descriptor where the filesystem allows it (else a
DirectIOWarning and buffered reads), and a pread loop that fills a buffer exactly."""
from __future__ import annotations

import errno
import mmap
import os
import warnings
from pathlib import Path

from edgekiln.errors import InputError

from .sections import ALIGN


class DirectIOWarning(UserWarning):
    """O_DIRECT is unavailable; reads go through the page cache."""


def open_direct(path: Path, stacklevel: int = 3) -> int | None:
    """An O_DIRECT descriptor of `path`, or None (with a DirectIOWarning) where refused.
    One aligned block is read as a probe: tmpfs and some others refuse only at read time."""
    flag = getattr(os, "O_DIRECT", 0)
    probe = mmap.mmap(-1, ALIGN)  # page aligned, as O_DIRECT needs
    try:
        if not flag:
            raise OSError(errno.EINVAL, "O_DIRECT is not defined on this platform")
        fd = os.open(path, os.O_RDONLY | flag)
        try:
            os.preadv(fd, [memoryview(probe)], 0)
        except OSError:
            os.close(fd)
            raise
        return fd
    except OSError as e:
        warnings.warn(f"O_DIRECT is unavailable for {path} ({e.strerror}); using buffered reads "
                      "(cold reads by dropping the page cache). Put the file on a disk "
                      "filesystem such as ext4 or xfs for O_DIRECT.", DirectIOWarning, stacklevel=stacklevel)
        return None
    finally:
        probe.close()


def pread_exact(fd: int, view: memoryview, offset: int, path: Path, file_size: int | None = None,
                error: type[InputError] = InputError) -> None:
    """Fill `view` from `offset` (buffered reads may return short). Reading past
    `file_size` (a last section's padding) stops quietly; any other end of file raises."""
    done, n = 0, len(view)
    while done < n:
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            if file_size is not None and offset + done >= file_size:
                break
            raise error(f"{path}: unexpected end of file at byte {offset + done}; "
                        "the file is truncated, re-pack it")
        done += got
