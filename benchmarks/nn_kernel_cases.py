"""Kernel cases for the network kernels (runtime_c/kernels/*/ek_<op>_<dtype>.c): random
tensors and parameters, the C arguments (ek_nn.h) and the golden output from
quantize/nn/int8_reference.py (int8, int4 weights) or float_reference.py (float32).

Each case is a dict the template benchmarks/nn_kernels/nn_cases.h.j2 renders: `kind`,
`dtype`, `kernel`, dims, a `params` struct, `arrays` (name -> {ctype, values}), plus
`expect` (numpy, the golden output) and `macs`."""
from __future__ import annotations

import numpy as np

from edgekiln.ir import Node, QuantParams
from edgekiln.quantize.nn import float_reference as fref
from edgekiln.quantize.nn import geometry
from edgekiln.quantize.nn import int8_reference as iref
from edgekiln.quantize.nn.tflite_math import calculate_activation_range, quantize_multiplier, softmax_params

FLT_MAX = float(np.finfo(np.float32).max)
ACT_F32 = {"none": (-FLT_MAX, FLT_MAX), "relu": (0.0, FLT_MAX), "relu6": (0.0, 6.0), "relu_n1_to_1": (-1.0, 1.0)}


def c_float(v: float) -> str:
    """An exact C float literal (hex float)."""
    v = float(np.float32(v))
    return "(-" + (-v).hex() + "f)" if v < 0 or (v == 0 and np.signbit(v)) else v.hex() + "f"


def _arr(ctype: str, values) -> dict:
    flat = np.asarray(values).ravel()
    vals = [c_float(v) for v in flat] if ctype == "float" else [str(int(v)) for v in flat]
    return {"ctype": ctype, "values": vals}


def _qp(scale, zp, axis=None) -> QuantParams:
    return QuantParams(scale=list(np.ravel(scale)), zero_point=list(np.ravel(zp)), axis=axis)


def _golden(kernel_fn, node, args, quants, qout):
    return kernel_fn(node, args, quants, qout)


def _out_scale(acc_real: np.ndarray, rng) -> float:
    """An output scale that spreads the real accumulators over about +-60 steps."""
    spread = float(np.std(acc_real)) or 1.0
    return float(np.float32(spread / rng.uniform(30, 70)))


