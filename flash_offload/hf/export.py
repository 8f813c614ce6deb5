"""The byte-level toy written as a Hugging Face OPT checkpoint (config.json, model.safetensors,
a byte-level tokenizer.json): the toy is OPT's architecture (pre-LayerNorm, learned
positions, tied embeddings, ReLU FFN), so a trained toy becomes a trained OPT-architecture
checkpoint that `kiln flash-offload import` reads like any other (benchmarks, tests)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgekiln.errors import InputError


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map (what the ByteLevel pre-tokenizer emits)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def byte_tokenizer_json() -> bytes:
    """tokenizer.json whose token id is the byte value (a BPE with the 256 bytes and no merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {ch: b for b, ch in bytes_to_unicode().items()}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return tok.to_str().encode()


def toy_to_opt(cfg: dict, r: dict[str, np.ndarray], ffn, out: str | Path) -> Path:
    """Write the toy model (lm/model.py's byte-level decoder) as an OPT checkpoint folder."""
    from safetensors.numpy import save_file

    if cfg.get("arch", "toy") != "toy":
        raise InputError(f"toy_to_opt takes the byte-level toy, not a {cfg['arch']} model")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d, T = cfg["d"], cfg["T"]
    c = np.ascontiguousarray
    pos = np.zeros((T + 2, d), np.float32)
    pos[2:] = r["pos_emb"]  # OPT's learned positions start at index 2
    t = {"model.decoder.embed_tokens.weight": c(r["tok_emb"]), "model.decoder.embed_positions.weight": pos,
         "model.decoder.final_layer_norm.weight": c(r["lnf_g"]), "model.decoder.final_layer_norm.bias": c(r["lnf_b"])}
    for i in range(cfg["L"]):
        p, q = f"model.decoder.layers.{i}.", f"l{i}."
        for w, name in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj"), ("o", "out_proj")):
            t[f"{p}self_attn.{name}.weight"] = c(r[q + "w" + w].T)
            t[f"{p}self_attn.{name}.bias"] = c(r[q + "b" + w])
        for name, k in (("self_attn_layer_norm", "ln1"), ("final_layer_norm", "ln2")):
            t[f"{p}{name}.weight"], t[f"{p}{name}.bias"] = c(r[q + k + "_g"]), c(r[q + k + "_b"])
        up, b_up, down = ffn[i][:3]
        t[p + "fc1.weight"], t[p + "fc1.bias"] = c(up), c(b_up)
        t[p + "fc2.weight"], t[p + "fc2.bias"] = c(down.T), c(r[q + "b_down"])
    save_file({k: v.astype(np.float32) for k, v in t.items()}, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = {"model_type": "opt", "architectures": ["OPTForCausalLM"], "vocab_size": cfg["V"], "hidden_size": d,
              "num_hidden_layers": cfg["L"], "num_attention_heads": cfg["h"], "ffn_dim": cfg["f"],
              "max_position_embeddings": T, "word_embed_proj_dim": d, "do_layer_norm_before": True,
              "activation_function": "relu", "enable_bias": True, "layer_norm_elementwise_affine": True,
              "tie_word_embeddings": True, "pad_token_id": 1, "bos_token_id": 2, "eos_token_id": 2,
              "dropout": 0.0, "attention_dropout": 0.0, "torch_dtype": "float32"}
    (out / "config.json").write_text(json.dumps(config, indent=1))
    (out / "tokenizer.json").write_bytes(byte_tokenizer_json())
    return out
