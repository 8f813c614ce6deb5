"""The three expert systems side by side on the same requests and the same budget."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from edgekiln.errors import InputError
from edgekiln.flash_offload.moe.engine import (SYSTEMS, BitsFn, D2Moe, Int8InMemory, LruFixedBits,
                                               RunResult, min_budget, run_requests)
from edgekiln.flash_offload.moe.file import MoeFile
from edgekiln.flash_offload.moe.model import MoEModel


def load_experts(mf: MoeFile) -> list:
    """Every expert of the file with all its planes (for training a bit router on them)."""
    from edgekiln.flash_offload.moe.file import PlaneReader
    from edgekiln.flash_offload.moe.kernel import expert_from_blobs

    out = []
    with PlaneReader(mf, direct=False) as rd:
        for li in range(mf.n_layers):
            row = []
            for e in range(mf.n_experts):
                lp = rd.read_planes(li, e, 1, mf.n_planes)
                row.append(expert_from_blobs([bytes(lp.blob(k)) for k in range(1, mf.n_planes + 1)]))
                lp.release()
            out.append(row)
    return out


def trained_router(mf: MoeFile, model: MoEModel, calib_windows: Sequence[np.ndarray], lam: float,
                   capacity: dict | None = None):
    """bit_router.BitRouter trained on the file's experts (distillation cost + lam * bits)."""
    from edgekiln.flash_offload.moe.bit_router import distillation_costs, train_bit_router
    from edgekiln.flash_offload.moe.quant import calibration_inputs

    calib = calibration_inputs(model, calib_windows)
    costs = distillation_costs(model, load_experts(mf), calib, mf.bits)
    return train_bit_router(costs, mf.bits, lam, capacity)


def make_system(name: str, mf: MoeFile, model: MoEModel | None, budget: int | None, bits_fn: BitsFn | None,
                lru_bits: int | None = None, direct: bool = True, io_threads: int = 2, overlap: bool = True):
    if name == "int8_in_memory":
        if model is None or not model.experts:
            raise InputError("int8_in_memory needs the float checkpoint (--checkpoint) to quantize experts to int8")
        return Int8InMemory(model, mf.group_size, budget)
    if name == "lru_fixed_bits":
        return LruFixedBits(mf, budget, lru_bits, direct)
    if name == "d2moe":
        if bits_fn is None:
            raise InputError("d2moe needs a bit-width rule (a trained router or score cuts)")
        return D2Moe(mf, budget, bits_fn, direct, io_threads, overlap)
    raise InputError(f"unknown system {name!r}: one of {SYSTEMS}")


def compare_systems(mf: MoeFile, model: MoEModel, windows: Sequence[np.ndarray], bits_fn: BitsFn,
                    budget: int | None = None, budget_fraction: float = 0.5, lru_bits: int | None = None,
                    direct: bool = True, io_threads: int = 2, repeats: int = 1,
                    log: Callable[[str], None] = lambda s: None) -> dict:
    """Run int8_in_memory (no budget: the reference), lru_fixed_bits and d2moe under one budget
    (default budget_fraction x the int8 peak, at least what both need), `repeats` times in
    alternating order (each run cold: a new system, empty caches). tokens_per_s is the median
    over the runs, peak the highest, perplexity the mean (runs list every run)."""
    if model.config != mf.config:
        raise InputError("the checkpoint and the plane file describe different models; re-pack the file")
    if repeats < 1:
        raise InputError(f"repeats={repeats}: run each system at least once")
    base = MoEModel(mf.config, mf.resident(), None)
    scratch: dict[str, dict] = {name: {} for name in SYSTEMS}  # measured once per system

    def run(name: str) -> RunResult:
        s = make_system(name, mf, model, None if name == "int8_in_memory" else budget, bits_fn, lru_bits,
                        direct, io_threads)
        s.scratch = scratch[name]
        r = run_requests(s, model if name == "int8_in_memory" else base, windows)
        log(_line(r))
        return r

    runs: dict[str, list[RunResult]] = {name: [] for name in SYSTEMS}
    runs["int8_in_memory"].append(run("int8_in_memory"))
    if budget is None:
        need = 0
        for name in ("lru_fixed_bits", "d2moe"):
            s = make_system(name, mf, model, None, bits_fn, lru_bits, direct, io_threads)
            s.scratch = scratch[name]
            need = max(need, min_budget(s, base, len(windows), len(windows[0])))
            s.close()
        budget = max(int(runs["int8_in_memory"][0].meter["peak_bytes"] * budget_fraction), need)
    for rep in range(repeats):
        order = ["lru_fixed_bits", "d2moe", "int8_in_memory"]
        for name in (order if rep % 2 == 0 else order[::-1]):
            if not (rep == 0 and name == "int8_in_memory"):
                runs[name].append(run(name))
    out = []
    for name in SYSTEMS:
        rs = runs[name]
        d = sorted(rs, key=lambda r: r.tokens_per_s)[len(rs) // 2].as_dict()  # the median run
        d.update(tokens_per_s=float(np.median([r.tokens_per_s for r in rs])),
                 peak_memory_bytes=max(r.meter["peak_bytes"] for r in rs),
                 perplexity=float(np.mean([r.perplexity for r in rs])),
                 memory_budget_bytes=budget,  # the shared budget (int8_in_memory cannot honour it)
                 runs=[{"tokens_per_s": r.tokens_per_s, "peak_memory_bytes": r.meter["peak_bytes"],
                        "perplexity": r.perplexity} for r in rs])
        d["within_budget"] = d["peak_memory_bytes"] <= budget
        out.append(d)
    return {"systems": out, "memory_budget_bytes": budget, "requests": len(windows), "repeats": repeats,
            "tokens_per_request": int(len(windows[0])),
            "experts_int8_bytes": runs["int8_in_memory"][0].stats.get("expert_bytes"),
            "plane_file_bytes": mf.file_size}


def _line(r: RunResult) -> str:
    return (f"{r.name:15s} {r.tokens_per_s:8.1f} tok/s  peak {r.meter['peak_bytes'] / 2**20:7.2f} MiB  "
            f"ppl {r.perplexity:.4f}  budget {r.meter['budget_bytes']}")
