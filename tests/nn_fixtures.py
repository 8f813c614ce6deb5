"""Shared models and helpers for the neural-network tests (tests that need
../shared/models/kws_dscnn skip with the reason when it is absent)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

KWS = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "kws_dscnn"
if not KWS.is_dir():
    KWS = Path("/work/shared/models/kws_dscnn")


def kws_dir() -> Path:
    if not (KWS / "kws_ref_int8.tflite").is_file():
        pytest.skip(f"shared KWS model folder absent ({KWS}); it holds kws_dscnn_f32.onnx, kws_ref_int8.tflite, kws_samples.npz")
    return KWS


def kws_samples() -> dict[str, np.ndarray]:
    return dict(np.load(kws_dir() / "kws_samples.npz"))


def litert_ref(path: Path, preserve: bool = True):
    """LiteRT's interpreter with TFLite's reference kernels: the int8 oracle."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=preserve)
    it.allocate_tensors()
    return it
