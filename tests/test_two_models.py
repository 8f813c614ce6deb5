"""Two models in one firmware: everything model-specific carries the model's name
(`<name>_predict`, `<name>_run`, `<NAME>_N_FEATURES` ...), so a tree and a linear model
exported with different --name link into ONE cortex-m4 firmware (one shared runtime) and
both predict as scikit-learn does on QEMU."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import edgekiln
from conftest import require_target
from edgekiln.targets import get_target
from edgekiln.targets.simulators import run_firmware

MAIN = Path(__file__).parent / "data" / "two_models" / "main.c"
X, y = load_iris(return_X_y=True)


def test_no_model_specific_global_is_unprefixed(tmp_path):
    """model.h names only `<name>_`/`<NAME>_` things, and model.c defines no other external symbol."""
    info = edgekiln.export(LogisticRegression(max_iter=500).fit(X, y), "host", tmp_path / "lin", name="lin")
    header = (info.path / "model.h").read_text()
    macros = re.findall(r"^#define (\w+)", header, re.M)
    assert macros and all(m.startswith("LIN_") for m in macros), macros
    functions = re.findall(r"^\w[\w\s\*]*?\b(\w+)\(", header, re.M)
    assert functions and all(f.startswith("lin_") for f in functions), functions
    subprocess.run(["gcc", "-c", "-I", str(info.path / "runtime/include"), str(info.path / "model.c"), "-o",
                    str(tmp_path / "m.o")], check=True)
    nm = subprocess.run(["nm", "--defined-only", "-g", str(tmp_path / "m.o")], capture_output=True, text=True,
                        check=True).stdout
    defined = [line.split()[-1] for line in nm.splitlines()]
    assert defined and all(s.startswith("lin_") for s in defined), defined


@pytest.mark.qemu
def test_a_tree_and_a_linear_model_in_one_cortex_m4_firmware(tmp_path):
    require_target("cortex-m4")
    target = get_target("cortex-m4")
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    lin = LogisticRegression(max_iter=1000).fit(X, y)
    projects = [edgekiln.export(tree, "cortex-m4", tmp_path / "tree", name="tree"),
                edgekiln.export(lin, "cortex-m4", tmp_path / "lin", name="lin")]

    # One firmware: both model.c, the union of both runtimes (the same files where both have
    # one), the test main instead of the harnesses.
    runtime: dict[str, Path] = {}
    for p in projects:
        for src in p.sources:
            if src.startswith("runtime/"):
                if src in runtime:
                    assert (p.path / src).read_bytes() == runtime[src].read_bytes(), src
                runtime.setdefault(src, p.path / src)
    sources = [str(tmp_path / "tree" / "model.c"), str(tmp_path / "lin" / "model.c"), str(MAIN),
               *map(str, runtime.values())]
    elf = tmp_path / "fw.elf"
    cmd = [target.cc, *target.cflags, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path),
           "-I", str(tmp_path / "tree" / "runtime" / "include"), *sources, *target.ldflags,
           "-T", str(tmp_path / "tree" / "linker.ld"), "-lm", "-o", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]

    X32 = X.astype(np.float32)
    result = run_firmware(elf, target, X32, count_instructions=False)
    Xref = X32.astype(np.float64)
    np.testing.assert_array_equal(tree.classes_[result.labels], tree.predict(Xref))
    lin_labels = result.outputs[:, 0].astype(np.int64)
    agree = np.mean(lin.classes_[lin_labels] == lin.predict(Xref))
    assert agree == 1.0, agree
