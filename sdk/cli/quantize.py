"""`kiln quantize`: post-training quantization of a float ONNX network into a QDQ ONNX
(int8 activations, int8 or int4 weights) and a report of what each layer lost."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from ..errors import InputError
from ._app import main
from ._console import console, echo
from ._options import input_shape_option, json_option


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--calib", required=True, type=click.Path(dir_okay=False),
              help=".npy of float inputs in the model's input shape with a leading sample axis")
@click.option("--wbits", type=click.Choice(["8", "4"]), default="8", show_default=True, help="weight bits")
@click.option("--abits", type=click.Choice(["8"]), default="8", show_default=True, help="activation bits")
@click.option("--method", default="rtn", show_default=True, help="weight method: rtn, rtn-mse, adaround (calibration-based rounding)")
@click.option("--granularity", type=click.Choice(["per-channel", "per-tensor"]), default="per-channel",
              show_default=True, help="weight scales per output channel or per tensor")
@click.option("--observer", type=click.Choice(["minmax", "percentile", "mse"]), default="minmax", show_default=True,
              help="how activation ranges are chosen from the calibration set")
@click.option("--percentile", type=click.FloatRange(50, 100, min_open=True), default=99.99, show_default=True,
              help="with --observer percentile")
@click.option("--int4", "int4", type=click.Choice(["onnx", "int8"]), default="onnx", show_default=True,
              help="4-bit weights as INT4 initializers (opset 21) or as int8 initializers holding int4 values")
@click.option("--eval", "eval_path", type=click.Path(dir_okay=False),
              help=".npy of held-out float inputs the report measures on (default: the calibration set)")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="the QDQ .onnx to write")
@json_option("the report as JSON (default: OUTPUT with .report.json)")
@input_shape_option
def quantize(model: str, calib: str, wbits: str, abits: str, method: str, granularity: str, observer: str,
             percentile: float, int4: str, eval_path: str | None, output: str, json_path: str | None,
             input_shapes: tuple[str, ...]) -> None:
    """Quantize the float ONNX MODEL with the calibration inputs CALIB into a QDQ ONNX."""
    from ..api import quantize_network

    if not model.lower().endswith(".onnx"):
        raise InputError(f"{model}: kiln quantize takes a float .onnx model")
    from ..frontends.onnx import parse_input_shapes

    shapes = parse_input_shapes(input_shapes)
    x = _npy("--calib", calib)
    held_out = _npy("--eval", eval_path) if eval_path else None
    r = quantize_network(model, x, wbits=int(wbits), abits=int(abits), method=method, granularity=granularity,
                         observer=observer, percentile=percentile, output=output, int4=int4, evaluate=held_out,
                         input_shapes=shapes)
    rep = r["report"]
    t = Table(title=f"{Path(model).name} -> {output}: {rep['config']} {rep['method']} {rep['granularity']}, "
                    f"{rep['observer']} observer, {len(x)} calibration samples")
    for c in ("layer", "op", "wbits", "abits", "w scale", "out scale / zp", "SQNR dB"):
        t.add_column(c, justify="left" if c in ("layer", "op") else "right")
    for row in rep["layers"]:
        ws = f"{row['w_scale_min']:.3g}..{row['w_scale_max']:.3g}" if "wbits" in row else "-"
        t.add_row(row["name"], row["op"], str(row.get("wbits", "-")), str(row["abits"]), ws,
                  f"{row['out_scale']:.4g} / {row['out_zero_point']}", f"{row['sqnr_db']:.1f}")
    console.print(t)
    where = "the --eval set" if eval_path else "the calibration set"
    echo(f"top-1 agreement with float on {where} ({rep['samples']} samples): {rep['agreement']:.3f}; "
         f"logit SQNR {rep['logit_sqnr_db']:.1f} dB ({rep['logits']})")
    for n in r["notes"]:
        echo(f"note: {n}", err=True)
    report_path = Path(json_path) if json_path else Path(output).with_suffix(".report.json")
    report_path.write_text(json.dumps(rep, indent=1))
    echo(f"wrote {output} and {report_path}")


def _npy(option: str, path: str):
    import numpy as np

    p = Path(path)
    if p.suffix != ".npy" or not p.is_file():
        raise InputError(f"{option} {path}: give an existing .npy file (numpy.save) of float inputs")
    try:
        return np.load(p, allow_pickle=False)
    except ValueError as e:
        raise InputError(f"{option} {path}: not a readable .npy array ({e})") from None
