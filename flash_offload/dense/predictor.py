"""Per-layer low-rank sparsity predictors: Linear(d->r) -> Linear(r->f), trained in numpy.

Trained on the model's own FFN inputs (LN2 output) with balanced BCE on "neuron > 0"
labels; each layer's threshold tau is calibrated on the training activations to a target
recall (a missed neuron changes the output, an extra one only costs a read). Saved files
carry the hash of the model they were trained for, so a predictor for another model is
refused instead of silently mispredicting.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from edgekiln.errors import InputError, ModelLoadError

from edgekiln.flash_offload.dense.ekf_format import model_hash
from edgekiln.flash_offload.lm.model import Ffn, nll_dense_batch

FORMAT = "edgekiln-flash-predictor-v1"


@dataclass
class Predictor:
    """w1 (d,r), b1 (r,), w2 (r,f), b2 (f,) per layer; tau per layer on the logit scale."""

    w1: list[np.ndarray]
    b1: list[np.ndarray]
    w2: list[np.ndarray]
    b2: list[np.ndarray]
    tau: list[float]
    model_hash: str
    info: dict = field(default_factory=dict)
    freq: list[np.ndarray] = field(default_factory=list)  # per layer: how often each neuron fired (training)

    def ranking(self, layer: int) -> np.ndarray:
        """Neuron ids, most frequently active first (what a static DRAM set keeps)."""
        return np.argsort(-self.freq[layer], kind="stable")

    @property
    def rank(self) -> int:
        return int(self.w1[0].shape[1])

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for arrs in (self.w1, self.b1, self.w2, self.b2) for a in arrs)

    def logits(self, layer: int, h: np.ndarray) -> np.ndarray:
        return (h @ self.w1[layer] + self.b1[layer]) @ self.w2[layer] + self.b2[layer]

    def predict(self, layer: int, h: np.ndarray) -> np.ndarray:
        """Boolean mask over neurons (shape h.shape[:-1] + (f,)): predicted active."""
        return self.logits(layer, h) > self.tau[layer]

    def check_model(self, expected_hash: str, what: str = "this model") -> None:
        if expected_hash != self.model_hash:
            raise InputError(
                f"the predictor was trained for model {self.model_hash[:12]}…, not for {what} "
                f"({expected_hash[:12]}…); train one for it with `kiln flash-offload train-predictor`")

    def save(self, path: str | Path) -> None:
        arrays = {}
        for i in range(len(self.w1)):
            arrays.update({f"l{i}.w1": self.w1[i], f"l{i}.b1": self.b1[i], f"l{i}.w2": self.w2[i], f"l{i}.b2": self.b2[i],
                           f"l{i}.freq": self.freq[i]})
        meta = {"format": FORMAT, "model_hash": self.model_hash, "tau": self.tau, "layers": len(self.w1), "info": self.info}
        with open(path, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: str | Path, expect_hash: str | None = None) -> "Predictor":
        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format") != FORMAT:
                    raise ModelLoadError(f"{p} is not a flash_offload predictor (format {meta.get('format')!r})")
                L = int(meta["layers"])
                get = lambda k: [z[f"l{i}.{k}"].astype(np.float32) for i in range(L)]  # noqa: E731
                pred = cls(get("w1"), get("b1"), get("w2"), get("b2"), [float(t) for t in meta["tau"]],
                           meta["model_hash"], meta.get("info", {}), get("freq"))
        except (OSError, KeyError, ValueError) as e:
            raise ModelLoadError(f"cannot read predictor {p}: {e}; train one with `kiln flash-offload train-predictor`") from e
        if expect_hash is not None:
            pred.check_model(expect_hash, str(p))
        return pred


def collect_activations(cfg: dict, r: dict, ffn: Sequence[Ffn], windows: Sequence[np.ndarray]
                        ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per layer: FFN inputs H (n, d) and labels (n, f) = neuron pre-activation > 0."""
    Hs: list[list[np.ndarray]] = [[] for _ in range(cfg["L"])]
    for w in windows:
        nll_dense_batch(cfg, r, ffn, w, collect=lambda i, H: Hs[i].append(H))
    H = [np.concatenate(h) for h in Hs]
    Y = [(H[i] @ ffn[i][0].T + ffn[i][1]) > 0 for i in range(cfg["L"])]
    return H, Y


def _train_layer(X: np.ndarray, Y: np.ndarray, rank: int, epochs: int, lr: float, rng: np.random.Generator,
                 batch: int = 128) -> tuple[np.ndarray, ...]:
    n, d = X.shape
    f = Y.shape[1]
    p = float(np.clip(Y.mean(), 1e-6, 1 - 1e-6))
    w_pos, w_neg = 0.5 / p, 0.5 / (1 - p)  # balanced BCE: both classes weigh half
    rate = np.clip(Y.mean(axis=0), 1e-4, 1 - 1e-4)
    params = [rng.normal(0, 1 / np.sqrt(d), (d, rank)).astype(np.float32), np.zeros(rank, np.float32),
              rng.normal(0, 1 / np.sqrt(rank), (rank, f)).astype(np.float32),
              np.log(rate / (1 - rate)).astype(np.float32)]
    m = [np.zeros_like(a) for a in params]
    v = [np.zeros_like(a) for a in params]
    t = 0
    for ep in range(epochs):
        order = rng.permutation(n)
        step_lr = lr * (0.1 + 0.9 * (1 - ep / epochs))
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            x, y = X[idx], Y[idx]
            u = x @ params[0] + params[1]
            z = u @ params[2] + params[3]
            sig = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
            dz = ((sig - y) * np.where(y, w_pos, w_neg) / (len(idx) * f)).astype(np.float32)
            du = dz @ params[2].T
            grads = [x.T @ du, du.sum(0), u.T @ dz, dz.sum(0)]
            t += 1
            for a, g, mm, vv in zip(params, grads, m, v):  # Adam
                mm *= 0.9
                mm += 0.1 * g
                vv *= 0.999
                vv += 0.001 * g * g
                a -= step_lr * (mm / (1 - 0.9 ** t)) / (np.sqrt(vv / (1 - 0.999 ** t)) + 1e-8)
    return tuple(params)


