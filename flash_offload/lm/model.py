"""The ReLU decoders used by flash_offload: checkpoint I/O and a numpy forward.

The config's `arch` picks the architecture (lm/arch.py): the byte-level toy (no `arch` key,
the .npz checkpoints), and OPT and ReLU-Llama imported from Hugging Face checkpoints.

The forward runs one token at a time against a KV cache. Attention, embeddings and norms come
from the DRAM-resident arrays; each layer's FFN is a callable so the engine can feed only the
neurons it loaded (ids + their up rows, b_up, down rows) while the dense reference feeds all.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from edgekiln.errors import ModelLoadError
from edgekiln.flash_offload.lm.arch import (LN_EPS, arch_of, embed, ffn_act, gated, head, heads, kv_dim, norm,
                                            pre_norm, rope, rope_tables)

CONFIG_KEYS = ("V", "d", "L", "h", "f", "T")
# Per-layer resident arrays; the FFN arrays (up, b_up, down) are kept apart for offloading.
LAYER_RESIDENT = ("ln1_g", "ln1_b", "wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo", "ln2_g", "ln2_b", "b_down")
FFN_KEYS = ("up", "b_up", "down")

Ffn = tuple[np.ndarray, ...]  # up (f,d), b_up (f,), down (f,d)[, lin (f,d) for the gated FFN]
# ffn_fn(layer, h) -> relu(h @ up.T + b_up) @ down for the neurons it chooses (b_down excluded).
FfnFn = Callable[[int, np.ndarray], np.ndarray]
# ffn_block(layer, x, h) -> x after the layer's FFN block (residual included), h = ln2(x).
FfnBlock = Callable[[int, np.ndarray, np.ndarray], np.ndarray]


def resident_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    V, d, T = cfg["V"], cfg["d"], cfg["T"]
    shapes: dict[str, tuple[int, ...]] = {"tok_emb": (V, d), "pos_emb": (T, d), "lnf_g": (d,), "lnf_b": (d,)}
    for i in range(cfg["L"]):
        for k in LAYER_RESIDENT:
            shapes[f"l{i}.{k}"] = (d, d) if k in ("wq", "wk", "wv", "wo") else (d,)
    return shapes


def ffn_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    return {"up": (cfg["f"], cfg["d"]), "b_up": (cfg["f"],), "down": (cfg["f"], cfg["d"])}


def check_config(cfg: dict, keys: Sequence[str] = CONFIG_KEYS, what: str = "checkpoint config") -> None:
    """Positive integer sizes under `keys` and whole attention heads (MoE configs add keys)."""
    missing = [k for k in keys if not isinstance(cfg.get(k), int) or cfg[k] <= 0]
    if missing:
        raise ModelLoadError(f"{what} needs positive integers {list(keys)}; bad or missing: {missing}")
    if cfg["d"] % cfg["h"] and "head_dim" not in cfg:
        raise ModelLoadError(f"d={cfg['d']} is not divisible by h={cfg['h']} heads")


def save_checkpoint(path: str | Path, config: dict, resident: dict[str, np.ndarray], ffn: Sequence[Ffn]) -> None:
    """Write the .npz checkpoint: resident arrays, `l{i}.up|b_up|down`, and `config` as JSON."""
    check_config(config)
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in resident.items()}
    for i, (up, b_up, down) in enumerate(ffn):
        arrays[f"l{i}.up"], arrays[f"l{i}.b_up"], arrays[f"l{i}.down"] = (
            np.ascontiguousarray(a, dtype=np.float32) for a in (up, b_up, down))
    write_npz(path, config, arrays)


def write_npz(path: str | Path, config: dict, arrays: dict[str, np.ndarray]) -> None:
    """A checkpoint: named float32 arrays plus the config as a JSON string (no pickles)."""
    with open(path, "wb") as fh:
        np.savez_compressed(fh, config=np.array(json.dumps(config, sort_keys=True)), **arrays)


def read_npz(p: Path, kind: str, writer: str, train_hint: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(config, arrays) of a checkpoint written by write_npz, with errors that say what to do."""
    if not p.is_file():
        raise ModelLoadError(f"{kind} {p} not found; train one with {train_hint}")
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile/ValueError: not an npz
        raise ModelLoadError(f"{p} is not a {kind} ({e})") from e
    if "config" not in data:
        raise ModelLoadError(f"{p} has no `config` entry; it was not written by {writer}")
    return json.loads(str(data.pop("config"))), data


