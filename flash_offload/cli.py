"""`kiln flash-offload ...`: pack, measure and run models served from a bundled weight file."""
from __future__ import annotations

import click


@click.group("flash-offload")
def flash_offload_group() -> None:
    """Run language models larger than RAM from a bundled weight file (LLM in a flash)."""


@flash_offload_group.command("run-c")
@click.argument("model", type=click.Path())
@click.option("--target", default="host", show_default=True, help="host, or arm (qemu-aarch64)")
@click.option("--prompt", required=True, help="text; its UTF-8 bytes are the prompt tokens")
@click.option("--tokens", default=32, show_default=True, help="tokens to generate")
@click.option("--mode", type=click.Choice(["naive", "hybrid", "predictor", "window"]), default="naive", show_default=True)
@click.option("--predictor", type=click.Path(), default=None, help="predictor file (.npz; hybrid ranking, predictor/window)")
@click.option("--budget", type=int, default=None, help="DRAM budget in bytes")
@click.option("--window", default=4, show_default=True, help="window: keep neurons active in the last K tokens")
@click.option("--static", "static_rows", type=int, default=None, help="neurons per layer kept in DRAM (default: what the budget leaves)")
@click.option("--cache-rows", type=int, default=None, help="window cache rows per layer (default: d_ff/8)")
def run_c_cmd(model, target, prompt, tokens, mode, predictor, budget, window, static_rows, cache_rows) -> None:
    """Generate text with the C runtime from a bundled .ekf file (pread per token)."""
    from .c_runner import run_c

    r = run_c(model, prompt, tokens, target=target, mode=mode, predictor=predictor, budget=budget, window=window,
              static_rows=static_rows, cache_rows=cache_rows)
    n = max(len(r.records), 1)
    click.echo(prompt + bytes(r.tokens).decode("utf-8", errors="replace"))
    click.echo(f"[{r.target} {r.begin['mode']}] {len(r.records)} positions, {r.end['bytes'] / n:.0f} bytes and "
               f"{r.end['loaded'] / n:.1f} neurons read per token, {r.end['reads'] / n:.1f} reads per token, "
               f"DRAM {r.begin['dram_bytes']} bytes, {r.end['total_ns'] / n / 1e6:.3f} ms per token")


@flash_offload_group.command("train")
@click.option("-o", "--output", required=True, type=click.Path(), help="checkpoint to write (.npz)")
@click.option("--preset", type=click.Choice(["tiny", "large"]), default="tiny", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--steps", type=int, default=None, help="override the preset's training steps")
@click.option("--corpus", type=click.Path(), default=None, help="folder of .py files (default: the system Python's stdlib)")
@click.option("--threads", default=2, show_default=True)
def train_cmd(output, preset, seed, steps, corpus, threads) -> None:
    """Train the ReLU byte-level LM (needs torch: pip install 'edgekiln[train]')."""
    from .corpus import load_corpus
    from .train import train

    cfg = train(output, preset, seed=seed, corpus=load_corpus(corpus), threads=threads, log=click.echo, steps=steps)
    click.echo(f"wrote {output}: d={cfg['d']} L={cfg['L']} f={cfg['f']} T={cfg['T']}")


@flash_offload_group.command("train-predictor")
@click.argument("model", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="predictor file to write (.npz)")
@click.option("--rank", default=32, show_default=True)
@click.option("--recall", "target_recall", default=0.99, show_default=True, help="training recall each layer's threshold keeps")
@click.option("--windows", default=64, show_default=True, help="training sequences of T bytes")
@click.option("--epochs", default=8, show_default=True)
@click.option("--seed", default=0, show_default=True)
def train_predictor_cmd(model, output, rank, target_recall, windows, epochs, seed) -> None:
    """Train per-layer sparsity predictors for MODEL (.npz checkpoint) and report their quality."""
    from .corpus import heldout_windows, load_corpus
    from .lm import load_checkpoint
    from .predictor import evaluate, train_predictor

    cfg, r, ffn = load_checkpoint(model)
    c = load_corpus()
    pred = train_predictor(cfg, r, ffn, heldout_windows(c.train, cfg["T"], windows), rank=rank, epochs=epochs,
                           target_recall=target_recall, seed=seed, log=click.echo)
    pred.save(output)
    ev = evaluate(pred, cfg, r, ffn, heldout_windows(c.heldout, cfg["T"], 16))
    for lay in ev["layers"]:
        click.echo(f"layer {lay['layer']}: recall {lay['recall']:.4f} precision {lay['precision']:.4f} "
                   f"false negatives/token {lay['false_negatives_per_token']:.2f} active/token {lay['active_per_token']:.1f} "
                   f"sparsity {lay['sparsity']:.4f}")
    click.echo(f"held-out perplexity: dense {ev['perplexity_dense']:.4f}, predictor only {ev['perplexity_predictor']:.4f}")
    click.echo(f"wrote {output}")


@flash_offload_group.command("generate")
@click.argument("model", type=click.Path())
@click.option("--prompt", required=True, help="text; its UTF-8 bytes are the prompt tokens")
@click.option("--tokens", default=32, show_default=True, help="tokens to generate")
@click.option("--predictor", type=click.Path(), default=None, help="predictor file (predictor/window/bundle configs)")
@click.option("--budget-bytes", type=int, default=None, help="DRAM budget (default: half the model)")
@click.option("--config", "config", type=click.Choice(["naive", "hybrid", "predictor", "window", "bundle"]),
              default="bundle", show_default=True)
@click.option("--window", "window_k", default=4, show_default=True, help="window/bundle: keep neurons active in the last K tokens")
@click.option("--no-direct", is_flag=True, help="read through the page cache instead of O_DIRECT")
@click.option("--per-token", is_flag=True, help="print every token's breakdown")
def generate_cmd(model, prompt, tokens, predictor, budget_bytes, config, window_k, no_direct, per_token) -> None:
    """Generate text from a bundled .ekf file with the offloaded engine; print the per-token breakdown."""
    from .engine import OffloadEngine, summarize
    from .lm import decode, encode
    from .predictor import Predictor

    pred = Predictor.load(predictor) if predictor else None
    eng = OffloadEngine(model, config, predictor=pred, budget_bytes=budget_bytes, window_k=window_k, direct=not no_direct)
    out, stats = eng.generate(encode(prompt), tokens)
    click.echo(prompt + decode(out))
    if per_token:
        for k, s in enumerate(stats):
            click.echo(f"token {k:3d}: io {s.io_ms:7.3f} ms  mem {s.mem_mgmt_ms:6.3f} ms  compute {s.compute_ms:7.3f} ms  "
                       f"read {s.bytes_read:9d} B  loaded {s.neurons_loaded:5d}")
    m, s = eng.memory_report(), summarize(stats)
    click.echo(f"[{config}] per token: io {s['io_ms_per_token']:.3f} ms, memory management {s['mem_mgmt_ms_per_token']:.3f} ms, "
               f"compute {s['compute_ms_per_token']:.3f} ms, total {s['total_ms_per_token']:.3f} ms; "
               f"{s['bytes_read_per_token']:.0f} bytes, {s['neurons_loaded_per_token']:.1f} neurons loaded; "
               f"O_DIRECT {'on' if eng.reader.direct else 'off'}")
    click.echo(f"DRAM: {m['used_bytes']} of {m['budget_bytes']} bytes budget (model {m['model_bytes']}); "
               f"{m['static_per_layer']} static + {m['cache_per_layer']} cached neurons per layer")
