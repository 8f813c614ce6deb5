"""Keyword-spotting figures: the DS-CNN (float ONNX, official int8 TFLite) and our small model on
held-out espeak-ng clips.

    python benchmarks/nn_kws.py --json build/bench/nn_kws.json [--limit N] [--mfcc-targets cortex-m4,gap8]
                                [--device-targets cortex-m4,gap8] [--device-clips 8]
                                [--net-targets cortex-m4,gap8:8] [--net-clips 4] [--float-targets cortex-m4]
                                [--calib-clips 256] [--markdown table.md]

The issue's DS-CNN figure table (W8A8, W4A8 from edgekiln.quantize_network calibrated on the
`train` split, official-int8; per `--net-targets` target[:cores]) comes from
benchmarks/nn_kws_nets.py: agreement and logit SQNR on every eval clip by the golden model,
bit_exact / instructions / MACs per instruction / peak RAM / flash (constants, and code +
constants) on QEMU over `--net-clips` clips; printed as a markdown table, the best of each
target's rows in bold.

Clips: `edgekiln.audio.build_set("eval")` (288 clips: 240 words, 24 unknown, 24 silence;
voices and speeds the training split never uses), featurised by the numpy MFCC golden model
(quantize/nn/mfcc.py, the README table). Rows (issue 11): `model`, `target`, `config` (`float`,
`W8A8`, `W4A8`, `official-int8`), `agreement` (top-1 vs the float model on the same clips),
`logit_sqnr_db` (softmax inputs vs float's, over all clips), `bit_exact` (device == golden; for
`official-int8`, edgekiln's int8 golden model == LiteRT BUILTIN_REF), `macs_per_instruction`,
`peak_ram_bytes`, `flash_bytes`, `instructions_per_inference` (device rows), plus `accuracy` (top-1 vs the spoken label) and `clips`. Float runs on
onnxruntime (optimisations off), int8 on LiteRT's reference kernels (`BUILTIN_REF`).
MFCC rows (`--mfcc-targets`): the C front end (ek_mfcc_s32 everywhere, ek_mfcc_f32 where the
target has an FPU and RAM for a float clip) on two eval clips in the firmware of
benchmarks/mfcc_firmware.py: instructions per clip (QEMU plugin, mean), `bit_exact` (s32 vs
its golden model), `mfcc_max_abs_error` (vs the float64 numpy MFCC).
Device rows (`--device-targets`): audio to label in one firmware (an `mfcc` node in front of the
network, edgekiln.audio.graph.with_mfcc; `edgekiln.convert(...).run`): the official int8 DS-CNN
from int16 audio (ek_mfcc_s8 + the int8 kernels) and our float model from float audio, on the
first `--device-clips` eval clips: `bit_exact` (device output == golden model on every clip;
for float: max abs difference <= 1e-5), `instructions_per_inference` (median, QEMU plugin),
`flash_bytes` (the model's objects in the link map: tables, weights, kernels), `peak_ram_bytes`
(the planned arena, the 1 s audio input included, + the measured stack; `arena_region` says
where the arena went).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models" / "kws_dscnn"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/models/kws_dscnn")
DEVICE_FIELDS = ("bit_exact", "macs_per_instruction", "peak_ram_bytes", "flash_bytes", "instructions_per_inference")


def eval_features(limit: int | None = None):
    """(features [n, 49, 10, 1] float32, labels [n], the set) of the held-out espeak clips."""
    from edgekiln.audio import build_set
    from edgekiln.audio.features import KWS_MFCC
    from edgekiln.quantize.nn.mfcc import mfcc

    s = build_set("eval")
    if limit:
        s = s.select(np.arange(len(s)) < limit)
    return mfcc(s.float_audio(), KWS_MFCC)[..., None].astype(np.float32), s.labels, s


def sqnr_db(ref: np.ndarray, test: np.ndarray) -> float:
    noise = float(np.sum((ref.astype(np.float64) - test) ** 2))
    return float("inf") if noise == 0 else 10.0 * np.log10(float(np.sum(ref.astype(np.float64) ** 2)) / noise)


def onnx_logits(path: Path, feats: np.ndarray, logits_name: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, softmax inputs) of a float ONNX model, clip by clip (batch 1)."""
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(path))
    if logits_name is None:
        logits_name = next(n.input[0] for n in m.graph.node if n.op_type == "Softmax")
    m.graph.output.append(onnx.helper.make_empty_tensor_value_info(logits_name))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0].name
    probs, logits = zip(*(sess.run(None, {inp: x[None]}) for x in feats))
    return np.concatenate(probs), np.concatenate(logits).reshape(len(feats), -1)


