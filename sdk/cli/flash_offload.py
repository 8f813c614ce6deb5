"""`kiln flash-offload ...`: pack, measure and run models served from a bundled weight file."""
from __future__ import annotations

import json

import click

from ._app import main
from ._console import echo
from ._options import json_option, target_option


@main.group("flash-offload")
def flash_offload_group() -> None:
    """Run language models larger than RAM from a bundled weight file (LLM in a flash)."""


@flash_offload_group.command("run-c")
@click.argument("model", type=click.Path())
@target_option(default="host", help="host, or arm (qemu-aarch64)")
@click.option("--prompt", required=True, help="text; its UTF-8 bytes are the prompt tokens")
@click.option("--tokens", default=32, show_default=True, help="tokens to generate")
@click.option("--mode", type=click.Choice(["naive", "hybrid", "predictor", "window"]), default="naive", show_default=True)
@click.option("--predictor", type=click.Path(), default=None, help="predictor file (.npz; hybrid ranking, predictor/window)")
@click.option("--budget", type=int, default=None, help="DRAM budget in bytes")
@click.option("--window", default=4, show_default=True, help="window: keep neurons active in the last K tokens")
@click.option("--static", "static_rows", type=int, default=None, help="neurons per layer kept in DRAM (default: what the budget leaves)")
@click.option("--cache-rows", type=int, default=None, help="window cache rows per layer (default: d_ff/8)")
@click.option("--direct", is_flag=True, help="cold reads with O_DIRECT (warns and falls back where refused)")
@click.option("--threads", default=1, show_default=True, help="threads issuing each layer's reads together")
def run_c_cmd(model, target, prompt, tokens, mode, predictor, budget, window, static_rows, cache_rows, direct,
              threads) -> None:
    """Generate text with the C runtime from a bundled .ekf file (pread per token)."""
    from edgekiln.flash_offload.dense.c_runner import run_c

    r = run_c(model, prompt, tokens, target=target, mode=mode, predictor=predictor, budget=budget, window=window,
              static_rows=static_rows, cache_rows=cache_rows, direct=direct, threads=threads)
    for w in r.warnings:
        echo(f"warning: {w}", err=True)
    n = max(len(r.records), 1)
    echo(prompt + bytes(r.tokens).decode("utf-8", errors="replace"))
    echo(f"[{r.target} {r.begin['mode']}] {len(r.records)} positions, {r.end['bytes'] / n:.0f} bytes and "
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
    from edgekiln.flash_offload.lm.corpus import load_corpus
    from edgekiln.flash_offload.dense.train import train

    cfg = train(output, preset, seed=seed, corpus=load_corpus(corpus), threads=threads, log=echo, steps=steps)
    echo(f"wrote {output}: d={cfg['d']} L={cfg['L']} f={cfg['f']} T={cfg['T']}")


@flash_offload_group.command("train-predictor")
@click.argument("model", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="predictor file to write (.npz)")
@click.option("--rank", default=32, show_default=True)
@click.option("--recall", "target_recall", default=0.99, show_default=True, help="training recall each layer's threshold keeps")
@click.option("--windows", default=64, show_default=True, help="training sequences of T bytes")
@click.option("--epochs", default=10, show_default=True)
@click.option("--seed", default=0, show_default=True)
def train_predictor_cmd(model, output, rank, target_recall, windows, epochs, seed) -> None:
    """Train per-layer sparsity predictors for MODEL (.npz checkpoint) and report their quality."""
    from edgekiln.flash_offload.lm.corpus import heldout_windows, load_corpus
    from edgekiln.flash_offload.lm.model import load_checkpoint
    from edgekiln.flash_offload.dense.predictor import evaluate, train_predictor

    cfg, r, ffn = load_checkpoint(model)
    c = load_corpus()
    pred = train_predictor(cfg, r, ffn, heldout_windows(c.train, cfg["T"], windows), rank=rank, epochs=epochs,
                           target_recall=target_recall, seed=seed, log=echo)
    pred.save(output)
    ev = evaluate(pred, cfg, r, ffn, heldout_windows(c.heldout, cfg["T"], 16))
    for lay in ev["layers"]:
        echo(f"layer {lay['layer']}: recall {lay['recall']:.4f} precision {lay['precision']:.4f} "
                   f"false negatives/token {lay['false_negatives_per_token']:.2f} active/token {lay['active_per_token']:.1f} "
                   f"sparsity {lay['sparsity']:.4f}")
    echo(f"held-out perplexity: dense {ev['perplexity_dense']:.4f}, predictor only {ev['perplexity_predictor']:.4f}")
    echo(f"wrote {output}")


def _csv_ids(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(v) for v in value.replace(",", " ").split()]
    except ValueError:
        raise click.BadParameter(f"{value!r}: give token ids as integers separated by commas") from None


@flash_offload_group.command("generate")
@click.argument("model", type=click.Path())
@click.option("--prompt", default=None, help="text, tokenized by the file's tokenizer (UTF-8 bytes for the byte-level toy)")
@click.option("--ids", "ids", default=None, help="the prompt as token ids (comma-separated) instead of --prompt")
@click.option("--tokens", default=32, show_default=True, help="tokens to generate")
@click.option("--predictor", type=click.Path(), default=None, help="predictor file (predictor/window/bundle configs)")
@click.option("--budget-bytes", type=int, default=None, help="DRAM budget (default: half the model)")
@click.option("--config", "config", type=click.Choice(["naive", "hybrid", "predictor", "window", "bundle"]),
              default="bundle", show_default=True)
@click.option("--window", "window_k", default=4, show_default=True, help="window/bundle: keep neurons active in the last K tokens")
@click.option("--cost-model", "cost_model", type=click.Path(), default=None,
              help="bench-io --json result to plan reads with (default: measured on the file)")
@click.option("--no-direct", is_flag=True, help="read through the page cache instead of O_DIRECT")
@click.option("--per-token", is_flag=True, help="print every token's breakdown")
def generate_cmd(model, prompt, ids, tokens, predictor, budget_bytes, config, window_k, cost_model, no_direct,
                 per_token) -> None:
    """Generate from a bundled .ekf file with the offloaded engine; print the text, the token ids and the per-token breakdown."""
    from edgekiln.errors import InputError
    from edgekiln.flash_offload.dense.cost_model import CostModel
    from edgekiln.flash_offload.dense.ekf_format import EkfFile
    from edgekiln.flash_offload.dense.engine import OffloadEngine, summarize
    from edgekiln.flash_offload.dense.predictor import Predictor
    from edgekiln.flash_offload.hf.importer import tokenizer_of

    if (prompt is None) == (ids is None):
        raise InputError("give the prompt as --prompt TEXT or as --ids 1,2,3 (one of them)")
    f = EkfFile(model)
    tok = tokenizer_of(f)
    prompt_ids = _csv_ids(ids) if ids is not None else tok.encode(prompt)
    pred = Predictor.load(predictor, expect_hash=f.model_hash) if predictor else None
    cm = CostModel.load(cost_model) if cost_model else None
    eng = OffloadEngine(f, config, predictor=pred, budget_bytes=budget_bytes, window_k=window_k, direct=not no_direct,
                        cost_model=cm)
    out, stats = eng.generate(prompt_ids, tokens)
    echo(tok.decode(prompt_ids) + tok.decode(out))
    echo(f"ids: {' '.join(map(str, out))}")
    if per_token:
        for k, s in enumerate(stats):
            echo(f"token {k:3d}: io {s.io_ms:7.3f} ms  mem {s.mem_mgmt_ms:6.3f} ms  compute {s.compute_ms:7.3f} ms  "
                 f"read {s.bytes_read:9d} B  loaded {s.neurons_loaded:5d}  dropped {s.dropped:4d}")
    m, s = eng.memory_report(), summarize(stats)
    echo(f"[{config}] per token: io {s['io_ms_per_token']:.3f} ms, memory management {s['mem_mgmt_ms_per_token']:.3f} ms, "
         f"compute {s['compute_ms_per_token']:.3f} ms, total {s['total_ms_per_token']:.3f} ms; "
         f"{s['bytes_read_per_token']:.0f} bytes, {s['neurons_loaded_per_token']:.1f} neurons loaded, "
         f"{s['dropped_per_token']:.2f} dropped (no cache room); O_DIRECT {'on' if eng.reader.direct else 'off'}")
    echo(f"DRAM: {m['used_bytes']} of {m['budget_bytes']} bytes budget (model {m['model_bytes']}, {m['storage']}); "
         f"{m['static_per_layer']} static + up to {m['cache_per_layer']} cached neurons per layer; "
         f"cost model: {(m['cost_model'] or {}).get('source', 'none')}")


@flash_offload_group.command("import")
@click.argument("folder", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="bundled weight file to write (.ekf)")
@click.option("--storage", type=click.Choice(["f32", "fp16", "int8"]), default="f32", show_default=True,
              help="FFN neuron storage (int8: per-row scales)")
@click.option("--calib", type=click.Path(), default=None, help="UTF-8 text file to train the sparsity predictors on")
@click.option("--predictor-out", type=click.Path(dir_okay=False), default=None,
              help="predictor file to write (default: OUTPUT with .pred.npz)")
@click.option("--tokenizer", type=click.Path(), default=None, help="tokenizer.json (default: FOLDER/tokenizer.json)")
@click.option("--layout", "layouts", multiple=True, type=click.Choice(["bundled", "split"]),
              default=("bundled", "split"), show_default=True)
@click.option("--rank", default=32, show_default=True, help="predictor rank")
@click.option("--recall", default=0.99, show_default=True, help="training recall each layer's threshold keeps")
@click.option("--window", default=128, show_default=True, help="calibration window in tokens (at most the context)")
@click.option("--windows", default=64, show_default=True, help="calibration windows")
def import_cmd(folder, output, storage, calib, predictor_out, tokenizer, layouts, rank, recall, window, windows) -> None:
    """Import a Hugging Face checkpoint folder (OPT, ReLU-Llama; config.json + *.safetensors + tokenizer.json) into an .ekf file."""
    from edgekiln.flash_offload.hf.importer import import_checkpoint

    r = import_checkpoint(folder, output, storage=storage, calib=calib, predictor_out=predictor_out,
                          tokenizer=tokenizer, layouts=layouts, rank=rank, recall=recall, window=window,
                          windows=windows, log=echo)
    rep = r.report
    echo(f"resident (DRAM) {rep['resident_bytes']} bytes, FFN neurons {rep['ffn_bytes']} bytes ({rep['storage']}); "
         f"model hash {rep['model_hash'][:16]}…; checksums verified; tokenizer: {rep['tokenizer'] or 'none'}")
    if r.predictor is None:
        echo("no predictor (give --calib TEXT to train one); naive and hybrid run without it")


# --- storage: pack and bench-io ---
@flash_offload_group.command("pack")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="bundled weight file to write (.ekf)")
@click.option("--layout", "layouts", multiple=True, type=click.Choice(["bundled", "split"]),
              default=("bundled", "split"), show_default=True, help="neuron layouts to store (repeat for both)")
