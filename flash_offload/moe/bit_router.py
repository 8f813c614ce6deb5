"""Dual routing: after the expert router picks experts, a bit router picks each token's bit-width.

* BitRouter - one small linear classifier per expert over [hidden state, gate score, score^2] choosing
  among the stored bit-widths, trained on calibration tokens to minimise
  E_p[ distillation error of the expert output at that bit-width + lambda * bits ].
* ThresholdRule - the baseline: a higher gate score gets more bits (global thresholds).

Both are moe_lm BitsFn callables ``rule(layer, expert, H, scores) -> bits (n,)`` and both
honour capacities: ``{bits: max fraction of an expert's tokens in one call}``; the tokens over
a capacity (lowest preference first) drop to the next lower bit-width, so the lowest
bit-width must have capacity 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from edgekiln.errors import InputError
from edgekiln.quantize.matryoshka import MatryoshkaExpert

from edgekiln.flash_offload.moe.model import BitsFn, ExpertFn, MoEModel, expert_forward, gate, perplexity
from edgekiln.flash_offload.moe.quant import Calib, fixed_bits_fn, matryoshka_expert_fn

DEFAULT_LAMBDAS = (0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05)
# Share of tokens at each bit-width (low to high) for the threshold sweep of a 3-width set.
DEFAULT_MIXES = ((0.75, 0.25, 0.0), (0.5, 0.25, 0.25), (0.25, 0.5, 0.25), (0.25, 0.25, 0.5), (0.0, 0.25, 0.75))


def check_bits(bits: Sequence[int], stored: Sequence[int] | None = None) -> tuple[int, ...]:
    b = tuple(int(x) for x in bits)
    if not b or list(b) != sorted(set(b)):
        raise InputError(f"bit-widths {tuple(bits)} must be a non-empty strictly increasing list")
    if stored is not None and not set(b) <= set(stored):
        raise InputError(f"bit-widths {b} outside the stored range {tuple(stored)}")
    return b


def check_capacity(bits: Sequence[int], capacity: dict[int, float] | None) -> dict[int, float]:
    """Capacities for `bits` (missing ones = 1); the lowest bit-width must take every token."""
    cap = {b: 1.0 for b in bits}
    for b, c in (capacity or {}).items():
        if b not in cap:
            raise InputError(f"capacity for {b} bits, which is not one of the bit-widths {tuple(bits)}")
        if not 0 <= c <= 1:
            raise InputError(f"capacity {c} for {b} bits must be a fraction in [0, 1]")
        cap[b] = float(c)
    if cap[bits[0]] < 1:
        raise InputError(f"the lowest bit-width ({bits[0]}) must have capacity 1: tokens over the "
                         "other capacities fall back to it")
    return cap


def apply_capacity(choice: np.ndarray, pref: np.ndarray, bits: Sequence[int], cap: dict[int, float]) -> np.ndarray:
    """Demote, from the highest bit-width down, the tokens over ceil(cap * n) with the lowest
    preference `pref[:, k]` for that width to the next lower one. choice: (n,) indices into bits."""
    choice = choice.copy()
    n = len(choice)
    for k in range(len(bits) - 1, 0, -1):
        rows = np.nonzero(choice == k)[0]
        limit = math.ceil(cap[bits[k]] * n - 1e-9)
        if len(rows) > limit:
            order = rows[np.argsort(-pref[rows, k], kind="stable")]
            choice[order[limit:]] = k - 1
    return choice


@dataclass
class ThresholdRule:
    """bits[k] for gate scores in [thresholds[k-1], thresholds[k]) (thresholds ascending)."""

    bits: tuple[int, ...]
    thresholds: tuple[float, ...]
    capacity: dict[int, float] | None = None

    def __post_init__(self):
        self.bits = check_bits(self.bits)
        if len(self.thresholds) != len(self.bits) - 1 or list(self.thresholds) != sorted(self.thresholds):
            raise InputError(f"{len(self.bits)} bit-widths need {len(self.bits) - 1} ascending thresholds, "
                             f"got {tuple(self.thresholds)}")
        self._cap = check_capacity(self.bits, self.capacity)

    def __call__(self, layer: int, expert: int, H: np.ndarray, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, np.float64)
        choice = np.searchsorted(np.asarray(self.thresholds), scores, side="right")
        pref = np.repeat(scores[:, None], len(self.bits), axis=1)  # higher score keeps its bits
        return np.asarray(self.bits)[apply_capacity(choice, pref, self.bits, self._cap)]


def features(H: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Bit-router input [h, s, s^2]: the error an expert adds scales with its gate weight squared."""
    s = np.asarray(scores, np.float32)[:, None]
    return np.concatenate([np.asarray(H, np.float32), s, s * s], axis=1)


