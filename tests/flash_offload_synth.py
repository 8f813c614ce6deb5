"""Small random models with the tensor names of flash_offload's decoder LM (test helper)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekiln.flash_offload import dense

# the committed tiny ReLU decoder (trained by `kiln flash-offload train --preset tiny`)
TINY_FIXTURE = Path(dense.__file__).parent / "fixtures" / "tiny.npz"


def synthetic_model(seed=0, V=256, d=16, L=2, f=40, T=32):
    """A small random model with the names of flash_offload's decoder LM."""
    rng = np.random.default_rng(seed)
    r = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    config = {"V": V, "d": d, "L": L, "h": 2, "f": f, "T": T}  # keys of flash_offload.lm.model
    resident = {"tok_emb": r(V, d), "pos_emb": r(T, d), "lnf_g": r(d), "lnf_b": r(d)}
    for i in range(L):
        for n in ("ln1_g", "ln1_b", "bq", "bk", "bv", "bo", "ln2_g", "ln2_b", "b_down"):
            resident[f"l{i}.{n}"] = r(d)
        for n in ("wq", "wk", "wv", "wo"):
            resident[f"l{i}.{n}"] = r(d, d)
    ffn = [(r(f, d), r(f), r(f, d)) for _ in range(L)]
    return config, resident, ffn
