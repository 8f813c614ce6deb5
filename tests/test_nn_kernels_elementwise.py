"""add/sub/mul with broadcasting, concat and pad kernels (runtime_c/kernels/ref/ek_{add,sub,mul,
concat,pad}_{s8,f32}.c) vs the golden models, in the kernel test firmware: int8 bit-exact with
quantize/nn/int8_reference.py (TFLite's arithmetic), float32 within 1e-5, on the host and
cross-compiled on the QEMU targets. Parameters are quantize's decisions, broadcast descriptors
codegen's."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import nn_kernel_cases_elementwise as E  # noqa: E402
from benchmarks import nn_kernel_fw as F  # noqa: E402
from conftest import require_target, target_params, targets_where  # noqa: E402
from edgekiln.codegen.ops.nn_elementwise import broadcast  # noqa: E402
from edgekiln.errors import UnsupportedModelError  # noqa: E402
from edgekiln.ir import Node  # noqa: E402
from test_nn_kernels import assert_matches  # noqa: E402


def test_elementwise_kernels_match_golden_on_host():
    require_target("host")
    cases = E.elementwise_cases(np.random.default_rng(0))
    assert_matches(cases, F.build_and_run("host", cases, count=False), "host")


@pytest.mark.parametrize("target", target_params(targets_where(simulator=("qemu",))))
def test_elementwise_kernels_match_golden_on_targets(target):
    dtypes = ("s8", "f32") if target in targets_where(fpu=True) else ("s8",)  # soft float: int8 only
    cases = E.elementwise_cases(np.random.default_rng(1), dtypes)
    assert_matches(cases, F.build_and_run(target, cases, count=False), target)


def test_kernels_refuse_bad_shapes():
    """A rank outside 1..6, a zero dim or a negative pad is EK_ERR_ARG (status 1), not a wrong answer."""
    require_target("host")
    rng = np.random.default_rng(2)
    bad_rank = E.binary_case(rng, "mul")
    bad_rank["bc"] = {**bad_rank["bc"], "rank": 7}
    bad_dim = E.binary_case(rng, "add", dtype="f32")
    bad_dim["bc"] = {**bad_dim["bc"], "out_dims": [0] * 6}
    bad_pad = E.pad_case(rng)
    bad_pad["before"] = [-1] + bad_pad["before"][1:]
    r = F.build_and_run("host", [bad_rank, bad_dim, bad_pad], count=False)
    assert r.status == [1, 1, 1]


def test_broadcast_descriptor_collapses_dims():
    n = Node("add", "n", ["a", "b"], ["y"], {})
    same = broadcast(n, (1, 5, 3, 4), (1, 5, 3, 4), (1, 5, 3, 4))
    assert same["rank"] == 1 and same["out_dims"][0] == 60 and same["same"]
    bias = broadcast(n, (1, 5, 3, 4), (4,), (1, 5, 3, 4))  # per-channel: 15 rows of 4
    assert bias["rank"] == 2 and bias["out_dims"][:2] == [15, 4]
    assert bias["a_strides"][:2] == [4, 1] and bias["b_strides"][:2] == [0, 1]
    se = broadcast(n, (1, 6, 5, 8), (1, 1, 1, 8), (1, 6, 5, 8))
    assert se["rank"] == 2 and se["b_strides"][:2] == [0, 1]
    both = broadcast(n, (2, 1, 3), (1, 4, 1), (2, 4, 3))
    assert both["rank"] == 3 and both["a_strides"][:3] == [3, 0, 1] and both["b_strides"][:3] == [0, 1, 0]


def test_broadcast_that_cannot_be_done_is_named():
    n = Node("mul", "scale_3", ["a", "b"], ["y"], {})
    with pytest.raises(UnsupportedModelError, match=r"scale_3: mul of shapes \[1, 4, 4, 3\] and \[2\] cannot be broadcast"):
        broadcast(n, (1, 4, 4, 3), (2,), (1, 4, 4, 3))
    with pytest.raises(UnsupportedModelError, match="but the output is"):
        broadcast(n, (1, 4, 4, 3), (3,), (1, 4, 4, 6))