def official_int8(path: Path, feats: np.ndarray, q_inputs: np.ndarray | None = None) -> dict:
    """LiteRT BUILTIN_REF on the quantized features (or on `q_inputs`, int8 features as the
    integer MFCC writes them): probabilities, dequantized softmax inputs, and whether
    edgekiln's int8 golden model gives the same int8 output on every clip."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from edgekiln.frontends.tflite import from_tflite
    from edgekiln.quantize.nn import int8_reference
    from edgekiln.quantize.nn.mfcc import quantize_features

    it = Interpreter(str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    g = from_tflite(path, "kws")
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    soft = next(n for n in g.nodes if n.op == "softmax")
    li = g.value(soft.inputs[0])
    li_index = g.meta["tensor_index"][li.name]
    (s_in,), (z_in,) = inp["quantization_parameters"]["scales"], inp["quantization_parameters"]["zero_points"]
    (s_out,), (z_out,) = out["quantization_parameters"]["scales"], out["quantization_parameters"]["zero_points"]
    probs, logits, exact = [], [], 0
    for i, x in enumerate(feats):
        q = (quantize_features(x, float(s_in), int(z_in)) if q_inputs is None else q_inputs[i])[None]
        it.set_tensor(inp["index"], q)
        it.invoke()
        y = it.get_tensor(out["index"]).copy()
        probs.append((y.astype(np.float64) - z_out) * s_out)
        logits.append((it.get_tensor(li_index).astype(np.float64) - li.quant.zero_point[0]) * li.quant.scale[0])
        exact += np.array_equal(int8_reference.run(g, {g.inputs[0].name: q})[g.outputs[0].name], y)
    return {"probs": np.concatenate(probs), "logits": np.concatenate(logits).reshape(len(feats), -1),
            "bit_exact": exact == len(feats)}


def row(model, target, config, top1, ref_top1, labels, logits=None, ref_logits=None, **extra) -> dict:
    r = {"model": model, "target": target, "config": config,
         "agreement": float(np.mean(top1 == ref_top1)), "accuracy": float(np.mean(top1 == labels)),
         "logit_sqnr_db": None if logits is None else round(sqnr_db(ref_logits, logits), 2),
         "clips": int(len(labels))}
    r.update({k: None for k in DEVICE_FIELDS})
    r.update(extra)
    return r


def measure(limit: int | None = None, ctx: dict | None = None) -> list[dict]:
    """Host rows; `ctx` (a dict) receives the features, labels and the float model's top-1 and
    logits, and whether the official int8's golden model equals LiteRT on every clip."""
    from edgekiln.audio.features import KWS_MFCC

    feats, labels, clips = eval_features(limit)
    ctx = {} if ctx is None else ctx
    ctx.update(feats=feats, labels=labels)
    rows = []
    onnx_path, tfl_path = SHARED / "kws_dscnn_f32.onnx", SHARED / "kws_ref_int8.tflite"
    if onnx_path.is_file():
        probs, logits = onnx_logits(onnx_path, feats, None)
        ref = probs.argmax(1)
        ctx.update(ref_top1=ref, ref_logits=logits)
        rows.append(row("kws_dscnn", "host (onnxruntime)", "float", ref, ref, labels))
        if tfl_path.is_file():
            q = official_int8(tfl_path, feats)
            ctx["official_golden_equals_litert"] = q["bit_exact"]
            rows.append(row("kws_dscnn", "host (LiteRT BUILTIN_REF)", "official-int8", q["probs"].argmax(1), ref,
                            labels, q["logits"], logits, bit_exact=q["bit_exact"]))
        # the soft-float path: integer MFCC (ek_mfcc_s32's golden model) -> Q16 -> int8 input
        from edgekiln.quantize.nn.mfcc_fixed import mfcc_s32, q16_to_float, q16_to_s8

        q16 = np.stack([mfcc_s32(a, KWS_MFCC) for a in clips.audio])[..., None]
        ifeats = q16_to_float(q16)
        ip, il = onnx_logits(onnx_path, ifeats, None)
        rows.append(row("kws_dscnn", "host (onnxruntime), integer MFCC", "float", ip.argmax(1), ref, labels,
                        il, logits, mfcc_max_abs_error=float(np.abs(ifeats - feats).max())))
        if tfl_path.is_file():
            qi = official_int8(tfl_path, feats, q16_to_s8(q16, 0.5847029089927673, 83))
            rows.append(row("kws_dscnn", "host (LiteRT BUILTIN_REF), integer MFCC", "official-int8",
                            qi["probs"].argmax(1), ref, labels, qi["logits"], logits, bit_exact=qi["bit_exact"]))
    small = ROOT / "sdk" / "audio" / "models" / "kws_small.onnx"
    if small.is_file():
        probs, logits = onnx_logits(small, feats, None)
        top = probs.argmax(1)
        rows.append(row("kws_small (ours)", "host (onnxruntime)", "float", top, top, labels))
    return rows


