"""Network kernels (runtime_c/kernels/*/ek_<op>_<s8|s4|f32>.c) vs the golden models:
int8 and packed-int4 outputs equal quantize/nn/int8_reference.py on every element, float32
within 1e-5 relative of quantize/nn/float_reference.py.

The kernels run in the kernel test firmware (benchmarks/nn_kernels/), built with each
target's compiler, start-up and port: natively on the host, and on the QEMU targets both as
the reference kernels (`families=[]`) and with the target's optimized overrides
(`kernel_families` in its target.toml), so the cross-compiled and the optimized code are
checked too. Shapes and parameters are seeded random; the big sweeps are marked slow."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import nn_kernel_cases as C  # noqa: E402
from benchmarks import nn_kernel_fw as F  # noqa: E402
from conftest import require_target, target_params, targets_where  # noqa: E402


def assert_matches(cases: list[dict], run: F.KernelRun, what: str) -> None:
    for i, c in enumerate(cases):
        name = f"{what}: case {i} {c['kernel']} {c.get('label', '')} in {c.get('in_dims', '')}"
        assert run.status[i] == 0, f"{name} returned status -{run.status[i]}"
        got, want = C.decode(c, run.outputs[i]), c["expect"]
        if c["dtype"] == "f32":
            tol = 1e-5 * np.abs(want) + 1e-5 * max(1.0, float(np.abs(want).max()))
            bad = np.abs(got.astype(np.float64) - want) > tol
        else:
            bad = got != want
        if bad.any():
            idx = np.unravel_index(int(np.argmax(bad.ravel())), want.shape)
            pytest.fail(f"{name}: {int(bad.sum())} of {want.size} elements differ; first at {idx}: "
                        f"kernel {got[idx]} vs golden {want[idx]}")


def int8_cases(rng: np.random.Generator, dtype: str = "s8") -> list[dict]:
    """One of each feature: 1-D/2-D, stride 2, dilation, padding, groups, depth multiplier 2,
    odd sizes, extreme zero points, per-tensor and per-channel, every activation."""
    cv = lambda **k: C.conv_case(rng, dtype=dtype, **k)  # noqa: E731
    cases = [
        cv(label="3x3 pad 1"),
        cv(in_hw=(9, 7), in_c=3, out_c=5, stride=(2, 2), pads=(1, 0, 1, 1), per_channel=False, activation="relu",
           label="stride 2, per-tensor, relu"),
        cv(in_hw=(8, 9), in_c=2, out_c=3, k=(3, 2), dilation=(2, 3), pads=(2, 1, 2, 2), activation="relu6",
           label="dilation"),
        cv(in_hw=(5, 6), in_c=6, out_c=4, groups=2, zp_in=-128, zp_out=127, label="grouped, extreme zero points"),
        cv(in_hw=(5, 5), in_c=4, out_c=6, groups=2, k=(1, 1), pads=(0, 0, 0, 0), zp_in=127, zp_out=-128,
           activation="relu_n1_to_1", label="pointwise grouped"),
        cv(rank=1, in_hw=(1, 13), in_c=3, out_c=4, k=(1, 3), stride=(1, 2), dilation=(1, 2), pads=(0, 2, 0, 1),
           label="1-D"),
        cv(in_hw=(6, 5), in_c=16, out_c=12, k=(1, 1), pads=(0, 0, 0, 0), label="pointwise 16->12"),
        cv(in_hw=(3, 7), in_c=8, out_c=5, k=(1, 1), pads=(0, 0, 0, 0), per_channel=False, zp_in=-128,
           activation="relu6", label="pointwise per-tensor, 21 pixels"),
        cv(in_hw=(5, 5), in_c=8, out_c=4, k=(2, 2), stride=(1, 2), pads=(0, 1, 1, 0), label="2x2, K = 32"),
        cv(batch=2, in_hw=(4, 3), in_c=3, out_c=2, k=(2, 2), pads=(0, 0, 1, 1), bias=False, label="batch 2, no bias"),
        cv(in_hw=(49, 10), in_c=1, out_c=8, k=(10, 4), stride=(2, 2), pads=(4, 1, 5, 1), activation="relu",
           label="DS-CNN first conv, 8 channels"),
        cv(in_hw=(9, 6), in_c=1, out_c=6, k=(3, 4), dilation=(2, 1), pads=(2, 4, 1, 3), zp_in=-128,
           label="one channel, 4 wide, cut by 1..4"),
        cv(in_hw=(5, 3), in_c=1, out_c=4, k=(2, 4), pads=(0, 1, 0, 0), activation="relu", label="one channel, narrow"),
        cv(depthwise=True, in_hw=(7, 6), in_c=5, label="depthwise 3x3"),
        cv(depthwise=True, in_hw=(8, 7), in_c=3, multiplier=2, stride=(2, 2), pads=(1, 1, 0, 1), per_channel=False,
           activation="relu", label="depthwise x2, stride 2"),
        cv(depthwise=True, in_hw=(9, 9), in_c=4, k=(3, 3), dilation=(2, 2), pads=(2, 2, 2, 2), zp_in=-128,
           label="depthwise dilated"),
        cv(depthwise=True, rank=1, in_hw=(1, 11), in_c=6, k=(1, 5), pads=(0, 2, 0, 2), label="depthwise 1-D"),
        cv(depthwise=True, in_hw=(25, 5), in_c=64, activation="relu", label="DS-CNN depthwise"),
        cv(depthwise=True, in_hw=(9, 8), in_c=8, stride=(2, 2), pads=(1, 1, 1, 1), per_channel=False,
           activation="relu6", label="depthwise 3x3 stride 2, per-tensor"),
        cv(depthwise=True, in_hw=(6, 7), in_c=4, k=(5, 3), pads=(2, 1, 2, 1), zp_in=127, label="depthwise 5x3"),
        cv(depthwise=True, in_hw=(7, 6), in_c=8, pads=(0, 0, 0, 0), zp_in=-128, activation="relu6",
           label="depthwise 3x3 valid, odd rows"),
        cv(depthwise=True, batch=2, in_hw=(6, 5), in_c=12, pads=(2, 0, 0, 2), per_channel=False, zp_in=127,
           label="depthwise 3x3 uneven pads, batch 2"),
        cv(depthwise=True, in_hw=(1, 9), in_c=4, pads=(1, 1, 1, 1), activation="relu", label="depthwise 3x3 one row"),
        C.fc_case(rng, dtype=dtype, in_features=37, out_features=11, label="odd sizes"),
        C.fc_case(rng, dtype=dtype, batches=3, in_features=8, out_features=5, per_channel=True, activation="relu",
                  label="per-channel, batch 3"),
        C.fc_case(rng, dtype=dtype, in_features=64, out_features=12, zp_in=-128, label="DS-CNN fc"),
    ]
    if dtype == "s8":
        cases += [C.fc_case(rng, in_features=9, out_features=4, zp_w=3, zp_out=127, label="filter zero point"),
                  C.pool_case(rng, label="avg 2x2 s2"),
                  C.pool_case(rng, in_hw=(7, 5), channels=3, k=(3, 3), stride=(2, 1), pads=(1, 1, 1, 1),
                              activation="relu", label="avg padded"),
                  C.pool_case(rng, in_hw=(25, 5), channels=64, k=(25, 5), stride=(25, 5), label="global avg"),
                  C.pool_case(rng, in_hw=(5, 5), channels=2, k=(3, 3), stride=(1, 1), pads=(1, 1, 1, 1),
                              count_include_pad=True, label="avg count_include_pad"),
                  C.pool_case(rng, in_hw=(5, 5), channels=8, k=(3, 3), stride=(2, 2), pads=(1, 1, 1, 1),
                              count_include_pad=True, activation="relu", label="avg 8 channels, count_include_pad"),
                  C.pool_case(rng, kind="maxpool", in_hw=(7, 6), channels=3, k=(3, 3), stride=(2, 2), pads=(1, 1, 1, 1),
                              label="max padded"),
                  C.pool_case(rng, kind="maxpool", in_hw=(6, 6), channels=5, activation="relu6", zp=-128,
                              label="max relu6"),
                  C.add_case(rng, n=37), C.add_case(rng, n=64, activation="relu"),
                  C.softmax_case(rng, rows=3, row_size=12), C.softmax_case(rng, rows=1, row_size=35, beta=0.5)]
    return cases


def float_cases(rng: np.random.Generator) -> list[dict]:
    cv = lambda **k: C.conv_case(rng, dtype="f32", **k)  # noqa: E731
    return [cv(label="3x3"), cv(in_hw=(9, 7), in_c=3, out_c=5, stride=(2, 2), dilation=(1, 2), pads=(1, 2, 1, 2),
                                activation="relu", label="stride 2 dilated"),
            cv(in_hw=(5, 6), in_c=6, out_c=6, groups=3, activation="relu6", label="grouped"),
            cv(rank=1, in_hw=(1, 13), in_c=3, out_c=4, k=(1, 3), stride=(1, 2), pads=(0, 1, 0, 1), label="1-D"),
            cv(depthwise=True, in_hw=(8, 7), in_c=3, multiplier=2, stride=(2, 2), label="depthwise x2"),
            cv(depthwise=True, in_hw=(25, 5), in_c=16, activation="relu", label="depthwise"),
            C.fc_case(rng, dtype="f32", batches=2, in_features=37, out_features=11, activation="relu_n1_to_1"),
            C.pool_case(rng, dtype="f32", in_hw=(7, 5), channels=3, k=(3, 3), stride=(2, 1), pads=(1, 1, 1, 1)),
            C.pool_case(rng, dtype="f32", in_hw=(5, 5), channels=2, k=(3, 3), stride=(1, 1), pads=(1, 1, 1, 1),
                        count_include_pad=True, activation="relu"),
            C.pool_case(rng, kind="maxpool", dtype="f32", in_hw=(7, 6), channels=3, k=(3, 3), pads=(1, 1, 1, 1)),
            C.softmax_case(rng, dtype="f32", rows=3, row_size=12)]


def shift_cases(rng: np.random.Generator) -> list[dict]:
    """Requantization shifts off the optimized kernels' fast path (left shifts, no shift,
    right shifts past 23), alone and mixed with fast channels."""
    out = []
    for real in (3.0, 0.7, 2.0 ** -26, 2.0 ** -9):
        for dw in (False, True):
            out.append(C.conv_case(rng, depthwise=dw, in_hw=(5, 5), in_c=8, out_c=10, k=(1, 1) if not dw else (3, 3),
                                   pads=(0, 0, 0, 0) if not dw else (1, 1, 1, 1), real_multiplier=real,
                                   label=f"multiplier about {real:g}"))
    return out


def all_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return int8_cases(rng) + shift_cases(rng) + int8_cases(rng, "s4") + float_cases(rng)


def test_kernels_match_golden_on_host():
    require_target("host")
    cases = all_cases(0)
    assert_matches(cases, F.build_and_run("host", cases, count=False), "host")


def test_bad_arguments_are_refused():
    """A group count that does not divide, or a depth multiplier that does not match, is
    EK_ERR_ARG (status 1), not a wrong answer."""
    require_target("host")
    rng = np.random.default_rng(5)
    bad_groups = C.conv_case(rng, in_c=4, out_c=6, groups=2)
    bad_groups["filter_dims"] = (6, 3, 3, 3)  # 4 input channels are not a multiple of 3
    bad_mult = C.conv_case(rng, depthwise=True, in_c=3, multiplier=2)
    bad_mult["params"]["depth_multiplier"] = 3
    r = F.build_and_run("host", [bad_groups, bad_mult], count=False)
    assert r.status == [1, 1]


def _overridden(target: str) -> list[str]:
    from edgekiln.targets import get_target

    fams = get_target(target).kernel_families
    ref = F.kernel_files([])
    return [k for k, p in F.kernel_files(fams).items() if p != ref[k]]


@pytest.mark.parametrize("target", target_params(targets_where(simulator=("qemu",))))
def test_kernels_match_golden_on_targets(target):
    """Reference kernels cross-compiled, and the target's optimized overrides, both bit-exact."""
    cases = all_cases(1)
    if target in targets_where(fpu=False):  # soft float: keep the float cases few
        cases = [c for c in cases if c["dtype"] != "f32" or c["kind"] in ("fc", "softmax")]
    assert_matches(cases, F.build_and_run(target, cases, families=[], count=False), f"{target} ref")
    if _overridden(target):
        assert_matches(cases, F.build_and_run(target, cases, count=False), f"{target} optimized")