def conv_case(rng: np.random.Generator, *, dtype: str = "s8", depthwise: bool = False, rank: int = 2, batch: int = 1,
              in_hw=(7, 7), in_c: int = 4, out_c: int = 8, k=(3, 3), stride=(1, 1), dilation=(1, 1),
              pads=(1, 1, 1, 1), groups: int = 1, multiplier: int = 1, per_channel: bool = True,
              activation: str = "none", zp_in: int | None = None, zp_out: int | None = None, bias: bool = True,
              label: str = "") -> dict:
    """A conv (or depthwise conv: out_c = in_c * multiplier, groups = in_c) case.
    rank 1: in_hw = (1, L), k = (1, K), stride/dilation (1, s), pads (0, l, 0, r)."""
    h, w = in_hw
    kh, kw = k
    if depthwise:
        groups, out_c = in_c, in_c * multiplier
    fc = in_c // groups
    x_shape = (batch, h, w, in_c) if rank == 2 else (batch, w, in_c)
    wlo, whi = (-8, 7) if dtype == "s4" else (-127, 127)
    attrs = {"group": groups, "activation": activation}
    if rank == 2:
        attrs.update(strides=list(stride), dilations=list(dilation), pads=list(pads))
        w_shape = (out_c, kh, kw, fc)
    else:
        attrs.update(strides=[stride[1]], dilations=[dilation[1]], pads=[pads[1], pads[3]])
        w_shape = (out_c, kw, fc)
    oh = geometry.out_size(h, kh, stride[0], dilation[0], pads[0], pads[2])
    ow = geometry.out_size(w, kw, stride[1], dilation[1], pads[1], pads[3])
    macs = batch * oh * ow * out_c * kh * kw * fc
    if dtype == "f32":
        xf = rng.normal(0, 1, x_shape).astype(np.float32)
        wf = rng.normal(0, 0.3, w_shape).astype(np.float32)
        bf = rng.normal(0, 0.5, out_c).astype(np.float32) if bias else None
        node = Node("conv", "c", ["x", "w", "b"], ["y"], attrs)
        expect = fref._KERNELS.get("conv")(node, [xf, wf, bf])
        wc = wf.reshape(out_c, kh, kw, fc)
        arrays = {"in": _arr("float", xf), "filter": _arr("float", wc.transpose(3, 1, 2, 0) if depthwise else wc),
                  "bias": _arr("float", bf) if bias else None}
        lo, hi = ACT_F32[activation]
        params = {"stride_h": stride[0], "stride_w": stride[1], "pad_top": pads[0], "pad_left": pads[1],
                  "dilation_h": dilation[0], "dilation_w": dilation[1], "depth_multiplier": multiplier,
                  "act_min": c_float(lo), "act_max": c_float(hi)}
    else:
        zp_in = int(rng.integers(-128, 128)) if zp_in is None else zp_in
        x = rng.integers(-128, 128, x_shape).astype(np.int8)
        wq = rng.integers(wlo, whi + 1, w_shape).astype(np.int8)
        s_in = float(np.float32(rng.uniform(0.01, 0.1)))
        s_w = rng.uniform(0.002, 0.02, out_c if per_channel else 1).astype(np.float32)
        bq = rng.integers(-4000, 4000, out_c).astype(np.int32) if bias else None
        node = Node("conv", "c", ["x", "w", "b"], ["y"], {**attrs, "weight_bits": 4 if dtype == "s4" else 8})
        acc = geometry.conv_accumulate(x.astype(np.int64) - zp_in, wq.astype(np.int64), attrs)
        s_out = _out_scale(acc * s_in * float(np.mean(s_w)), rng)
        zp_out = int(rng.integers(-20, 21)) if zp_out is None else zp_out
        q_in, q_out = _qp(s_in, zp_in), _qp(s_out, zp_out)
        q_w = _qp(s_w, [0] * len(s_w), 0 if per_channel else None)
        expect = iref._KERNELS.get("conv")(node, [x, wq, bq], [q_in, q_w, None], q_out)
        mult, shift = iref.channel_multipliers(q_in, q_w, q_out, out_c)
        if not per_channel:
            mult, shift = mult[:1], shift[:1]
        lo, hi = calculate_activation_range(activation, q_out.scale[0], zp_out)
        wc = wq.reshape(out_c, kh, kw, fc)
        wc = wc.transpose(3, 1, 2, 0) if depthwise else wc
        arrays = {"in": _arr("int8_t", x),
                  "filter": _arr("uint8_t", iref.pack_int4(wc)) if dtype == "s4" else _arr("int8_t", wc),
                  "bias": _arr("int32_t", bq) if bias else None,
                  "mult": _arr("int32_t", mult), "shift": _arr("int32_t", shift)}
        params = {"input_offset": -zp_in, "output_offset": zp_out, "stride_h": stride[0], "stride_w": stride[1],
                  "pad_top": pads[0], "pad_left": pads[1], "dilation_h": dilation[0], "dilation_w": dilation[1],
                  "depth_multiplier": multiplier, "act_min": lo, "act_max": hi}
    fdims = (1, kh, kw, out_c) if depthwise else (out_c, kh, kw, fc)
    kind = "dwconv" if depthwise else "conv"
    return _finish({"kind": kind, "dtype": dtype, "kernel": f"ek_{kind}_{dtype}", "in_dims": (batch, h, w, in_c),
                    "filter_dims": fdims, "out_dims": (batch, oh, ow, out_c), "params": params, "arrays": arrays,
                    "expect": expect, "macs": macs, "label": label})


