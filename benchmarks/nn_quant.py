"""W8A8 / W4A8 post-training quantization of a float ONNX network (default: the shared
KWS DS-CNN): top-1 agreement of the int8 golden model with the float golden model and
logit SQNR, on a held-out set.

    python benchmarks/nn_quant.py --calib calib.npy --eval eval.npy --json r.json
    python benchmarks/nn_quant.py --espeak --json r.json   # edgekiln.audio's espeak sets

--espeak calibrates on 256 clips of the `train` split (seeded choice) and evaluates on the
held-out `eval` split (288 clips, other voices and speeds), both through the numpy MFCC.

--calib / --eval are .npy float inputs (n, *input shape). Without them the 20 samples of
../shared/models/kws_dscnn/kws_samples.npz serve as both (an in-sample figure, so say so).
Rows: model, config (W8A8, W4A8; `official-int8` for the shared int8 TFLite beside the KWS
model, run by its golden model, which is bit-exact with LiteRT), method, granularity,
observer, agreement, logit_sqnr_db, clips, calibration_samples, seconds."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models" / "kws_dscnn"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/models/kws_dscnn")
CONFIGS = [(8, "rtn", "per-channel", "minmax"), (8, "rtn", "per-channel", "percentile"), (8, "rtn", "per-tensor", "minmax"),
           (4, "rtn", "per-channel", "minmax"), (4, "rtn", "per-channel", "percentile"), (4, "rtn-mse", "per-channel", "minmax"),
           (8, "adaround", "per-channel", "minmax"), (8, "adaround", "per-channel", "percentile"),
           (4, "adaround", "per-channel", "minmax"), (4, "adaround", "per-channel", "percentile"),
           (4, "adaround", "per-channel", "mse")]


def measure(model: Path, calib: np.ndarray, evals: np.ndarray, configs=CONFIGS) -> list[dict]:
    import edgekiln

    rows = []
    for wbits, method, granularity, observer in configs:
        t = time.perf_counter()
        rep = edgekiln.quantize_network(str(model), calib, wbits=wbits, method=method, granularity=granularity,
                                        observer=observer, evaluate=evals)["report"]
        rows.append({"model": model.stem, "config": rep["config"], "method": method, "granularity": granularity,
                     "observer": observer, "agreement": round(rep["agreement"], 4),
                     "logit_sqnr_db": round(rep["logit_sqnr_db"], 2), "clips": int(len(evals)),
                     "calibration_samples": int(len(calib)), "seconds": round(time.perf_counter() - t, 1)})
    return rows


def official_int8(model: Path, tflite: Path, evals: np.ndarray) -> dict:
    """The official int8 TFLite (its golden model, bit-exact with LiteRT) on the same inputs."""
    from edgekiln.frontends.onnx import from_onnx
    from edgekiln.frontends.tflite import from_tflite
    from edgekiln.quantize.nn import float_reference, int8_reference
    from edgekiln.quantize.nn.quantizer import dequantize, quantize_input
    from edgekiln.quantize.nn.qreport import logits_name, sqnr_db

    fg, tg = from_onnx(model), from_tflite(tflite)
    f_logits, t_logits = logits_name(fg), logits_name(tg)
    agree, signal, noise = 0, 0.0, 0.0
    for x in evals:
        f = float_reference.run(fg, {fg.inputs[0].name: x.reshape(fg.inputs[0].dims)}, keep_all=True)[f_logits].astype(np.float64)
        r = int8_reference.run(tg, {tg.inputs[0].name: quantize_input(x.reshape(tg.inputs[0].dims), tg.inputs[0].quant)},
                               keep_all=True)
        t = dequantize(r[t_logits], tg.value(t_logits).quant).astype(np.float64)
        agree += int(f.argmax() == t.argmax())
        signal, noise = signal + float((f ** 2).sum()), noise + float(((f - t) ** 2).sum())
    return {"model": model.stem, "config": "official-int8", "method": "-", "granularity": "per-channel",
            "observer": "-", "agreement": round(agree / len(evals), 4), "logit_sqnr_db": round(sqnr_db(signal, noise), 2),
            "clips": int(len(evals)), "calibration_samples": None, "seconds": None}


def espeak_sets(n_calib: int = 256) -> tuple[np.ndarray, np.ndarray]:
    from edgekiln.audio import build_set
    from edgekiln.audio.features import KWS_MFCC
    from edgekiln.quantize.nn.mfcc import mfcc

    train, held_out = build_set("train"), build_set("eval")
    pick = np.random.default_rng(0).choice(len(train), min(n_calib, len(train)), replace=False)
    train = train.select(np.isin(np.arange(len(train)), pick))
    return tuple(mfcc(s.float_audio(), KWS_MFCC)[..., None].astype(np.float32) for s in (train, held_out))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=SHARED / "kws_dscnn_f32.onnx")
    ap.add_argument("--calib", type=Path)
    ap.add_argument("--eval", type=Path)
    ap.add_argument("--espeak", action="store_true", help="calibrate and evaluate on edgekiln.audio's espeak sets")
    ap.add_argument("--method", action="append", help="only the rows of this weight method (repeatable; default all)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if not a.model.is_file():
        print(f"error: {a.model} is absent (the shared KWS folder holds it)", file=sys.stderr)
        return 2
    if a.espeak:
        try:
            calib, evals = espeak_sets()
        except ImportError as e:
            print(f"error: --espeak needs edgekiln.audio (the audio branch): {e}", file=sys.stderr)
            return 2
    elif a.calib is None or a.eval is None:
        x = np.load(SHARED / "kws_samples.npz")["x"]
        calib, evals = x, x
        print("note: no --calib/--eval: the 20 kws_samples serve as both (in-sample)", file=sys.stderr)
    else:
        calib, evals = np.load(a.calib), np.load(a.eval)
    configs = [c for c in CONFIGS if not a.method or c[1] in a.method]
    rows = measure(a.model, calib, evals, configs)
    tflite = a.model.parent / "kws_ref_int8.tflite"
    if a.model.name == "kws_dscnn_f32.onnx" and tflite.is_file():
        rows.append(official_int8(a.model, tflite, evals))
    for r in rows:
        print(f"{r['config']:13} {r['method']:9} {r['granularity']:12} {r['observer']:10} agreement {r['agreement']:.4f}  "
              f"logit SQNR {r['logit_sqnr_db']:.2f} dB  ({r['clips']} clips, {r['calibration_samples']} calibration)")
    if a.json:
        a.json.write_text(json.dumps({"rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
