"""AdaRound: calibration-based weight rounding that minimises the error of each layer's
output, not of its weights (Nagel et al., "Up or Down? Adaptive Rounding for Post-Training
Quantization", ICML 2020, arXiv:2004.10568), run layer by layer in network order on the
quantized network's own inputs (the "sequential" variant of AdaRound/BRECQ), with a
per-channel scale search on the same output error and bias correction (Nagel et al.,
"Data-Free Quantization Through Weight Equalization and Bias Correction", ICCV 2019, here
with the calibration data's means).

Per layer (conv of any group count, fully_connected), with P the float im2col patches of
the layer's float inputs and P~ those of the quantized network's inputs (dequantized int8),
both centred on their means, and one output channel's float weight w, the error of its
pre-activation output over all calibration positions with dequantized weight u = s q is

    L(u) = E || P w - P~ u - delta ||^2 = u' H u - 2 u' c + w' Hf w,
    H = P~'P~ / M,  c = (P~'P / M) w,  Hf = P'P / M,

delta (the mean error) being taken up by the bias (bias correction: b' = b + mean(P) w -
mean(P~) u). With a fused relu / relu6 only the positions where the float or the RTN output
is above 0 count (AdaRound's reconstruction after the activation, made quadratic), so each
channel has its own H and means there. Output channels are independent, so every step below is exact on this
quadratic and cheap (the layers are small im2col matmuls):

1. scale search: s = r * max|w| / qmax for r in RATIOS, RTN integers, the r of least L(s q)
   per channel (the output error, not the weight error as `rtn-mse`);
2. AdaRound: q = clip(floor(w/s) + h(V), -qmax, qmax) with the rectified sigmoid
   h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1) (zeta 1.1, gamma -0.1), V
   initialised so h(V) = frac(w/s); Adam (lr 0.02, 1,500 full-batch steps) on
   L / L_rtn + lam * mean(1 - |2h - 1|^beta) with lam = 3,
   the regulariser off for the first 20 % of the iterations, then beta annealed 20 -> 2;
   then hard rounding (h >= 0.5 rounds up);
3. polish: coordinate descent over single +-1 integer moves (each accepted only when it
   lowers L; this is what makes the result never worse than step 1's RTN) alternated with
   the closed-form best scale for the chosen integers, s = q'c / q'Hq;
4. per channel, the lower L of (AdaRound + polish) and (RTN at the searched scale + polish).

numpy only, full batch, no random numbers: the result is deterministic. Per-tensor scales
and per-group scales are refused (the channels would no longer be independent)."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import InputError

from . import geometry
from .methods import Layer, QuantizedWeight, WeightConfig, WeightMethod, symmetric_scales, weight_method

ZETA, GAMMA = 1.1, -0.1
RATIOS = tuple(np.round(np.linspace(1.0, 0.35, 27), 4))


def im2col(op: str, attrs: dict, weight: np.ndarray, inputs: list) -> tuple[np.ndarray, np.ndarray]:
    """(patches [G, M, K], weight [G, O/G, K]) of a conv (any group count, 1-D or 2-D) or
    fully_connected over the stacked samples: output = patches @ weight' per group."""
    if op == "fully_connected":
        k = weight.shape[1]
        x = np.concatenate([np.asarray(a, np.float32).reshape(-1, k) for a in inputs])
        return x[None], weight.reshape(1, weight.shape[0], k).astype(np.float64)
    x = np.concatenate([np.asarray(a, np.float32) for a in inputs])
    rank = x.ndim - 2
    x2, w2 = geometry.as_2d(x), (weight[:, None] if rank == 1 else weight)
    strides = tuple(attrs.get("strides", [1] * rank))
    dilations = tuple(attrs.get("dilations", [1] * rank))
    if rank == 1:
        strides, dilations = (1, strides[0]), (1, dilations[0])
    pads = geometry.pads_2d(attrs.get("pads", [0] * 2 * rank), rank)
    p = geometry.patches(x2, w2.shape[1:3], strides, dilations, pads)  # N, OH, OW, KH, KW, C
    group = int(attrs.get("group", 1))
    o, kh, kw, cg = w2.shape
    p = p.reshape(-1, kh, kw, group, cg).transpose(3, 0, 1, 2, 4).reshape(group, -1, kh * kw * cg)
    return p, w2.reshape(group, o // group, kh * kw * cg).astype(np.float64)


ACT_FLOOR = {"relu": 0.0, "relu6": 0.0, "relu_n1_to_1": -1.0}  # fused activations that clip from below


class LayerStats:
    """The quadratic of every output channel: H [G, O/G or 1, K, K], c [G, O/G, K], the float
    output energy e0 [G, O/G] (w' Hf w) and the input means (for bias correction).

    With a fused activation that clips from below (`floor`, e.g. relu), only the positions
    where the float or the quantized (RTN) output is above the floor count (AdaRound's
    "asymmetric" reconstruction of the activation's output, made quadratic): each channel
    then has its own H and its own means."""

    def __init__(self, p_float: np.ndarray, p_quant: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None,
                 floor: float | None = None, u_rtn: np.ndarray | None = None, chunk: int = 8192) -> None:
        g, m, k = p_float.shape
        og = w.shape[1]
        per_channel = floor is not None
        oh = og if per_channel else 1
        n = np.zeros((g, oh))
        sf, sq = np.zeros((g, oh, k)), np.zeros((g, oh, k))
        qq = np.zeros((g, oh, k, k))
        qy, sy, yy = np.zeros((g, og, k)), np.zeros((g, og)), np.zeros((g, og))
        b0 = np.zeros((g, og)) if bias is None else np.asarray(bias, np.float64).reshape(g, og)
        for i in range(0, m, chunk):
            a, b = p_quant[:, i:i + chunk].astype(np.float64), p_float[:, i:i + chunk].astype(np.float64)
            y = np.einsum("gmk,gok->gmo", b, w)  # float output (without bias)
            if per_channel:
                yq = np.einsum("gmk,gok->gmo", a, u_rtn)
                mask = (((y + b0[:, None]) > floor) | ((yq + b0[:, None]) > floor)).astype(np.float64)
            else:
                mask = np.ones((g, a.shape[1], 1))
            n += mask.sum(axis=1)
            sf += np.einsum("gmo,gmk->gok", mask, b)
            sq += np.einsum("gmo,gmk->gok", mask, a)
            for o in range(oh):
                am = a * mask[:, :, o:o + 1]
                qq[:, o] += np.einsum("gmk,gml->gkl", am, a)
            my = mask * y if per_channel else y
            qy += np.einsum("gmk,gmo->gok", a, my)
            sy += my.sum(axis=1)
            yy += (my * y).sum(axis=1)
        n = np.maximum(n, 1)
        self.mean_f, self.mean_q = sf / n[..., None], sq / n[..., None]  # [G, O/G or 1, K]
        self.h = qq / n[..., None, None] - np.einsum("gok,gol->gokl", self.mean_q, self.mean_q)
        mean_y = sy / n
        self.c = qy / n[..., None] - self.mean_q * mean_y[..., None]
        self.e0 = np.maximum(yy / n - mean_y ** 2, 0)
        self.w = w

    def hu(self, u: np.ndarray) -> np.ndarray:
        return np.matmul(self.h, u[..., None])[..., 0]

    def loss(self, u: np.ndarray) -> np.ndarray:
        """L(u) per channel [G, O/G] for dequantized weights u [G, O/G, K] (>= 0 up to rounding)."""
        return (u * self.hu(u)).sum(-1) - 2 * (u * self.c).sum(-1) + self.e0


def _rtn(w: np.ndarray, s: np.ndarray, qmax: int) -> np.ndarray:
    r = w / s[..., None]
    return np.clip(np.sign(r) * np.floor(np.abs(r) + 0.5), -qmax, qmax)


def scale_search(st: LayerStats, base: np.ndarray, qmax: int) -> np.ndarray:
    """Per channel, the scale r * base (r in RATIOS) whose RTN integers give the least L."""
    best, err = base.copy(), np.full(base.shape, np.inf)
    for r in RATIOS:
        s = base * r
        e = st.loss(s[..., None] * _rtn(st.w, s, qmax))
        better = e < err
        err[better], best[better] = e[better], s[better]
    return best


def adaround(st: LayerStats, s: np.ndarray, qmax: int, iters: int = 1500, lam: float = 3.0,
             lr: float = 0.02) -> np.ndarray:
    """AdaRound's learned rounding (step 2 of the module docstring): integers [G, O/G, K]."""
    ws = st.w / s[..., None]
    base = np.floor(ws)
    rest = np.clip(ws - base, 1e-4, 1 - 1e-4)
    v = -np.log((ZETA - GAMMA) / (rest - GAMMA) - 1)
    norm = max(float(st.loss(s[..., None] * _rtn(st.w, s, qmax)).sum()), 1e-30)
    m1, m2 = np.zeros_like(v), np.zeros_like(v)
    warm = int(0.2 * iters)
    for t in range(1, iters + 1):
        sig = 1 / (1 + np.exp(-v))
        hraw = sig * (ZETA - GAMMA) + GAMMA
        h = np.clip(hraw, 0, 1)
        qs = base + h
        inside = (qs >= -qmax) & (qs <= qmax) & (hraw > 0) & (hraw < 1)
        u = s[..., None] * np.clip(qs, -qmax, qmax)
        grad_u = 2 * (st.hu(u) - st.c) / norm
        grad_h = grad_u * s[..., None]
        if t > warm:
            beta = 20 + (2 - 20) * (t - warm) / max(iters - warm, 1)
            a = 2 * h - 1
            grad_h = grad_h - lam * beta * np.abs(a) ** (beta - 1) * np.sign(a) * 2 / h.size
        g = grad_h * inside * sig * (1 - sig) * (ZETA - GAMMA)
        m1 = 0.9 * m1 + 0.1 * g
        m2 = 0.999 * m2 + 0.001 * g * g
        v -= lr * (m1 / (1 - 0.9 ** t)) / (np.sqrt(m2 / (1 - 0.999 ** t)) + 1e-12)
    return np.clip(base + (v >= 0), -qmax, qmax)


def polish(st: LayerStats, q: np.ndarray, s: np.ndarray, qmax: int, rounds: int = 3,
           passes: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Coordinate descent over +-1 integer moves alternated with the best scale for the
    integers (step 3): never raises L."""
    q, s = q.copy(), s.copy()
    hd = np.diagonal(st.h, axis1=-2, axis2=-1)  # [G, O/G or 1, K]
    for _ in range(rounds):
        hq = st.hu(q)
        for _ in range(passes):
            moved = False
            for k in range(q.shape[-1]):
                for d in (-1.0, 1.0):
                    delta = s * s * (hd[..., k] + 2 * d * hq[..., k]) - 2 * s * d * st.c[..., k]
                    ok = (delta < -1e-12 * np.maximum(st.e0, 1e-30)) & (np.abs(q[..., k] + d) <= qmax)
                    if ok.any():
                        moved = True
                        dq = np.where(ok, d, 0.0)
                        q[..., k] += dq
                        hq += dq[..., None] * st.h[..., :, k]
            if not moved:
                break
        den = (q * hq).sum(-1)
        num = (q * st.c).sum(-1)
        s_new = np.where((den > 0) & (num > 0), num / np.where(den > 0, den, 1), s)
        take = st.loss(s_new[..., None] * q) < st.loss(s[..., None] * q)
        s = np.where(take, s_new, s).astype(np.float32).astype(np.float64)
    return q, s


@weight_method("adaround")
class AdaRound(WeightMethod):
    name = "adaround"
    needs_calibration_inputs = True
    sequential = True  # quantizer.quantize_graph hands it the quantized network's inputs, layer by layer
    iters = 1500
    lam = 3.0  # on the mean regulariser, the reconstruction being normalised by RTN's error
    activation_aware = True  # relu-like fused activations: only positions above the floor count

    def supports(self, config: WeightConfig) -> str | None:
        if config.bits not in (8, 4):
            return f"{config.bits}-bit weights (adaround writes 8 or 4)"
        if config.group_size is not None:
            return "per-group scales (per-channel only)"
        if config.granularity != "per-channel":
            return f"granularity {config.granularity!r}: its output channels are optimised independently (use per-channel)"
        return None

    def quantize(self, layer: Layer, config: WeightConfig) -> QuantizedWeight:
        self.check(config)
        if not layer.inputs:
            raise InputError(f"method 'adaround' needs calibration inputs of layer {layer.name!r} (none were given)")
        qmax = config.qmax
        w = np.asarray(layer.weight, np.float32)
        quant_inputs = layer.quant_inputs if layer.quant_inputs else layer.inputs
        pf, wg = im2col(layer.op, layer.attrs, w, layer.inputs)
        pq, _ = im2col(layer.op, layer.attrs, w, quant_inputs)
        base = symmetric_scales(w, qmax, True).astype(np.float64).reshape(wg.shape[:2])
        floor = ACT_FLOOR.get(layer.attrs.get("activation", "none")) if self.activation_aware else None
        st = LayerStats(pf, pq, wg, layer.bias, floor, base[..., None] * _rtn(wg, base, qmax))
        s0 = scale_search(st, base, qmax)
        q_a, s_a = polish(st, adaround(st, s0, qmax, self.iters, self.lam), s0, qmax)
        q_r, s_r = polish(st, _rtn(st.w, s0, qmax), s0, qmax)
        take = (st.loss(s_a[..., None] * q_a) <= st.loss(s_r[..., None] * q_r))
        q = np.where(take[..., None], q_a, q_r)
        s = np.where(take, s_a, s_r).astype(np.float32)
        values = q.reshape(w.shape).astype(np.int8)
        bias = None
        if layer.bias is not None:
            u = s.astype(np.float64)[..., None] * q
            delta = (st.mean_f * st.w).sum(-1) - (st.mean_q * u).sum(-1)
            bias = (np.asarray(layer.bias, np.float64) + delta.reshape(-1)).astype(np.float32)
        self.last = {"rtn_loss": float(st.loss(base[..., None] * _rtn(st.w, base, qmax)).sum()),
                     "loss": float(st.loss(s.astype(np.float64)[..., None] * q).sum()), "energy": float(st.e0.sum())}
        return QuantizedWeight(values, s.reshape(-1), config.bits, bias)


def reconstruction_error(layer: Layer, qw: QuantizedWeight) -> float:
    """L summed over channels for `qw` on the layer's inputs (quantized inputs when given):
    the figure `adaround` minimises (tests compare it with RTN's)."""
    w = np.asarray(layer.weight, np.float32)
    pf, wg = im2col(layer.op, layer.attrs, w, layer.inputs)
    pq, _ = im2col(layer.op, layer.attrs, w, layer.quant_inputs or layer.inputs)
    st = LayerStats(pf, pq, wg)
    u = qw.dequantize().astype(np.float64).reshape(wg.shape)
    return float(st.loss(u).sum())


__all__ = ["AdaRound", "im2col", "LayerStats", "reconstruction_error"]
