"""Layers: core -> stages -> shell, checked on every module's imports (ast, so imports
inside functions count, relative ones resolved). docs/architecture.md ("Layers") states
the same table; a stage may import core, itself and the stages ALLOWED names, nothing else.

- core: the IR, results, errors, version, the IR's fingerprint, the file-found registry. Imports only core.
- stages: frontends (model loading, scikit-learn -> IR, feature-name rules), audio (clips), quantize, codegen, runtime_c
  (the C runtime's package: data files), targets, boards, flash_offload.
- shell: the facade (edgekiln/__init__, kept lazy), api, cli, report, profile, demo, nn_run, mlp_int8. May
  import anything.
"""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

# fingerprint: a hash of the IR (frontends stamp it, `kiln run --reference` compares it)
CORE = {"edgekiln.ir", "edgekiln.results", "edgekiln.errors", "edgekiln.version", "edgekiln.fingerprint",
        "edgekiln.registry"}
SHELL = {"edgekiln", "edgekiln.api", "edgekiln.cli", "edgekiln.report", "edgekiln.profile", "edgekiln.demo",
         "edgekiln.nn_run", "edgekiln.mlp_int8"}
# stage -> module prefixes that belong to it
STAGES = {
    # model loading, scikit-learn -> IR, and scikit-learn's rules for input DataFrames
    "frontends": ("edgekiln.frontends", "edgekiln.model_io", "edgekiln.skops_guard", "edgekiln.feature_names"),
    "audio": ("edgekiln.audio",),           # keyword clips (espeak-ng), the 1 s window, the MFCC front end's attrs
    "quantize": ("edgekiln.quantize",),
    "codegen": ("edgekiln.codegen",),
    "runtime_c": ("edgekiln.runtime_c",),
    "targets": ("edgekiln.targets",),
    "boards": ("edgekiln.boards",),
    "flash_offload": ("edgekiln.flash_offload",),
}
# stage -> the other stages it may import (besides core and itself)
ALLOWED = {
    "frontends": set(),
    "audio": set(),
    "quantize": set(),                      # decides integers and formats, writes them into the IR
    "codegen": {"runtime_c"},               # reads the IR (quantized nodes included); copies runtime files
    "runtime_c": set(),
    "targets": set(),                       # builds and runs a rendered project from its files
    "boards": {"targets"},
    "flash_offload": {"targets", "quantize"},  # its C build uses targets' registry and runners; MoE bit-nesting
}
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()  # (importer, imported): none today
SUBPACKAGES = ("codegen", "quantize", "targets", "flash_offload", "runtime_c", "boards")


def layer(module: str) -> str | None:
    """'core', 'shell', a stage name, or None for a module nobody classified."""
    if module in CORE:
        return "core"
    if module in SHELL or module.startswith("edgekiln.cli."):
        return "shell"
    for stage, prefixes in STAGES.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return stage
    return None


def imported_modules(module: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """Every edgekiln module `source` imports, at any depth in the file."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from pkg import mod` imports pkg.mod when that is a module
            subs = {f"{target}.{a.name}" for a in node.names} & known
            found |= subs or {target}
    return {m for m in found if m == "edgekiln" or m.startswith("edgekiln.")}


def violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """Backward or unlisted edges among {module: (source, is_package)}."""
    known = set(sources)
    bad = []
    for module, (source, is_package) in sorted(sources.items()):
        here = layer(module)
        if here is None:
            bad.append(f"{module}: not in any layer (add it to CORE, STAGES or SHELL here and in the docs)")
            continue
        for target in sorted(imported_modules(module, source, is_package, known)):
            there = layer(target)
            ok = (here == "shell" or there == "core" or there == here
                  or (here != "core" and there in ALLOWED.get(here, set())))
            if not ok and (module, target) not in KNOWN_EXCEPTIONS:
                bad.append(f"{module} ({here}) imports {target} ({there})")
    return bad


def repository_sources() -> dict[str, tuple[str, bool]]:
    """Every module of the installed edgekiln tree (sdk/ and the top-level stage folders)."""
    roots = {"edgekiln": Path(next(iter(importlib.util.find_spec("edgekiln").submodule_search_locations)))}
    for sub in SUBPACKAGES:
        spec = importlib.util.find_spec(f"edgekiln.{sub}")
        if spec is not None:
            roots[f"edgekiln.{sub}"] = Path(next(iter(spec.submodule_search_locations)))
    sources = {}
    for package, root in roots.items():
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if "__pycache__" in parts or (package == "edgekiln" and parts[0] in SUBPACKAGES):
                continue
            is_package = parts[-1] == "__init__"
            name = ".".join([package, *(parts[:-1] if is_package else parts)])
            sources[name] = (path.read_text(), is_package)
    return sources


@pytest.fixture(scope="module")
def sources():
    found = repository_sources()
    assert {"edgekiln.codegen.project", "edgekiln.quantize.fixed_graph", "edgekiln.targets.registry",
            "edgekiln.api"} <= set(found)
    return found


def test_no_backward_imports(sources):
    assert violations(sources) == []


def test_the_facade_stays_lazy(sources):
    """Importing a core module runs edgekiln/__init__.py first: it may import core only at load."""
    tree = ast.parse(sources["edgekiln"][0])
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(layer(m) == "core" for n in top for m in imported_modules("edgekiln", ast.unparse(n), True,
                                                                         set(sources)))


@pytest.mark.parametrize("module,source,reported", [
    ("edgekiln.codegen.fake", "from edgekiln.api import convert\n", "edgekiln.api (shell)"),
    ("edgekiln.codegen.ops.fake", "def lower():\n    from ...api import convert\n", "edgekiln.api (shell)"),
    ("edgekiln.quantize.fake", "from edgekiln.codegen.lowering import lowering_for\n", "edgekiln.codegen.lowering"),
    ("edgekiln.codegen.fake", "from edgekiln import __version__\n", "edgekiln (shell)"),
    ("edgekiln.ir_helpers", "import numpy\n", "not in any layer"),
    ("edgekiln.errors", "from .codegen import plan\n", "edgekiln.codegen (codegen)"),
])
def test_the_checker_reports_a_backward_import(sources, module, source, reported):
    """The checker itself fails: each synthetic module breaks the layers once."""
    bad = violations({**sources, module: (source, False)})
    assert len(bad) == 1 and reported in bad[0], bad
