"""Seeded training of the ReLU byte-level decoder (torch, the optional `train` extra).

The L1 penalty on FFN activations pushes most neurons below zero for most tokens, the
sparsity LLM-in-a-flash exploits. The runtime (lm/model.py, dense/engine.py) needs only numpy.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from edgekiln.flash_offload.lm.corpus import Corpus
from edgekiln.flash_offload.lm.model import LAYER_RESIDENT, save_checkpoint
from edgekiln.flash_offload.lm.torch_decoder import (build_decoder, export_attention, start_training, to_numpy,
                                                     train_loop, trained_config)

PRESETS = {
    # committed fixture: < 2 MB, a couple of minutes on 2 CPU cores
    "tiny": dict(d=64, L=2, h=4, f=512, T=64, steps=600, batch=16, lr=3e-3, l1=6e-2),
    # benchmark model: 32 MiB of FFN weights, 4 layers
    "large": dict(d=256, L=4, h=8, f=4096, T=128, steps=180, batch=12, lr=2e-3, l1=2e-2),
}
TRAINING_KEYS = ("steps", "batch", "lr", "l1")


def build_model(torch, V: int, d: int, L: int, h: int, f: int, T: int):
    """The dense decoder: each block's FFN is relu(up x) -> down, its activations kept for the L1 term."""
    nn, F = torch.nn, torch.nn.functional

    class Ffn(nn.Module):
        def __init__(self):
            super().__init__()
            self.up, self.down = nn.Linear(d, f), nn.Linear(f, d)

        def forward(self, x):
            z = F.relu(self.up(x))
            return self.down(z), z

    return build_decoder(torch, V, d, L, h, T, Ffn)


def export_arrays(model) -> tuple[dict, list]:
    """torch module -> (resident arrays, per-layer (up, b_up, down)) in lm/model.py's layout."""
    r = export_attention(model, LAYER_RESIDENT)
    ffn = []
    for i, b in enumerate(model.blocks):
        r[f"l{i}.b_down"] = to_numpy(b.ffn.down.bias)
        ffn.append((to_numpy(b.ffn.up.weight), to_numpy(b.ffn.up.bias), to_numpy(b.ffn.down.weight).T.copy()))
    return r, ffn


def train(out: str | Path, preset: str = "tiny", seed: int = 0, corpus: Corpus | None = None,
          threads: int = 2, log: Callable[[str], None] = print, **overrides) -> dict:
    """Train a preset (overrides change its fields), write the checkpoint, return its config."""
    hp, torch, corpus = start_training(PRESETS, preset, overrides, seed, threads, corpus)
    V, T = 256, hp["T"]
    model = build_model(torch, V, hp["d"], hp["L"], hp["h"], hp["f"], T)

    def l1_term(acts, step, steps):  # ramped in so the model first learns, then sparsifies
        return hp["l1"] * min(1.0, 2 * step / steps) * sum(a.mean() for a in acts) / len(acts) * hp["f"] / 64

    def sparsity(acts, _):
        return "sparsity " + " ".join(f"{float((a == 0).float().mean()):.3f}" for a in acts)

    ce, seconds = train_loop(torch, model, hp, corpus, seed, V, l1_term, sparsity, log)
    resident, ffn = export_arrays(model)
    sizes = {"V": V, "d": hp["d"], "L": hp["L"], "h": hp["h"], "f": hp["f"], "T": T}
    config = trained_config(sizes, preset, seed, corpus, hp, TRAINING_KEYS, ce, seconds, torch, threads)
    save_checkpoint(out, config, resident, ffn)
    return config
