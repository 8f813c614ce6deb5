"""The MFCC kernels in C (runtime_c/kernels/ref/ek_mfcc_{f32,s32}.c) against the numpy golden
models: ek_mfcc_s32 and its int8 model input bit-exact with quantize/nn/mfcc_fixed.py, and
ek_mfcc_f32 within float32 rounding of quantize/nn/mfcc.py; on the host and on every QEMU
target (the float kernel where the target has an FPU). The tables header is generated."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekiln.audio.features import KWS_MFCC
from edgekiln.quantize.nn.mfcc import mfcc, quantize_features
from edgekiln.quantize.nn.mfcc_fixed import mfcc_s32, q16_to_float, q16_to_s8
from edgekiln.targets import get_target

from conftest import require_target, target_params, targets_where

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from benchmarks import mfcc_firmware  # noqa: E402
SCALE, ZP = mfcc_firmware.KWS_SCALE, mfcc_firmware.KWS_ZERO_POINT


def _clips(n_random: int) -> np.ndarray:
    """Edge cases (silence, all-negative, full scale, one click) and seeded speech-like noise."""
    rng = np.random.default_rng(11)
    t = np.arange(16000) / 16000.0
    edge = [np.zeros(16000), np.full(16000, -3.0), np.sign(np.sin(2 * np.pi * 440 * t)) * 32767,
            np.where(np.arange(16000) == 8000, 20000.0, 0.0)]
    rand = [np.convolve(rng.standard_normal(16000), np.hanning(40), "same") * rng.uniform(5, 3000)
            * (np.abs(t - rng.uniform(0.3, 0.7)) < rng.uniform(0.1, 0.3)) for _ in range(n_random)]
    return np.clip(np.round(np.array(edge + rand)), -32768, 32767).astype(np.int16)


def _runs_f32(target: str) -> bool:
    """The float kernel where there is an FPU and RAM for a float clip (64 KB) beside the rest;
    pulp-open's 64 KB L1 takes only the int16 clip, so it runs the integer kernel, as gap8."""
    t = get_target(target)
    ram = max((m.length for m in t.memory if m.kind == "ram"), default=0)
    return not t.fpu.startswith("none") and ram >= 128 * 1024


def _check(result: dict, clips: np.ndarray, f32: bool) -> float:
    assert result["done"], result["log"][-2000:]
    assert result["err"] == (-2, -1)  # scratch too small, then a NULL clip
    worst = 0.0
    for i, c in enumerate(clips):
        want = mfcc_s32(c, KWS_MFCC)
        status, got = result["s32"][i]
        assert status == 0 and np.array_equal(got, want), (i, np.abs(got.astype(np.int64) - want).max())
        status, s8 = result["s8"][i]
        assert status == 0 and np.array_equal(s8, q16_to_s8(want, SCALE, ZP)), i
        status, s8k = result["s8k"][i]
        assert status == 0 and np.array_equal(s8k, s8), i
        if f32:
            status, f = result["f32"][i]
            err = float(np.abs(f - mfcc(c.astype(np.float32) / 32768, KWS_MFCC)).max())
            assert status == 0 and err < 1e-2, (i, err)  # float32 rounding in near-silent bands
            worst = max(worst, err)
    return worst


def test_tables_header_is_generated_from_the_golden_tables():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_mfcc_tables.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_integer_golden_tracks_the_float_mfcc():
    clips = _clips(6)
    for i, c in enumerate(clips):
        f = mfcc(c.astype(np.float32) / 32768, KWS_MFCC)
        q = mfcc_s32(c, KWS_MFCC)
        # a constant clip (DC only: every band but the lowest at the rounding floor) is the worst, 3.8e-2
        assert np.abs(q16_to_float(q) - f).max() < (5e-2 if i < 4 else 1e-3), i
        assert np.abs(q16_to_s8(q, SCALE, ZP).astype(int) - quantize_features(f, SCALE, ZP)).max() <= 1
    with pytest.raises(TypeError, match="int16"):
        mfcc_s32(clips[0].astype(np.float32), KWS_MFCC)


def test_c_kernels_on_the_host(tmp_path):
    require_target("host")
    clips = _clips(8)
    elf = mfcc_firmware.build("host", clips, tmp_path / "fw", run_f32=True)
    _check(mfcc_firmware.run("host", elf, count=False), clips, f32=True)


@pytest.mark.parametrize("target", target_params(targets_where(simulator=("qemu",))))
def test_c_kernels_on_qemu(target, tmp_path):
    require_target(target)
    clips = _clips(1)[[2, 4]]  # full scale and speech-like noise: two clips keep QEMU runs short
    fpu = _runs_f32(target)
    elf = mfcc_firmware.build(target, clips, tmp_path / "fw", run_f32=fpu)
    result = mfcc_firmware.run(target, elf)
    _check(result, clips, f32=fpu)
    assert len(result["instructions"]) == len(clips) * (2 if fpu else 1)