def fc_case(rng: np.random.Generator, *, dtype: str = "s8", batches: int = 1, in_features: int = 16,
            out_features: int = 8, per_channel: bool = False, activation: str = "none", zp_in: int | None = None,
            zp_w: int = 0, zp_out: int | None = None, bias: bool = True, label: str = "") -> dict:
    macs = batches * in_features * out_features
    base = {"kind": "fc", "dtype": dtype, "kernel": f"ek_fc_{dtype}", "batches": batches, "in_features": in_features,
            "out_features": out_features, "macs": macs, "label": label}
    if dtype == "f32":
        xf = rng.normal(0, 1, (batches, in_features)).astype(np.float32)
        wf = rng.normal(0, 0.3, (out_features, in_features)).astype(np.float32)
        bf = rng.normal(0, 0.5, out_features).astype(np.float32) if bias else None
        node = Node("fully_connected", "f", ["x", "w", "b"], ["y"], {"activation": activation})
        lo, hi = ACT_F32[activation]
        return _finish({**base, "params": {}, "act_min": c_float(lo), "act_max": c_float(hi),
                        "arrays": {"in": _arr("float", xf), "w": _arr("float", wf),
                                   "bias": _arr("float", bf) if bias else None},
                        "expect": fref._KERNELS.get("fully_connected")(node, [xf, wf, bf])})
    zp_in = int(rng.integers(-128, 128)) if zp_in is None else zp_in
    wlo, whi = (-8, 7) if dtype == "s4" else (-127, 127)
    x = rng.integers(-128, 128, (batches, in_features)).astype(np.int8)
    wq = rng.integers(wlo, whi + 1, (out_features, in_features)).astype(np.int8)
    bq = rng.integers(-4000, 4000, out_features).astype(np.int32) if bias else None
    s_in = float(np.float32(rng.uniform(0.01, 0.1)))
    s_w = rng.uniform(0.002, 0.02, out_features if per_channel else 1).astype(np.float32)
    acc = (x.astype(np.int64) - zp_in) @ (wq.astype(np.int64) - zp_w).T
    s_out = _out_scale(acc * s_in * float(np.mean(s_w)), rng)
    zp_out = int(rng.integers(-20, 21)) if zp_out is None else zp_out
    q_in, q_out = _qp(s_in, zp_in), _qp(s_out, zp_out)
    q_w = _qp(s_w, [zp_w] * len(s_w), 0 if per_channel else None)
    node = Node("fully_connected", "f", ["x", "w", "b"], ["y"],
                {"activation": activation, "weight_bits": 4 if dtype == "s4" else 8})
    expect = iref._KERNELS.get("fully_connected")(node, [x, wq, bq], [q_in, q_w, None], q_out)
    if per_channel:
        mult, shift = iref.channel_multipliers(q_in, q_w, q_out, out_features)
    else:  # the golden model's per-tensor rule (GetQuantizedConvolutionMultipler)
        m, s = quantize_multiplier(float(np.float32(q_in.scale[0]) * np.float32(q_w.scale[0])) / float(np.float32(s_out)))
        mult, shift = np.array([m]), np.array([s])
    lo, hi = calculate_activation_range(activation, q_out.scale[0], zp_out)
    return _finish({**base, "params": {"input_offset": -zp_in, "filter_offset": -zp_w, "output_offset": zp_out,
                                       "act_min": lo, "act_max": hi},
                    "arrays": {"in": _arr("int8_t", x),
                               "w": _arr("uint8_t", iref.pack_int4(wq)) if dtype == "s4" else _arr("int8_t", wq),
                               "bias": _arr("int32_t", bq) if bias else None,
                               "mult": _arr("int32_t", mult), "shift": _arr("int32_t", shift)},
                    "expect": expect})


