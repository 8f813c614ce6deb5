"""Windowed neuron cache: after any sequence of tokens the live neurons are exactly the union
of the last k active sets, their rows equal the file's, and nothing is reallocated."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from edgekiln.errors import InputError
from edgekiln.flash_offload import ekf_format as ekf
from edgekiln.flash_offload.neuron_cache import (CacheCapacityError, DramBudgetError,
                                                 LayerCache, NeuronCache, min_budget_bytes)
from edgekiln.flash_offload.neuron_io import NeuronReader
from flash_offload_synth import synthetic_model

F, D = 50, 6
_, _, _FFN = synthetic_model(seed=3, d=D, f=F, L=1)
BUNDLES = ekf.bundle_matrix(*_FFN[0])


def fetch_from(bundles, log=None):
    def fetch(ids, out):
        if log is not None:
            log.append(np.array(ids))
        out[...] = bundles[ids]
    return fetch


def check_invariants(c: LayerCache, history, k, pinned=()):
    live = c.ids[:c.used]
    expect = set(pinned).union(*[set(a) for a in history[-k:]]) if history else set(pinned)
    assert set(live.tolist()) == expect
    assert len(set(live.tolist())) == c.used  # no duplicates
    assert (c.ids[c.used:] == -1).all()
    np.testing.assert_array_equal(c.slot_of[live], np.arange(c.used))
    assert (c.slot_of >= 0).sum() == c.used
    np.testing.assert_array_equal(c.buf[:c.used], BUNDLES[live])


token_sets = st.lists(st.lists(st.integers(0, F - 1), max_size=12), min_size=1, max_size=25)


@settings(max_examples=80, deadline=None)
@given(tokens=token_sets, k=st.integers(1, 4))
def test_window_is_union_of_last_k(tokens, k):
    c = LayerCache(F, D, capacity=F, window=k)
    buf, ptr = c.buf, c.buf.ctypes.data
    log = []
    fetch = fetch_from(BUNDLES, log)
    for t, active in enumerate(tokens):
        before, n_log = set(c.ids[:c.used].tolist()), len(log)
        slots = c.update(active, fetch)
        # rows returned for the active ids, in the caller's order
        np.testing.assert_array_equal(c.buf[slots], BUNDLES[np.array(active, dtype=int)])
        # exactly the active neurons not cached before were fetched
        fetched = [i for ids in log[n_log:] for i in ids.tolist()]
        assert sorted(fetched) == sorted(set(active) - before)
        check_invariants(c, tokens[:t + 1], k)
        assert c.buf is buf and c.buf.ctypes.data == ptr  # never reallocated
    assert c.stats.loaded == sum(len(x) for x in log)


@settings(max_examples=40, deadline=None)
@given(tokens=token_sets, k=st.integers(1, 3), pin=st.lists(st.integers(0, F - 1), max_size=8))
def test_pinned_neurons_stay(tokens, k, pin):
    c = LayerCache(F, D, capacity=F, window=k)
    c.pin(pin, fetch_from(BUNDLES))
    for t, active in enumerate(tokens):
        c.update(active, fetch_from(BUNDLES))
        check_invariants(c, tokens[:t + 1], k, pinned=pin)
    assert (c.ids[:len(set(pin))] == np.unique(np.array(pin, dtype=int))).all()


@settings(max_examples=40, deadline=None)
@given(tokens=st.lists(st.lists(st.integers(0, F - 1), max_size=6), min_size=1, max_size=20),
       k=st.integers(2, 6))
def test_small_capacity_keeps_current_token_and_drops_oldest(tokens, k):
    c = LayerCache(F, D, capacity=8, window=k)
    ptr = c.buf.ctypes.data
    for t, active in enumerate(tokens):
        slots = c.update(active, fetch_from(BUNDLES))
        live = c.ids[:c.used]
        assert c.used <= 8 and set(active) <= set(live.tolist())
        np.testing.assert_array_equal(c.buf[slots], BUNDLES[np.array(active, dtype=int)])
        window = set().union(*[set(a) for a in tokens[max(0, t + 1 - k):t + 1]])
        assert set(live.tolist()) <= window  # never keeps anything older than the window
        np.testing.assert_array_equal(c.buf[:c.used], BUNDLES[live])
    assert c.buf.ctypes.data == ptr


def test_too_many_active_for_capacity():
    c = LayerCache(F, D, capacity=4, window=2)
    with pytest.raises(CacheCapacityError, match="5 neurons active.*4 rows"):
        c.update([1, 2, 3, 4, 5], fetch_from(BUNDLES))
    with pytest.raises(InputError, match=r"\[0, 50\)"):
        c.update([50], fetch_from(BUNDLES))
    with pytest.raises(InputError, match="window"):
        LayerCache(F, D, capacity=4, window=0)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    config, resident, ffn = synthetic_model(seed=5, d=16, f=120, L=3)
    return ekf.EkfFile(ekf.write_ekf(tmp_path_factory.mktemp("c") / "m.ekf",
                                     config, resident, ffn)), ffn


def test_budget_too_small_says_minimum(packed):
    f, _ = packed
    with NeuronReader(f, direct=False) as r:
        with pytest.raises(DramBudgetError) as e:
            NeuronCache(f, r, budget_bytes=f.resident_bytes - 1)
        msg = str(e.value)
        assert f"minimum {min_budget_bytes(f, r)} bytes" in msg
        assert f"resident part {f.resident_bytes} bytes" in msg
        with pytest.raises(DramBudgetError, match="over the DRAM budget"):
            NeuronCache(f, r, budget_bytes=min_budget_bytes(f, r), capacity=100)
        kv = {"kv_cache": 50_000}
        with pytest.raises(DramBudgetError, match="kv_cache 50000"):
            NeuronCache(f, r, budget_bytes=min_budget_bytes(f, r), extra=kv)
        c = NeuronCache(f, r, budget_bytes=min_budget_bytes(f, r, kv), extra=kv)
        assert c.report()["capacity_per_layer"] == [1, 1, 1]


def test_budget_sizes_caches_and_report(packed):
    f, ffn = packed
    budget = f.resident_bytes + f.ffn_bytes // 2
    with NeuronReader(f, direct=True, threads=2) as r:
        cache = NeuronCache(f, r, budget_bytes=budget, window=3)
        rep = cache.report()
        assert rep["within_budget"] and rep["total_bytes"] <= budget
        cap = rep["capacity_per_layer"][0]
        assert 0 < cap < 120
        assert rep["io_buffer_bytes"] == r.buffer_bytes > 0
        with pytest.raises(DramBudgetError):  # the largest capacity that fits was chosen
            NeuronCache(f, r, budget_bytes=budget, window=3, capacity=cap + 1)
        cache = NeuronCache(f, r, budget_bytes=budget, window=3)
        io_buf = r._buf
        rng = np.random.default_rng(1)
        for _ in range(6):
            for layer in range(3):
                active = rng.choice(120, size=cap // 3, replace=False)
                slots = cache.update(layer, active)
                up, b, down = cache.views(layer)
                np.testing.assert_array_equal(up[slots], ffn[layer][0][active])
                np.testing.assert_array_equal(b[slots], ffn[layer][1][active])
                np.testing.assert_array_equal(down[slots], ffn[layer][2][active])
        assert r._buf is io_buf  # the reader's landing buffer was not reallocated either
        st_ = cache.stats()
        assert st_["loaded"] == r.stats.neurons
        assert st_["loaded"] + st_["hits"] == 6 * 3 * (cap // 3)
        assert cache.report()["live_bytes"] > 0
