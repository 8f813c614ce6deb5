"""pulp-open on GVSoC (`--sim gvsoc`): parity at 1 and 8 cluster cores with real cycles from
the performance counters, the console path, batch mode, `kiln profile --sim gvsoc`, a
timeout; and, without GVSoC, the clear errors (absent simulator, unknown variant).

The simulator tests skip unless `gvsoc` is on PATH (built from source, docs/targets.md)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

import edgekiln
from conftest import as_float32, assert_parity, dataset, near_tie_for
from edgekiln.cli import main as kiln
from edgekiln.errors import InputError, SimulatorError, ToolchainError
from edgekiln.targets import get_target, project_target
from edgekiln.targets.build import build_project, load_project
from edgekiln.targets.simulators import run_firmware
from edgekiln.targets.simulators.gvsoc import parse_perf
from zoo import CLASSIFIERS

GVSOC = get_target("pulp-open", "gvsoc")
needs_gvsoc = pytest.mark.skipif(
    shutil.which("gvsoc") is None or GVSOC.compiler_path() is None,
    reason="gvsoc (or riscv64-unknown-elf-gcc) not on PATH: GVSoC is built from source, see docs/targets.md "
           "'GVSoC'; these tests run pulp-open --sim gvsoc",
)
MODELS = [c for c in CLASSIFIERS if c[0] in {"rf", "gnb", "logreg", "svc_rbf", "knn"}]


def _convert(est, tmp_path, cores: int, batch: bool = False):
    return edgekiln.convert(est, "pulp-open", sim="gvsoc", workdir=tmp_path / f"cores{cores}{'b' if batch else ''}",
                            options={"cores": cores, "batch": batch})


def _check_counters(r, n: int) -> None:
    assert r.simulator == "gvsoc"
    assert len(r.cycles) == len(r.instructions) == len(r.critical_path) == n
    # An in-order single-issue core retires at most one instruction a cycle.
    assert all(0 < i <= c for i, c in zip(r.instructions, r.cycles))
    assert all(cp == max(p.values()) > 0 for cp, p in zip(r.critical_path, r.per_core))


@pytest.mark.gvsoc
@needs_gvsoc
@pytest.mark.parametrize("model_id,factory,exact", MODELS, ids=[m[0] for m in MODELS])
def test_parity_and_cycles_at_1_and_8_cores(model_id, factory, exact, tmp_path):
    X, y = dataset("wine")
    Xe = X[::3]
    est = factory().fit(X, y)
    runs = {}
    for cores in (1, 8):
        cm = _convert(est, tmp_path, cores)
        assert_parity(cm, est, Xe, exact=exact, near_tie=near_tie_for(est, Xe))
        _check_counters(cm.last_run, len(Xe))
        assert 0 < cm.last_run.stack_bytes < GVSOC.stack_bytes
        runs[cores] = cm.last_run
    one, eight = runs[1], runs[8]
    assert np.array_equal(one.labels, eight.labels)
    assert all(set(p) == {0} for p in one.per_core)          # one core did everything
    assert max(len(p) for p in eight.per_core) > 1            # the cluster cores took part
    if model_id in {"knn", "svc_rbf"}:  # distance/kernel loops split well across 8 cores
        assert np.median(eight.cycles) < np.median(one.cycles) / 3
        assert np.median(eight.critical_path) < np.median(one.critical_path) / 3


@pytest.mark.gvsoc
@needs_gvsoc
def test_console_path_and_batch_mode(tmp_path):
    """Samples as the text protocol (the path used when they exceed the preload area), and
    whole inferences side by side on 8 cores: same labels, cycles per sample."""
    X, y = dataset("iris")
    est = dict((m[0], m[1]) for m in CLASSIFIERS)["gnb"]().fit(X, y)
    X32 = as_float32(X[::5]).astype(np.float32)
    cm = _convert(est, tmp_path, 1)
    preloaded = run_firmware(cm.build.elf, cm.target, X32)
    console = run_firmware(cm.build.elf, cm.target, X32, preload=False)
    assert np.array_equal(preloaded.labels, console.labels)
    assert np.array_equal(preloaded.labels, est.predict(X32))
    batch = _convert(est, tmp_path, 8, batch=True)
    assert np.array_equal(batch.predict(X32), est.predict(X32))
    _check_counters(batch.last_run, len(X32))
    assert np.median(batch.last_run.cycles) < np.median(preloaded.cycles)


@pytest.mark.gvsoc
@needs_gvsoc
def test_profile_sim_gvsoc_reports_cycles(tmp_path):
    X, y = dataset("wine")
    est = KNeighborsClassifier(3).fit(X, y)
    model, data = tmp_path / "knn.skops", tmp_path / "X.npy"
    import skops.io as sio

    sio.dump(est, model)
    np.save(data, X[::6])
    runner = CliRunner()
    r = runner.invoke(kiln, ["export", str(model), "-t", "pulp-open", "-o", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(kiln, ["profile", str(tmp_path / "p"), "-d", str(data), "--cores", "1,8", "--sim", "gvsoc",
                             "--json", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    import json

    runs = json.loads((tmp_path / "p.json").read_text())["runs"]
    assert [x["cores"] for x in runs] == [1, 8]
    assert all(x["cycles"] > 0 and x["identical_to_1_core"] for x in runs)
    assert runs[1]["cycles"] < runs[0]["cycles"] and runs[1]["cycles_speedup"] > 1
    assert runs[1]["critical_path_instructions"] < runs[0]["critical_path_instructions"]


@pytest.mark.gvsoc
@needs_gvsoc
def test_hung_or_slow_run_times_out_clearly(tmp_path):
    X, y = load_digits(return_X_y=True)
    cm = _convert(KNeighborsClassifier().fit(X, y), tmp_path, 1)  # ~2 s a sample in soft float
    start = time.monotonic()
    with pytest.raises(SimulatorError, match="did not finish within"):
        run_firmware(cm.build.elf, cm.target, X[:50].astype(np.float32), timeout=2.0)
    assert time.monotonic() - start < 20


# --- without GVSoC: always run ----------------------------------------------------------

def _path_without_gvsoc() -> str:
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not os.path.exists(os.path.join(d, "gvsoc")))


def test_absent_gvsoc_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", _path_without_gvsoc())
    with pytest.raises(ToolchainError, match="build it from source") as e:
        GVSOC.require_simulator()
    assert "docs/targets.md" in str(e.value) and "--sim gvsoc" in str(e.value)
    # The runner checks before it touches the firmware.
    with pytest.raises(ToolchainError, match="gvsoc not found on PATH"):
        run_firmware(tmp_path / "fw.elf", GVSOC, np.zeros((1, 4), np.float32))


def test_absent_gvsoc_from_the_cli(monkeypatch, tmp_path):
    if GVSOC.compiler_path() is None:
        pytest.skip(reason=f"{GVSOC.cc} not installed: apt-get install {' '.join(GVSOC.toolchain_apt)}")
    X, y = dataset("iris")
    import skops.io as sio

    sio.dump(dict((m[0], m[1]) for m in CLASSIFIERS)["gnb"]().fit(X, y), tmp_path / "m.skops")
    np.save(tmp_path / "X.npy", X[:3])
    monkeypatch.setenv("PATH", _path_without_gvsoc())
    runner = CliRunner()
    r = runner.invoke(kiln, ["export", str(tmp_path / "m.skops"), "-t", "pulp-open", "--sim", "gvsoc",
                             "-o", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output                      # exporting needs no simulator
    r = runner.invoke(kiln, ["run", str(tmp_path / "p"), "-d", str(tmp_path / "X.npy")])
    assert r.exit_code == 2 and "gvsoc not found on PATH" in r.output and "from source" in r.output


def test_variant_is_remembered_and_checked(tmp_path):
    X, y = dataset("iris")
    est = dict((m[0], m[1]) for m in CLASSIFIERS)["dt"]().fit(X, y)
    info = edgekiln.export(est, "pulp-open", tmp_path / "p", sim="gvsoc")
    meta = load_project(info.path)
    assert meta["options"]["sim"] == "gvsoc"
    t = project_target(meta)
    assert t.variant == "gvsoc" and t.simulator["name"] == "gvsoc"
    assert "-mabi=ilp32" in t.cflags and "-march=rv32imc" in t.cflags  # soft float under GVSoC
    assert {m.name: m.origin for m in t.memory} == {"L2": 0x1C008000, "L1": 0x10000000}
    assert (info.path / "runtime" / "port" / "ek_markers.c").exists()
    assert not (info.path / "runtime" / "protocol" / "ek_markers.c").exists()  # replaced by name
    assert "0x1C008000" in (info.path / "linker.ld").read_text()
    assert get_target("pulp-open").variant is None and get_target("pulp-open", "qemu").variant is None
    r = CliRunner().invoke(kiln, ["run", str(info.path), "-d", str(tmp_path / "none.npy"), "--sim", "qemu"])
    assert r.exit_code == 2 and "export it again" in r.output


@pytest.mark.parametrize("cores,batch", [(1, False), (8, False), (8, True)], ids=["1core", "8cores", "batch"])
def test_gvsoc_sources_cross_compile(cores, batch, tmp_path):
    """Without GVSoC: the --sim gvsoc port (shared start-up, the cluster team over
    gvsoc/ek_cluster.h, semihosting console, counter markers) compiles under -Werror and links
    at GVSoC's addresses with riscv64-unknown-elf-gcc. This does not run it."""
    if GVSOC.compiler_path() is None:
        pytest.skip(reason=f"{GVSOC.cc} not installed: apt-get install {' '.join(GVSOC.toolchain_apt)}")
    X, y = dataset("wine")
    est = KNeighborsClassifier(3).fit(X, y)  # the distance kernel forks a team
    info = edgekiln.export(est, "pulp-open", tmp_path / "p", sim="gvsoc", options={"cores": cores, "batch": batch})
    assert "runtime/parallel/ek_team_cluster.c" in info.sources
    assert "runtime/port/riscv_startup.c" in info.sources and (info.path / "runtime/port/ek_cluster.h").exists()
    build = build_project(info.path)
    symbols = subprocess.run(["riscv64-unknown-elf-nm", str(build.elf)], capture_output=True, text=True,
                             check=True).stdout
    table = {line.split()[-1]: line.split()[0] for line in symbols.splitlines() if len(line.split()) == 3}
    assert int(table["_start"], 16) == 0x1C008000                   # the entry GVSoC's loader uses
    assert {"ek_team_fork", "ek_team_worker", "ek_mark_begin", "ek_port_bulk_input"} <= set(table)

    def disassemble(symbol: str) -> str:
        return subprocess.run(["riscv64-unknown-elf-objdump", "-d", f"--disassemble={symbol}", str(build.elf)],
                              capture_output=True, text=True, check=True).stdout

    # The cluster team's worker, not riscv_boot.c's weak stand-in: it sleeps on the event unit.
    assert "0x10204" in disassemble("ek_team_worker")
    # The shared start-up with GVSoC's hooks: the fabric controller starts the cluster
    # (cluster controller at 0x10200000) and parked cores listen to the event unit.
    start = disassemble("_start")
    assert "0x10200" in start and "0x10204" in start and "0xcc0" in start.lower()


def test_unknown_variant_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"gap8 has no 'gvsoc' simulator variant.*pulp-open \(--sim gvsoc\)"):
        get_target("gap8", "gvsoc")
    X, y = dataset("iris")
    import skops.io as sio

    sio.dump(dict((m[0], m[1]) for m in CLASSIFIERS)["dt"]().fit(X, y), tmp_path / "m.skops")
    r = CliRunner().invoke(kiln, ["export", str(tmp_path / "m.skops"), "-t", "cortex-m4", "--sim", "gvsoc",
                                  "-o", str(tmp_path / "p")])
    assert r.exit_code == 2 and "no 'gvsoc' simulator variant" in r.output


def test_perf_lines_parse_into_per_core_work():
    text = "EKREADY 4 3 0\nEKPERF 900 120 100 40 0 0 0 0 0 0\nEKOUT 0 1\nEKPERF 500 80 80 0 0 0 0 0 0 0\n"
    cycles, instructions, per_core = parse_perf(text)
    assert cycles == [900, 500] and instructions == [120, 80]
    assert per_core == [{0: 100, 1: 40}, {0: 80}]
    with pytest.raises(SimulatorError, match="malformed"):
        parse_perf("EKPERF 12 x\n")
