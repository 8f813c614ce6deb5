"""Lowering of the audio front end `mfcc` (audio [1, clip_samples] -> NHWC features
[1, frames, coefficients, 1]; runtime_c/include/ek_mfcc.h): float32 audio and features onto
ek_mfcc_f32 (`f32`), int16 PCM to an int8 model's input onto ek_mfcc_s8 (`s8`, integers
only). The tables are the node's consts and the int8 quantization its attrs["int8"], written
by quantize (edgekiln.quantize.nn.requant.prepare_int8 -> mfcc_fixed); codegen computes none."""
from __future__ import annotations

from edgekiln.errors import InputError, UnsupportedModelError

from ..lowering import CArray, lowers
from ..nn_lower import NnLowering

TABLES = {"f32": ("mel_start", "mel_count", "window_f32", "twiddle_re_f32", "twiddle_im_f32", "mel_weights_f32",
                  "dct_f32"),
          "s8": ("mel_start", "mel_count", "window_q30", "twiddle_re_q30", "twiddle_im_q30", "mel_weights_q15",
                 "log2_table_q24", "dct_q30")}


def _context(node, graph, cid, refs, dtype: str) -> dict:
    missing = [k for k in TABLES[dtype] if k not in node.consts]
    if missing or (dtype == "s8" and "int8" not in node.attrs):
        raise InputError(f"node {node.name!r} (mfcc) has no tables: pass the graph through "
                         "edgekiln.quantize.nn.requant.prepare_int8 (edgekiln.export does this)")
    a = node.attrs
    x, y = refs[node.inputs[0]], refs[node.outputs[0]]
    frames = 1 + (int(a["clip_samples"]) - int(a["frame_length"])) // int(a["frame_step"])
    if tuple(x.dims) != (1, int(a["clip_samples"])) or tuple(y.dims) != (1, frames, int(a["num_coefficients"]), 1):
        raise UnsupportedModelError(f"node {node.name}: mfcc takes [1, {a['clip_samples']}] audio and writes "
                                    f"[1, {frames}, {a['num_coefficients']}, 1]; got {list(x.dims)} -> {list(y.dims)}")
    arrays = {k: CArray(f"{cid}_{k}", node.consts[k]) for k in TABLES[dtype]}
    shape = {"clip_samples": int(a["clip_samples"]), "frame_length": int(a["frame_length"]),
             "frame_step": int(a["frame_step"]), "fft_length": int(a["fft_length"]), "num_frames": frames,
             "num_mel_bins": int(a["num_mel_bins"]), "num_coefficients": int(a["num_coefficients"])}
    kernel = "f32" if dtype == "f32" else "s32"
    return {"arrays": list(arrays.values()), "a": arrays, "fn": f"ek_mfcc_{dtype}", "kernel": f"ek_mfcc_{kernel}.c",
            "dtype": dtype, "shape": shape, "log_offset": float(a["log_offset"]), "q": a.get("int8"),
            "log_offset_q50": int(node.consts["log_offset_q50"][0]) if dtype == "s8" else 0,
            "headroom_bits": int(node.consts["headroom_bits"][0]) if dtype == "s8" else 0,
            "x": x, "y": y, "macs": 0,
            "scratch": {"fn": f"ek_mfcc_{kernel}_scratch_bytes", "args": "ints",
                        "a": [shape["fft_length"], shape["num_mel_bins"]]}}


@lowers("mfcc", dtype="f32")
class MfccF32(NnLowering):
    template = "nn_mfcc.c.j2"
    headers = ("ek_mfcc.h",)

    def context(self, node, graph, cid, refs) -> dict:
        return _context(node, graph, cid, refs, "f32")


@lowers("mfcc", dtype="s8")
class MfccS8(NnLowering):
    template = "nn_mfcc.c.j2"
    headers = ("ek_mfcc.h",)

    def context(self, node, graph, cid, refs) -> dict:
        if graph.value(node.inputs[0]).dtype != "int16":
            raise UnsupportedModelError(f"node {node.name}: the int8 mfcc takes int16 audio "
                                        f"(edgekiln.audio.graph.with_mfcc makes it), not {graph.value(node.inputs[0]).dtype}")
        return _context(node, graph, cid, refs, "s8")
