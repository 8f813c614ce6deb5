"""Where an exported project goes: a folder edgekiln may write, reached in one move.

A project is rendered into a temporary folder beside the destination and moved into place at
the end, so a failed export leaves nothing. A folder that already exists may hold only files
edgekiln wrote — those `project.json` lists with their sha256 (a listed file the user changed
since is the user's), and what `kiln build`/`kiln profile` leave — unless `force`: then
edgekiln's old files are replaced and a user's file in the way is moved aside to `NAME.orig`,
never deleted.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from edgekiln.errors import InputError

# What building, running and profiling a project write into it (Makefile's `clean`, host_lib, kiln build/profile).
BUILD_OUTPUTS = ("build", "fw.elf", "fw.map", "build.json", "libmodel.a", "libmodel*.so", "profile")
# Files of a project.json written before it listed its files.
_LEGACY_FILES = ("model.h", "Makefile", "linker.ld", "graph.json", "CMakeLists.txt", "runtime")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_hashes(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under folder but project.json (which holds this)."""
    return {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p != folder / "project.json"}


def _owned(out: Path) -> tuple[set[Path], set[Path]]:
    """(files edgekiln wrote and the user left as they were, files the user wrote or changed)."""
    try:
        doc = json.loads((out / "project.json").read_text())
        listed = doc.get("files") if isinstance(doc, dict) else None
        if listed is None and isinstance(doc, dict) and "target" in doc:  # an older edgekiln
            listed = {s: None for s in doc.get("sources", [])}
            for name in _LEGACY_FILES:
                for top in out.glob(name):
                    for p in [top] if top.is_file() else top.rglob("*"):
                        listed[p.relative_to(out).as_posix()] = None
    except (OSError, ValueError):
        listed = None
    mine: set[Path] = set()
    if isinstance(listed, dict):
        mine.add(out / "project.json")
        for rel, digest in listed.items():
            p = out / rel
            if p.is_file() and (digest is None or sha256(p) == digest):
                mine.add(p)
        for pattern in BUILD_OUTPUTS:
            for p in out.glob(pattern):
                mine.update([p] if p.is_file() else [q for q in p.rglob("*") if q.is_file()])
    theirs = {p for p in out.rglob("*") if (p.is_file() or p.is_symlink()) and p not in mine}
    return mine, theirs


def check_destination(out: Path, force: bool) -> None:
    """Refuse, before anything is rendered, a destination that is a file or holds a user's files."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder; choose a folder for the project")
    if not out.is_dir():
        return
    _, theirs = _owned(out)
    if theirs and not force:
        names = sorted(p.relative_to(out).as_posix() for p in theirs)
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        raise InputError(f"{out} holds files edgekiln did not write ({shown}); choose an empty or new folder, or "
                         "pass --force (force=True) to replace only edgekiln's files (yours are kept; one in the "
                         "way is renamed NAME.orig)")


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out` (same file system, so moving is a rename); removed, with
    any parents it had to create, when the body fails."""
    created = [p for p in [out.parent, *out.parent.parents] if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.edgekiln-", dir=out.parent))
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(stage, 0o777 & ~mask)  # a folder like any mkdir makes, not mkdtemp's 0700
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        for p in created:  # innermost first
            try:
                p.rmdir()
            except OSError:
                break
        raise


def move_into_place(stage: Path, out: Path, force: bool) -> list[str]:
    """Put the rendered project at `out`; returns the user's files moved aside ("A -> A.orig")."""
    if not out.exists():
        os.replace(stage, out)
        return []
    mine, theirs = _owned(out)
    if theirs and not force:  # changed since check_destination
        shutil.rmtree(stage, ignore_errors=True)
        check_destination(out, force)
    new = {p.relative_to(stage) for p in stage.rglob("*") if p.is_file()}
    aside = []
    emptied = {d for p in mine for d in p.parents if out in d.parents}
    for p in mine:
        p.unlink()
    for rel in sorted(new):
        dst = out / rel
        if dst.exists() or dst.is_symlink():  # a user's file in the way (edgekiln's are gone)
            backup = _free_name(dst)
            os.replace(dst, backup)
            aside.append(f"{rel.as_posix()} -> {backup.relative_to(out).as_posix()}")
        elif dst.parent.is_file():
            raise InputError(f"{dst.parent} is a file of yours where edgekiln needs a folder; move it away")
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, dst)
    shutil.rmtree(stage, ignore_errors=True)
    for d in sorted(emptied, key=lambda p: -len(p.parts)):
        if d.is_dir() and not any(d.iterdir()):  # folders emptied of edgekiln's old files
            d.rmdir()
    return aside


def _free_name(p: Path) -> Path:
    cand, i = p.with_name(p.name + ".orig"), 1
    while cand.exists():
        cand, i = p.with_name(f"{p.name}.orig{i}"), i + 1
    return cand
