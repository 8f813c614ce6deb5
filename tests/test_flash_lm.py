"""flash_offload LM: the numpy token loop against a plain dense reference, checkpoints, sparsity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekiln.errors import ModelLoadError
from edgekiln.flash_offload.lm import model as lm
from flash_offload_synth import TINY_FIXTURE as FIXTURE



@pytest.fixture(scope="module")
def tiny():
    return lm.load_checkpoint(FIXTURE)


def sample_tokens(n: int, skip: int = 0) -> np.ndarray:
    """Python source text (like the training corpus, but numpy's files, not the stdlib's)."""
    text = b"\n".join(p.read_bytes() for p in sorted(Path(np.__file__).parent.glob("_core/*.py"))[:8])
    assert len(text) >= skip + n
    return np.frombuffer(text[skip:skip + n], dtype=np.uint8).astype(np.int64)


def reference_logits(cfg, r, ffn, tokens):
    """Straightforward full recomputation (no KV cache, per-head loops) for every position."""
    d, nh = cfg["d"], cfg["h"]
    dh = d // nh

    def ln(x, g, b):
        mu = x.mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * g + b

    x = np.stack([r["tok_emb"][t] + r["pos_emb"][p] for p, t in enumerate(tokens)]).astype(np.float64)
    n = len(tokens)
    for i in range(cfg["L"]):
        g = lambda k: r[f"l{i}.{k}"].astype(np.float64)  # noqa: E731
        hx = ln(x, g("ln1_g"), g("ln1_b"))
        q, k, v = hx @ g("wq") + g("bq"), hx @ g("wk") + g("bk"), hx @ g("wv") + g("bv")
        att = np.zeros_like(x)
        for hd in range(nh):
            sl = slice(hd * dh, (hd + 1) * dh)
            for t in range(n):
                s = k[: t + 1, sl] @ q[t, sl] / np.sqrt(dh)
                w = np.exp(s - s.max())
                att[t, sl] = (w / w.sum()) @ v[: t + 1, sl]
        x = x + att @ g("wo") + g("bo")
        up, b_up, down = (a.astype(np.float64) for a in ffn[i])
        x = x + np.maximum(ln(x, g("ln2_g"), g("ln2_b")) @ up.T + b_up, 0) @ down + g("b_down")
    x = ln(x, r["lnf_g"], r["lnf_b"])
    return x @ r["tok_emb"].T.astype(np.float64)


def test_fixture_is_small_and_complete(tiny):
    cfg, r, ffn = tiny
    assert FIXTURE.stat().st_size < 2 << 20
    assert cfg["V"] == 256 and len(ffn) == cfg["L"] and cfg["corpus"]["sha256"]
    assert ffn[0][0].shape == (cfg["f"], cfg["d"]) and ffn[0][2].shape == (cfg["f"], cfg["d"])
    assert set(lm.resident_shapes(cfg)) == set(r)


def test_token_loop_matches_dense_reference(tiny):
    cfg, r, ffn = tiny
    toks = sample_tokens(40)
    ref = reference_logits(cfg, r, ffn, toks)
    cache = lm.KVCache.empty(cfg)
    for t, tok in enumerate(toks):
        got = lm.forward_token(cfg, r, int(tok), cache, lm.dense_ffn(ffn))
        np.testing.assert_allclose(got, ref[t], rtol=1e-4, atol=1e-4)
    assert cache.n == len(toks)


def test_batched_nll_matches_token_loop(tiny):
    cfg, r, ffn = tiny
    toks = sample_tokens(cfg["T"], skip=500)
    cache, nll = lm.KVCache.empty(cfg), 0.0
    for t in range(len(toks) - 1):
        lg = lm.forward_token(cfg, r, int(toks[t]), cache, lm.dense_ffn(ffn)).astype(np.float64)
        nll += np.log(np.exp(lg - lg.max()).sum()) + lg.max() - lg[toks[t + 1]]
    assert lm.nll_dense_batch(cfg, r, ffn, toks) == pytest.approx(nll, rel=1e-5)


def test_subset_ffn_with_all_active_neurons_is_exact_enough(tiny):
    cfg, r, ffn = tiny
    up, b_up, down = ffn[0]
    h = np.random.default_rng(0).normal(size=cfg["d"]).astype(np.float32)
    active = np.flatnonzero(up @ h + b_up > 0)
    assert 0 < len(active) < cfg["f"]
    np.testing.assert_allclose(lm.ffn_rows(h, up[active], b_up[active], down[active]), lm.ffn_rows(h, up, b_up, down),
                               rtol=1e-5, atol=1e-5)


def test_ffn_is_sparse_on_source_text(tiny):
    cfg, r, ffn = tiny
    acts = []
    lm.nll_dense_batch(cfg, r, ffn, sample_tokens(cfg["T"], skip=2000),
                       collect=lambda i, H: acts.append(((H @ ffn[i][0].T + ffn[i][1]) > 0).mean()))
    assert all(1 - a > 0.9 for a in acts), acts


def test_greedy_generation_is_deterministic(tiny):
    cfg, r, ffn = tiny
    prompt = lm.encode("def ")
    a = lm.generate_dense(cfg, r, ffn, prompt, 12)
    assert a == lm.generate_dense(cfg, r, ffn, prompt, 12) and len(a) == 12


def test_bad_checkpoints(tmp_path, tiny):
    cfg, r, ffn = tiny
    with pytest.raises(ModelLoadError, match="not found"):
        lm.load_checkpoint(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="not a flash_offload"):
        lm.load_checkpoint(tmp_path / "junk.npz")
    bad = dict(r)
    bad["l0.wq"] = bad["l0.wq"][:, :-1]
    lm.save_checkpoint(tmp_path / "bad.npz", cfg, bad, ffn)
    with pytest.raises(ModelLoadError, match="l0.wq"):
        lm.load_checkpoint(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="context"):
        lm.generate_dense(cfg, r, ffn, [1] * cfg["T"], 1)


def test_corpus_split_is_deterministic_and_by_file(tmp_path):
    from edgekiln.errors import InputError
    from edgekiln.flash_offload.lm.corpus import heldout_windows, load_corpus

    for k in range(40):
        (tmp_path / f"m{k}.py").write_text(f"x{k} = {k}\n" * 20)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "skip.py").write_text("SKIPPED\n")
    a, b = load_corpus(tmp_path), load_corpus(tmp_path)
    assert a.digest == b.digest and np.array_equal(a.heldout, b.heldout)
    assert a.files == 40 and b"SKIPPED" not in a.train.tobytes() + a.heldout.tobytes()
    held = {ln for ln in a.heldout.tobytes().split(b"\n") if ln}
    assert held and not held & {ln for ln in a.train.tobytes().split(b"\n") if ln}  # no file on both sides
    w = heldout_windows(a.train, 16, 3)
    assert len(w) == 3 and all(len(x) == 16 for x in w)
    with pytest.raises(InputError, match="too few"):
        load_corpus(tmp_path / "test")