def mfcc_rows(targets: list[str], limit: int | None = None) -> list[dict]:
    import tempfile

    from edgekiln.audio import build_set
    from edgekiln.audio.features import KWS_MFCC
    from edgekiln.quantize.nn.mfcc import mfcc
    from edgekiln.quantize.nn.mfcc_fixed import mfcc_s32, q16_to_float
    from edgekiln.targets import get_target

    sys.path.insert(0, str(ROOT))
    from benchmarks.mfcc_firmware import build, run

    s = build_set("eval")
    clips = s.audio[[0, 100]]
    rows = []
    for name in targets:
        t = get_target(name)
        ram = max((m.length for m in t.memory if m.kind == "ram"), default=0)
        f32 = not t.fpu.startswith("none") and ram >= 128 * 1024
        with tempfile.TemporaryDirectory(prefix="ek-mfcc-") as tmp:
            r = run(name, build(name, clips, Path(tmp) / "fw", run_f32=f32))
        counts = r.get("instructions") or []
        per = {"s32": counts[0::2] if f32 else counts, "f32": counts[1::2] if f32 else []}
        for kind in ("s32", "f32") if f32 else ("s32",):
            got = [r[kind][i][1] for i in range(len(clips))]
            if kind == "s32":
                exact = all(np.array_equal(g, mfcc_s32(c, KWS_MFCC)) for g, c in zip(got, clips))
                err = max(float(np.abs(q16_to_float(g) - mfcc(c.astype(np.float32) / 32768, KWS_MFCC)).max())
                          for g, c in zip(got, clips))
            else:
                exact = None
                err = max(float(np.abs(g - mfcc(c.astype(np.float32) / 32768, KWS_MFCC)).max()) for g, c in zip(got, clips))
            ins = int(np.mean(per[kind])) if per[kind] else None
            rows.append({"model": f"mfcc (ek_mfcc_{kind})", "target": name, "config": kind, "agreement": None,
                         "accuracy": None, "logit_sqnr_db": None, "clips": len(clips),
                         **{k: None for k in DEVICE_FIELDS}, "bit_exact": exact, "instructions_per_inference": ins,
                         "mfcc_max_abs_error": err})
    return rows