def load_checkpoint(path: str | Path) -> tuple[dict, dict[str, np.ndarray], list[Ffn]]:
    """Read a checkpoint -> (config, resident arrays, per-layer (up, b_up, down)); shapes checked."""
    p = Path(path)
    config, data = read_npz(p, "flash_offload .npz checkpoint", "flash_offload.lm.model.save_checkpoint",
                            "`kiln flash-offload train`")
    check_config(config)
    want = resident_shapes(config)
    resident: dict[str, np.ndarray] = {}
    for k, shape in want.items():
        if k not in data or data[k].shape != shape:
            got = data[k].shape if k in data else "missing"
            raise ModelLoadError(f"{p}: array {k} should have shape {shape}, got {got}")
        resident[k] = np.ascontiguousarray(data[k], dtype=np.float32)
    ffn: list[Ffn] = []
    for i in range(config["L"]):
        arrs = []
        for k, shape in ffn_shapes(config).items():
            a = data.get(f"l{i}.{k}")
            if a is None or a.shape != shape:
                raise ModelLoadError(f"{p}: array l{i}.{k} should have shape {shape}, got {None if a is None else a.shape}")
            arrs.append(np.ascontiguousarray(a, dtype=np.float32))
        ffn.append((arrs[0], arrs[1], arrs[2]))
    return config, resident, ffn


def layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mu) / np.sqrt(var + LN_EPS) * g + b).astype(np.float32)


def ffn_rows(h: np.ndarray, up: np.ndarray, b_up: np.ndarray, down: np.ndarray,
             lin: np.ndarray | None = None) -> np.ndarray:
    """relu(h @ up.T + b_up) [* (h @ lin.T)] @ down over the given neuron rows (any subset,
    any order); `lin` is the gated FFN's linear branch."""
    a = up @ h + b_up
    np.maximum(a, 0, out=a)
    if lin is not None:
        a *= lin @ h
    return a @ down


def dense_ffn(ffn: Sequence[Ffn]) -> FfnFn:
    return lambda i, h: ffn_rows(h, *ffn[i])


@dataclass
class KVCache:
    """Keys and values of the tokens seen so far, per layer: (T, d) each, `n` rows filled."""

    k: list[np.ndarray]
    v: list[np.ndarray]
    n: int = 0

    @classmethod
    def empty(cls, cfg: dict, positions: int | None = None) -> "KVCache":
        """Zeroed keys and values for `positions` tokens (default: the model's context T)."""
        T, d = positions or cfg["T"], kv_dim(cfg)
        return cls([np.zeros((T, d), np.float32) for _ in range(cfg["L"])],
                   [np.zeros((T, d), np.float32) for _ in range(cfg["L"])])

    @staticmethod
    def bytes_for(cfg: dict, positions: int | None = None) -> int:
        """What empty(cfg, positions) holds, for memory plans made before allocating it."""
        return 2 * cfg["L"] * (positions or cfg["T"]) * kv_dim(cfg) * 4

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.k) + sum(a.nbytes for a in self.v)


def _proj(r: dict[str, np.ndarray], p: str, x: np.ndarray, w: str, b: str) -> np.ndarray:
    y = x @ r[p + w]
    return y + r[p + b] if p + b in r else y