@click.option("--bundle-align", default=4, show_default=True, help="round the bundle stride up to this many bytes (4 = no padding)")
@click.option("--storage", type=click.Choice(["f32", "fp16", "int8"]), default="f32", show_default=True,
              help="FFN neuron storage (fp16/int8 files are EKF version 2, which the C runtime does not read yet)")
def pack_cmd(model, output, layouts, bundle_align, storage) -> None:
    """Pack a checkpoint (.npz from `kiln flash-offload train`) into a bundled .ekf file."""
    from edgekiln.flash_offload.dense.ekf_format import EkfFile, write_ekf
    from edgekiln.flash_offload.lm.model import load_checkpoint

    config, resident, ffn = load_checkpoint(model)
    write_ekf(output, config, resident, ffn, layouts=layouts, bundle_align=bundle_align, storage=storage)
    f = EkfFile(output)
    f.verify()  # read back every section: a bad disk shows up now, not mid-generation
    echo(f"wrote {output}: {f.file_size} bytes, {f.n_layers} layers, d_model {f.d_model}, "
               f"layouts {', '.join(f.layouts)}, {f.storage}, bundle stride {f.bundle_stride} bytes, EKF version {f.version}")
    echo(f"resident (DRAM) {f.resident_bytes} bytes, FFN neurons {f.ffn_bytes} bytes; "
               f"model hash {f.model_hash[:16]}…; checksums verified")


