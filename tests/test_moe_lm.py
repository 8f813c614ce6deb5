"""The numpy MoE decoder on the committed fixture: routing, expert callables, NLL, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from edgekiln.errors import InputError, ModelLoadError
from edgekiln.flash_offload.moe import model as moe_lm
from edgekiln.flash_offload.lm import corpus
from edgekiln.flash_offload.lm.model import KVCache

FIXTURE = moe_lm.__file__.rsplit("/", 1)[0] + "/fixtures/moe_tiny.npz"


@pytest.fixture(scope="module")
def model():
    return moe_lm.load_moe(FIXTURE)


@pytest.fixture(scope="module")
def text():
    return corpus.heldout_windows(corpus.load_corpus().heldout, 64, 6)


def test_fixture_is_small_and_an_moe(model):
    import os
    assert os.path.getsize(FIXTURE) < 2 << 20
    cfg = model.config
    assert 4 <= cfg["E"] <= 8 and cfg["top_k"] in (1, 2)
    assert len(model.experts) == cfg["L"] and all(len(layer) == cfg["E"] for layer in model.experts)
    assert cfg["corpus"]["corpus"] == "python-stdlib-sources" and cfg["seed"] == 0


def test_router_picks_top_k_and_weights_sum_to_one(model):
    H = np.random.default_rng(0).standard_normal((50, model.config["d"])).astype(np.float32)
    idx, w, probs = moe_lm.gate(model, 0, H)
    assert idx.shape == (50, model.top_k) and np.allclose(w.sum(1), 1, atol=1e-6)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    chosen = np.take_along_axis(probs, idx, 1)
    assert np.all(chosen.min(1) >= np.sort(probs, 1)[:, -model.top_k] - 1e-7)
    if model.top_k == 2:
        assert np.all(idx[:, 0] != idx[:, 1])


def test_token_loop_matches_batched_nll(model, text):
    toks = text[0][:40]
    cache = KVCache.empty(model.config)
    total = 0.0
    for t, nxt in zip(toks[:-1], toks[1:]):
        logits = moe_lm.moe_forward_token(model, int(t), cache).astype(np.float64)
        total += np.log(np.exp(logits - logits.max()).sum()) + logits.max() - logits[nxt]
    assert abs(total - moe_lm.nll(model, toks)) < 1e-3 * total


def test_heldout_perplexity_is_far_below_uniform(model, text):
    ppl = moe_lm.perplexity(model, text)
    assert 1 < ppl < 40  # uniform over bytes would be 256
    # routing matters: sending every token to expert 0 is much worse
    broken = moe_lm.MoEModel(model.config, model.resident, [[layer[0]] * model.E for layer in model.experts])
    assert moe_lm.perplexity(broken, text) > ppl * 1.05


def test_expert_fn_gets_each_expert_once_per_bit_width(model, text):
    calls = []
    dense = moe_lm.dense_expert_fn(model)

    def expert_fn(i, j, bits, H):
        calls.append((i, j, bits, len(H)))
        return dense(i, j, bits, H)

    def bits_fn(i, j, H, scores):  # high gate score -> 4 bits, else 2
        assert scores.shape == (len(H),) and np.all((scores > 0) & (scores <= 1))
        return np.where(scores > 0.5, 4, 2)

    toks = text[1]
    want = moe_lm.nll(model, toks)
    assert moe_lm.nll(model, toks, expert_fn, bits_fn) == pytest.approx(want, rel=1e-6)
    keys = [(i, j, b) for i, j, b, _ in calls]
    assert len(keys) == len(set(keys)) and {b for *_, b in keys} <= {2, 4}
    assert sum(n for *_, n in calls) == model.L * model.top_k * len(toks)
    # a per-bit expert_fn changes the output only for the tokens it is asked about
    zero_4 = lambda i, j, b, H: dense(i, j, b, H) * (b != 4)  # noqa: E731
    assert moe_lm.nll(model, toks, zero_4, bits_fn) != pytest.approx(want, rel=1e-4)


def test_generate_is_deterministic(model):
    prompt = list(b"def ")
    a = moe_lm.generate(model, prompt, 8)
    assert a == moe_lm.generate(model, prompt, 8) and len(a) == 8


def test_save_load_round_trip_and_bad_files(model, tmp_path):
    p = tmp_path / "m.npz"
    moe_lm.save_moe(p, model)
    back = moe_lm.load_moe(p)
    assert np.array_equal(back.experts[1][2][0], model.experts[1][2][0]) and back.config == model.config
    with pytest.raises(ModelLoadError, match="not found"):
        moe_lm.load_moe(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="not a MoE"):
        moe_lm.load_moe(tmp_path / "junk.npz")
    arrays = dict(np.load(p, allow_pickle=False))
    arrays.pop("l0.e1.down")
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(ModelLoadError, match="l0.e1.down"):
        moe_lm.load_moe(tmp_path / "cut.npz")


def test_bad_input(model):
    with pytest.raises(InputError, match="vocabulary"):
        moe_lm.moe_forward_token(model, 300, KVCache.empty(model.config))
    with pytest.raises(InputError, match="tokens"):
        moe_lm.nll(model, np.zeros(model.config["T"] + 1, np.int64))
    with pytest.raises(InputError, match="bits_fn returned shape"):
        moe_lm.nll(model, np.arange(10), bits_fn=lambda i, j, H, s: np.array([4]))
