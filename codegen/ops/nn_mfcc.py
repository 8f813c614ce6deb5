"""Lowering of the audio front end `mfcc` (float32 audio [1, clip_samples] -> NHWC features
[1, frames, coefficients, 1]) onto ek_mfcc_f32 (runtime_c/include/ek_mfcc.h). The tables are
the node's consts, written by quantize (edgekiln.quantize.nn.requant.prepare_int8 calls
mfcc_fixed.node_consts); codegen computes none of them. int8 networks (ek_mfcc_s32 + its
int8 output) are not lowered yet: the graph would need int16 audio in."""
from __future__ import annotations

from edgekiln.errors import InputError, UnsupportedModelError

from ..lowering import CArray, lowers
from ..nn_lower import NnLowering

TABLES = ("mel_start", "mel_count", "window_f32", "twiddle_re_f32", "twiddle_im_f32", "mel_weights_f32", "dct_f32")


@lowers("mfcc", dtype="f32")
class MfccF32(NnLowering):
    template = "nn_mfcc.c.j2"
    headers = ("ek_mfcc.h",)

    def context(self, node, graph, cid, refs) -> dict:
        missing = [k for k in TABLES if k not in node.consts]
        if missing:
            raise InputError(f"node {node.name!r} (mfcc) has no tables: pass the graph through "
                             "edgekiln.quantize.nn.requant.prepare_int8 (edgekiln.export does this)")
        a = node.attrs
        x, y = refs[node.inputs[0]], refs[node.outputs[0]]
        frames = 1 + (int(a["clip_samples"]) - int(a["frame_length"])) // int(a["frame_step"])
        if tuple(x.dims) != (1, int(a["clip_samples"])) or tuple(y.dims) != (1, frames, int(a["num_coefficients"]), 1):
            raise UnsupportedModelError(f"node {node.name}: mfcc takes [1, {a['clip_samples']}] audio and writes "
                                        f"[1, {frames}, {a['num_coefficients']}, 1]; got {list(x.dims)} -> {list(y.dims)}")
        arrays = {k: CArray(f"{cid}_{k}", node.consts[k]) for k in TABLES}
        shape = {"clip_samples": int(a["clip_samples"]), "frame_length": int(a["frame_length"]),
                 "frame_step": int(a["frame_step"]), "fft_length": int(a["fft_length"]), "num_frames": frames,
                 "num_mel_bins": int(a["num_mel_bins"]), "num_coefficients": int(a["num_coefficients"])}
        return {"arrays": list(arrays.values()), "a": arrays, "fn": "ek_mfcc_f32", "kernel": "ek_mfcc_f32.c",
                "dtype": "f32", "shape": shape, "log_offset": float(a["log_offset"]), "x": x, "y": y, "macs": 0,
                "scratch": {"fn": "ek_mfcc_f32_scratch_bytes", "args": "ints",
                            "a": [shape["fft_length"], shape["num_mel_bins"]]}}