def attention(cfg: dict, r: dict[str, np.ndarray], i: int, hx: np.ndarray, cache: KVCache) -> np.ndarray:
    """Causal multi-head attention of the newest token; appends its key/value at cache.n.
    Grouped-query attention when kv_heads < h; rotary positions for llama."""
    p = f"l{i}."
    nh, kvh, dh = heads(cfg)
    pos = cache.n
    q = _proj(r, p, hx, "wq", "bq")
    k = _proj(r, p, hx, "wk", "bk")
    if cfg.get("pos") == "rope":
        cos, sin = rope_tables(cfg, np.array([pos]))
        q = rope(q.reshape(1, nh, dh), cos, sin).reshape(-1)
        k = rope(k.reshape(1, kvh, dh), cos, sin).reshape(-1)
    cache.k[i][pos] = k
    cache.v[i][pos] = _proj(r, p, hx, "wv", "bv")
    K = cache.k[i][: pos + 1].reshape(pos + 1, kvh, dh)
    Vv = cache.v[i][: pos + 1].reshape(pos + 1, kvh, dh)
    if kvh != nh:  # each group of nh // kvh query heads shares one key/value head
        K, Vv = np.repeat(K, nh // kvh, axis=1), np.repeat(Vv, nh // kvh, axis=1)
    s = np.einsum("hd,thd->ht", q.reshape(nh, dh), K) / np.float32(np.sqrt(dh))
    s = np.exp(s - s.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    out = np.einsum("ht,thd->hd", s, Vv).reshape(nh * dh)
    return _proj(r, p, out, "wo", "bo").astype(np.float32)


def decoder_step(cfg: dict, r: dict[str, np.ndarray], token: int, cache: KVCache, ffn_block: FfnBlock,
                 error: type[Exception] = ValueError) -> np.ndarray:
    """Logits (V,) of the next token after `token` at position cache.n; advances the cache.
    The per-token loop of every decoder here: ffn_block supplies each layer's FFN (dense
    neurons or routed experts); `error` is what a bad token or a full context raises."""
    if not 0 <= token < cfg["V"]:
        raise error(f"token {token} outside the vocabulary 0..{cfg['V'] - 1}")
    if cache.n >= cfg["T"]:
        raise error(f"context full: the model has T={cfg['T']} positions")
    if arch_of(cfg) == "toy":  # the original loop, kept as it was
        x = (r["tok_emb"][token] + r["pos_emb"][cache.n]).astype(np.float32)
        for i in range(cfg["L"]):
            p = f"l{i}."
            x = x + attention(cfg, r, i, layer_norm(x, r[p + "ln1_g"], r[p + "ln1_b"]), cache)
            x = ffn_block(i, x, layer_norm(x, r[p + "ln2_g"], r[p + "ln2_b"]))
        cache.n += 1
        x = layer_norm(x, r["lnf_g"], r["lnf_b"])
        return x @ r["tok_emb"].T
    x = embed(cfg, r, np.array([token]), cache.n)[0]
    for i in range(cfg["L"]):
        p = f"l{i}."
        if pre_norm(cfg):
            x = x + attention(cfg, r, i, norm(cfg, x, r[p + "ln1_g"], r.get(p + "ln1_b")), cache)
            x = ffn_block(i, x, norm(cfg, x, r[p + "ln2_g"], r.get(p + "ln2_b")))
        else:  # OPT-350m style: the norm after each residual add
            x = norm(cfg, x + attention(cfg, r, i, x, cache), r[p + "ln1_g"], r.get(p + "ln1_b"))
            x = norm(cfg, ffn_block(i, x, x), r[p + "ln2_g"], r.get(p + "ln2_b"))
    cache.n += 1
    return head(cfg, r, x)


def forward_token(cfg: dict, r: dict[str, np.ndarray], token: int, cache: KVCache, ffn_fn: FfnFn,
                  on_ln2: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
    """Logits (V,) of the next token after `token` at position cache.n; advances the cache.

    on_ln2(layer, h) sees each layer's FFN input (for predictors and engines that must
    plan reads before the FFN runs; ffn_fn gets the same h).
    """
    def dense_block(i: int, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        if on_ln2 is not None:
            on_ln2(i, h)
        y = x + ffn_fn(i, h)
        b = r.get(f"l{i}.b_down")
        return (y + b if b is not None else y).astype(np.float32)

    return decoder_step(cfg, r, token, cache, dense_block)


def greedy(step: Callable[[int], np.ndarray], prompt: Sequence[int], n: int, T: int,
           error: type[Exception] = ValueError) -> list[int]:
    """n tokens continuing `prompt`, each the argmax of step(previous token) -> logits; step
    advances its own KV cache. T is the context the prompt and the tokens must fit."""
    if not prompt:
        raise error("the prompt needs at least one token")
    if len(prompt) + n > T:
        raise error(f"prompt ({len(prompt)}) + tokens ({n}) exceed the context T={T}")
    for t in prompt:
        logits = step(int(t))
    out: list[int] = []
    while len(out) < n:
        out.append(int(np.argmax(logits)))
        if len(out) < n:
            logits = step(out[-1])
    return out


def encode(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def decode(tokens: Sequence[int]) -> str:
    return bytes(tokens).decode("utf-8", errors="replace")


def generate_dense(cfg: dict, r: dict[str, np.ndarray], ffn: Sequence[Ffn], prompt: Sequence[int], n: int) -> list[int]:
    """Greedy continuation of `prompt` by the dense model (the reference the engine must match)."""
    return generate(cfg, r, dense_ffn(ffn), prompt, n)


def generate(cfg: dict, r: dict[str, np.ndarray], ffn_fn: FfnFn, prompt: Sequence[int], n: int) -> list[int]:
    cache = KVCache.empty(cfg)
    return greedy(lambda t: forward_token(cfg, r, t, cache, ffn_fn), prompt, n, cfg["T"])


def nll_dense_batch(cfg: dict, r: dict[str, np.ndarray], ffn: Sequence[Ffn], tokens: np.ndarray,
                    collect: Callable[[int, np.ndarray], None] | None = None,
                    ffn_batch: Callable[[int, np.ndarray], np.ndarray] | None = None) -> float:
    """Total next-token NLL (nats) of one sequence, all positions at once (teacher forcing).

    collect(layer, H) gets the (n, d) FFN inputs; ffn_batch(layer, H) may replace the dense
    FFN (predictor evaluation). Same maths as forward_token, batched for speed.
    """
    n = len(tokens)
    if n > cfg["T"]:
        raise ValueError(f"sequence of {n} tokens exceeds T={cfg['T']}")
    x, mask = embed_batch(r, tokens, cfg)
    post = not pre_norm(cfg)
    for i in range(cfg["L"]):
        p = f"l{i}."
        x = attention_batch(cfg, r, i, x, mask)
        H = x if post else norm(cfg, x, r[p + "ln2_g"], r.get(p + "ln2_b"))
        if collect is not None:
            collect(i, H)
        if ffn_batch is not None:
            y = ffn_batch(i, H)
        else:
            y = ffn_act(gated(cfg), H, ffn[i][0], ffn[i][1], ffn[i][3] if gated(cfg) else None) @ ffn[i][2]
        x = x + y
        if p + "b_down" in r:
            x = x + r[p + "b_down"]
        x = x.astype(np.float32)
        if post:
            x = norm(cfg, x, r[p + "ln2_g"], r.get(p + "ln2_b"))
    return nll_of_hidden(r, x, tokens, cfg)


def embed_batch(r: dict[str, np.ndarray], tokens: np.ndarray, cfg: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(token + position embeddings (n, d), causal mask (n, n)) of a whole sequence."""
    n = len(tokens)
    if cfg is None or arch_of(cfg) == "toy":
        x = (r["tok_emb"][tokens] + r["pos_emb"][:n]).astype(np.float32)
    else:
        x = embed(cfg, r, np.asarray(tokens))
    return x, np.triu(np.full((n, n), -np.inf, np.float32), 1)


def attention_batch(cfg: dict, r: dict[str, np.ndarray], i: int, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """x after layer i's attention block, every position at once (teacher forcing); the same
    maths as `attention` with a KV cache. Shared by the dense and the MoE model."""
    n = len(x)
    nh, kvh, dh = heads(cfg)
    p = f"l{i}."
    post = not pre_norm(cfg)
    hx = x if post else norm(cfg, x, r[p + "ln1_g"], r.get(p + "ln1_b"))
    q = _proj(r, p, hx, "wq", "bq").reshape(n, nh, dh)
    k = _proj(r, p, hx, "wk", "bk").reshape(n, kvh, dh)
    v = _proj(r, p, hx, "wv", "bv").reshape(n, kvh, dh)
    if cfg.get("pos") == "rope":
        cos, sin = rope_tables(cfg, np.arange(n))
        q, k = rope(q, cos, sin), rope(k, cos, sin)
    if kvh != nh:
        k, v = np.repeat(k, nh // kvh, axis=1), np.repeat(v, nh // kvh, axis=1)
    s = np.einsum("qhd,khd->hqk", q, k) / np.float32(np.sqrt(dh)) + mask
    s = np.exp(s - s.max(axis=2, keepdims=True))
    s /= s.sum(axis=2, keepdims=True)
    att = np.einsum("hqk,khd->qhd", s, v).reshape(n, nh * dh)
    out = x + _proj(r, p, att, "wo", "bo")
    return norm(cfg, out, r[p + "ln1_g"], r.get(p + "ln1_b")) if post else out


def nll_of_hidden(r: dict[str, np.ndarray], x: np.ndarray, tokens: np.ndarray, cfg: dict | None = None) -> float:
    """Total next-token NLL (nats) from the last block's output x (n, d): final norm, logits."""
    n = len(tokens)
    if cfg is None or arch_of(cfg) == "toy":
        logits = (layer_norm(x, r["lnf_g"], r["lnf_b"]) @ r["tok_emb"].T)[:-1].astype(np.float64)
    else:
        logits = head(cfg, r, x)[:-1].astype(np.float64)
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return float((lse - logits[np.arange(n - 1), tokens[1:]]).sum())
