"""A byte-level mixture-of-experts decoder in numpy: lm/model.py's attention, norms and KV cache,
with each layer's FFN replaced by E ReLU experts behind a softmax router (top-1 or top-2).

Experts are computed by a callable so a scheduler can supply quantized experts:
``expert_fn(layer, expert, token_bits, H) -> (n, d)`` with H (n, d) the tokens routed to that
expert at that bit-width (FULL_BITS = float32 weights). A ``bits_fn(layer, expert, H, scores)``
picks the bit-width per token (the bit router); without one every token runs at FULL_BITS.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from edgekiln.errors import InputError, ModelLoadError
from edgekiln.flash_offload.lm.model import (LAYER_RESIDENT, KVCache, attention_batch, check_config, decoder_step,
                                            embed_batch, greedy, layer_norm, nll_of_hidden, read_npz, write_npz)

FULL_BITS = 32  # token_bits meaning "the float32 expert"
MOE_CONFIG_KEYS = ("V", "d", "L", "h", "f", "T", "E", "top_k")
MOE_RESIDENT = tuple(k for k in LAYER_RESIDENT if k != "b_down")  # b_down belongs to each expert
EXPERT_KEYS = ("up", "b_up", "down", "b_down")

Expert = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # up (f,d), b_up (f,), down (f,d), b_down (d,)
ExpertFn = Callable[[int, int, int, np.ndarray], np.ndarray]
BitsFn = Callable[[int, int, np.ndarray, np.ndarray], np.ndarray]
# on_route(layer, H (n,d), idx (n,k), weights (n,k), probs (n,E)): calibration / router training hooks
RouteHook = Callable[[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]


def check_moe_config(cfg: dict) -> None:
    check_config(cfg, MOE_CONFIG_KEYS, "MoE config")
    if not 1 <= cfg["top_k"] <= min(2, cfg["E"]):
        raise ModelLoadError(f"top_k={cfg['top_k']} must be 1 or 2 and at most E={cfg['E']}")


def resident_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    V, d, T, E = cfg["V"], cfg["d"], cfg["T"], cfg["E"]
    shapes: dict[str, tuple[int, ...]] = {"tok_emb": (V, d), "pos_emb": (T, d), "lnf_g": (d,), "lnf_b": (d,)}
    for i in range(cfg["L"]):
        for k in MOE_RESIDENT:
            shapes[f"l{i}.{k}"] = (d, d) if k in ("wq", "wk", "wv", "wo") else (d,)
        shapes[f"l{i}.router"], shapes[f"l{i}.router_b"] = (d, E), (E,)
    return shapes


def expert_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    f, d = cfg["f"], cfg["d"]
    return {"up": (f, d), "b_up": (f,), "down": (f, d), "b_down": (d,)}


@dataclass
class MoEModel:
    config: dict
    resident: dict[str, np.ndarray]
    experts: list[list[Expert]]  # [layer][expert]

    @property
    def L(self) -> int:
        return self.config["L"]

    @property
    def E(self) -> int:
        return self.config["E"]

    @property
    def top_k(self) -> int:
        return self.config["top_k"]

    def expert_params(self) -> int:
        return sum(sum(a.size for a in e) for layer in self.experts for e in layer)


def save_moe(path: str | Path, model: MoEModel) -> None:
    """Write the .npz: resident arrays, `l{i}.e{j}.up|b_up|down|b_down`, `config` as JSON."""
    check_moe_config(model.config)
    arrays = {k: np.ascontiguousarray(v, np.float32) for k, v in model.resident.items()}
    for i, layer in enumerate(model.experts):
        for j, ex in enumerate(layer):
            for k, a in zip(EXPERT_KEYS, ex):
                arrays[f"l{i}.e{j}.{k}"] = np.ascontiguousarray(a, np.float32)
    write_npz(path, model.config, arrays)


def load_moe(path: str | Path) -> MoEModel:
    """Read a MoE checkpoint; every array's presence and shape is checked."""
    p = Path(path)
    cfg, data = read_npz(p, "MoE .npz checkpoint", "flash_offload.moe.model.save_moe", "flash_offload.moe.train.train")
    check_moe_config(cfg)

    def get(key: str, shape: tuple[int, ...]) -> np.ndarray:
        a = data.get(key)
        if a is None or a.shape != shape:
            raise ModelLoadError(f"{p}: array {key} should have shape {shape}, got {None if a is None else a.shape}")
        return np.ascontiguousarray(a, np.float32)

    resident = {k: get(k, s) for k, s in resident_shapes(cfg).items()}
    es = expert_shapes(cfg)
    experts = [[tuple(get(f"l{i}.e{j}.{k}", es[k]) for k in EXPERT_KEYS) for j in range(cfg["E"])]
               for i in range(cfg["L"])]
    return MoEModel(cfg, resident, experts)


