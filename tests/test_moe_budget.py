"""Memory budget: eviction order (previous layer's high-bit planes first), the minimum
budget error, and the measured peak never above the budget for every system."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from edgekiln.errors import MemoryBudgetError
from edgekiln.flash_offload.moe.hebf import PlaneCache
from edgekiln.flash_offload.moe.engine import D2Moe, LruFixedBits, min_budget, run_requests
from edgekiln.flash_offload.moe.file import MoeFile, PlaneReader, write_moe_file
from edgekiln.flash_offload.moe.model import MoEModel
from edgekiln.flash_offload.moe.memory import BudgetExceeded, MemoryMeter

from moe_synth import quantized_experts, random_moe

warnings.filterwarnings("ignore", message="O_DIRECT")


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    m = random_moe(seed=7, d=32, L=3, E=4, f=256, T=12, V=64)
    qe = quantized_experts(m, "mwq", 5, 8)
    return m, write_moe_file(tmp_path_factory.mktemp("budget") / "m.ekm", m.config, m.resident, qe, 32, "mwq")


def _bits_fn(layer, e, H, scores):
    return np.where(scores > 0.35, 8, np.where(scores > 0.25, 6, 5))


def _windows(n=6, length=10):
    rng = np.random.default_rng(2)
    return [rng.integers(0, 64, length) for _ in range(n)]


def test_meter_refuses_over_budget_and_keeps_the_high_water_mark():
    m = MemoryMeter(100)
    m.alloc(60, "plane")
    with pytest.raises(BudgetExceeded, match="over the budget of 100"):
        m.alloc(41, "plane")
    m.free(60, "plane")
    m.alloc(30, "kv")
    assert m.peak == 60 and m.used == 30 and m.peak_by_kind["plane"] == 60


def test_eviction_frees_previous_layer_high_bits_first(packed):
    _, path = packed
    mf = MoeFile(path)
    meter = MemoryMeter()
    cache = PlaneCache(mf, meter)
    with PlaneReader(mf) as rd:
        for layer in (0, 1):
            for e in (0, 1):
                for k in range(1, mf.n_planes + 1):
                    cache.add(layer, e, k, rd.read_planes(layer, e, k, k, meter))
        layer1 = sum(mf.plane_bytes(1, e, k) for e in (0, 1) for k in range(1, mf.n_planes + 1))
        meter.budget = meter.used
        assert cache.make_room(layer1 + 1, layer=2)  # a layer-2 load needs all of layer 1 and a bit
    top = mf.n_planes
    want = [(1, e, k) for k in range(top, 0, -1) for e in (0, 1)] + [(0, 0, top)]
    assert cache.evicted == want
    assert meter.used <= meter.budget - layer1 - 1
    cache.clear()
    assert meter.used == 0


def test_pinned_planes_are_never_evicted(packed):
    _, path = packed
    mf = MoeFile(path)
    meter = MemoryMeter()
    cache = PlaneCache(mf, meter)
    with PlaneReader(mf) as rd:
        for k in (1, 2):
            cache.add(0, 0, k, rd.read_planes(0, 0, k, k, meter))
    cache.pin(0, 0, 2)
    meter.budget = meter.used
    assert not cache.make_room(1, layer=0) and cache.evicted == []
    cache.clear()


def test_budget_below_the_minimum_says_the_minimum(packed):
    m, path = packed
    base = MoEModel(m.config, m.resident, None)
    with pytest.raises(MemoryBudgetError, match=r"minimum of (\d+) bytes.*--budget \1") as e:
        run_requests(D2Moe(MoeFile(path), 10_000, _bits_fn), base, _windows())
    minimum = int(str(e.value).split("minimum of ")[1].split()[0])
    r = run_requests(D2Moe(MoeFile(path), minimum, _bits_fn), base, _windows())
    assert r.meter["peak_bytes"] <= minimum and np.isfinite(r.perplexity)
    assert r.stats["clamped_tokens"] > 0  # one base plane at a time: tokens served at the base width
    with pytest.raises(MemoryBudgetError, match="for lru_fixed_bits"):
        run_requests(LruFixedBits(MoeFile(path), minimum - 1), base, _windows())


def test_peak_never_above_the_budget(packed):
    m, path = packed
    base = MoEModel(m.config, m.resident, None)
    mf = MoeFile(path)
    ref = run_requests(D2Moe(mf, None, _bits_fn), base, _windows())  # no budget: nothing evicted
    assert ref.stats["evictions"] == 0
    probe = LruFixedBits(mf, None)
    lo = min_budget(probe, base, 6, 10)
    probe.close()
    for frac in (0.1, 0.3, 0.6):
        budget = lo + int(frac * mf.experts_payload_bytes())
        for system in (D2Moe(MoeFile(path), budget, _bits_fn), D2Moe(MoeFile(path), budget, _bits_fn, overlap=False),
                       LruFixedBits(MoeFile(path), budget)):
            r = run_requests(system, base, _windows())
            assert r.meter["peak_bytes"] <= budget, (system.name, frac)
            assert r.stats["evictions"] > 0  # the budget did bind
        # the budget changes what is cached, not what d2moe computes (unless it clamps bits)
        d2 = run_requests(D2Moe(MoeFile(path), budget, _bits_fn), base, _windows())
        if d2.stats["clamped_tokens"] == 0:
            assert d2.perplexity == pytest.approx(ref.perplexity, rel=1e-6)
