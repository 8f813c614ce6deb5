"""Perplexity per bit-width (MWQ / MatQuant slice / RTN / GPTQ) and the bits-vs-perplexity
curve (trained bit router vs score threshold) of a MoE model.

    python benchmarks/moe_quant.py --json q.json [--model tiny|large|PATH.npz]

`tiny` is the committed fixture; `large` is trained (or reused) under build/moe_matryoshka/
by flash_offload.moe.train.cached_model. Calibration uses training text, perplexity held-out
text (corpus.py's split). Prints markdown tables (docs/moe_matryoshka.md).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from edgekiln.flash_offload.lm import corpus
from edgekiln.flash_offload.moe import bit_router, model as moe_lm, quant as moe_quant, train as moe_train


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="large", help="tiny, large or a MoE .npz checkpoint")
    ap.add_argument("--build", type=Path, default=Path("build/moe_matryoshka"))
    ap.add_argument("--windows", type=int, default=24, help="held-out windows of T tokens")
    ap.add_argument("--calib-windows", type=int, default=32)
    ap.add_argument("--group", type=int, default=64)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if a.model == "tiny":
        path = Path(moe_lm.__file__).parent / "fixtures" / "moe_tiny.npz"
    elif a.model == "large":
        path = moe_train.cached_model(a.build, "large", 0, log=log)
    else:
        path = Path(a.model)
    model = moe_lm.load_moe(path)
    c = corpus.load_corpus()
    T = model.config["T"]
    held = corpus.heldout_windows(c.heldout, T, a.windows)
    t0 = time.time()
    calib = moe_quant.calibration_inputs(model, corpus.heldout_windows(c.train, T, a.calib_windows))
    table = moe_quant.perplexity_table(model, calib, held, group=a.group)
    log(f"perplexity table {time.time() - t0:.0f}s")
    print("| config | bits | MWQ (nested) | slice (nested) | RTN | GPTQ |\n|---|---|---|---|---|---|")
    for r in table:
        print(f"| {r['config']} | {r['bits']} | {r['mwq']:.3f} | {r['slice']:.3f} | {r['rtn']:.3f} | {r['gptq']:.3f} |")
    print(f"float32 experts: {table[0]['float']:.3f}\n")
    experts = moe_quant.quantize_model(model, calib, "mwq", 2, 4, a.group)
    curve = bit_router.bits_perplexity_curve(model, experts, held, calib)
    capped = bit_router.bits_perplexity_curve(model, experts, held, calib, lambdas=(0.0, 0.002), mixes=(),
                                              capacity={4: 0.25, 3: 0.5})
    curve += [dict(r, rule="router+capacity") for r in capped if r["rule"] == "router"]
    log(f"curve done {time.time() - t0:.0f}s")
    print("| rule | lambda / thresholds | avg bits | perplexity | share 2/3/4 |\n|---|---|---|---|---|")
    for r in curve:
        share = "/".join(f"{r['share'].get(b, 0):.2f}" for b in (2, 3, 4))
        print(f"| {r['rule']} | {r['param']} | {r['avg_bits']:.2f} | {r['perplexity']:.3f} | {share} |")
    if a.json:
        cfg = {k: model.config[k] for k in moe_lm.MOE_CONFIG_KEYS}
        a.json.write_text(json.dumps({"model": str(path), "config": cfg, "windows": a.windows,
                                      "perplexity_per_bits": table, "bits_curve": curve}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