def expert_forward(H: np.ndarray, up: np.ndarray, b_up: np.ndarray, down: np.ndarray, b_down: np.ndarray) -> np.ndarray:
    """relu(H @ up.T + b_up) @ down + b_down for H (n, d)."""
    a = H @ up.T + b_up
    np.maximum(a, 0, out=a)
    return (a @ down + b_down).astype(np.float32)


def dense_expert_fn(model: MoEModel) -> ExpertFn:
    """The float32 experts (token_bits ignored): the reference every quantized path is measured against."""
    return lambda i, j, bits, H: expert_forward(H, *model.experts[i][j])


def gate(model: MoEModel, layer: int, H: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Router for H (n, d) -> (idx (n,k) experts by descending score, weights (n,k) renormalised
    over the chosen k, probs (n,E) the full softmax; the threshold bit rule reads probs)."""
    p = f"l{layer}."
    logits = (H @ model.resident[p + "router"] + model.resident[p + "router_b"]).astype(np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    k = model.top_k
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    w = np.take_along_axis(probs, idx, axis=1)
    w = w / w.sum(axis=1, keepdims=True)
    return idx, w.astype(np.float32), probs.astype(np.float32)


def moe_layer(model: MoEModel, layer: int, H: np.ndarray, expert_fn: ExpertFn | None = None,
              bits_fn: BitsFn | None = None, on_route: RouteHook | None = None) -> np.ndarray:
    """The mixture output (n, d) for FFN inputs H (n, d): each expert runs once per bit-width
    on the tokens routed to it, outputs summed with the gate weights."""
    expert_fn = expert_fn or dense_expert_fn(model)
    idx, w, probs = gate(model, layer, H)
    if on_route is not None:
        on_route(layer, H, idx, w, probs)
    out = np.zeros_like(H, dtype=np.float32)
    for j in range(model.E):
        rows, slot = np.nonzero(idx == j)
        if rows.size == 0:
            continue
        Hj = H[rows]
        if bits_fn is None:
            bits = np.full(rows.size, FULL_BITS, np.int64)
        else:
            bits = np.asarray(bits_fn(layer, j, Hj, probs[rows, j]), np.int64)
            if bits.shape != rows.shape:
                raise InputError(f"bits_fn returned shape {bits.shape} for {rows.size} tokens of expert {j}")
        for b in np.unique(bits):
            sel = bits == b
            y = expert_fn(layer, j, int(b), Hj[sel])
            out[rows[sel]] += w[rows[sel], slot[sel], None] * y
    return out


def moe_forward_token(model: MoEModel, token: int, cache: KVCache, expert_fn: ExpertFn | None = None,
                      bits_fn: BitsFn | None = None, on_route: RouteHook | None = None) -> np.ndarray:
    """Logits (V,) of the token after `token` at position cache.n; advances the cache."""
    def moe_block(i: int, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        return (x + moe_layer(model, i, h[None, :], expert_fn, bits_fn, on_route)[0]).astype(np.float32)

    return decoder_step(model.config, model.resident, token, cache, moe_block, InputError)


def generate(model: MoEModel, prompt: Sequence[int], n: int, expert_fn: ExpertFn | None = None,
             bits_fn: BitsFn | None = None) -> list[int]:
    """Greedy continuation of `prompt` by n tokens."""
    cache = KVCache.empty(model.config)
    return greedy(lambda t: moe_forward_token(model, t, cache, expert_fn, bits_fn), prompt, n,
                  model.config["T"], InputError)


def nll(model: MoEModel, tokens: np.ndarray, expert_fn: ExpertFn | None = None, bits_fn: BitsFn | None = None,
        on_route: RouteHook | None = None) -> float:
    """Total next-token NLL (nats) of one sequence, all positions at once (teacher forcing);
    same maths as moe_forward_token, batched."""
    cfg, r = model.config, model.resident
    tokens = np.asarray(tokens, np.int64)
    n = len(tokens)
    if not 2 <= n <= cfg["T"]:
        raise InputError(f"a sequence of {n} tokens: need 2..T={cfg['T']}")
    x, mask = embed_batch(r, tokens)
    for i in range(cfg["L"]):
        x = attention_batch(cfg, r, i, x, mask)
        H = layer_norm(x, r[f"l{i}.ln2_g"], r[f"l{i}.ln2_b"])
        x = (x + moe_layer(model, i, H, expert_fn, bits_fn, on_route)).astype(np.float32)
    return nll_of_hidden(r, x, tokens)


def perplexity(model: MoEModel, windows: Sequence[np.ndarray], expert_fn: ExpertFn | None = None,
               bits_fn: BitsFn | None = None, on_route: RouteHook | None = None) -> float:
    """exp(mean next-token NLL) over held-out windows (corpus.heldout_windows)."""
    if not windows:
        raise InputError("perplexity needs at least one held-out window")
    total = sum(nll(model, w, expert_fn, bits_fn, on_route) for w in windows)
    return float(np.exp(total / sum(len(w) - 1 for w in windows)))
