"""LLM-in-a-flash benchmark: five ways to run a model whose FFN weights stay in a file.

    python benchmarks/flash_offload.py --json r.json [--preset large] [--tokens 64]

Trains (or reuses, cached under build/flash_offload/) the ReLU byte-level LM of the preset,
its sparsity predictors, packs it into an .ekf file with both layouts, then runs naive,
hybrid, predictor, window and bundle side by side in one process with cold reads (O_DIRECT,
or the page cache dropped before every read where O_DIRECT is unavailable) at a DRAM budget
of --budget-fraction of the model. Perplexities are measured teacher-forced on held-out
text: dense (numpy), and the bundle engine itself (its static set, window and predictor).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from edgekiln.flash_offload.lm import model as lm
from edgekiln.flash_offload.lm.corpus import heldout_windows, load_corpus
from edgekiln.flash_offload.dense.ekf_format import EkfFile, write_ekf
from edgekiln.flash_offload.dense.engine import CONFIGS, OffloadEngine, summarize
from edgekiln.flash_offload.dense.predictor import Predictor, evaluate, train_predictor

PROMPT = "import os\nimport sys\n\n\ndef main(argv):\n    \"\"\"Run the "


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cached_model(build: Path, preset: str, seed: int) -> Path:
    from edgekiln.flash_offload.dense.train import PRESETS
    path = build / f"{preset}-seed{seed}.npz"
    if path.is_file():  # a cache trained with other hyperparameters is stale
        training = lm.load_checkpoint(path)[0].get("training", {})
        if any(training.get(k) != PRESETS[preset][k] for k in ("steps", "batch", "lr", "l1")):
            log(f"{path} was trained with other settings than the {preset!r} preset; training again")
            path.unlink()
    if not path.is_file():
        from edgekiln.flash_offload.dense.train import train
        log(f"training the {preset} model (cached at {path}) ...")
        train(path, preset, seed=seed, log=log)
    return path


def cached_ekf(build: Path, ckpt: Path) -> Path:
    path = ckpt.with_suffix(".ekf")
    if not path.is_file() or path.stat().st_mtime < ckpt.stat().st_mtime:
        cfg, r, ffn = lm.load_checkpoint(ckpt)
        write_ekf(path, cfg, r, ffn, layouts=("bundled", "split"))
    return path


def cached_predictor(ckpt: Path, ekf: EkfFile, model, rank: int, windows: int, recall: float) -> Predictor:
    path = ckpt.with_name(ckpt.stem + f".pred-r{rank}.npz")
    if path.is_file():
        pred = Predictor.load(path)
        if pred.model_hash == ekf.model_hash and pred.info.get("target_recall") == recall:
            return pred
    cfg, r, ffn = model
    log(f"training predictors (rank {rank}) on {windows} training windows ...")
    pred = train_predictor(cfg, r, ffn, heldout_windows(load_corpus().train, cfg["T"], windows), rank=rank,
                           target_recall=recall, log=log)
    pred.save(path)
    return pred


def dense_logits(cfg, r, ffn, tokens) -> list[np.ndarray]:
    kv = lm.KVCache.empty(cfg)
    return [lm.forward_token(cfg, r, int(t), kv, lm.dense_ffn(ffn)) for t in tokens]


def engine_perplexity(eng: OffloadEngine, windows) -> tuple[float, dict]:
    """exp(mean NLL) of next bytes with the engine itself, teacher-forced (resets per window)."""
    nll, n, stats = 0.0, 0, []
    for w in windows:
        eng.reset()
        for t in range(len(w) - 1):
            lg, st = eng.step(int(w[t]))
            stats.append(st)
            lg = lg.astype(np.float64)
            nll += np.log(np.exp(lg - lg.max()).sum()) + lg.max() - lg[w[t + 1]]
            n += 1
    return float(np.exp(nll / n)), summarize(stats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--preset", default="large", choices=["tiny", "large"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--build", type=Path, default=Path("build/flash_offload"))
    ap.add_argument("--tokens", type=int, default=64, help="tokens generated per config")
    ap.add_argument("--budget-fraction", type=float, default=0.5, help="DRAM budget as a fraction of the model bytes")
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--cache-fraction", type=float, default=0.125)
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--recall", type=float, default=0.99)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--ppl-windows", type=int, default=8, help="held-out windows of T bytes for perplexities")
    ap.add_argument("--train-windows", type=int, default=96)
    args = ap.parse_args()
    args.build.mkdir(parents=True, exist_ok=True)

    ckpt = cached_model(args.build, args.preset, args.seed)
    model = lm.load_checkpoint(ckpt)
    cfg, r, ffn = model
    ekf_path = cached_ekf(args.build, ckpt)
    ekf = EkfFile(ekf_path)
    pred = cached_predictor(ckpt, ekf, model, args.rank, args.train_windows, args.recall)
    model_bytes = ekf.resident_bytes + ekf.ffn_bytes
    budget = int(args.budget_fraction * model_bytes)
    corpus = load_corpus()
    held = heldout_windows(corpus.heldout, cfg["T"], args.ppl_windows)

    # timed workload: held-out text fed byte by byte (the I/O pattern of real text; greedy
    # output of a small model repeats itself, which would flatter the window cache)
    text = heldout_windows(corpus.heldout, cfg["T"], args.ppl_windows + 1)[-1]
    dense_top = [int(np.argmax(x)) for x in dense_logits(cfg, r, ffn, text)]
    prompt = lm.encode(PROMPT)
    n_new = min(args.tokens, cfg["T"] - len(prompt))
    dense = lm.generate_dense(cfg, r, ffn, prompt, n_new)
    rows, engines = [], {}
    for name in CONFIGS:
        eng = OffloadEngine(ekf, name, predictor=pred, budget_bytes=budget, window_k=args.window,
                            cache_fraction=args.cache_fraction, threads=args.threads, verify=False)
        engines[name] = eng
        stats, top = [], []
        t0 = time.perf_counter()
        for t in text:
            logits, st = eng.step(int(t))
            stats.append(st)
            top.append(int(np.argmax(logits)))
        wall = (time.perf_counter() - t0) * 1e3 / len(stats)
        s = summarize(stats)
        toks, _ = eng.generate(prompt, n_new)
        diff = [k for k, (x, y) in enumerate(zip(toks, dense)) if x != y]
        m = eng.memory_report()
        rows.append({"name": name, "bytes_per_token": s["bytes_read_per_token"], "io_ms_per_token": s["io_ms_per_token"],
                     "mem_mgmt_ms_per_token": s["mem_mgmt_ms_per_token"], "compute_ms_per_token": s["compute_ms_per_token"],
                     "total_ms_per_token": s["total_ms_per_token"], "wall_ms_per_token": wall, "tokens": len(stats),
                     "neurons_loaded_per_token": s["neurons_loaded_per_token"],
                     "neurons_computed_per_token": s["neurons_computed_per_token"], "dropped_per_token": s["dropped_per_token"],
                     "static_per_layer": m["static_per_layer"], "cache_per_layer": m["cache_per_layer"],
                     "dram_used_bytes": m["used_bytes"], "o_direct": eng.reader.direct,
                     "next_byte_argmax_differing_from_dense": sum(x != y for x, y in zip(top, dense_top)),
                     "generated_tokens_differing_from_dense": len(diff), "first_difference": diff[0] if diff else None,
                     "generated_text": lm.decode(toks)})
        log(f"{name}: {s['total_ms_per_token']:.2f} ms/token, {s['bytes_read_per_token']:.0f} B/token, "
            f"{rows[-1]['next_byte_argmax_differing_from_dense']}/{len(text)} next-byte argmaxes and "
            f"{len(diff)}/{n_new} generated tokens differ from dense")

    log("perplexities on held-out text ...")
    nll_dense = sum(lm.nll_dense_batch(cfg, r, ffn, w) for w in held)
    ppl_dense = float(np.exp(nll_dense / sum(len(w) - 1 for w in held)))
    ppl_offload, _ = engine_perplexity(engines["bundle"], held)
    ev = evaluate(pred, cfg, r, ffn, held)
    base = rows[0]
    out = {
        "configs": rows, "dram_budget_bytes": budget, "model_bytes": model_bytes,
        "resident_bytes": ekf.resident_bytes, "ffn_bytes": ekf.ffn_bytes, "predictor_bytes": pred.nbytes,
        "perplexity_dense": ppl_dense, "perplexity_offload": ppl_offload,
        "perplexity_predictor_only": ev["perplexity_predictor"], "predictor_layers": ev["layers"],
        # neurons that never fired on the predictor's training tokens (the L1 penalty kills some)
        "never_active_neurons_per_layer": [int((fq == 0).sum()) for fq in pred.freq],
        "io_reduction_vs_naive": base["bytes_per_token"] / max(rows[-1]["bytes_per_token"], 1),
        "io_ms_reduction_vs_naive": base["io_ms_per_token"] / max(rows[-1]["io_ms_per_token"], 1e-9),
        "speedup_vs_naive": base["total_ms_per_token"] / rows[-1]["total_ms_per_token"],
        "model": {k: cfg[k] for k in ("V", "d", "L", "h", "f", "T")} | {"checkpoint": str(ckpt), "corpus": cfg.get("corpus"),
                                                                       "training": cfg.get("training")},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "prompt": PROMPT, "dense_text": lm.decode(dense),
    }
    args.json.write_text(json.dumps(out, indent=1))
    print(f"model {model_bytes / 2**20:.1f} MiB (FFN {ekf.ffn_bytes / 2**20:.1f} MiB), DRAM budget {budget / 2**20:.1f} MiB, "
          f"O_DIRECT {'on' if rows[0]['o_direct'] else 'off'}\n")
    print(f"per token over {len(text)} held-out bytes fed one at a time; the last two columns: next-byte argmax "
          f"differing from dense on that text, and greedy tokens differing from dense after the prompt\n")
    print("| config | bytes/token | I/O ms | mem mgmt ms | compute ms | total ms | neurons read | static/layer | argmax != dense | generated != dense |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for x in rows:
        print(f"| {x['name']} | {x['bytes_per_token']:,.0f} | {x['io_ms_per_token']:.2f} | {x['mem_mgmt_ms_per_token']:.2f} | "
              f"{x['compute_ms_per_token']:.2f} | {x['total_ms_per_token']:.2f} | {x['neurons_loaded_per_token']:.1f} | "
              f"{x['static_per_layer']} | {x['next_byte_argmax_differing_from_dense']}/{len(text)} | "
              f"{x['generated_tokens_differing_from_dense']}/{n_new} |")
    print("\n| layer | active/token | sparsity | never active | predicted/token | recall | precision | false neg./token |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for lay, dead in zip(ev["layers"], out["never_active_neurons_per_layer"]):
        print(f"| {lay['layer']} | {lay['active_per_token']:.1f} | {100 * lay['sparsity']:.2f}% | {dead} | "
              f"{lay['predicted_per_token']:.1f} | {lay['recall']:.4f} | {lay['precision']:.4f} | "
              f"{lay['false_negatives_per_token']:.3f} |")
    print(f"\nI/O bytes {out['io_reduction_vs_naive']:.1f}x and I/O time {out['io_ms_reduction_vs_naive']:.1f}x lower than naive; "
          f"end-to-end {out['speedup_vs_naive']:.2f}x faster; perplexity dense {ppl_dense:.4f}, offloaded {ppl_offload:.4f} "
          f"({100 * (ppl_offload / ppl_dense - 1):+.2f}%), predictor alone {ev['perplexity_predictor']:.4f}")


if __name__ == "__main__":
    main()
