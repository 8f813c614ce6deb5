"""Seeded torch training of the byte-level MoE decoder (moe/model.py's layout), `train` extra.

Each block is lm/model.py's attention followed by E ReLU experts behind a softmax router with
top-k gating (weights renormalised over the chosen k) and the Switch load-balancing loss, so
every expert gets tokens. The runtime (moe/model.py) needs only numpy.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from edgekiln.flash_offload.lm.corpus import Corpus
from edgekiln.flash_offload.lm.torch_decoder import (build_decoder, export_attention, start_training, to_numpy,
                                                     train_loop, trained_config)
from edgekiln.flash_offload.moe.model import MOE_RESIDENT, MoEModel, save_moe

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

    class MoeFfn(Experts):  # the decoder's FFN slot: (B, n, d) in and out
        def forward(self, x):
            B, n, _ = x.shape
            y, balance = super().forward(x.reshape(B * n, d))
            return y.view(B, n, d), balance

    return build_decoder(torch, V, d, L, h, T, MoeFfn)


def export_moe(model, config: dict) -> MoEModel:
    """torch module -> MoEModel in moe/model.py's layout (x @ W for attention, (f, d) experts)."""
    r = export_attention(model, MOE_RESIDENT)
    experts = []
    for i, b in enumerate(model.blocks):
        m = b.ffn
        r[f"l{i}.router"], r[f"l{i}.router_b"] = to_numpy(m.router.weight).T.copy(), to_numpy(m.router.bias)
        experts.append([(to_numpy(m.up[j]), to_numpy(m.b_up[j]), to_numpy(m.down[j]), to_numpy(m.b_down[j]))
                        for j in range(config["E"])])
    return MoEModel(config, r, experts)


def train(out: str | Path, preset: str = "tiny", seed: int = 0, corpus: Corpus | None = None,
          threads: int = 2, log: Callable[[str], None] = print, **overrides) -> dict:
    """Train a preset (overrides change its fields), write the .npz checkpoint, return its config."""
    hp, torch, corpus = start_training(PRESETS, preset, overrides, seed, threads, corpus, "MoE ")
    V, T = 256, hp["T"]
    model = build_moe(torch, V, hp["d"], hp["L"], hp["h"], hp["E"], hp["top_k"], hp["f"], T)

    def balance_term(balances, step, steps):  # Switch load balancing: every expert gets tokens
        return hp["aux"] * sum(balances) / len(balances)

    def balance(_, term):
        return f"balance {term.item() / hp['aux']:.3f}"

    ce, seconds = train_loop(torch, model, hp, corpus, seed, V, balance_term, balance, log)
    sizes = {"V": V, **{k: hp[k] for k in ("d", "L", "h", "f", "E", "top_k")}, "T": T}
    config = trained_config(sizes, preset, seed, corpus, hp, TRAINING_KEYS, ce, seconds, torch, threads)
    save_moe(out, export_moe(model, config))
    return config


def cached_model(build: str | Path = "build/moe_matryoshka", preset: str = "large", seed: int = 0,
                 log: Callable[[str], None] = print, threads: int = 2) -> Path:
    """`build/<preset>_seed<seed>.npz`, trained on first use and again when the preset changed."""
    from edgekiln.flash_offload.moe.model import load_moe
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