@dataclass
class BitRouter:
    """Per-expert linear bit-width classifiers: weight (L, E, d+2, nb) over features(H, scores)."""

    bits: tuple[int, ...]
    weight: np.ndarray
    bias: np.ndarray
    lam: float = 0.0
    capacity: dict[int, float] | None = None
    history: list[float] = field(default_factory=list)

    def __post_init__(self):
        self.bits = check_bits(self.bits)
        nb = len(self.bits)
        if self.weight.ndim != 4 or self.weight.shape[3] != nb or self.bias.shape != self.weight.shape[:2] + (nb,):
            raise InputError(f"bit router weight {self.weight.shape} / bias {self.bias.shape} do not match "
                             f"{nb} bit-widths (expect (L, E, d+2, {nb}) and (L, E, {nb}))")
        self._cap = check_capacity(self.bits, self.capacity)

    def probs(self, layer: int, expert: int, H: np.ndarray, scores: np.ndarray) -> np.ndarray:
        F = features(H, scores)
        if F.shape[1] != self.weight.shape[2]:
            raise InputError(f"bit router expects hidden states of {self.weight.shape[2] - 2} features, got {H.shape}")
        z = F @ self.weight[layer, expert] + self.bias[layer, expert]
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def __call__(self, layer: int, expert: int, H: np.ndarray, scores: np.ndarray) -> np.ndarray:
        p = self.probs(layer, expert, H, scores)
        return np.asarray(self.bits)[apply_capacity(np.argmax(p, axis=1), p, self.bits, self._cap)]

    def with_capacity(self, capacity: dict[int, float] | None) -> "BitRouter":
        return BitRouter(self.bits, self.weight, self.bias, self.lam, capacity, self.history)


