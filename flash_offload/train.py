"""Seeded training of the ReLU byte-level decoder (torch, the optional `train` extra).

The L1 penalty on FFN activations pushes most neurons below zero for most tokens, the
sparsity LLM-in-a-flash exploits. The runtime (lm.py, engine.py) needs only numpy.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgekiln.errors import InputError, ToolchainError

from .corpus import Corpus, load_corpus
from .lm import LAYER_RESIDENT, save_checkpoint

PRESETS = {
    # committed fixture: < 2 MB, a couple of minutes on 2 CPU cores
    "tiny": dict(d=64, L=2, h=4, f=512, T=64, steps=600, batch=16, lr=3e-3, l1=6e-2),
    # benchmark model: 32 MiB of FFN weights, 4 layers
    "large": dict(d=256, L=4, h=8, f=4096, T=128, steps=180, batch=12, lr=2e-3, l1=2e-2),
}


def _torch():
    try:
        import torch
    except ImportError as e:  # the runtime never needs it
        raise ToolchainError("training needs torch: pip install 'edgekiln[train]' "
                             "(a CPU-only build is enough, e.g. pip install 'torch==2.13.0+cpu')") from e
    return torch


def build_model(torch, V: int, d: int, L: int, h: int, f: int, T: int):
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.up, self.down = nn.Linear(d, f), nn.Linear(f, d)

        def forward(self, x, acts):
            n = x.shape[1]
            hx = self.ln1(x)
            sh = lambda t: t.view(x.shape[0], n, h, d // h).transpose(1, 2)  # noqa: E731
            a = F.scaled_dot_product_attention(sh(self.q(hx)), sh(self.k(hx)), sh(self.v(hx)), is_causal=True)
            x = x + self.o(a.transpose(1, 2).reshape(x.shape[0], n, d))
            z = F.relu(self.up(self.ln2(x)))
            acts.append(z)
            return x + self.down(z)

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(V, d), nn.Embedding(T, d)
            nn.init.normal_(self.tok.weight, std=0.02)
            nn.init.normal_(self.pos.weight, std=0.02)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.lnf = nn.LayerNorm(d, eps=1e-5)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
            acts: list = []
            for b in self.blocks:
                x = b(x, acts)
            return self.lnf(x) @ self.tok.weight.T, acts

    return LM()


def export_arrays(model) -> tuple[dict, list]:
    """torch module -> (resident arrays, per-layer (up, b_up, down)) in lm.py's layout."""
    g = lambda t: t.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    r = {"tok_emb": g(model.tok.weight), "pos_emb": g(model.pos.weight),
         "lnf_g": g(model.lnf.weight), "lnf_b": g(model.lnf.bias)}
    ffn = []
    for i, b in enumerate(model.blocks):
        vals = {"ln1_g": b.ln1.weight, "ln1_b": b.ln1.bias, "ln2_g": b.ln2.weight, "ln2_b": b.ln2.bias,
                "bq": b.q.bias, "bk": b.k.bias, "bv": b.v.bias, "bo": b.o.bias, "b_down": b.down.bias}
        for k in LAYER_RESIDENT:
            if k in vals:
                r[f"l{i}.{k}"] = g(vals[k])
        for k, lin in (("wq", b.q), ("wk", b.k), ("wv", b.v), ("wo", b.o)):
            r[f"l{i}.{k}"] = g(lin.weight).T.copy()  # x @ W
        ffn.append((g(b.up.weight), g(b.up.bias), g(b.down.weight).T.copy()))
    return r, ffn


def train(out: str | Path, preset: str = "tiny", seed: int = 0, corpus: Corpus | None = None,
          threads: int = 2, log: Callable[[str], None] = print, **overrides) -> dict:
    """Train a preset (overrides change its fields), write the checkpoint, return its config."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    hp = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    torch = _torch()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    corpus = corpus or load_corpus()
    V, T = 256, hp["T"]
    model = build_model(torch, V, hp["d"], hp["L"], hp["h"], hp["f"], T)
    opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], weight_decay=0.01, betas=(0.9, 0.98))
    data = torch.from_numpy(corpus.train.astype(np.int64))
    steps, warm = hp["steps"], max(1, hp["steps"] // 20)
    t0 = time.time()
    for step in range(steps):
        lr = hp["lr"] * min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for gr in opt.param_groups:
            gr["lr"] = lr
        starts = torch.from_numpy(rng.integers(0, data.numel() - T - 1, hp["batch"]))
        idx = torch.stack([data[s:s + T + 1] for s in starts])
        logits, acts = model(idx[:, :-1])
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, V), idx[:, 1:].reshape(-1))
        # L1 on activations, ramped in so the model first learns, then sparsifies
        l1 = sum(a.mean() for a in acts) / len(acts)
        loss = ce + hp["l1"] * min(1.0, 2 * step / steps) * l1 * hp["f"] / 64
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            with torch.no_grad():
                sp = [float((a == 0).float().mean()) for a in acts]
            log(f"step {step}/{steps} ce {ce.item():.3f} nats ({ce.item() / math.log(2):.2f} bits/byte) "
                f"sparsity {' '.join(f'{s:.3f}' for s in sp)} {time.time() - t0:.0f}s")
    resident, ffn = export_arrays(model)
    config = {"V": V, "d": hp["d"], "L": hp["L"], "h": hp["h"], "f": hp["f"], "T": T,
              "preset": preset, "seed": seed, "corpus": corpus.describe(),
              "training": {k: hp[k] for k in ("steps", "batch", "lr", "l1")} | {
                  "final_ce_nats": round(ce.item(), 4), "seconds": round(time.time() - t0, 1),
                  "torch": torch.__version__, "threads": threads}}
    save_checkpoint(out, config, resident, ffn)
    return config
