"""Train edgekiln's own small KWS model on the espeak training split (seeded), export it to ONNX.

    .venv/bin/python scripts/train_kws_small.py   # writes sdk/audio/models/kws_small.onnx and .json

Needs the optional `train` extra (torch) and `nn` (onnx, onnxruntime); nothing at run time
imports this script (it is no module of the package). The network is a DS-CNN in miniature on the same 49x10 MFCC input
([1, 49, 10, 1], NHWC, the README front end): conv 10x4 stride 2 (no padding) -> 2 x
(depthwise 3x3 + pointwise 1x1), each with ReLU -> global average pool -> fully connected ->
softmax, 12 labels in the DS-CNN's order. BatchNorm is used while training and folded into the
convolutions, and the input standardisation into the first (unpadded) convolution, so the
ONNX file (written with onnx.helper, opset 13) holds only Reshape, Conv, Relu, AveragePool,
Gemm and Softmax. Augmentation (seeded): a time shift of up to +-0.1 s and, for half the
clips, white noise at 10..40 dB SNR. The held-out accuracy goes into the JSON beside the model."""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from edgekiln.audio.dataset import LABELS, build_set
from edgekiln.audio.features import KWS_MFCC
from edgekiln.quantize.nn.mfcc import mfcc

ROOT = Path(__file__).resolve().parents[1]

SEED = 0
CHANNELS = (24, 32, 32)
EPOCHS = 40


def features(audio_f32: np.ndarray) -> np.ndarray:
    return mfcc(audio_f32, KWS_MFCC)[..., None].astype(np.float32)


def augment(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros_like(audio)
    n = audio.shape[1]
    for i, a in enumerate(audio):
        s = int(rng.integers(-1600, 1601))
        if s >= 0:
            out[i, s:] = a[:n - s]
        else:
            out[i, :n + s] = a[-s:]
        if rng.random() < 0.5:
            p = float(np.mean(out[i] ** 2)) or 1e-8
            snr = rng.uniform(10.0, 40.0)
            out[i] += rng.standard_normal(n).astype(np.float32) * np.float32(np.sqrt(p / 10 ** (snr / 10)))
    return out


def _net(torch):
    nn = torch.nn
    c0, c1, c2 = CHANNELS

    def block(cin, cout, k, stride=1, pad=0, groups=1):
        return [nn.Conv2d(cin, cout, k, stride, pad, groups=groups), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(*block(1, c0, (10, 4), 2), *block(c0, c0, 3, pad=1, groups=c0), *block(c0, c1, 1),
                         *block(c1, c1, 3, pad=1, groups=c1), *block(c1, c2, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c2, len(LABELS)))


def fold(net, mu: float, sd: float) -> list[dict]:
    """Conv layers with BatchNorm folded (and the input standardisation in the first) + the FC."""
    import torch

    mods = list(net)
    layers = []
    for i, m in enumerate(mods):
        if isinstance(m, torch.nn.Conv2d):
            bn = mods[i + 1]
            g = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double()
            w = m.weight.detach().double() * g[:, None, None, None]
            b = (m.bias.detach().double() - bn.running_mean.double()) * g + bn.bias.detach().double()
            if not layers:  # conv(x' = (x - mu)/sd), no padding: exact
                b = b - (mu / sd) * w.sum(dim=(1, 2, 3))
                w = w / sd
            layers.append({"w": w.numpy().astype(np.float32), "b": b.numpy().astype(np.float32),
                           "stride": list(m.stride), "pad": [m.padding[0], m.padding[1]] * 2, "group": m.groups})
    fc = mods[-1]
    layers.append({"w": fc.weight.detach().numpy().astype(np.float32), "b": fc.bias.detach().numpy().astype(np.float32)})
    return layers


def to_onnx(layers: list[dict], pool_hw: tuple[int, int]):
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], [numpy_helper.from_array(np.array([1, 1, 49, 10], np.int64), "to_nchw_shape"),
                        numpy_helper.from_array(np.array([1, CHANNELS[-1]], np.int64), "flat_shape")]
    nodes.append(helper.make_node("Reshape", ["input_1", "to_nchw_shape"], ["x0"], name="to_nchw"))
    x = "x0"
    for i, l in enumerate(layers[:-1]):
        inits += [numpy_helper.from_array(l["w"], f"conv{i}.weight"), numpy_helper.from_array(l["b"], f"conv{i}.bias")]
        nodes.append(helper.make_node("Conv", [x, f"conv{i}.weight", f"conv{i}.bias"], [f"c{i}"], name=f"conv{i}",
                                      kernel_shape=list(l["w"].shape[2:]), strides=l["stride"], pads=l["pad"],
                                      group=l["group"]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}"))
        x = f"r{i}"
    nodes.append(helper.make_node("AveragePool", [x, ], ["pooled"], name="avgpool", kernel_shape=list(pool_hw),
                                  strides=list(pool_hw)))
    nodes.append(helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"], name="flatten"))
    fc = layers[-1]
    inits += [numpy_helper.from_array(fc["w"], "fc.weight"), numpy_helper.from_array(fc["b"], "fc.bias")]
    nodes.append(helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1))
    g = helper.make_graph(nodes, "kws_small", [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, 49, 10, 1])],
                          [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, len(LABELS)])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgekiln.audio.train")
    m.ir_version = 7
    helper.set_model_props(m, {"labels": ",".join(LABELS), "source": "edgekiln.audio.train (espeak-ng train split)",
                               "license": "Apache-2.0"})
    return m


def train(out: Path, epochs: int = EPOCHS, seed: int = SEED) -> dict:
    import onnx
    import onnxruntime as ort
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    tr, ev = build_set("train"), build_set("eval")
    x_eval = features(ev.float_audio())
    base = features(tr.float_audio())
    mu, sd = float(base.mean()), float(base.std())
    y = torch.tensor(tr.labels)
    net = _net(torch)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loss_fn = torch.nn.CrossEntropyLoss()

    def prep(f):  # [n, 49, 10, 1] -> standardised NCHW
        return (torch.tensor(f).permute(0, 3, 1, 2) - mu) / sd

    for epoch in range(epochs):
        xa = prep(features(augment(tr.float_audio(), rng)))
        net.train()
        order = torch.tensor(rng.permutation(len(y)))
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(net(xa[idx]), y[idx])
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        torch_probs = torch.softmax(net(prep(x_eval)), dim=1).numpy()
    pool_hw = (20, 4)
    model = to_onnx(fold(net, mu, sd), pool_hw)
    onnx.checker.check_model(model, full_check=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = model.SerializeToString()
    out.write_bytes(data)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    probs = np.concatenate([sess.run(None, {"input_1": x[None]})[0] for x in x_eval])
    report = {"model": out.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "seed": seed,
              "epochs": epochs, "channels": list(CHANNELS), "train_clips": len(tr), "eval_clips": len(ev),
              "eval_accuracy": float(np.mean(probs.argmax(1) == ev.labels)),
              "eval_accuracy_words": float(np.mean((probs.argmax(1) == ev.labels)[ev.labels < 10])),
              "onnx_vs_torch_max_abs": float(np.abs(probs - torch_probs).max()),
              "parameters": int(sum(p.numel() for p in net.parameters())),
              "command": "python scripts/train_kws_small.py" + (f" --epochs {epochs}" if epochs != EPOCHS else "")}
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="train the small KWS model on espeak-ng clips")
    ap.add_argument("--out", type=Path, default=ROOT / "sdk" / "audio" / "models" / "kws_small.onnx")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args(argv)
    print(json.dumps(train(args.out, args.epochs), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
