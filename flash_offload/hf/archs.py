"""Hugging Face architectures -> lm/arch.py's config, resident tensors and FFN neurons.

One converter per `model_type` of config.json, registered in CONVERTERS. Each returns
(config, resident, ffn) with weights as lm/model.py uses them: x @ W (Hugging Face's
Linear weights transposed), FFN rows as neurons.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from edgekiln.errors import InputError

from edgekiln.flash_offload.hf.checkpoint import Tensors

Converted = tuple[dict, dict[str, np.ndarray], list[tuple[np.ndarray, ...]]]
CONVERTERS: dict[str, Callable[[dict, Tensors], Converted]] = {}
SUPPORTED = "opt (activation_function relu), llama (hidden_act relu: ReluLLaMA / ProSparse style)"


def converter(model_type: str):
    def deco(fn):
        CONVERTERS[model_type] = fn
        return fn
    return deco


def check_supported(hf: dict) -> None:
    """Refuse an architecture before any weight is read."""
    mt = hf.get("model_type")
    if mt not in CONVERTERS:
        arch = ", ".join(hf.get("architectures") or []) or "unknown"
        raise InputError(f"unsupported architecture: model_type {mt!r} ({arch}); supported: {SUPPORTED}")
    if mt == "opt":
        _need_relu(hf, "activation_function", "relu", "opt")
    if mt == "llama":
        _need_relu(hf, "hidden_act", "silu", "llama")


def convert(hf: dict, t: Tensors) -> Converted:
    check_supported(hf)
    return CONVERTERS[hf["model_type"]](hf, t)


def _int(hf: dict, key: str, default=None) -> int:
    v = hf.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise InputError(f"config.json: {key} should be a positive integer, got {v!r}")
    return v


def _need_relu(hf: dict, key: str, default: str, mt: str) -> None:
    act = hf.get(key, default)
    if act != "relu":
        raise InputError(f"unsupported architecture: {mt} with {key}={act!r}; LLM in a flash needs ReLU "
                         f"activations (exact zeros to skip). Supported: {SUPPORTED}")


@converter("opt")
def convert_opt(hf: dict, t: Tensors) -> Converted:
    _need_relu(hf, "activation_function", "relu", "opt")
    V, d, L = _int(hf, "vocab_size"), _int(hf, "hidden_size"), _int(hf, "num_hidden_layers")
    h, f, T = _int(hf, "num_attention_heads"), _int(hf, "ffn_dim"), _int(hf, "max_position_embeddings")
    if d % h:
        raise InputError(f"config.json: hidden_size {d} is not divisible by num_attention_heads {h}")
    wdim = hf.get("word_embed_proj_dim") or d
    pre = bool(hf.get("do_layer_norm_before", True))
    final = pre and not hf.get("_remove_final_layer_norm", False)
    bias, affine = hf.get("enable_bias", True), hf.get("layer_norm_elementwise_affine", True)
    dec = "decoder."
    r: dict[str, np.ndarray] = {"tok_emb": t.get(dec + "embed_tokens.weight", (V, wdim)),
                                "pos_emb": t.get(dec + "embed_positions.weight", (T + 2, d))}
    if wdim != d:
        r["proj_in"] = t.get(dec + "project_in.weight", (d, wdim)).T.copy()
        r["proj_out"] = t.get(dec + "project_out.weight", (wdim, d)).T.copy()

    def ln(prefix: str, name: str) -> None:
        if affine:
            r[name + "_g"] = t.get(prefix + ".weight", (d,))
            r[name + "_b"] = t.get(prefix + ".bias", (d,))
        else:
            r[name + "_g"], r[name + "_b"] = np.ones(d, np.float32), np.zeros(d, np.float32)

    if final:
        ln(dec + "final_layer_norm", "lnf")
    ffn = []
    for i in range(L):
        p, q = f"{dec}layers.{i}.", f"l{i}."
        ln(p + "self_attn_layer_norm", q + "ln1")
        ln(p + "final_layer_norm", q + "ln2")
        for w, hfname in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj"), ("o", "out_proj")):
            r[q + "w" + w] = t.get(f"{p}self_attn.{hfname}.weight", (d, d)).T.copy()
            if bias:
                r[q + "b" + w] = t.get(f"{p}self_attn.{hfname}.bias", (d,))
        up = t.get(p + "fc1.weight", (f, d))
        b_up = t.get(p + "fc1.bias", (f,)) if bias else np.zeros(f, np.float32)
        down = t.get(p + "fc2.weight", (d, f)).T.copy()
        if bias:
            r[q + "b_down"] = t.get(p + "fc2.bias", (d,))
        ffn.append((up, b_up, down))
    if "lm_head.weight" in t and not hf.get("tie_word_embeddings", True):
        r["lm_head"] = t.get("lm_head.weight", (V, wdim))
    cfg = {"arch": "opt", "V": V, "d": d, "L": L, "h": h, "f": f, "T": T, "norm": "layernorm", "eps": 1e-5,
           "pre_norm": pre, "pos": "learned", "pos_offset": 2, "ffn": "relu"}
    return cfg, r, ffn


def _rope_theta(hf: dict) -> float:
    rp = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
    kind = rp.get("rope_type", rp.get("type", "default"))
    if kind not in ("default", None):
        raise InputError(f"unsupported RoPE scaling {kind!r}: only the default rotary embedding is implemented")
    return float(rp.get("rope_theta", hf.get("rope_theta", 10000.0)))


@converter("llama")
def convert_llama(hf: dict, t: Tensors) -> Converted:
    _need_relu(hf, "hidden_act", "silu", "llama")
    if hf.get("mlp_bias"):
        raise InputError("unsupported: llama with mlp_bias=true (ReLU-Llama checkpoints have no FFN biases)")
    V, d, L = _int(hf, "vocab_size"), _int(hf, "hidden_size"), _int(hf, "num_hidden_layers")
    h, f, T = _int(hf, "num_attention_heads"), _int(hf, "intermediate_size"), _int(hf, "max_position_embeddings")
    kvh = _int(hf, "num_key_value_heads", h)
    dh = hf.get("head_dim") or d // h
    if h % kvh:
        raise InputError(f"config.json: num_attention_heads {h} is not a multiple of num_key_value_heads {kvh}")
    tied = bool(hf.get("tie_word_embeddings", False))
    r: dict[str, np.ndarray] = {"tok_emb": t.get("embed_tokens.weight", (V, d)), "lnf_g": t.get("norm.weight", (d,))}
    if not tied:
        r["lm_head"] = t.get("lm_head.weight", (V, d))
    ffn = []
    for i in range(L):
        p, q = f"layers.{i}.", f"l{i}."
        r[q + "ln1_g"] = t.get(p + "input_layernorm.weight", (d,))
        r[q + "ln2_g"] = t.get(p + "post_attention_layernorm.weight", (d,))
        for w, hfname, rows in (("q", "q_proj", h * dh), ("k", "k_proj", kvh * dh), ("v", "v_proj", kvh * dh)):
            r[q + "w" + w] = t.get(f"{p}self_attn.{hfname}.weight", (rows, d)).T.copy()
            if hf.get("attention_bias"):
                r[q + "b" + w] = t.get(f"{p}self_attn.{hfname}.bias", (rows,))
        r[q + "wo"] = t.get(f"{p}self_attn.o_proj.weight", (d, h * dh)).T.copy()
        if hf.get("attention_bias"):
            r[q + "bo"] = t.get(f"{p}self_attn.o_proj.bias", (d,))
        gate = t.get(p + "mlp.gate_proj.weight", (f, d))
        lin = t.get(p + "mlp.up_proj.weight", (f, d))
        down = t.get(p + "mlp.down_proj.weight", (d, f)).T.copy()
        ffn.append((gate, np.zeros(f, np.float32), down, lin))
    cfg = {"arch": "llama", "V": V, "d": d, "L": L, "h": h, "f": f, "T": T, "kv_heads": kvh, "head_dim": dh,
           "norm": "rmsnorm", "eps": float(hf.get("rms_norm_eps", 1e-6)), "pre_norm": True, "pos": "rope",
           "rope_theta": _rope_theta(hf), "ffn": "gated_relu"}
    return cfg, r, ffn