@pytest.mark.parametrize("target", target_params(targets_where(simulator=("qemu",), parallel=("cluster",))))
def test_parallel_kernels_identical_on_the_cluster(target):
    """8 cluster cores give the same bytes as the golden model (and so as 1 core)."""
    rng = np.random.default_rng(2)
    cases = C.ds_cnn_layers(rng)[:4] + int8_cases(rng)[:6] + int8_cases(rng, "s4")
    assert {"conv", "dwconv", "fc"} <= {c["kind"] for c in cases if c["dtype"] == "s4"}
    assert_matches(cases, F.build_and_run(target, cases, n_cores=8, count=False), f"{target} 8 cores")


@pytest.mark.parametrize("target", target_params(["cortex-m4"]))
def test_optimized_kernels_ask_for_scratch(target):
    """An optimized kernel with less scratch than its *_scratch_bytes() returns EK_ERR_SCRATCH."""
    rng = np.random.default_rng(3)
    cases = [C.conv_case(rng, in_hw=(25, 5), in_c=64, out_c=64, k=(1, 1), pads=(0, 0, 0, 0)),
             C.conv_case(rng, in_hw=(49, 10), in_c=1, out_c=16, k=(10, 4), stride=(2, 2), pads=(4, 1, 5, 1))]
    first = F.build_and_run(target, cases, count=False)
    needing = [i for i, s in enumerate(first.scratch) if s > 0]
    if not needing:
        pytest.fail(f"no optimized kernel of {target} asks for scratch: the EK_ERR_SCRATCH check tests nothing")
    for i in needing:
        cases[i]["scratch_limit"] = first.scratch[i] - 1
    r = F.build_and_run(target, cases, count=False)
    assert [r.status[i] for i in needing] == [2] * len(needing)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 14))
