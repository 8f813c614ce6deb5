"""Quantizing a MoE model's experts: routed calibration inputs, matryoshka experts, RTN/GPTQ
baselines at the same bit-widths, and the expert callables moe_lm runs them through."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from edgekiln.errors import InputError
from edgekiln.quantize import group_quant as gq
from edgekiln.quantize.matryoshka import MatryoshkaExpert, quantize_expert

from edgekiln.flash_offload.moe.model import FULL_BITS, Expert, ExpertFn, MoEModel, expert_forward, nll

MIN_CALIB_TOKENS = 16  # below this an expert is quantized on weight error alone (no X)
Calib = list[list[np.ndarray]]  # [layer][expert] -> (n, d) inputs routed to that expert


def calibration_inputs(model: MoEModel, windows: Sequence[np.ndarray], max_tokens: int = 2048,
                       seed: int = 0) -> Calib:
    """The FFN inputs the float model routes to each expert on `windows` (training text, not
    held-out), at most max_tokens per expert (an even random subset)."""
    got: list[list[list[np.ndarray]]] = [[[] for _ in range(model.E)] for _ in range(model.L)]

    def hook(i, H, idx, w, probs):
        for j in range(model.E):
            got[i][j].append(H[np.any(idx == j, axis=1)])

    for w in windows:
        nll(model, w, on_route=hook)
    rng = np.random.default_rng(seed)
    out: Calib = []
    for layer in got:
        row = []
        for parts in layer:
            X = np.concatenate(parts) if parts else np.zeros((0, model.config["d"]), np.float32)
            if len(X) > max_tokens:
                X = X[np.sort(rng.choice(len(X), max_tokens, replace=False))]
            row.append(np.ascontiguousarray(X, np.float32))
        out.append(row)
    return out


def _x(X: np.ndarray) -> np.ndarray | None:
    return X if len(X) >= MIN_CALIB_TOKENS else None


def quantize_model(model: MoEModel, calib: Calib | None, mode: str = "mwq", min_bits: int = 2,
                   max_bits: int = 4, group: int = 64) -> list[list[MatryoshkaExpert]]:
    """Every expert as nested planes ([layer][expert]); calib None = weight error only."""
    return [[quantize_expert(*ex, X=None if calib is None else _x(calib[i][j]), mode=mode,
                             min_bits=min_bits, max_bits=max_bits, group=group)
             for j, ex in enumerate(layer)] for i, layer in enumerate(model.experts)]


def baseline_experts(model: MoEModel, calib: Calib | None, method: str, bits: Sequence[int],
                     group: int = 64) -> dict[int, list[list[Expert]]]:
    """Independently quantized experts per bit-width: method `rtn` or `gptq` (dequantized
    float32, biases kept). GPTQ's Hessian factor is computed once per matrix for all bits;
    experts with fewer than MIN_CALIB_TOKENS calibration tokens fall back to RTN."""
    if method not in ("rtn", "gptq"):
        raise InputError(f"baseline method {method!r} is not 'rtn' or 'gptq'")
    if method == "gptq" and calib is None:
        raise InputError("GPTQ needs calibration inputs (calibration_inputs(model, windows))")
    out: dict[int, list[list[Expert]]] = {b: [] for b in bits}
    for i, layer in enumerate(model.experts):
        rows: dict[int, list[Expert]] = {b: [] for b in bits}
        for j, (up, b_up, down, b_down) in enumerate(layer):
            X = None if calib is None else _x(calib[i][j])
            if method == "gptq" and X is not None:
                A = np.maximum(X @ up.T + b_up, 0)
                fu, fd = gq.gptq_factor(X), gq.gptq_factor(A)
                q = lambda b: (gq.gptq(up, None, b, group, factor=fu), gq.gptq(down.T, None, b, group, factor=fd))  # noqa: E731
            else:
                q = lambda b: (gq.rtn(up, b, group), gq.rtn(down.T, b, group))  # noqa: E731
            for b in bits:
                qu, qd = q(b)
                rows[b].append((qu, b_up, np.ascontiguousarray(qd.T), b_down))
        for b in bits:
            out[b].append(rows[b])
    return out


def matryoshka_expert_fn(model: MoEModel, experts: list[list[MatryoshkaExpert]]) -> ExpertFn:
    """expert_fn over nested experts: token_bits picks the planes (FULL_BITS = the float expert);
    reconstructed matrices are cached per (layer, expert, bits)."""
    cache: dict[tuple[int, int, int], Expert] = {}

    def fn(i: int, j: int, bits: int, H: np.ndarray) -> np.ndarray:
        if bits == FULL_BITS:
            return expert_forward(H, *model.experts[i][j])
        key = (i, j, bits)
        if key not in cache:
            cache[key] = experts[i][j].weights(bits)  # InputError outside the stored range
        return expert_forward(H, *cache[key])

    return fn


def fixed_expert_fn(experts: list[list[Expert]]) -> ExpertFn:
    """expert_fn over one set of (dequantized) float experts; token_bits ignored."""
    return lambda i, j, bits, H: expert_forward(H, *experts[i][j])


def fixed_bits_fn(bits: int):
    """bits_fn sending every token to `bits`."""
    return lambda i, j, H, scores: np.full(len(H), bits, np.int64)


def perplexity_table(model: MoEModel, calib: Calib, windows: Sequence[np.ndarray],
                     configs: Sequence[tuple[int, int]] = ((2, 4), (5, 8)), group: int = 64) -> list[dict]:
    """Held-out perplexity per bit-width: MWQ and MatQuant slicing (each read from its nested
    planes) vs independently quantized RTN and GPTQ at the same bits; `float` for reference."""
    from edgekiln.flash_offload.moe.model import perplexity
    ref = perplexity(model, windows)
    rows = []
    for lo, hi in configs:
        bits = range(lo, hi + 1)
        nested = {m: matryoshka_expert_fn(model, quantize_model(model, calib, m, lo, hi, group)) for m in ("mwq", "slice")}
        base = {m: baseline_experts(model, calib, m, bits, group) for m in ("rtn", "gptq")}
        for b in bits:
            row = {"config": f"{lo}->{hi}", "bits": b, "float": round(ref, 4)}
            for m, fn in nested.items():
                row[m] = round(perplexity(model, windows, fn, fixed_bits_fn(b)), 4)
            for m, ex in base.items():
                row[m] = round(perplexity(model, windows, fixed_expert_fn(ex[b])), 4)
            rows.append(row)
    return rows