def device_rows(targets: list[str], n_clips: int) -> list[dict]:
    import edgekiln
    from edgekiln.audio import build_set
    from edgekiln.audio.graph import with_mfcc
    from edgekiln.frontends.onnx import from_onnx
    from edgekiln.frontends.tflite import from_tflite
    from edgekiln import nn_run
    from edgekiln.quantize.nn import float_reference, int8_reference

    s = build_set("eval")
    idx = np.linspace(0, len(s) - 1, n_clips).astype(int)  # words, unknown and silence clips
    models = []
    if (SHARED / "kws_ref_int8.tflite").is_file():
        models.append(("kws_dscnn", "official-int8", with_mfcc(from_tflite(SHARED / "kws_ref_int8.tflite", "kws"))))
    small = ROOT / "sdk" / "audio" / "models" / "kws_small.onnx"
    models.append(("kws_small (ours)", "float", with_mfcc(from_onnx(small, "kws_small"))))
    rows = []
    for model, config, g in models:
        out = g.outputs[0].name
        if config == "float":
            gold = np.concatenate([float_reference.run(g, {"audio": a[None]})[out] for a in s.float_audio()[idx]])
        else:
            gold = np.concatenate([int8_reference.run(g, {"audio": a[None]})[out] for a in s.audio[idx]])
        for name in targets:
            m = edgekiln.convert(g, target=name, name=model.split()[0])
            r = m.run(s.float_audio()[idx])
            raw = np.asarray(r.extra["outputs_raw"]).reshape(gold.shape)
            exact = bool(np.array_equal(raw, gold)) if config != "float" else bool(np.abs(raw - gold).max() <= 1e-5)
            b = m.build
            plan = nn_run.project_plan(m.project)
            rows.append({"model": model, "target": name, "config": f"{config} (audio -> label)",
                         "agreement": None, "accuracy": float(np.mean(raw.argmax(1) == s.labels[idx])),
                         "logit_sqnr_db": None, "clips": int(len(idx)), "bit_exact": exact,
                         "macs_per_instruction": None,
                         "peak_ram_bytes": int(plan["arena_bytes"] + (r.stack_bytes or 0)),
                         "arena_region": plan.get("arena_region"),
                         "flash_bytes": int(b.model_flash_bytes) if b else None,
                         "instructions_per_inference": int(np.median(r.instructions)) if r.instructions else None})
            m.close()
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--limit", type=int, default=None, help="first N clips only (a quick run)")
    ap.add_argument("--mfcc-targets", default="cortex-m4,gap8",
                    help="targets for the C MFCC rows (comma separated; empty: none)")
    ap.add_argument("--device-targets", default="cortex-m4,gap8",
                    help="targets for the audio-to-label firmware rows (comma separated; empty: none)")
    ap.add_argument("--device-clips", type=int, default=8, help="eval clips per device row")
    ap.add_argument("--net-targets", default="cortex-m4,gap8:8",
                    help="targets[:cores] for the DS-CNN figure rows (W8A8, W4A8, official-int8) on the device "
                         "(comma separated; empty: golden model rows only)")
    ap.add_argument("--net-clips", type=int, default=4, help="eval clips each DS-CNN device row runs on QEMU")
    ap.add_argument("--float-targets", default="",
                    help="targets for a float DS-CNN device row (f32 kernels; e.g. cortex-m4)")
    ap.add_argument("--calib-clips", type=int, default=256, help="train clips calibrating W8A8/W4A8")
    ap.add_argument("--markdown", type=Path, help="also write the DS-CNN figure table (markdown) here")
    ap.add_argument("--methods", default="rtn,adaround",
                    help="weight methods for W8A8/W4A8 (those not registered here are skipped)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from benchmarks.nn_kws_nets import markdown, network_rows, parse_targets

    ctx: dict = {}
    rows = measure(args.limit, ctx)
    net = []
    if "ref_top1" in ctx:
        net = network_rows(SHARED, ctx["feats"], ctx["labels"], ctx["ref_top1"], ctx["ref_logits"],
                           parse_targets(args.net_targets), args.net_clips, args.calib_clips,
                           ctx.get("official_golden_equals_litert"), [t for t in args.float_targets.split(",") if t],
                           tuple(m for m in args.methods.split(",") if m))
    rows += mfcc_rows([t for t in args.mfcc_targets.split(",") if t])
    rows += device_rows([t for t in args.device_targets.split(",") if t], args.device_clips)
    if not rows:
        print(f"error: no model to measure ({SHARED} absent and no kws_small.onnx)", file=sys.stderr)
        return 2
    for r in rows:
        if r["config"].endswith("(audio -> label)"):
            print(f"{r['model']:18s} {r['config']:30s} {r['target']:10s} bit_exact {r['bit_exact']} instructions "
                  f"{r['instructions_per_inference']} flash {r['flash_bytes']} B peak RAM {r['peak_ram_bytes']} B "
                  f"accuracy {r['accuracy']:.3f} ({r['clips']} clips)")
            continue
        if r["agreement"] is None:
            print(f"{r['model']:18s} {r['config']:14s} {r['target']:36s} instructions/clip "
                  f"{r['instructions_per_inference']} bit_exact {r['bit_exact']} max abs error "
                  f"{r['mfcc_max_abs_error']:.2e} ({r['clips']} clips)")
            continue
        sq = "-" if r["logit_sqnr_db"] is None else f"{r['logit_sqnr_db']:.2f} dB"
        print(f"{r['model']:18s} {r['config']:14s} {r['target']:36s} agreement {r['agreement']:.3f} "
              f"accuracy {r['accuracy']:.3f} logit SQNR {sq} bit_exact {r['bit_exact']} ({r['clips']} clips)")
    if net:
        table = markdown(net)
        print("\nDS-CNN figure rows (best of each target's group in bold):\n" + table)
        if args.markdown:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text(table + "\n")
    rows += net
    if args.json:
        from edgekiln.audio.espeak import espeak_version

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"command": " ".join(["python benchmarks/nn_kws.py", *(argv or sys.argv[1:])]),
                                         "espeak": espeak_version(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