def test_random_sweep_on_host(seed):
    require_target("host")
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(40):
        dw = bool(rng.integers(0, 2))
        in_c = int(rng.integers(1, 9))
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pads = tuple(int(v) for v in rng.integers(0, 3, 4))
        h = int(rng.integers((k[0] - 1) * d[0] + 1, 12)) + 0
        w = int(rng.integers((k[1] - 1) * d[1] + 1, 12))
        groups = 1 if dw else int(rng.choice([g for g in (1, 2, 3) if in_c % g == 0]))
        out_c = groups * int(rng.integers(1, 5))
        kw = dict(in_hw=(h, w), in_c=in_c, k=k, stride=tuple(int(v) for v in rng.integers(1, 3, 2)), dilation=d,
                  pads=pads, per_channel=bool(rng.integers(0, 2)),
                  activation=str(rng.choice(["none", "relu", "relu6"])),
                  dtype=str(rng.choice(["s8", "s4", "f32"])))
        cases.append(C.conv_case(rng, depthwise=True, multiplier=int(rng.integers(1, 3)), **kw) if dw
                     else C.conv_case(rng, groups=groups, out_c=out_c, **kw))
    assert_matches(cases, F.build_and_run("host", cases, count=False), f"host sweep {seed}")


@pytest.mark.slow
@pytest.mark.parametrize("target", target_params(["cortex-m4", "gap8"]))
def test_ds_cnn_layers_on_targets(target):
    cases = C.ds_cnn_layers(np.random.default_rng(4))
    assert_matches(cases, F.build_and_run(target, cases, count=False), target)


@pytest.mark.slow
@pytest.mark.parametrize("opt", ["-O0", "-Os", "-O3"])
@pytest.mark.parametrize("target", target_params(["cortex-m4"]))
def test_optimized_kernels_at_other_optimization_levels(target, opt):
    """The inline assembly keeps its register constraints and results at every -O level."""
    rng = np.random.default_rng(7)
    cases = int8_cases(rng) + shift_cases(rng)
    assert_matches(cases, F.build_and_run(target, cases, count=False, opt=opt), f"{target} {opt}")
