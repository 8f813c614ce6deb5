"""The decoder architectures lm/model.py runs, chosen by the config's `arch` field.

  toy    (no `arch` key: every .npz/.ekf written before there was a choice) the byte-level
         OPT-like decoder: pre-LayerNorm, learned positions, tied embeddings, ReLU FFN.
  opt    Hugging Face OPT: LayerNorm before (do_layer_norm_before) or after each block,
         learned positions offset by `pos_offset` (2), optional project_in/project_out when
         the embedding width differs from d, tied lm_head, ReLU FFN.
  llama  the Llama family with ReLU (ReluLLaMA / ProSparse): RMSNorm, rotary positions
         (rope_theta), grouped-query attention (kv_heads), gated FFN
         down(relu(gate x) * up x), untied or tied lm_head, no biases unless stored.

Tensor names are the toy's where the meaning is the same (tok_emb, pos_emb, l{i}.wq used as
x @ W, ...); optional ones (biases, lnf_b, proj_in/proj_out, lm_head) may be absent. In the
FFN a neuron is the row that decides its activity (up; for the gated FFN Llama's gate_proj
row), its down row, b_up, and for the gated FFN its linear row `lin` (Llama's up_proj).
"""
from __future__ import annotations

import numpy as np

ARCHS = ("toy", "opt", "llama")
LN_EPS = 1e-5


def arch_of(cfg: dict) -> str:
    return cfg.get("arch", "toy")


def gated(cfg: dict) -> bool:
    """True when the FFN is down(relu(gate x) * lin x): a neuron has a fourth row."""
    return cfg.get("ffn", "relu") == "gated_relu"


def heads(cfg: dict) -> tuple[int, int, int]:
    """(query heads, key/value heads, head width)."""
    h = cfg["h"]
    return h, cfg.get("kv_heads", h), cfg.get("head_dim", cfg["d"] // h)


def kv_dim(cfg: dict) -> int:
    _, kvh, dh = heads(cfg)
    return kvh * dh


def pre_norm(cfg: dict) -> bool:
    return cfg.get("pre_norm", True)


def norm(cfg: dict, x: np.ndarray, g: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """LayerNorm (toy, opt) or RMSNorm (llama) over the last axis, float32 out."""
    eps = np.float32(cfg.get("eps", LN_EPS))
    if cfg.get("norm", "layernorm") == "rmsnorm":
        x32 = x.astype(np.float32)
        return (x32 / np.sqrt((x32 * x32).mean(axis=-1, keepdims=True) + eps) * g).astype(np.float32)
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps) * g
    return (y + b if b is not None else y).astype(np.float32)


def rope_tables(cfg: dict, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos, sin (n, head_dim) of the rotary embedding at `positions` (Hugging Face's
    rotate-half convention: frequencies repeated over both halves)."""
    dh = heads(cfg)[2]
    inv = 1.0 / (float(cfg.get("rope_theta", 10000.0)) ** (np.arange(0, dh, 2, dtype=np.float64) / dh))
    ang = np.asarray(positions, np.float64)[:, None] * inv.astype(np.float32).astype(np.float64)[None, :]
    ang = np.concatenate([ang, ang], axis=1)
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """x (n, heads, dh) rotated: x * cos + rotate_half(x) * sin, cos/sin (n, dh)."""
    half = x.shape[-1] // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return (x * cos[:, None, :] + rot * sin[:, None, :]).astype(np.float32)


def embed(cfg: dict, r: dict[str, np.ndarray], tokens: np.ndarray, start: int = 0) -> np.ndarray:
    """Input vectors (n, d) of `tokens` at positions start.. (token + learned position)."""
    x = r["tok_emb"][tokens]
    if "proj_in" in r:
        x = x @ r["proj_in"]
    if cfg.get("pos", "learned") == "learned":
        off = cfg.get("pos_offset", 0) + start
        x = x + r["pos_emb"][off:off + len(tokens)]
    return x.astype(np.float32)


def head(cfg: dict, r: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits of the last block's output x (..., d): final norm, projection, lm_head."""
    if "lnf_g" in r:
        x = norm(cfg, x, r["lnf_g"], r.get("lnf_b"))
    if "proj_out" in r:
        x = x @ r["proj_out"]
    return x @ (r["lm_head"] if "lm_head" in r else r["tok_emb"]).T


def ffn_act(cfg_gated: bool, H: np.ndarray, up: np.ndarray, b_up: np.ndarray, lin: np.ndarray | None) -> np.ndarray:
    """Neuron activations (..., n) of FFN inputs H: relu(H up.T + b_up) [* (H lin.T)]."""
    a = np.maximum(H @ up.T + b_up, 0)
    if cfg_gated:
        a = a * (H @ lin.T)
    return a
