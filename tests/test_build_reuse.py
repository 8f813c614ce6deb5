"""`kiln run` uses the build that exists: `kiln build --opt -Os` then `kiln run` runs that ELF,
rebuilds only when sources changed (with the same flags), says so on stderr, and build.json
always describes the fw.elf beside it."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from edgekiln.targets import get_target
from edgekiln.targets.build import measure


def kiln(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgekiln.cli", *args], capture_output=True, text=True,
                          env={"COLUMNS": "200", "PATH": os.environ["PATH"]})


def _digest(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _consistent(project) -> dict:
    doc = json.loads((project / "build.json").read_text())
    now = measure(project / "fw.elf", get_target("host")).to_dict()
    for key in ("firmware_flash_bytes", "firmware_ram_bytes", "model_flash_bytes", "regions"):
        assert doc[key] == now[key], key
    return doc


def test_run_uses_the_existing_build_and_its_flags(tmp_path):
    X, y = load_iris(return_X_y=True)
    sio.dump(RandomForestClassifier(8, random_state=0).fit(X, y), tmp_path / "m.skops")
    np.save(tmp_path / "X.npy", X[:10])
    p = tmp_path / "p"
    assert kiln("export", str(tmp_path / "m.skops"), "-t", "host", "-o", str(p)).returncode == 0

    r = kiln("build", str(p), "--opt", "-Os")
    assert r.returncode == 0, r.stderr
    elf, built = _digest(p / "fw.elf"), _consistent(p)
    assert built["opt"] == "-Os"

    r = kiln("run", str(p), "-d", str(tmp_path / "X.npy"))
    assert r.returncode == 0, r.stderr
    assert "using the existing build" in r.stderr and "-Os" in r.stderr
    assert _digest(p / "fw.elf") == elf  # not rebuilt at -O2
    assert _consistent(p)["opt"] == "-Os"

    (p / "model.c").write_text((p / "model.c").read_text() + "\n/* changed */\n")
    r = kiln("run", str(p), "-d", str(tmp_path / "X.npy"))
    assert r.returncode == 0, r.stderr
    assert "rebuilt" in r.stderr and "-Os" in r.stderr and "changed" in r.stderr
    assert _consistent(p)["opt"] == "-Os"
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1

    r = kiln("build", str(p))  # an explicit build with other flags: build.json follows
    assert r.returncode == 0 and _consistent(p)["opt"] == "-O2"


def test_run_without_a_build_builds_once_and_says_so(tmp_path):
    X, y = load_iris(return_X_y=True)
    sio.dump(RandomForestClassifier(4, random_state=0).fit(X, y), tmp_path / "m.skops")
    np.save(tmp_path / "X.npy", X[:5])
    p = tmp_path / "p"
    assert kiln("export", str(tmp_path / "m.skops"), "-t", "host", "-o", str(p)).returncode == 0
    r = kiln("run", str(p), "-d", str(tmp_path / "X.npy"))
    assert r.returncode == 0, r.stderr
    assert "no build yet" in r.stderr and "-O2" in r.stderr
    assert _consistent(p)["opt"] == "-O2"
