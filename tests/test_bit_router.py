"""Dual routing on the fixture MoE: trained bit router, threshold rule, capacities, curve."""
from __future__ import annotations

import numpy as np
import pytest

from edgekiln.errors import InputError
from edgekiln.flash_offload.moe import bit_router as br, model as moe_lm
from edgekiln.flash_offload.lm import corpus
from edgekiln.flash_offload.moe import quant as mq

FIXTURE = moe_lm.__file__.rsplit("/", 1)[0] + "/fixtures/moe_tiny.npz"


@pytest.fixture(scope="module")
def setup():
    model = moe_lm.load_moe(FIXTURE)
    c = corpus.load_corpus()
    calib = mq.calibration_inputs(model, corpus.heldout_windows(c.train, 64, 12), max_tokens=256)
    experts = mq.quantize_model(model, calib, "mwq", 2, 4, group=64)
    held = corpus.heldout_windows(c.heldout, 64, 4)
    return model, calib, experts, held, br.distillation_costs(model, experts, calib, (2, 3, 4))


def test_apply_capacity_demotes_least_preferred():
    choice = np.array([2, 2, 2, 2, 1, 0, 2, 1])
    pref = np.array([[0, 0, .9], [0, 0, .1], [0, 0, .5], [0, 0, .7], [0, .2, 0], [1, 0, 0], [0, 0, .3], [0, .9, 0]])
    got = br.apply_capacity(choice, pref, (2, 3, 4), {2: 1.0, 3: 0.25, 4: 0.25})
    assert (got == 2).sum() == 2 and set(np.nonzero(got == 2)[0]) == {0, 3}  # the two most preferred
    assert (got == 1).sum() == 2 and got[7] == 1  # 1 at 3 bits + demoted, preference kept at 3
    assert np.array_equal(br.apply_capacity(choice, pref, (2, 3, 4), br.check_capacity((2, 3, 4), None)), choice)


def test_threshold_rule_gives_more_bits_to_higher_scores():
    rule = br.ThresholdRule((2, 3, 4), (0.3, 0.6))
    s = np.array([0.1, 0.3, 0.5, 0.6, 0.95])
    assert list(rule(0, 0, np.zeros((5, 4)), s)) == [2, 3, 3, 4, 4]
    capped = br.ThresholdRule((2, 3, 4), (0.3, 0.6), {4: 0.2})
    assert list(capped(0, 0, np.zeros((5, 4)), s)) == [2, 3, 3, 3, 4]


def test_bit_penalty_trades_bits_for_error(setup):
    model, calib, experts, held, costs = setup
    avg = []
    for lam in (0.0, 0.005, 1.0):
        router = br.train_bit_router(costs, (2, 3, 4), lam, steps=80)
        bits = np.concatenate([router(i, j, F[:, :-2], F[:, -2]) for i, row in enumerate(costs)
                               for j, (F, _) in enumerate(row) if len(F)])
        avg.append(bits.mean())
    assert avg[0] > avg[1] > avg[2] and avg[0] > 3.5 and avg[2] < 2.05


def test_router_capacity_holds_during_inference(setup):
    model, calib, experts, held, costs = setup
    router = br.train_bit_router(costs, (2, 3, 4), 0.0, capacity={4: 0.25, 3: 0.5}, steps=60)
    seen = []

    def check(i, j, H, s):
        b = router(i, j, H, s)
        seen.append(len(b))
        assert (b == 4).sum() <= np.ceil(0.25 * len(b)) and (b == 3).sum() <= np.ceil(0.5 * len(b))
        return b

    counter = br.BitCounter(check)
    moe_lm.nll(model, held[0], mq.matryoshka_expert_fn(model, experts), counter)
    assert sum(seen) == counter.count == model.L * model.top_k * len(held[0])
    assert 2 < counter.mean < 3.2  # uncapped at lambda 0 it would be near 4


def test_curve_spans_stored_bits(setup):
    model, calib, experts, held, _ = setup
    rows = br.bits_perplexity_curve(model, experts, held[:2], calib, lambdas=(0.0, 1.0),
                                    mixes=((0.5, 0.25, 0.25), (0.0, 0.0, 1.0)))
    fixed = {r["param"]: r for r in rows if r["rule"] == "fixed"}
    assert fixed[2]["perplexity"] > fixed[4]["perplexity"] and fixed[3]["avg_bits"] == 3.0
    routers = [r for r in rows if r["rule"] == "router"]
    assert routers[0]["avg_bits"] > 3.5 and routers[1]["avg_bits"] < 2.05
    assert routers[1]["perplexity"] == pytest.approx(fixed[2]["perplexity"], rel=2e-3)
    thr = [r for r in rows if r["rule"] == "threshold"]
    assert len(thr) == 2 and thr[1]["avg_bits"] == 4.0 and 2 < thr[0]["avg_bits"] < 4


def test_bad_routing_input(setup):
    model, calib, experts, held, costs = setup
    with pytest.raises(InputError, match="lowest bit-width"):
        br.ThresholdRule((2, 3), (0.5,), {2: 0.5})
    with pytest.raises(InputError, match="not one of the bit-widths"):
        br.ThresholdRule((2, 3), (0.5,), {8: 0.5})
    with pytest.raises(InputError, match="ascending thresholds"):
        br.ThresholdRule((2, 3, 4), (0.6, 0.3))
    with pytest.raises(InputError, match="strictly increasing"):
        br.train_bit_router(costs, (4, 2), 0.0)
    with pytest.raises(InputError, match="outside the stored range"):
        br.bits_perplexity_curve(model, experts, held[:1], calib, bits=(2, 8))
    with pytest.raises(InputError, match="outside the stored range"):
        moe_lm.nll(model, held[0], mq.matryoshka_expert_fn(model, experts), mq.fixed_bits_fn(5))


def test_expert_without_calibration_tokens_gets_lowest_bits(setup):
    model, calib, experts, held, costs = setup
    d = model.config["d"]
    empty = [list(row) for row in costs]
    empty[0][1] = (np.zeros((0, d + 2), np.float32), np.zeros((0, 3)))
    router = br.train_bit_router(empty, (2, 3, 4), 0.0, steps=20)
    H = np.random.default_rng(1).standard_normal((7, d)).astype(np.float32)
    assert list(router(0, 1, H, np.full(7, 0.5))) == [2] * 7
    assert (router(0, 0, H, np.full(7, 0.5)) > 2).any()  # a calibrated expert at lambda 0 does not
