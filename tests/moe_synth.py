"""Seeded random MoE models and their bit-plane files for the MoE scheduling tests (no
training: the tests check file, scheduling and memory behaviour, not model quality)."""
from __future__ import annotations

import numpy as np

from edgekiln.flash_offload.moe.model import EXPERT_KEYS, MoEModel, expert_shapes, resident_shapes
from edgekiln.quantize.matryoshka import quantize_expert


def random_moe(seed: int = 0, d: int = 32, L: int = 2, E: int = 4, f: int = 64, T: int = 16,
               top_k: int = 2, V: int = 256) -> MoEModel:
    rng = np.random.default_rng(seed)
    cfg = dict(V=V, d=d, L=L, h=4, E=E, top_k=top_k, f=f, T=T)
    resident = {k: (rng.normal(size=s) * (0.1 if len(s) > 1 else 0.02)).astype(np.float32)
                for k, s in resident_shapes(cfg).items()}
    for k in resident:
        if k.endswith("_g"):
            resident[k] += 1
    es = expert_shapes(cfg)
    experts = [[tuple((rng.normal(size=es[k]) * 0.1).astype(np.float32) for k in EXPERT_KEYS)
                for _ in range(E)] for _ in range(L)]
    return MoEModel(cfg, resident, experts)


def quantized_experts(model: MoEModel, mode: str = "mwq", lo: int = 5, hi: int = 8, group: int = 32):
    return [[quantize_expert(up, b_up, down, b_down, None, mode, lo, hi, group)
             for up, b_up, down, b_down in layer] for layer in model.experts]
