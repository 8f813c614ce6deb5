"""`kiln moe ...`: pack a MoE checkpoint into bit-plane experts, run or compare expert systems."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InputError
from ._app import main
from ._console import echo
from ._options import json_option, stack_options

BITS_HELP = "score cuts for the threshold bit rule, ascending, one fewer than the stored widths"


@main.group("moe")
def moe_group() -> None:
    """Matryoshka MoE experts from flash: bit-plane files, HEBF scheduling under a memory budget."""


def _windows(tokens: int, requests: int, corpus):
    from edgekiln.flash_offload.corpus import heldout_windows, load_corpus

    return heldout_windows(load_corpus(corpus).heldout, tokens, requests)


def _bits_fn(mf, cuts: str | None):
    """bit_router's score-threshold rule (a higher gate score gets more bits)."""
    from edgekiln.flash_offload.bit_router import ThresholdRule

    if cuts is None:  # evenly spaced over the gate scores top-2 routing gives (0.25..0.75)
        n = len(mf.bits) - 1
        vals = [0.25 + 0.5 * (j + 1) / (n + 1) for j in range(n)]
    else:
        vals = [float(x) for x in cuts.split(",")]
    return ThresholdRule(mf.bits, tuple(vals))


@moe_group.command("pack")
@click.argument("checkpoint", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="bit-plane expert file to write (.ekm)")
@click.option("--mode", type=click.Choice(["mwq", "slice"]), default="mwq", show_default=True)
@click.option("--bits", default="5-8", show_default=True, help="base-max bits (MWQ: 2-4 or 5-8)")
@click.option("--group", default=64, show_default=True, help="weights per scale/zero-point group")
@click.option("--calib-windows", default=8, show_default=True, help="training windows routed to calibrate MWQ bases")
@click.option("--corpus", type=click.Path(), default=None, help="folder of .py files (default: the system stdlib)")
def pack_cmd(checkpoint, output, mode, bits, group, calib_windows, corpus) -> None:
    """Quantize CHECKPOINT's experts into nested bit-planes and write them 4 KiB aligned."""
    from edgekiln.flash_offload.corpus import heldout_windows, load_corpus
    from edgekiln.flash_offload.moe_file import MoeFile
    from edgekiln.flash_offload.moe_lm import load_moe
    from edgekiln.flash_offload.moe_pack import pack_model

    T = load_moe(checkpoint).config["T"]
    calib = heldout_windows(load_corpus(corpus).train, T, calib_windows) if calib_windows else []
    pack_model(checkpoint, output, mode, bits, group, calib, log=echo)
    mf = MoeFile(output)
    echo(f"wrote {output}: {mf.n_layers} layers x {mf.n_experts} experts, bits {list(mf.bits)}, "
               f"{mf.experts_payload_bytes()} bytes of planes, model {mf.model_hash[:12]}")


_run_options = stack_options(
    click.option("--checkpoint", type=click.Path(), default=None, help="float checkpoint (int8_in_memory needs it)"),
    click.option("--budget", type=int, default=None, help="memory budget in bytes"),
    click.option("--requests", default=8, show_default=True, help="batched requests (4-32)"),
    click.option("--tokens", default=64, show_default=True, help="held-out tokens per request"),
    click.option("--cuts", default=None, help=BITS_HELP),
    click.option("--lru-bits", type=int, default=None, help="lru_fixed_bits width (default: the highest stored)"),
    click.option("--buffered", is_flag=True, help="page-cache reads instead of O_DIRECT"),
    click.option("--corpus", type=click.Path(), default=None),
    json_option("write the results as JSON"),
)


@moe_group.command("run")
@click.argument("model", type=click.Path())
@click.option("--system", type=click.Choice(["d2moe", "lru_fixed_bits", "int8_in_memory"]), default="d2moe",
              show_default=True)
@_run_options
def run_cmd(model, system, checkpoint, budget, requests, tokens, cuts, lru_bits, buffered, corpus, json_path) -> None:
    """Teacher-force held-out requests through MODEL (.ekm) with one expert system."""
    from edgekiln.flash_offload.moe_bench import make_system
    from edgekiln.flash_offload.moe_engine import run_requests
    from edgekiln.flash_offload.moe_file import MoeFile
    from edgekiln.flash_offload.moe_lm import MoEModel, load_moe

    mf = MoeFile(model)
    full = load_moe(checkpoint) if checkpoint else None
    base = full if system == "int8_in_memory" else MoEModel(mf.config, mf.resident(), None)
    sysm = make_system(system, mf, full, budget, _bits_fn(mf, cuts), lru_bits, not buffered)
    r = run_requests(sysm, base, _windows(tokens, requests, corpus))
    d = r.as_dict()
    echo(f"{system}: {d['tokens_per_s']:.1f} tokens/s, peak {d['peak_memory_bytes']} bytes "
               f"(budget {budget}), perplexity {d['perplexity']:.4f}")
    if json_path:
        Path(json_path).write_text(json.dumps(d, indent=1))


@moe_group.command("bench")
@click.argument("model", type=click.Path())
@click.option("--budget-fraction", default=0.5, show_default=True, help="budget as a fraction of the int8 peak")
@_run_options
def bench_cmd(model, budget_fraction, checkpoint, budget, requests, tokens, cuts, lru_bits, buffered, corpus,
              json_path) -> None:
    """int8_in_memory vs lru_fixed_bits vs d2moe on the same requests and budget."""
    from edgekiln.flash_offload.moe_bench import compare_systems
    from edgekiln.flash_offload.moe_file import MoeFile
    from edgekiln.flash_offload.moe_lm import load_moe

    if not checkpoint:
        raise InputError("bench compares against int8_in_memory: pass --checkpoint with the float model")
    mf = MoeFile(model)
    rep = compare_systems(mf, load_moe(checkpoint), _windows(tokens, requests, corpus), _bits_fn(mf, cuts),
                          budget, budget_fraction, lru_bits, not buffered, log=echo)
    if json_path:
        Path(json_path).write_text(json.dumps(rep, indent=1))
