"""Per-layer instructions and MACs per instruction of the network kernels on the KWS DS-CNN
layer shapes (benchmarks/nn_kernel_cases.py `ds_cnn_layers`), measured by the QEMU
instruction-count plugin around each kernel call (benchmarks/nn_kernel_fw.py).

    python benchmarks/nn_kernels.py --json r.json [--targets cortex-m4,gap8] [--markdown]

Per target: the reference kernels (`ref`) and the target's optimized overrides (`opt`,
its target.toml `kernel_families`), both checked bit-exact against the golden model before
a figure is kept. On PULP-style cluster targets also 8 cores: speedup = instructions of
the 1-core run / critical path of the 8-core run (the largest, over cores, of the
instructions outside spin-waiting). MACs count multiply-accumulates of the layer (pools:
taps summed; softmax: elements); `net` sums every layer."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import nn_kernel_cases as C  # noqa: E402
from benchmarks import nn_kernel_fw as F  # noqa: E402


def _exact(cases: list[dict], run: F.KernelRun) -> list[bool]:
    return [run.status[i] == 0 and np.array_equal(C.decode(c, run.outputs[i]), c["expect"]) for i, c in enumerate(cases)]


def measure(target: str, seed: int = 0, cores: list[int] | None = None) -> list[dict]:
    from edgekiln.targets import get_target

    t = get_target(target)
    cases = C.ds_cnn_layers(np.random.default_rng(seed))
    configs = [("ref", [], 1)]
    if t.kernel_families:
        configs.append(("opt", None, 1))
    for n in cores or ([8] if t.parallel == "cluster" else []):
        configs.append((f"opt-{n}core", None, n))
    rows = []
    one_core: dict[str, list[int]] = {}
    for name, fams, n in configs:
        r = F.build_and_run(target, cases, families=fams, n_cores=n)
        exact = _exact(cases, r)
        crit = r.critical_path if n > 1 else r.instructions
        if n == 1:
            one_core[name] = r.instructions
        base = one_core.get("opt", one_core["ref"])
        for i, c in enumerate(cases):
            rows.append({"target": target, "config": name, "cores": n, "layer": c["label"], "kernel": c["kernel"],
                         "family": r.kernels.get(c["kernel"] + ".c", "ref"), "macs": c["macs"],
                         "instructions": r.instructions[i], "critical_path": crit[i],
                         "macs_per_instruction": round(c["macs"] / crit[i], 4),
                         "macs_per_instruction_per_core": round(c["macs"] / (n * crit[i]), 4), "bit_exact": exact[i],
                         "speedup": round(base[i] / crit[i], 3) if n > 1 else None})
        macs, ins = sum(c["macs"] for c in cases), sum(crit)
        rows.append({"target": target, "config": name, "cores": n, "layer": "net", "kernel": "", "family": "",
                     "macs": macs, "instructions": sum(r.instructions), "critical_path": ins,
                     "macs_per_instruction": round(macs / ins, 4),
                     "macs_per_instruction_per_core": round(macs / (n * ins), 4), "bit_exact": all(exact),
                     "speedup": round(sum(base) / ins, 3) if n > 1 else None})
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| target | config | layer | kernel (family) | MACs | instructions | MAC/instr | speedup | bit-exact |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ins = r["critical_path"] if r["cores"] > 1 else r["instructions"]
        kern = f"{r['kernel']} ({r['family']})" if r["kernel"] else ""
        sp = f"{r['speedup']:.2f}x" if r["speedup"] else ""
        layer = f"**{r['layer']}**" if r["layer"] == "net" else r["layer"]
        out.append(f"| {r['target']} | {r['config']} | {layer} | {kern} | {r['macs']:,} | {ins:,} | "
                   f"{r['macs_per_instruction']:.3f} | {sp} | {'yes' if r['bit_exact'] else 'NO'} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--targets", default="cortex-m4,gap8")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args()
    rows = []
    for t in args.targets.split(","):
        rows += measure(t.strip(), args.seed)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=1))
    print(markdown(rows) if args.markdown else json.dumps(rows, indent=1))
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