def distillation_costs(model: MoEModel, experts: list[list[MatryoshkaExpert]], calib: Calib,
                       bits: Sequence[int]) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Per (layer, expert): features (n, d+2) of its calibration tokens and the
    cost (n, nb) = gate_weight^2 * ||y_bits - y_float||^2 / mean ||y_float||^2."""
    out = []
    nb, nf = len(bits), model.config["d"] + 2
    for i, layer in enumerate(calib):
        row = []
        for j, H in enumerate(layer):
            if not len(H):
                row.append((np.zeros((0, nf), np.float32), np.zeros((0, nb))))
                continue
            idx, w, probs = gate(model, i, H)
            gw = (w * (idx == j)).sum(axis=1)
            y = expert_forward(H, *model.experts[i][j])
            norm = max(float((y ** 2).sum(axis=1).mean()), 1e-12)
            cost = np.stack([((expert_forward(H, *experts[i][j].weights(b)) - y) ** 2).sum(axis=1) for b in bits], axis=1)
            row.append((features(H, probs[:, j]), (cost * (gw ** 2)[:, None] / norm).astype(np.float64)))
        out.append(row)
    return out


def train_bit_router(costs: list[list[tuple[np.ndarray, np.ndarray]]], bits: Sequence[int], lam: float,
                     capacity: dict[int, float] | None = None, steps: int = 150, lr: float = 0.05) -> BitRouter:
    """Fit every expert's classifier by full-batch Adam on mean_n sum_b p_b (cost_b + lam * b)
    (zero init, so deterministic). `costs` from distillation_costs."""
    bits = check_bits(bits)
    if lam < 0:
        raise InputError(f"bit penalty lambda {lam} must be >= 0")
    L, E = len(costs), len(costs[0])
    nf, nb = costs[0][0][0].shape[1], len(bits)
    W, B = np.zeros((L, E, nf, nb)), np.zeros((L, E, nb))
    pen = lam * np.asarray(bits, np.float64)
    history = []
    for i in range(L):
        for j in range(E):
            F, cost = costs[i][j]
            if not len(F):
                B[i, j, 0] = 1.0  # an expert with no calibration tokens defaults to its lowest bits
                continue
            F64, C = F.astype(np.float64), cost + pen
            theta = [W[i, j], B[i, j]]
            m = [np.zeros_like(t) for t in theta]
            v = [np.zeros_like(t) for t in theta]
            for t in range(1, steps + 1):
                z = F64 @ theta[0] + theta[1]
                p = np.exp(z - z.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                g = p * (C - (p * C).sum(axis=1, keepdims=True)) / len(F)
                for k, grad in enumerate((F64.T @ g, g.sum(axis=0))):
                    m[k] = 0.9 * m[k] + 0.1 * grad
                    v[k] = 0.999 * v[k] + 0.001 * grad ** 2
                    theta[k] -= lr * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
            history.append(float((p * C).sum(axis=1).mean()))
    return BitRouter(bits, W.astype(np.float32), B.astype(np.float32), lam, capacity, history)


class BitCounter:
    """Wraps a BitsFn and tallies the bits of every (token, expert) assignment."""

    def __init__(self, rule: BitsFn):
        self.rule, self.total, self.count = rule, 0, 0
        self.per_bits: dict[int, int] = {}

    def __call__(self, layer, expert, H, scores):
        b = np.asarray(self.rule(layer, expert, H, scores), np.int64)
        self.total += int(b.sum())
        self.count += len(b)
        for x, c in zip(*np.unique(b, return_counts=True)):
            self.per_bits[int(x)] = self.per_bits.get(int(x), 0) + int(c)
        return b

    @property
    def mean(self) -> float:
        return self.total / max(self.count, 1)


def threshold_sweep(model: MoEModel, calib: Calib, bits: Sequence[int],
                    mixes: Sequence[Sequence[float]] = DEFAULT_MIXES) -> list[ThresholdRule]:
    """Threshold rules whose thresholds are quantiles of the calibration gate scores, so each
    rule sends about `mix[k]` of the tokens to bits[k]."""
    bits = check_bits(bits)
    scores = np.concatenate([gate(model, i, H)[2][:, j] for i, layer in enumerate(calib)
                             for j, H in enumerate(layer) if len(H)])
    rules = []
    for mix in mixes:
        if len(mix) != len(bits) or abs(sum(mix) - 1) > 1e-6:
            raise InputError(f"mix {tuple(mix)} must give one share per bit-width {bits} summing to 1")
        qs = np.cumsum(mix)[:-1]
        rules.append(ThresholdRule(bits, tuple(float(np.quantile(scores, q)) if q > 0 else 0.0 for q in qs)))
    return rules


def curve_point(model: MoEModel, windows: Sequence[np.ndarray], expert_fn: ExpertFn, rule: BitsFn) -> dict:
    """Average bits per (token, expert) and perplexity of one routing rule."""
    counter = BitCounter(rule)
    ppl = perplexity(model, windows, expert_fn, counter)
    return {"avg_bits": round(counter.mean, 4), "perplexity": round(ppl, 4),
            "share": {b: round(c / max(counter.count, 1), 4) for b, c in sorted(counter.per_bits.items())}}


def bits_perplexity_curve(model: MoEModel, experts: list[list[MatryoshkaExpert]], windows: Sequence[np.ndarray],
                          calib: Calib, bits: Sequence[int] | None = None, lambdas: Sequence[float] = DEFAULT_LAMBDAS,
                          mixes: Sequence[Sequence[float]] = DEFAULT_MIXES,
                          capacity: dict[int, float] | None = None) -> list[dict]:
    """Bits-vs-perplexity on held-out `windows`: every stored bit-width alone (`fixed`), the
    trained router per lambda (`router`, with `capacity`), the threshold rule per mix
    (`threshold`). Rows: {rule, param, avg_bits, perplexity, share}."""
    bits = check_bits(bits or experts[0][0].bits, experts[0][0].bits)
    fn = matryoshka_expert_fn(model, experts)
    rows = [{"rule": "fixed", "param": b, **curve_point(model, windows, fn, fixed_bits_fn(b))} for b in bits]
    costs = distillation_costs(model, experts, calib, bits)
    for lam in lambdas:
        router = train_bit_router(costs, bits, lam, capacity)
        rows.append({"rule": "router", "param": lam, **curve_point(model, windows, fn, router)})
    if len(bits) == len(DEFAULT_MIXES[0]) or mixes is not DEFAULT_MIXES:
        for rule in threshold_sweep(model, calib, bits, mixes):
            rows.append({"rule": "threshold", "param": [round(t, 4) for t in rule.thresholds],
                         **curve_point(model, windows, fn, rule)})
    return rows