def _csv_ints(ctx, param, value: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: give comma-separated integers, e.g. 1,2,4") from None
    if not out:
        raise click.BadParameter("give at least one value")
    return out


@flash_offload_group.command("bench-io")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="measure reads of this existing file (read only)")
@click.option("--dir", "folder", type=click.Path(exists=True, file_okay=False), default=None,
              help="create a scratch file here (on the storage to measure) and remove it after")
@click.option("--threads", default="1,2,4,8", show_default=True, callback=_csv_ints)
@click.option("--chunk-kib", default="4,16,64,256", show_default=True, callback=_csv_ints)
@click.option("--size-mib", default=256, show_default=True, help="scratch file size (--dir)")
@click.option("--read-mib", default=16, show_default=True, help="bytes read per point (capped at --max-reads reads)")
@click.option("--max-reads", default=2048, show_default=True)
@click.option("--no-direct", is_flag=True, help="buffered reads (page cache dropped before each point)")
@json_option("write the points and the fitted cost model")
def bench_io_cmd(file, folder, threads, chunk_kib, size_mib, read_mib, max_reads, no_direct, json_path) -> None:
    """Measure cold read throughput vs chunk size x threads and fit the I/O cost model."""
    from edgekiln.flash_offload.dense.bench_io import format_table, run_bench

    if file is None and folder is None:
        folder = "."
    r = run_bench(file=file, folder=folder, threads=threads, chunk_kib=chunk_kib, size_mib=size_mib,
                  read_mib=read_mib, max_reads=max_reads, direct=not no_direct)
    echo(format_table(r))
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(r, fh, indent=1)
        echo(f"wrote {json_path} (load the model with CostModel.load)")


@flash_offload_group.command("verify")
@click.argument("ekf_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--sections", "show", is_flag=True, help="list every section")
def verify_cmd(ekf_file, show) -> None:
    """Check every section checksum of a bundled .ekf file (after copying it to a device)."""
    from edgekiln.flash_offload.dense.ekf_format import EkfFile

    f = EkfFile(ekf_file)
    if show:
        for s in f.sections.values():
            where = "resident" if s.layer is None else f"layer {s.layer}"
            echo(f"{s.name:24s} {s.kind:11s} {where:9s} shape {list(s.shape)} at {s.offset} "
                       f"({s.nbytes} bytes, stride {s.stride}, crc32 {s.crc32:08x})")
    f.verify()
    echo(f"{ekf_file}: {len(f.sections)} sections, {f.file_size} bytes, checksums OK "
               f"(model hash {f.model_hash[:16]}…)")
