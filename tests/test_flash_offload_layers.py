"""flash_offload's subpackages import in one direction: lm/ and io/ are the base, dense/ and
moe/ build on them and never on each other, hf/ builds on lm/ and dense/, and quantize/
never imports flash_offload."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# package (folder under flash_offload/, or a top-level folder) -> what it may not import
FORBIDDEN = {
    "flash_offload/lm": ("edgekiln.flash_offload.dense", "edgekiln.flash_offload.moe", "edgekiln.flash_offload.io",
                         "edgekiln.flash_offload.hf"),
    "flash_offload/io": ("edgekiln.flash_offload.lm", "edgekiln.flash_offload.dense", "edgekiln.flash_offload.moe",
                         "edgekiln.flash_offload.hf"),
    "flash_offload/dense": ("edgekiln.flash_offload.moe", "edgekiln.flash_offload.hf"),
    "flash_offload/moe": ("edgekiln.flash_offload.dense", "edgekiln.flash_offload.hf"),
    # hf/ (Hugging Face import) builds on lm/ and dense/; nothing below it imports it
    "flash_offload/hf": ("edgekiln.flash_offload.moe",),
    "quantize": ("edgekiln.flash_offload",),
}


def imported_modules(path: Path, root: Path) -> list[str]:
    """Absolute names a file imports (`from a import b` gives a.b, which may be a module);
    relative imports are resolved against edgekiln.<folder of path>."""
    package = "edgekiln." + ".".join(path.relative_to(root).parent.parts)
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            out += [f"{base}.{a.name}" for a in node.names]
    return out


def backward_imports(root: Path = ROOT, rules: dict = FORBIDDEN) -> list[str]:
    bad = []
    for folder, banned in rules.items():
        for path in sorted((root / folder).rglob("*.py")):
            for name in imported_modules(path, root):
                if any(name == b or name.startswith(b + ".") for b in banned):
                    bad.append(f"{path.relative_to(root)} imports {name}")
    return bad


def test_flash_offload_subpackages_import_one_way():
    assert backward_imports() == []


def test_a_backward_import_is_reported(tmp_path):
    (tmp_path / "flash_offload" / "dense").mkdir(parents=True)
    (tmp_path / "flash_offload" / "dense" / "engine.py").write_text(
        "from edgekiln.flash_offload.moe.file import MoeFile\n")
    (tmp_path / "flash_offload" / "lm").mkdir()
    (tmp_path / "flash_offload" / "lm" / "model.py").write_text("from ..io import sections\n")
    bad = backward_imports(tmp_path, {k: v for k, v in FORBIDDEN.items() if k != "quantize"})
    assert bad == ["flash_offload/lm/model.py imports edgekiln.flash_offload.io.sections",
                   "flash_offload/dense/engine.py imports edgekiln.flash_offload.moe.file.MoeFile"]