def pool_case(rng: np.random.Generator, *, kind: str = "avgpool", dtype: str = "s8", batch: int = 1, in_hw=(6, 6),
              channels: int = 4, k=(2, 2), stride=(2, 2), pads=(0, 0, 0, 0), activation: str = "none",
              count_include_pad: bool = False, zp: int | None = None, label: str = "") -> dict:
    h, w = in_hw
    attrs = {"kernel": list(k), "strides": list(stride), "pads": list(pads), "activation": activation,
             "count_include_pad": count_include_pad}
    op = "avg_pool" if kind == "avgpool" else "max_pool"
    oh = geometry.out_size(h, k[0], stride[0], 1, pads[0], pads[2])
    ow = geometry.out_size(w, k[1], stride[1], 1, pads[1], pads[3])
    node = Node(op, "p", ["x"], ["y"], attrs)
    params = {"stride_h": stride[0], "stride_w": stride[1], "pad_top": pads[0], "pad_left": pads[1],
              "filter_h": k[0], "filter_w": k[1], "act_min": -128, "act_max": 127,
              "count_include_pad": int(count_include_pad)}
    base = {"kind": kind, "dtype": dtype, "kernel": f"ek_{kind}_{dtype}", "in_dims": (batch, h, w, channels),
            "out_dims": (batch, oh, ow, channels), "macs": batch * oh * ow * channels * k[0] * k[1], "label": label}
    if dtype == "f32":
        xf = rng.normal(0, 2, (batch, h, w, channels)).astype(np.float32)
        lo, hi = ACT_F32[activation]
        return _finish({**base, "params": params, "act_min": c_float(lo), "act_max": c_float(hi),
                        "arrays": {"in": _arr("float", xf)}, "expect": fref._KERNELS.get(op)(node, [xf])})
    zp = int(rng.integers(-128, 128)) if zp is None else zp
    q = _qp(float(np.float32(rng.uniform(0.01, 0.1))), zp)
    x = rng.integers(-128, 128, (batch, h, w, channels)).astype(np.int8)
    params["act_min"], params["act_max"] = calculate_activation_range(activation, q.scale[0], zp)
    return _finish({**base, "params": params, "arrays": {"in": _arr("int8_t", x)},
                    "expect": iref._KERNELS.get(op)(node, [x], [q], q)})


def add_case(rng: np.random.Generator, *, n: int = 37, activation: str = "none", label: str = "") -> dict:
    """int8 add with PrepareInt8AddSub's parameters (as the golden model derives them)."""
    zps = [int(v) for v in rng.integers(-128, 128, 3)]
    s1, s2 = (float(np.float32(v)) for v in rng.uniform(0.01, 0.1, 2))
    so = float(np.float32(max(s1, s2) * rng.uniform(1.0, 2.5)))
    q1, q2, qo = _qp(s1, zps[0]), _qp(s2, zps[1]), _qp(so, zps[2])
    a = rng.integers(-128, 128, n).astype(np.int8)
    b = rng.integers(-128, 128, n).astype(np.int8)
    node = Node("add", "a", ["a", "b"], ["y"], {"activation": activation})
    expect = iref._KERNELS.get("add")(node, [a, b], [q1, q2], qo)
    left_shift = 20
    twice_max = float(np.float32(2) * max(np.float32(s1), np.float32(s2)))
    m1, e1 = quantize_multiplier(float(np.float32(s1)) / twice_max)
    m2, e2 = quantize_multiplier(float(np.float32(s2)) / twice_max)
    mo, eo = quantize_multiplier(twice_max / float(np.float32(1 << left_shift) * np.float32(so)))
    lo, hi = calculate_activation_range(activation, qo.scale[0], zps[2])
    params = {"input1_offset": -zps[0], "input2_offset": -zps[1], "output_offset": zps[2],
              "input1_multiplier": m1, "input1_shift": e1, "input2_multiplier": m2, "input2_shift": e2,
              "output_multiplier": mo, "output_shift": eo, "left_shift": left_shift, "act_min": lo, "act_max": hi}
    return _finish({"kind": "add", "dtype": "s8", "kernel": "ek_add_s8", "n": n, "params": params,
                    "arrays": {"a": _arr("int8_t", a), "b": _arr("int8_t", b)}, "expect": expect, "macs": n,
                    "label": label})


