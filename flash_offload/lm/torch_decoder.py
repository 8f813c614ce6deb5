"""The torch side shared by the dense (dense/train.py) and MoE (moe/train.py) training scripts:
the pre-LN decoder skeleton, the seeded training loop and the export of the attention part
into lm/model.py's numpy layout. Each script supplies only its FFN block and its extra loss.
torch is the optional `train` extra; nothing at run time imports this module.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from edgekiln.errors import InputError, ToolchainError
from edgekiln.flash_offload.lm.corpus import Corpus, load_corpus


def import_torch():
    try:
        import torch
    except ImportError as e:  # the runtime never needs it
        raise ToolchainError("training needs torch: pip install 'edgekiln[train]' "
                             "(a CPU-only build is enough, e.g. pip install 'torch==2.13.0+cpu')") from e
    return torch


def start_training(presets: dict, preset: str, overrides: dict, seed: int, threads: int,
                   corpus: Corpus | None, kind: str = "") -> tuple[dict, object, Corpus]:
    """(hyper-parameters, seeded torch, corpus) of a run: the preset's fields with the
    overrides that are not None; the system stdlib corpus unless one is given."""
    if preset not in presets:
        raise InputError(f"unknown {kind}preset {preset!r}; choose one of {sorted(presets)}")
    hp = {**presets[preset], **{k: v for k, v in overrides.items() if v is not None}}
    torch = import_torch()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    return hp, torch, corpus or load_corpus()


def trained_config(sizes: dict, preset: str, seed: int, corpus: Corpus, hp: dict, training_keys,
                   ce: float, seconds: float, torch, threads: int) -> dict:
    """The checkpoint's config: model sizes, then how it was trained (so a cache can tell
    whether it is stale, and a reader where the weights came from)."""
    return {**sizes, "preset": preset, "seed": seed, "corpus": corpus.describe(),
            "training": {k: hp[k] for k in training_keys} | {
                "final_ce_nats": round(ce, 4), "seconds": round(seconds, 1),
                "torch": torch.__version__, "threads": threads}}


def build_decoder(torch, V: int, d: int, L: int, h: int, T: int, make_ffn: Callable):
    """Byte-level pre-LN decoder; make_ffn() builds a block's FFN module whose forward(x (B,n,d))
    returns (y (B,n,d), extra), and the model's forward returns (logits, [extra per layer])."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.ffn = make_ffn()  # created last: the seeded initialisation order is part of the fixtures

        def forward(self, x, extras):
            B, n = x.shape[:2]
            hx = self.ln1(x)
            sh = lambda t: t.view(B, n, h, d // h).transpose(1, 2)  # noqa: E731
            a = F.scaled_dot_product_attention(sh(self.q(hx)), sh(self.k(hx)), sh(self.v(hx)), is_causal=True)
            x = x + self.o(a.transpose(1, 2).reshape(B, n, d))
            y, extra = self.ffn(self.ln2(x))
            extras.append(extra)
            return x + y

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
            extras: list = []
            for b in self.blocks:
                x = b(x, extras)
            return self.lnf(x) @ self.tok.weight.T, extras

    return LM()


def train_loop(torch, model, hp: dict, corpus: Corpus, seed: int, V: int,
               extra_loss: Callable, describe: Callable, log: Callable[[str], None]) -> tuple[float, float]:
    """AdamW with warm-up and cosine decay on random corpus windows; the loss is cross-entropy
    plus extra_loss(extras, step, steps); describe(extras, extra) adds to the log line.
    Returns (final cross-entropy in nats, seconds)."""
    rng = np.random.default_rng(seed)
    T = hp["T"]
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
        logits, extras = model(idx[:, :-1])
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, V), idx[:, 1:].reshape(-1))
        extra = extra_loss(extras, step, steps)
        loss = ce + extra
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"step {step}/{steps} ce {ce.item():.3f} nats ({ce.item() / math.log(2):.2f} bits/byte) "
                f"{describe(extras, extra)} {time.time() - t0:.0f}s")
    return ce.item(), time.time() - t0


def to_numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def export_attention(model, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Embeddings, norms and attention of every layer in lm/model.py's layout (x @ W); `keys` are
    the per-layer names the numpy model keeps resident."""
    r = {"tok_emb": to_numpy(model.tok.weight), "pos_emb": to_numpy(model.pos.weight),
         "lnf_g": to_numpy(model.lnf.weight), "lnf_b": to_numpy(model.lnf.bias)}
    for i, b in enumerate(model.blocks):
        vals = {"ln1_g": b.ln1.weight, "ln1_b": b.ln1.bias, "ln2_g": b.ln2.weight, "ln2_b": b.ln2.bias,
                "bq": b.q.bias, "bk": b.k.bias, "bv": b.v.bias, "bo": b.o.bias}
        for k in keys:
            if k in vals:
                r[f"l{i}.{k}"] = to_numpy(vals[k])
        for k, lin in (("wq", b.q), ("wk", b.k), ("wv", b.v), ("wo", b.o)):
            r[f"l{i}.{k}"] = to_numpy(lin.weight).T.copy()  # x @ W
    return r
