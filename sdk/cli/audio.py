"""`kiln audio`: keyword-spotting audio from the command line (docs/networks.md, "Audio").

    kiln audio clips --split eval -o clips.npy --labels labels.npy   # espeak-ng clips, float32 [n, 16000]
    kiln audio wav a.wav b.wav -o clips.npy                          # your recordings, fitted to 1 s at 16 kHz
    kiln audio export kws_ref_int8.tflite -t gap8 -o out/           # an mfcc node in front of the network
    kiln build out/ && kiln run out/ --data clips.npy --json r.json
"""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ..errors import InputError
from ._app import main
from ._console import console, echo
from ._inputs import load_model_file
from ._options import sim_option, target_option


@main.group()
def audio() -> None:
    """Keyword clips (espeak-ng) and networks that start at the microphone (MFCC front end)."""


def _npy_out(path: str) -> Path:
    p = Path(path)
    if p.suffix != ".npy":
        raise InputError(f"{p}: write the clips to a .npy file")
    if not p.parent.is_dir():
        raise InputError(f"{p.parent} is not a folder")
    return p


@audio.command()
@click.option("--split", type=click.Choice(["train", "eval"]), default="eval", show_default=True,
              help="train (training/calibration) or eval (held out: other voices and speeds)")
@click.option("--output", "-o", required=True, help="float32 clips [n, 16000] (.npy), the input `kiln run --data` takes")
@click.option("--labels", "labels_path", default=None, help="label indices [n] (.npy) for `kiln run --labels`")
@click.option("--limit", type=int, default=None, help="the first N clips only")
def clips(split: str, output: str, labels_path: str | None, limit: int | None) -> None:
    """Write a keyword set spoken by espeak-ng (generated once, then cached)."""
    from ..audio import LABELS, build_set

    out = _npy_out(output)
    lab = _npy_out(labels_path) if labels_path else None
    if limit is not None and limit <= 0:
        raise InputError("--limit must be a positive number of clips")
    s = build_set(split)
    x, y = s.float_audio(), s.labels
    if limit:
        x, y = x[:limit], y[:limit]
    np.save(out, x)
    if lab is not None:
        np.save(lab, y)
    console.print(f"wrote {len(x)} clips of 16,000 samples to {out}" + (f", labels to {lab}" if lab else "")
                  + f" (labels: {', '.join(LABELS)})", highlight=False)


@audio.command("wav")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--output", "-o", required=True, help="float32 clips [n, 16000] (.npy), the input `kiln run --data` takes")
@click.option("--no-resample", is_flag=True, help="refuse a file that is not 16 kHz instead of resampling it")
def wav(files: tuple[str, ...], output: str, no_resample: bool) -> None:
    """Fit WAV recordings to the model's window: mono, 16 kHz (resampled with a notice), 1 s
    (a shorter one zero-padded at the end with a notice; a longer one, NaN or stereo refused)."""
    import warnings

    from ..audio.clips import AudioNotice, fit_clip, read_wav

    out = _npy_out(output)
    rows = []
    for f in files:
        x, rate = read_wav(f)
        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always", AudioNotice)
            try:
                rows.append(fit_clip(x, rate, resample_ok=not no_resample))
            except InputError as e:
                raise InputError(f"{f}: {e}") from None
        for n in notes:
            echo(f"notice: {f}: {n.message}", err=True)
    np.save(out, np.stack(rows))
    console.print(f"wrote {len(rows)} clips of 16,000 samples to {out}", highlight=False)


@audio.command("export")
@click.argument("model", type=click.Path(dir_okay=False))
@target_option()
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="project folder to write")
@click.option("--name", default="model", show_default=True, help="C prefix of the model's symbols")
@click.option("--force", is_flag=True, help="export into a folder holding files edgekiln did not write (as kiln export)")
@sim_option()
def export_audio(model: str, target: str, output: str, name: str, force: bool, sim: str | None) -> None:
    """Export a KWS network (.onnx float or int8 .tflite, input [1, 49, 10, 1]) with the MFCC
    front end in front: the firmware takes 16,000 audio samples (float; int16 PCM inside for int8)."""
    from ..api import export as do_export
    from ..audio.graph import with_mfcc
    from ..ir import Graph

    net = load_model_file(model, False)
    if not isinstance(net, Graph) or not net.is_network():
        raise InputError(f"{model} is not a network: kiln audio export takes an .onnx or int8 .tflite KWS model")
    info = do_export(with_mfcc(net), target, output, name=name, sim=sim, force=force)
    for moved in info.kept_aside or []:
        echo(f"kept your file: {moved}", err=True)
    console.print(f"wrote {info.path}/ (mfcc + {Path(model).name}, {len(info.sources)} C files); "
                  f"next: kiln build {info.path} && kiln run {info.path} --data clips.npy", highlight=False)
