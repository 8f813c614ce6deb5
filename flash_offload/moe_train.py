"""Seeded torch training of the byte-level MoE decoder (moe_lm.py's layout), `train` extra.

Each block is lm.py's attention followed by E ReLU experts behind a softmax router with
top-k gating (weights renormalised over the chosen k) and the Switch load-balancing loss, so
every expert gets tokens. The runtime (moe_lm.py) needs only numpy.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgekiln.errors import InputError

from .corpus import Corpus, load_corpus
from .moe_lm import MOE_RESIDENT, MoEModel, save_moe
from .train import _torch

PRESETS = {
    # committed fixture: < 2 MB, about a minute on 2 CPU cores
    "tiny": dict(d=64, L=2, h=4, E=4, top_k=2, f=256, T=64, steps=500, batch=16, lr=3e-3, aux=0.01),
    # benchmark model: 4 layers x 8 experts of 2 x 384 x 2048 = 50.3 M expert weights (50 MB at int8)
    "large": dict(d=384, L=4, h=6, E=8, top_k=2, f=2048, T=128, steps=200, batch=8, lr=2e-3, aux=0.01),
}
TRAINING_KEYS = ("steps", "batch", "lr", "aux")


def build_moe(torch, V: int, d: int, L: int, h: int, E: int, top_k: int, f: int, T: int):
    nn, F = torch.nn, torch.nn.functional

    def uniform(*shape, fan_in):
        return nn.Parameter(torch.empty(*shape).uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in)))

    class Experts(nn.Module):
        def __init__(self):
            super().__init__()
            self.router = nn.Linear(d, E)
            self.up, self.b_up = uniform(E, f, d, fan_in=d), uniform(E, f, fan_in=d)
            self.down, self.b_down = uniform(E, f, d, fan_in=f), uniform(E, d, fan_in=f)

        def forward(self, x):  # x (N, d) -> (N, d), load-balancing loss
            probs = F.softmax(self.router(x), dim=-1)
            topv, topi = probs.topk(top_k, dim=-1)
            w = topv / topv.sum(dim=-1, keepdim=True)
            out = torch.zeros_like(x)
            for j in range(E):
                rows, slot = (topi == j).nonzero(as_tuple=True)
                if rows.numel():
                    y = F.relu(x[rows] @ self.up[j].T + self.b_up[j]) @ self.down[j] + self.b_down[j]
                    out = out.index_add(0, rows, w[rows, slot, None] * y)
            frac = F.one_hot(topi, E).sum(dim=1).float().mean(dim=0) / top_k
            return out, E * (frac * probs.mean(dim=0)).sum()

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.moe = Experts()

        def forward(self, x, aux):
            B, n = x.shape[:2]
            hx = self.ln1(x)
            sh = lambda t: t.view(B, n, h, d // h).transpose(1, 2)  # noqa: E731
            a = F.scaled_dot_product_attention(sh(self.q(hx)), sh(self.k(hx)), sh(self.v(hx)), is_causal=True)
            x = x + self.o(a.transpose(1, 2).reshape(B, n, d))
            y, lb = self.moe(self.ln2(x).reshape(B * n, d))
            aux.append(lb)
            return x + y.view(B, n, d)

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
            aux: list = []
            for b in self.blocks:
                x = b(x, aux)
            return self.lnf(x) @ self.tok.weight.T, aux

    return LM()


def export_moe(model, config: dict) -> MoEModel:
    """torch module -> MoEModel in moe_lm.py's layout (x @ W for attention, (f, d) experts)."""
    g = lambda t: t.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    r = {"tok_emb": g(model.tok.weight), "pos_emb": g(model.pos.weight),
         "lnf_g": g(model.lnf.weight), "lnf_b": g(model.lnf.bias)}
    experts = []
    for i, b in enumerate(model.blocks):
        vals = {"ln1_g": b.ln1.weight, "ln1_b": b.ln1.bias, "ln2_g": b.ln2.weight, "ln2_b": b.ln2.bias,
                "bq": b.q.bias, "bk": b.k.bias, "bv": b.v.bias, "bo": b.o.bias}
        for k in MOE_RESIDENT:
            if k in vals:
                r[f"l{i}.{k}"] = g(vals[k])
        for k, lin in (("wq", b.q), ("wk", b.k), ("wv", b.v), ("wo", b.o)):
            r[f"l{i}.{k}"] = g(lin.weight).T.copy()
        r[f"l{i}.router"], r[f"l{i}.router_b"] = g(b.moe.router.weight).T.copy(), g(b.moe.router.bias)
        m = b.moe
        experts.append([(g(m.up[j]), g(m.b_up[j]), g(m.down[j]), g(m.b_down[j])) for j in range(config["E"])])
    return MoEModel(config, r, experts)


def train(out: str | Path, preset: str = "tiny", seed: int = 0, corpus: Corpus | None = None,
          threads: int = 2, log: Callable[[str], None] = print, **overrides) -> dict:
    """Train a preset (overrides change its fields), write the .npz checkpoint, return its config."""
    if preset not in PRESETS:
        raise InputError(f"unknown MoE preset {preset!r}; choose one of {sorted(PRESETS)}")
    hp = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    torch = _torch()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    corpus = corpus or load_corpus()
    V, T = 256, hp["T"]
    model = build_moe(torch, V, hp["d"], hp["L"], hp["h"], hp["E"], hp["top_k"], hp["f"], T)
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
        logits, aux = model(idx[:, :-1])
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, V), idx[:, 1:].reshape(-1))
        balance = sum(aux) / len(aux)
        loss = ce + hp["aux"] * balance
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"step {step}/{steps} ce {ce.item():.3f} nats ({ce.item() / math.log(2):.2f} bits/byte) "
                f"balance {balance.item():.3f} {time.time() - t0:.0f}s")
    config = {"V": V, **{k: hp[k] for k in ("d", "L", "h", "f", "E", "top_k")}, "T": T,
              "preset": preset, "seed": seed, "corpus": corpus.describe(),
              "training": {k: hp[k] for k in TRAINING_KEYS} | {
                  "final_ce_nats": round(ce.item(), 4), "seconds": round(time.time() - t0, 1),
                  "torch": torch.__version__, "threads": threads}}
    save_moe(out, export_moe(model, config))
    return config


def cached_model(build: str | Path = "build/moe_matryoshka", preset: str = "large", seed: int = 0,
                 log: Callable[[str], None] = print, threads: int = 2) -> Path:
    """`build/<preset>_seed<seed>.npz`, trained on first use and again when the preset changed."""
    from .moe_lm import load_moe
    path = Path(build) / f"{preset}_seed{seed}.npz"
    if path.is_file():
        training = load_moe(path).config.get("training", {})
        if any(training.get(k) != PRESETS[preset][k] for k in TRAINING_KEYS):
            log(f"{path} was trained with other settings than the {preset!r} preset; training again")
            path.unlink()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        log(f"training the {preset} MoE model (cached at {path}) ...")
        train(path, preset, seed=seed, log=log, threads=threads)
    return path