def train_predictor(cfg: dict, r: dict, ffn: Sequence[Ffn], windows: Sequence[np.ndarray], rank: int = 32,
                    epochs: int = 10, lr: float = 1e-2, target_recall: float = 0.99, seed: int = 0,
                    log: Callable[[str], None] = lambda s: None) -> Predictor:
    """Train one predictor per layer on activations of `windows` (token arrays of <= T)."""
    if not 0 < target_recall <= 1:
        raise InputError(f"target recall {target_recall} must be in (0, 1]")
    if rank <= 0 or rank > cfg["d"]:
        raise InputError(f"predictor rank {rank} must be in 1..d={cfg['d']}")
    rng = np.random.default_rng(seed)
    H, Y = collect_activations(cfg, r, ffn, windows)
    out: list[list] = [[], [], [], []]
    taus, predicted = [], []
    for i in range(cfg["L"]):
        params = _train_layer(H[i], Y[i], rank, epochs, lr, rng)
        for k in range(4):
            out[k].append(params[k])
        z = (H[i] @ params[0] + params[1]) @ params[2] + params[3]
        pos = z[Y[i]]
        # highest tau that keeps `target_recall` of the training positives
        taus.append(float(np.quantile(pos, 1 - target_recall)) - 1e-6 if pos.size else 0.0)
        predicted.append(float((z > taus[-1]).sum(axis=1).mean()))
        log(f"layer {i}: {H[i].shape[0]} tokens, active rate {Y[i].mean():.4f}, tau {taus[-1]:.3f}")
    info = {"rank": rank, "epochs": epochs, "lr": lr, "target_recall": target_recall, "seed": seed,
            "train_tokens": int(H[0].shape[0]), "predicted_per_token": predicted}
    return Predictor(out[0], out[1], out[2], out[3], taus, model_hash(cfg, r, list(ffn)), info,
                     [y.mean(axis=0).astype(np.float32) for y in Y])


def window_masks(pred_mask: np.ndarray, k: int) -> np.ndarray:
    """(n, f): neurons predicted at any of the k previous tokens (what windowing keeps)."""
    w = np.zeros_like(pred_mask)
    for j in range(1, k + 1):
        w[j:] |= pred_mask[:-j]
    return w


def evaluate(pred: Predictor, cfg: dict, r: dict, ffn: Sequence[Ffn], windows: Sequence[np.ndarray],
             static: Sequence[np.ndarray] | None = None, window_k: int = 0) -> dict:
    """Per-layer recall / precision / false negatives, and perplexity dense vs with predictor.

    static: per layer a boolean (f,) mask of neurons always in DRAM (always computed);
    window_k: also compute neurons predicted in the previous k tokens (as the engine does).
    `perplexity_predictor` is what the engine computes with those settings.
    """
    L, f = cfg["L"], cfg["f"]
    tp, fp, fn, pos, n_tok = np.zeros(L), np.zeros(L), np.zeros(L), np.zeros(L), 0
    missed = np.zeros(L)  # active neurons not computed at all (not predicted, not static/window)
    nll_dense = nll_pred = 0.0

    def metrics(i: int, H: np.ndarray) -> None:  # on the dense model's own FFN inputs
        up, b_up = ffn[i][0], ffn[i][1]
        P, Yt = pred.predict(i, H), (H @ up.T + b_up) > 0
        tp[i] += (P & Yt).sum()
        fp[i] += (P & ~Yt).sum()
        fn[i] += (~P & Yt).sum()
        pos[i] += Yt.sum()

    def ffn_batch(i: int, H: np.ndarray) -> np.ndarray:  # what the engine computes
        up, b_up, down = ffn[i][:3]
        a = np.maximum(H @ up.T + b_up, 0)
        if len(ffn[i]) > 3:  # gated FFN: relu(gate) decides, the linear branch scales
            a = a * (H @ ffn[i][3].T)
        P = pred.predict(i, H)
        M = P | window_masks(P, window_k) if window_k else P
        if static is not None:
            M = M | static[i]
        missed[i] += ((a != 0) & ~M).sum()
        return (a * M) @ down

    for w in windows:
        nll_dense += nll_dense_batch(cfg, r, ffn, w, collect=metrics)
        nll_pred += nll_dense_batch(cfg, r, ffn, w, ffn_batch=ffn_batch)
        n_tok += len(w) - 1
    n_pos = len(windows) and sum(len(w) for w in windows)
    layers = [{"layer": i, "recall": float(tp[i] / max(pos[i], 1)), "precision": float(tp[i] / max(tp[i] + fp[i], 1)),
               "false_negatives_per_token": float(fn[i] / n_pos), "active_per_token": float(pos[i] / n_pos),
               "predicted_per_token": float((tp[i] + fp[i]) / n_pos), "sparsity": float(1 - pos[i] / (n_pos * f)),
               "missed_after_static_window_per_token": float(missed[i] / n_pos), "tau": pred.tau[i]}
              for i in range(L)]
    return {"layers": layers, "tokens": n_tok, "perplexity_dense": float(np.exp(nll_dense / n_tok)),
            "perplexity_predictor": float(np.exp(nll_pred / n_tok)), "window_k": window_k,
            "static_neurons": None if static is None else [int(s.sum()) for s in static]}
