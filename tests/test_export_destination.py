"""`kiln export -o DIR` / `edgekiln.export` never touch a user's file, and a failed export
leaves nothing behind (checked first, rendered beside the destination, moved into place)."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

import edgekiln
from edgekiln.cli import main
from edgekiln.errors import InputError, MemoryBudgetError

X, y = load_iris(return_X_y=True)
TREE = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_project_json_lists_every_file_it_wrote_with_its_hash(tmp_path):
    info = edgekiln.export(TREE, "host", tmp_path / "p")
    files = json.loads((info.path / "project.json").read_text())["files"]
    on_disk = sorted(str(p.relative_to(info.path)) for p in info.path.rglob("*") if p.is_file())
    assert sorted(files) == sorted(f for f in on_disk if f != "project.json")
    for rel, digest in files.items():
        assert hashlib.sha256((info.path / rel).read_bytes()).hexdigest() == digest


def test_folder_with_users_files_is_refused_and_left_untouched(tmp_path):
    out = tmp_path / "fw"
    out.mkdir()
    (out / "Makefile").write_text("all:\n\techo mine\n")
    (out / "main.c").write_text("int main(void) { return 0; }\n")
    with pytest.raises(InputError, match=r"edgekiln did not write.*Makefile.*main\.c.*force"):
        edgekiln.export(TREE, "host", out)
    assert _listing(out) == ["Makefile", "main.c"]
    assert (out / "Makefile").read_text() == "all:\n\techo mine\n"
    assert list(tmp_path.iterdir()) == [out]  # no staging folder left beside it
    import skops.io as sio
    sio.dump(TREE, tmp_path / "m.skops")
    r = CliRunner().invoke(main, ["export", str(tmp_path / "m.skops"), "-t", "host", "-o", str(out)])
    assert r.exit_code == 2 and "--force" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert (out / "Makefile").read_text() == "all:\n\techo mine\n"


def test_force_replaces_only_edgekilns_files_and_keeps_the_users(tmp_path):
    out = tmp_path / "fw"
    out.mkdir()
    (out / "Makefile").write_text("mine\n")
    (out / "notes.txt").write_text("keep me\n")
    info = edgekiln.export(TREE, "host", out, force=True)
    assert (out / "notes.txt").read_text() == "keep me\n"
    assert (out / "Makefile.orig").read_text() == "mine\n"  # moved aside, not deleted
    assert "edgekiln" in (out / "Makefile").read_text()
    assert info.kept_aside == ["Makefile -> Makefile.orig"]

    import skops.io as sio
    sio.dump(TREE, tmp_path / "m.skops")
    (out / "main.c").write_text("/* edited by the user */\n")  # an edgekiln file the user changed is theirs
    r = CliRunner().invoke(main, ["export", str(tmp_path / "m.skops"), "-t", "host", "-o", str(out)])
    assert r.exit_code == 2 and "main.c" in r.stderr
    r = CliRunner().invoke(main, ["export", str(tmp_path / "m.skops"), "-t", "host", "-o", str(out), "--force"])
    assert r.exit_code == 0, r.stderr
    assert (out / "main.c.orig").read_text() == "/* edited by the user */\n"
    assert "main.c -> main.c.orig" in r.stderr
    assert (out / "notes.txt").read_text() == "keep me\n" and (out / "Makefile.orig").read_text() == "mine\n"


def test_export_again_replaces_its_own_files_without_force(tmp_path):
    out = tmp_path / "p"
    edgekiln.export(RandomForestClassifier(3, random_state=0).fit(X, y), "host", out)
    first = set(json.loads((out / "project.json").read_text())["files"])
    (out / "build").mkdir()  # what `kiln build` leaves is edgekiln's too
    (out / "build" / "model.o").write_bytes(b"\0")
    (out / "fw.elf").write_bytes(b"\0")
    edgekiln.export(LogisticRegression(max_iter=500).fit(X, y), "host", out)
    second = set(json.loads((out / "project.json").read_text())["files"])
    assert first != second
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"project.json"}
    assert on_disk == second  # the forest's kernels and the stale build are gone
    assert not (out / "build").exists() and not (out / "fw.elf").exists()


@pytest.mark.parametrize("target, options, model, error", [
    ("gap8", {"cores": 16}, TREE, InputError),
    ("host", {"cores": 0}, TREE, InputError),
    ("cortex-m4", {}, KNeighborsClassifier().fit(np.random.default_rng(0).normal(size=(6000, 64)),
                                                  np.arange(6000) % 3), MemoryBudgetError),
])
def test_failed_export_leaves_nothing(tmp_path, target, options, model, error):
    with pytest.raises(error):
        edgekiln.export(model, target, tmp_path / "new" / "deeper", options=options)
    assert list(tmp_path.iterdir()) == []
    # onto an earlier project: that one is left exactly as it was
    good = edgekiln.export(TREE, "host", tmp_path / "old")
    before = {p: p.read_bytes() for p in good.path.rglob("*") if p.is_file()}
    with pytest.raises(error):
        edgekiln.export(model, target, good.path, options=options)
    assert {p: p.read_bytes() for p in good.path.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_cli_failed_export_leaves_no_folder(tmp_path):
    import skops.io as sio
    sio.dump(TREE, tmp_path / "m.skops")
    r = CliRunner().invoke(main, ["export", str(tmp_path / "m.skops"), "-t", "gap8", "--cores", "16",
                                  "-o", str(tmp_path / "out")])
    assert r.exit_code == 2 and "core" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.skops"]


def test_destination_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        edgekiln.export(TREE, "host", tmp_path / "f")
    assert (tmp_path / "f").read_text() == "x"


def test_project_of_an_older_edgekiln_without_a_file_list(tmp_path):
    """project.json before "files": its sources and the files edgekiln always writes are its own."""
    out = tmp_path / "p"
    edgekiln.export(TREE, "host", out)
    doc = json.loads((out / "project.json").read_text())
    del doc["files"]
    (out / "project.json").write_text(json.dumps(doc))
    edgekiln.export(TREE, "host", out)  # replaced without --force
    assert "files" in json.loads((out / "project.json").read_text())
    (out / "project.json").write_text(json.dumps(doc))
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="notes.txt"):
        edgekiln.export(TREE, "host", out)
