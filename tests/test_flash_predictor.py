"""Sparsity predictors: training on the tiny fixture, metrics, save/load with model hash."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekiln.errors import InputError, ModelLoadError
from edgekiln.flash_offload.dense import predictor as P
from edgekiln.flash_offload.lm import model as lm
from flash_offload_synth import TINY_FIXTURE as FIXTURE



def sample_tokens(n: int, skip: int = 0) -> np.ndarray:
    """Python source text (like the training corpus, but numpy's files, not the stdlib's)."""
    text = b"\n".join(p.read_bytes() for p in sorted(Path(np.__file__).parent.glob("_core/*.py"))[:8])
    assert len(text) >= skip + n
    return np.frombuffer(text[skip:skip + n], dtype=np.uint8).astype(np.int64)


@pytest.fixture(scope="module")
def tiny():
    return lm.load_checkpoint(FIXTURE)


@pytest.fixture(scope="module")
def trained(tiny):
    cfg, r, ffn = tiny
    windows = [sample_tokens(cfg["T"], skip=s) for s in range(0, 24 * cfg["T"], cfg["T"])]
    return P.train_predictor(cfg, r, ffn, windows, rank=16, epochs=10, target_recall=0.98, seed=0)


def test_threshold_keeps_target_recall_on_training_data(tiny, trained):
    cfg, r, ffn = tiny
    windows = [sample_tokens(cfg["T"], skip=s) for s in range(0, 24 * cfg["T"], cfg["T"])]
    H, Y = P.collect_activations(cfg, r, ffn, windows)
    for i in range(cfg["L"]):
        pred = trained.predict(i, H[i])
        assert (pred & Y[i]).sum() / Y[i].sum() >= 0.98 - 1e-3
        assert pred.mean() < 0.5  # it does not just predict everything


def test_metrics_are_consistent(tiny, trained):
    cfg, r, ffn = tiny
    held = [sample_tokens(cfg["T"], skip=30000 + s) for s in (0, 64, 128, 192)]
    ev = P.evaluate(trained, cfg, r, ffn, held)
    H, Y = P.collect_activations(cfg, r, ffn, held)
    for lay in ev["layers"]:
        i = lay["layer"]
        pred = trained.predict(i, H[i])
        tp, fn, fp = (pred & Y[i]).sum(), (~pred & Y[i]).sum(), (pred & ~Y[i]).sum()
        assert lay["recall"] == pytest.approx(tp / (tp + fn))
        assert lay["precision"] == pytest.approx(tp / (tp + fp))
        assert lay["false_negatives_per_token"] == pytest.approx(fn / len(H[i]))
        assert lay["sparsity"] > 0.9
    assert ev["perplexity_predictor"] >= ev["perplexity_dense"] * 0.99
    # computing every neuron (all static) must give the dense perplexity back
    full = P.evaluate(trained, cfg, r, ffn, held, static=[np.ones(cfg["f"], bool)] * cfg["L"])
    assert full["perplexity_predictor"] == pytest.approx(full["perplexity_dense"], rel=1e-5)
    assert all(lay["missed_after_static_window_per_token"] == 0 for lay in full["layers"])
    # a window only adds neurons: never more misses than the predictor alone
    win = P.evaluate(trained, cfg, r, ffn, held, window_k=4)
    for a, b in zip(win["layers"], ev["layers"]):
        assert a["missed_after_static_window_per_token"] <= b["missed_after_static_window_per_token"]


def test_save_load_and_model_hash(tmp_path, tiny, trained):
    cfg, r, ffn = tiny
    path = tmp_path / "p.npz"
    trained.save(path)
    back = P.Predictor.load(path, expect_hash=trained.model_hash)
    h = np.random.default_rng(1).normal(size=(5, cfg["d"])).astype(np.float32)
    assert np.array_equal(back.predict(1, h), trained.predict(1, h))
    assert np.array_equal(back.ranking(0), trained.ranking(0))
    other = dict(r)
    other["lnf_b"] = other["lnf_b"] + 1
    from edgekiln.flash_offload.dense.ekf_format import model_hash
    with pytest.raises(InputError, match="trained for model"):
        P.Predictor.load(path, expect_hash=model_hash(cfg, other, ffn))
    (tmp_path / "x.npz").write_bytes(b"junk")
    with pytest.raises(ModelLoadError):
        P.Predictor.load(tmp_path / "x.npz")


def test_window_masks():
    m = np.zeros((5, 3), bool)
    m[1, 2] = True
    w = P.window_masks(m, 2)
    assert w[:, 2].tolist() == [False, False, True, True, False]