def softmax_case(rng: np.random.Generator, *, dtype: str = "s8", rows: int = 2, row_size: int = 12,
                 beta: float = 1.0, label: str = "") -> dict:
    base = {"kind": "softmax", "dtype": dtype, "kernel": f"ek_softmax_{dtype}", "rows": rows, "row_size": row_size,
            "macs": rows * row_size, "label": label}
    node = Node("softmax", "s", ["x"], ["y"], {"axis": -1, "beta": beta})
    if dtype == "f32":
        xf = rng.normal(0, 3, (rows, row_size)).astype(np.float32)
        return _finish({**base, "params": {}, "arrays": {"in": _arr("float", xf)},
                        "expect": fref._KERNELS.get("softmax")(node, [xf])})
    s_in = float(np.float32(rng.uniform(0.02, 0.3)))
    q_in, q_out = _qp(s_in, int(rng.integers(-128, 128))), _qp(1 / 256, -128)
    x = rng.integers(-128, 128, (rows, row_size)).astype(np.int8)
    mult, left_shift, diff_min = softmax_params(beta, float(np.float32(s_in)))
    return _finish({**base, "params": {"input_multiplier": mult, "input_left_shift": left_shift, "diff_min": diff_min},
                    "arrays": {"in": _arr("int8_t", x)},
                    "expect": iref._KERNELS.get("softmax")(node, [x], [q_in], q_out)})


def _finish(case: dict) -> dict:
    case["expect"] = np.ascontiguousarray(case["expect"])
    case["out_bytes"] = int(case["expect"].nbytes)
    return case


def decode(case: dict, raw: bytes) -> np.ndarray:
    """The kernel's output bytes as the golden output's dtype and shape."""
    dt = np.dtype(np.float32) if case["dtype"] == "f32" else np.dtype(np.int8)
    return np.frombuffer(raw, dtype=dt).reshape(case["expect"].shape)


def ds_cnn_layers(rng: np.random.Generator, dtype: str = "s8") -> list[dict]:
    """The KWS DS-CNN layer shapes (MLPerf Tiny): 49x10x1 -> conv 10x4 stride 2 -> 25x5x64,
    4 x (dw 3x3 + pw 1x1 64->64), avgpool 25x5, fc 64->12, softmax; relu after each conv."""
    conv_kw = {"dtype": dtype, "activation": "relu"}
    layers = [conv_case(rng, in_hw=(49, 10), in_c=1, out_c=64, k=(10, 4), stride=(2, 2), pads=(4, 1, 5, 1),
                        label="conv1 10x4 s2 1->64", **conv_kw)]
    for i in range(4):
        layers.append(conv_case(rng, depthwise=True, in_hw=(25, 5), in_c=64, k=(3, 3), pads=(1, 1, 1, 1),
                                label=f"dw{i + 1} 3x3 64", **conv_kw))
        layers.append(conv_case(rng, in_hw=(25, 5), in_c=64, out_c=64, k=(1, 1), pads=(0, 0, 0, 0),
                                label=f"pw{i + 1} 1x1 64->64", **conv_kw))
    layers.append(pool_case(rng, dtype="f32" if dtype == "f32" else "s8", in_hw=(25, 5), channels=64, k=(25, 5),
                            stride=(25, 5), label="avgpool 25x5"))
    layers.append(fc_case(rng, dtype=dtype, in_features=64, out_features=12, label="fc 64->12"))
    layers.append(softmax_case(rng, dtype="f32" if dtype == "f32" else "s8", rows=1, row_size=12, label="softmax 12"))
    return layers
