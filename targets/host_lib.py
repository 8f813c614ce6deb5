"""In-process execution of a host-built model through cffi (ABI mode on libmodel.so)."""
from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np
from cffi import FFI

from edgekiln.errors import ToolchainError


# Loaded libraries are never closed: a parallel model's worker threads sleep inside its code,
# and unmapping it under them would crash the process.
_KEEP_LOADED: list = []


class ModelLibrary:
    def __init__(self, path: Path, name: str, n_features: int, n_outputs: int) -> None:
        self.ffi = FFI()
        self.ffi.cdef(f"void {name}_run(const float *x, int32_t *label, float *out);")
        self.lib = self.ffi.dlopen(str(path))
        self._run = getattr(self.lib, f"{name}_run")
        _KEEP_LOADED.append((self.ffi, self.lib))
        self.n_features, self.n_outputs = n_features, n_outputs

    def run(self, X32: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X32 = np.ascontiguousarray(X32, dtype=np.float32)
        labels = np.zeros(len(X32), dtype=np.int32)
        outputs = np.zeros((len(X32), self.n_outputs), dtype=np.float32)
        label = self.ffi.new("int32_t *")
        for i in range(len(X32)):
            x = self.ffi.cast("const float *", self.ffi.from_buffer(X32[i]))
            out = self.ffi.cast("float *", self.ffi.from_buffer(outputs[i]))
            self._run(x, label, out)
            labels[i] = label[0]
        return labels, outputs


def load_model_library(project: Path) -> ModelLibrary:
    proc = subprocess.run(["make", "-s", "-C", str(project), "libmodel.so"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"building libmodel.so failed:\n{proc.stderr[-3000:]}")
    header = (project / "model.h").read_text()
    name = json.loads((project / "project.json").read_text())["model"]

    def define(name: str) -> int:
        for line in header.splitlines():
            if line.startswith(f"#define {name} "):
                return int(line.split()[2])
        raise ToolchainError(f"model.h lacks {name}")

    # dlopen returns an already loaded library for a path it has seen: give each load its
    # own file so re-exporting into the same folder never runs a stale model.
    unique = project / f"libmodel-{uuid.uuid4().hex[:12]}.so"
    shutil.copy(project / "libmodel.so", unique)
    prefix = name.upper()
    return ModelLibrary(unique, name, define(f"{prefix}_N_FEATURES"), define(f"{prefix}_N_OUTPUTS"))
