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
@click.option("--mode", type=click.Choice(["naive", "predictor", "window"]), default="naive", show_default=True)
@click.option("--predictor", type=click.Path(), default=None, help="predictor file (predictor/window modes)")
@click.option("--budget", type=int, default=None, help="DRAM budget in bytes")
@click.option("--window", default=4, show_default=True, help="window: keep neurons active in the last K tokens")
def run_c_cmd(model, target, prompt, tokens, mode, predictor, budget, window) -> None:
    """Generate text with the C runtime from a bundled .ekf file (pread per token)."""
    from .c_runner import run_c

    r = run_c(model, prompt, tokens, target=target, mode=mode, predictor=predictor, budget=budget, window=window)
    n = max(len(r.records), 1)
    click.echo(prompt + bytes(r.tokens).decode("utf-8", errors="replace"))
    click.echo(f"[{r.target} {r.begin['mode']}] {len(r.records)} positions, {r.end['bytes'] / n:.0f} bytes and "
               f"{r.end['loaded'] / n:.1f} neurons read per token, {r.end['reads'] / n:.1f} reads per token, "
               f"DRAM {r.begin['dram_bytes']} bytes, {r.end['total_ns'] / n / 1e6:.3f} ms per token")
