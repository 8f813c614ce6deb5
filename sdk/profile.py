"""`kiln profile`: the same samples at several core counts; instructions per core, critical
path, speedup and parallel efficiency (definitions in docs/cli.md)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .ir import Graph


def profile_project(project: Path, X32: np.ndarray, cores: list[int], timeout: float | None = None,
                    batch: bool = False, sim: str | None = None) -> dict:
    """Re-render the project's graph for each core count next to it, build, run, compare.

    sim: a simulator variant to profile on instead of the project's (e.g. "gvsoc")."""
    from edgekiln.codegen import render_project
    from edgekiln.targets import get_target, project_target
    from edgekiln.targets.build import build_project, load_project
    from edgekiln.targets.simulators import run_firmware

    meta = load_project(project)
    target = get_target(meta["target"], sim) if sim else project_target(meta)
    if target.simulator.get("name") not in ("qemu", "gvsoc"):
        from .errors import InputError

        raise InputError(f"profiling counts instructions on QEMU or GVSoC; target {target.name} runs natively")
    options = {k: v for k, v in meta.get("options", {}).items() if k != "sim"}  # the target decides
    graph = Graph.from_json((project / "graph.json").read_text())
    runs, labels = [], {}
    for n in cores:
        out = project / "profile" / (f"{target.variant}-cores-{n}" if target.variant else f"cores-{n}")
        render_project(graph, target, out, options={**options, "cores": n, "batch": batch and n > 1})
        result = run_firmware(build_project(out).elf, target, X32, timeout=timeout)
        per_core = result.per_core or []
        labels[n] = result.labels
        runs.append({
            "cores": n,
            "total_instructions": int(np.median([sum(c.values()) for c in per_core])),
            "critical_path_instructions": int(np.median(result.critical_path)),
            "per_core_instructions": _per_core_medians(per_core),
            "cycles": None if not result.cycles else int(np.median(result.cycles)),
        })
    one = next((r["total_instructions"] for r in runs if r["cores"] == 1), None)
    one_cycles = next((r["cycles"] for r in runs if r["cores"] == 1), None)
    for r in runs:
        # Cycles (GVSoC) include what instructions miss: memory latency, contention, waiting.
        r["cycles_speedup"] = None if not one_cycles or not r["cycles"] else round(one_cycles / r["cycles"], 3)
        r["identical_to_1_core"] = None if 1 not in labels else bool(np.array_equal(labels[r["cores"]], labels[1]))
        r["speedup"] = None if one is None else round(one / r["critical_path_instructions"], 3)
        r["efficiency"] = None if one is None else round(r["speedup"] / r["cores"], 3)
    return {"target": target.name, "model": graph.name, "estimator": graph.meta.get("estimator"),
            "n_samples": int(len(X32)), "mode": "batch" if batch else "kernels", "runs": runs,
            "definition": "speedup = instructions of the 1-core run / critical path of the N-core run "
                          "(median over samples; critical path = max over cores of instructions outside "
                          "spin-waiting, ARCHITECTURE.md 'Measuring')"}


def _per_core_medians(per_core: list[dict[int, int]]) -> dict[str, int]:
    cores = sorted({c for d in per_core for c in d})
    return {str(c): int(np.median([d.get(c, 0) for d in per_core])) for c in cores}
