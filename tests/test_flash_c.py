"""The flash-offload C runtime (flash_offload/dense/c): same tokens as the numpy model, on the host
and on arm under qemu-aarch64; clear errors on bad files; I/O counters that add up."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import require_target, target_params, targets_where
from edgekiln.flash_offload.lm import model as lm
from edgekiln.flash_offload.dense.c_build import C_DIR, build
from edgekiln.flash_offload.dense.c_runner import CRuntimeError, run_c
from edgekiln.flash_offload.dense.ekf_format import EkfFormatError, EkfFile, model_hash, write_ekf
from edgekiln.flash_offload.dense.engine import OffloadEngine
from edgekiln.flash_offload.dense.predictor import Predictor
from flash_offload_synth import TINY_FIXTURE as FIXTURE

# The flash C runtime reads files through POSIX: the host and Linux user-mode targets (arm
# runs under qemu-aarch64).
TARGETS = target_params(targets_where(kind=("host", "linux-user")))
LINUX_USER = target_params(targets_where(kind=("linux-user",)))
TIE = 1e-4       # logit gap under which float32 sum order may pick either token
PROMPT = b"The cat sat"


def random_model(seed: int, V=256, d=32, L=2, h=4, f=64, T=48):
    """Weights scaled so attention, LayerNorm and about half the FFN neurons all matter."""
    rng = np.random.default_rng(seed)

    def r(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    cfg = {"V": V, "d": d, "L": L, "h": h, "f": f, "T": T}
    res = {"tok_emb": r(V, d, scale=0.5), "pos_emb": r(T, d, scale=0.1), "lnf_g": 1 + r(d), "lnf_b": r(d)}
    for i in range(L):
        for k in lm.LAYER_RESIDENT:
            res[f"l{i}.{k}"] = r(d, d) if k.startswith("w") else (1 + r(d) if k.endswith("_g") else r(d))
    ffn = [(r(f, d), r(f) - 0.1, r(f, d)) for _ in range(L)]
    return cfg, res, ffn


def reference(cfg, res, ffn, prompt: bytes, n: int, ffn_fn=None) -> tuple[list[int], list[float]]:
    """Greedy tokens and the logit margin (best - second) at every position, numpy float32;
    `ffn_fn(layer, h)` replaces the dense FFN when given."""
    cache = lm.KVCache.empty(cfg)
    fn = ffn_fn or lm.dense_ffn(ffn)
    margins, out = [], []
    seq = list(prompt)
    for pos in range(len(prompt) + n - 1):
        logits = lm.forward_token(cfg, res, seq[pos], cache, fn)
        top = np.sort(logits)[-2:]
        margins.append(float(top[1] - top[0]))
        if pos >= len(prompt) - 1:
            out.append(int(np.argmax(logits)))
            seq.append(out[-1])
    return out, margins


def assert_same_tokens(got: list[int], want: list[int], margins: list[float], n_prompt: int) -> None:
    """Equal, or equal up to a position where numpy's own top-2 gap is a near-tie."""
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            m = margins[n_prompt - 1 + i]
            assert m < TIE, f"token {i}: C {g} vs numpy {w} with numpy margin {m:.3g} (not a near-tie)"
            return
    assert len(got) == len(want)


def random_predictor(cfg, res, ffn, seed: int, rank: int = 8) -> Predictor:
    """A low-rank predictor with random weights: misses and extra neurons both happen."""
    rng = np.random.default_rng(seed)
    L, d, f = cfg["L"], cfg["d"], cfg["f"]

    def r(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    return Predictor([r(d, rank, scale=0.3) for _ in range(L)], [r(rank, scale=0.1) for _ in range(L)],
                     [r(rank, f) for _ in range(L)], [r(f, scale=0.1) for _ in range(L)],
                     [float(t) for t in rng.uniform(-0.3, 0.3, L)], model_hash(cfg, res, ffn), {},
                     [rng.random(f).astype(np.float32) for _ in range(L)])


@pytest.fixture(scope="module")
def rand(tmp_path_factory):
    cfg, res, ffn = random_model(7)
    path = tmp_path_factory.mktemp("ekfc") / "rand.ekf"
    write_ekf(path, cfg, res, ffn)
    return path, cfg, res, ffn


@pytest.fixture(scope="module")
def rand_pred(rand, tmp_path_factory):
    path, cfg, res, ffn = rand
    pred = random_predictor(cfg, res, ffn, seed=11)
    ppath = tmp_path_factory.mktemp("ekfc") / "pred.npz"
    pred.save(ppath)
    return ppath, pred


@pytest.mark.parametrize("target", TARGETS)
def test_forward_matches_numpy(rand, target):
    require_target(target)
    path, cfg, res, ffn = rand
    n = 12
    want, margins = reference(cfg, res, ffn, PROMPT, n)
    r = run_c(path, PROMPT, n, target=target)
    assert_same_tokens(r.tokens, want, margins, len(PROMPT))
    # Every position's top-2 gap agrees with numpy: the whole forward pass, not only argmax.
    got_m = [rec.margin for rec in r.records]
    np.testing.assert_allclose(got_m, margins[: len(got_m)], atol=5e-5, rtol=0)


@pytest.mark.parametrize("target", LINUX_USER)
def test_arm_bit_identical_to_host(rand, target):
    path = rand[0]
    host, arm = (run_c(path, PROMPT, 8, target=t) for t in ("host", target))
    assert host.tokens == arm.tokens
    assert [r.margin for r in host.records] == [r.margin for r in arm.records]


def test_naive_counters_add_up(rand):
    path, cfg, *_ = rand
    r = run_c(path, PROMPT, 4)
    stride = int(r.begin["bundle_bytes"])
    assert stride == EkfFile(path).bundle_stride
    for rec in r.records:
        c = rec.counters
        assert c["loaded"] == c["used"] == cfg["L"] * cfg["f"]   # naive: every neuron, every layer
        assert c["bytes"] == c["loaded"] * stride
        assert c["reads"] == cfg["L"]                            # whole section in one read
        assert 0 < c["active"] < c["used"]
    assert r.end["bytes"] == r.total("bytes")
    assert len(r.records) == len(PROMPT) + 4 - 1


def test_small_budget_reads_in_chunks_same_tokens(rand):
    path, cfg, *_ = rand
    full = run_c(path, PROMPT, 4)
    fixed = int(full.begin["dram_bytes"]) - cfg["f"] * int(full.begin["bundle_bytes"])
    stride = int(full.begin["bundle_bytes"])
    chunked = run_c(path, PROMPT, 4, budget=fixed + 10 * stride)
    assert int(chunked.begin["staging_bundles"]) == 10
    assert int(chunked.begin["dram_bytes"]) <= fixed + 10 * stride
    assert chunked.tokens == full.tokens
    for rec in chunked.records:
        assert rec.counters["bytes"] == rec.counters["loaded"] * stride
        assert rec.counters["reads"] == cfg["L"] * -(-cfg["f"] // 10)


def test_budget_below_resident_says_minimum(rand):
    with pytest.raises(CRuntimeError, match=r"below the minimum .*: \d+ bytes"):
        run_c(rand[0], PROMPT, 2, budget=1000)


def _corrupt(src, dst, offset: int, n_keep: int | None = None):
    data = bytearray(src.read_bytes())
    if n_keep is not None:
        data = data[:n_keep]
    else:
        data[offset] ^= 0x5A
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("where,message", [
    ("magic", "not an EKF"),
    ("header", "header checksum mismatch"),
    ("resident", "checksum mismatch in section 'l0.bk'"),
    ("neurons", "checksum mismatch in section 'l1.bundled'"),
    ("truncated", "truncated"),
])
def test_bad_file_clear_error(rand, tmp_path, where, message):
    path = rand[0]
    ekf = EkfFile(path)
    secs = ekf.sections
    if where == "truncated":
        bad = _corrupt(path, tmp_path / "bad.ekf", 0, n_keep=ekf.file_size - 5000)
    else:
        offset = {"magic": 1, "header": 64 + 20,
                  "resident": secs["l0.bk"].offset + 8,
                  "neurons": secs["l1.bundled"].offset + 3 * ekf.bundle_stride + 4}[where]
        bad = _corrupt(path, tmp_path / "bad.ekf", offset)
    with pytest.raises(CRuntimeError, match=message):
        run_c(bad, PROMPT, 2)
    with pytest.raises(EkfFormatError):      # the Python reader refuses the same file
        EkfFile(bad).verify()


def test_missing_file_and_bad_prompt(tmp_path, rand):
    with pytest.raises(CRuntimeError, match="cannot open"):
        run_c(tmp_path / "none.ekf", PROMPT, 2)
    with pytest.raises(CRuntimeError, match="exceed the model's context"):
        run_c(rand[0], PROMPT, 100)



def test_predictor_mode_matches_spec(rand, rand_pred):
    """Predictor mode computes exactly the neurons the numpy predictor marks active."""
    path, cfg, res, ffn = rand
    ppath, pred = rand_pred
    n = 10
    counts: list[int] = []

    def ffn_fn(i, h):
        if i == 0:
            counts.append(0)
        m = pred.predict(i, h)
        counts[-1] += int(m.sum())
        up, b_up, down = ffn[i]
        return lm.ffn_rows(h, up[m], b_up[m], down[m])

    want, margins = reference(cfg, res, ffn, PROMPT, n, ffn_fn)
    r = run_c(path, PROMPT, n, mode="predictor", predictor=ppath, static_rows=0, cache_rows=cfg["f"])
    assert [rec.counters["predicted"] for rec in r.records] == counts
    assert [rec.counters["used"] for rec in r.records] == counts   # no static, nothing dropped
    assert_same_tokens(r.tokens, want, margins, len(PROMPT))
    np.testing.assert_allclose([rec.margin for rec in r.records], margins, atol=5e-5, rtol=0)


# The C runtime still has the old naive (reads every neuron: static 0) and one cache size for
# all layers (the Python engine's cache_fraction form); the rows pin the Python engine to those.
ENGINE_CONFIGS = [  # (python config, C mode, static_fraction, cache_fraction)
    ("naive", "naive", 0.0, 0.125),
    ("hybrid", "hybrid", 0.25, 0.125),
    ("predictor", "predictor", 0.1, 0.9),
    ("window", "window", 0.1, 0.9),
    ("bundle", "window", 0.0, 0.9),
    ("bundle", "window", 0.25, 0.125),     # small cache: LRU evictions and dropped neurons
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config,mode,static_fraction,cache_fraction", ENGINE_CONFIGS)
def test_same_tokens_and_counters_as_python_engine(rand, rand_pred, target, config, mode, static_fraction,
                                                   cache_fraction):
    require_target(target)
    path, cfg, *_ = rand
    ppath, pred = rand_pred
    n, k = 10, 2
    eng = OffloadEngine(path, config, predictor=None if config == "naive" else pred, budget_bytes=10**8,
                        window_k=k, static_fraction=static_fraction, cache_fraction=cache_fraction,
                        direct=False, cold=False)
    toks, stats = eng.generate(list(PROMPT), n)
    r = run_c(path, PROMPT, n, target=target, mode=mode, predictor=None if config == "naive" else ppath,
              window=k, static_rows=eng.plan.static_per_layer, cache_rows=eng.plan.cache_per_layer,
              check_cache=True)
    assert r.tokens == toks
    stride = int(r.begin["bundle_bytes"])
    for s, rec in zip(stats, r.records, strict=True):
        c = rec.counters
        assert (c["loaded"], c["used"], c["dropped"]) == (s.neurons_loaded, s.neurons_computed, s.dropped)
        if mode in ("predictor", "window"):
            assert c["predicted"] == s.predicted
        assert c["bytes"] == c["loaded"] * stride                 # bundles, no padding read
        assert c["reads"] <= c["loaded"] and (c["loaded"] == 0) == (c["reads"] == 0)  # runs coalesce
    if config == "bundle" and cache_fraction < 0.5:
        assert r.total("dropped") > 0 and r.total("evicted") > 0  # the case this row exists for


def test_window_reads_less_than_predictor(rand, rand_pred):
    path, cfg, *_ = rand
    ppath, _ = rand_pred
    kw = dict(predictor=ppath, static_rows=0, cache_rows=cfg["f"], check_cache=True)
    pred = run_c(path, PROMPT, 10, mode="predictor", **kw)
    win = run_c(path, PROMPT, 10, mode="window", window=3, **kw)
    assert win.total("loaded") < pred.total("loaded")
    assert win.total("hits") > pred.total("hits")
    # every neuron read was predicted: the window only saves reads, it never reads more
    assert all(rec.counters["loaded"] <= rec.counters["predicted"] for rec in win.records)


def test_predictor_for_another_model_refused(rand, tmp_path):
    path, cfg, res, ffn = rand
    other = random_model(8)
    bad = random_predictor(*other, seed=1)
    bad.save(tmp_path / "other.npz")
    with pytest.raises(CRuntimeError, match="trained for model"):
        run_c(path, PROMPT, 2, mode="window", predictor=tmp_path / "other.npz")


def test_corrupt_predictor_file(rand_pred, rand, tmp_path):
    ppath, _ = rand_pred
    data = bytearray(ppath.read_bytes())
    data[len(data) // 2] ^= 0x01
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    with pytest.raises(CRuntimeError, match="checksum mismatch in member"):
        run_c(rand[0], PROMPT, 2, mode="window", predictor=tmp_path / "bad.npz")
    (tmp_path / "short.npz").write_bytes(ppath.read_bytes()[:1000])
    with pytest.raises(CRuntimeError, match="truncated"):
        run_c(rand[0], PROMPT, 2, mode="window", predictor=tmp_path / "short.npz")


def test_predictor_modes_need_a_predictor(rand):
    with pytest.raises(CRuntimeError, match="need a predictor"):
        run_c(rand[0], PROMPT, 2, mode="window")


@pytest.mark.parametrize("mode", ["naive", "hybrid", "window"])
def test_token_loop_allocates_nothing(rand, rand_pred, tmp_path, mode):
    """Same number of malloc/calloc/realloc calls for 2 and for 20 tokens (glibc host build)."""
    shim = tmp_path / "malloc_count.so"
    src = Path(__file__).parent / "data" / "flash_c" / "malloc_count.c"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", str(src), "-o", str(shim)], check=True)
    counts = []
    for n in (2, 20):
        out = tmp_path / f"count{n}.txt"
        args = [str(build("host")), str(rand[0]), "--mode", mode, "--prompt", "hi", "--tokens", str(n),
                "--threads", "3"]
        if mode != "naive":
            args += ["--predictor", str(rand_pred[0]), "--static", "8"]
        proc = subprocess.run(args, capture_output=True, text=True,
                              env={"LD_PRELOAD": str(shim), "EKFO_MALLOC_COUNT": str(out)})
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("ekfo-token") == 1 + n          # prompt "hi": 2 positions, n-1 more
        counts.append(int(out.read_text()))
    assert counts[0] == counts[1] > 10


def test_padded_bundles_same_tokens(rand, rand_pred, tmp_path):
    """A file packed with bundle_align=64 (stride > 4(2d+1)): the runtime uses the recorded stride."""
    path, cfg, res, ffn = rand
    padded = write_ekf(tmp_path / "padded.ekf", cfg, res, ffn, layouts=("bundled",), bundle_align=64)
    stride = EkfFile(padded).bundle_stride
    assert stride % 64 == 0 and stride > 4 * (2 * cfg["d"] + 1)
    kw = dict(mode="window", predictor=rand_pred[0], static_rows=4, cache_rows=20, window=2)
    a, b = run_c(path, PROMPT, 8, **kw), run_c(padded, PROMPT, 8, **kw)
    assert a.tokens == b.tokens
    assert [r.margin for r in a.records] == [r.margin for r in b.records]
    assert all(r.counters["bytes"] == r.counters["loaded"] * stride for r in b.records)


@pytest.mark.parametrize("target", TARGETS)
def test_direct_reads_same_tokens(rand, rand_pred, target):
    """--direct: O_DIRECT reads rounded out to 4 KiB blocks (or a warning and buffered reads)."""
    require_target(target)
    kw = dict(target=target, mode="window", predictor=rand_pred[0], static_rows=4, cache_rows=20, window=2)
    buffered, direct = run_c(rand[0], PROMPT, 6, **kw), run_c(rand[0], PROMPT, 6, direct=True, **kw)
    assert direct.tokens == buffered.tokens
    assert direct.total("loaded") == buffered.total("loaded")
    if direct.begin["direct"] == "1":
        for rec in direct.records:
            c = rec.counters
            assert c["io_bytes"] % 4096 == 0 and c["io_bytes"] >= c["bytes"]
            assert c["io_bytes"] <= c["reads"] * (4096 + -(-c["bytes"] // 4096) * 4096)
    else:
        assert any("page cache" in w for w in direct.warnings)
    assert all(r.counters["io_bytes"] == r.counters["bytes"] for r in buffered.records)


def test_cli_run_c(rand, tmp_path):
    from click.testing import CliRunner

    from edgekiln.cli import main

    res = CliRunner().invoke(main, ["flash-offload", "run-c", str(rand[0]), "--prompt", "The cat", "--tokens", "3"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("The cat") and "[host naive] 9 positions" in res.output
    res = CliRunner().invoke(main, ["flash-offload", "run-c", str(tmp_path / "none.ekf"), "--prompt", "x"])
    assert res.exit_code == 2 and "cannot open" in " ".join(res.output.split())  # rich wraps lines




@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The committed tiny model packed to .ekf, with a predictor trained on stdlib windows."""
    from edgekiln.flash_offload.lm.corpus import heldout_windows, load_corpus
    from edgekiln.flash_offload.dense.predictor import train_predictor

    cfg, res, ffn = lm.load_checkpoint(FIXTURE)
    tmp = tmp_path_factory.mktemp("ekfc_trained")
    path = write_ekf(tmp / "tiny.ekf", cfg, res, ffn)
    windows = heldout_windows(load_corpus(max_bytes=400_000).train, cfg["T"], 24)
    pred = train_predictor(cfg, res, ffn, windows, rank=16, epochs=3)
    pred.save(tmp / "pred.npz")
    return path, tmp / "pred.npz", pred, (cfg, res, ffn)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config,mode", [("naive", "naive"), ("hybrid", "hybrid"), ("predictor", "predictor"),
                                         ("window", "window"), ("bundle", "window")])
def test_trained_fixture_same_as_python_engine(trained, target, config, mode):
    """The committed model: C and Python engines at the same DRAM plan give the same text
    and read the same neurons at every position."""
    require_target(target)
    path, ppath, pred, (cfg, res, ffn) = trained
    prompt, n = b"import os\ndef ", 30
    budget = int(0.9 * (EkfFile(path).resident_bytes + EkfFile(path).ffn_bytes))
    eng = OffloadEngine(path, config, predictor=None if config == "naive" else pred, budget_bytes=budget,
                        window_k=3, direct=False, cold=False, cache_fraction=0.125,
                        static_fraction=0.0 if config == "naive" else None)
    toks, stats = eng.generate(list(prompt), n)
    r = run_c(path, prompt, n, target=target, mode=mode, predictor=None if config == "naive" else ppath, window=3,
              static_rows=eng.plan.static_per_layer, cache_rows=eng.plan.cache_per_layer, check_cache=True)
    assert r.tokens == toks, f"C {bytes(r.tokens)!r} vs Python {bytes(toks)!r}"
    got = [(x.counters["loaded"], x.counters["used"], x.counters["dropped"]) for x in r.records]
    assert got == [(s.neurons_loaded, s.neurons_computed, s.dropped) for s in stats]
    if config in ("naive", "hybrid"):
        assert toks == lm.generate_dense(cfg, res, ffn, list(prompt), n)


def test_hybrid_gap_bridging(rand, rand_pred):
    """--gap-bytes: holes (static neurons) read through; fewer reads, same neurons computed."""
    path, cfg, *_ = rand
    kw = dict(mode="hybrid", predictor=rand_pred[0], static_rows=16)
    plain, bridged = run_c(path, PROMPT, 5, **kw), run_c(path, PROMPT, 5, gap_bytes=4096, **kw)
    stride = int(plain.begin["bundle_bytes"])
    assert bridged.tokens == plain.tokens
    assert [r.margin for r in bridged.records] == [r.margin for r in plain.records]
    for p, b in zip(plain.records, bridged.records):
        assert b.counters["loaded"] == p.counters["loaded"] == cfg["L"] * (cfg["f"] - 16)
        assert p.counters["bridged"] == 0 < b.counters["bridged"] <= cfg["L"] * 16
        assert b.counters["reads"] < p.counters["reads"]
        for c in (p.counters, b.counters):
            assert c["bytes"] == (c["loaded"] + c["bridged"]) * stride


def test_header_bit_flips_never_crash(rand, tmp_path):
    """Any flipped byte in the fixed header, section table or metadata: a clear error (exit 2),
    never a crash or a silent run. (The header crc covers the table and JSON.)"""
    path = rand[0]
    ekf = EkfFile(path)
    data = path.read_bytes()
    end = 64 + 128 * len(ekf.sections) + 200
    rng = np.random.default_rng(5)
    for off in sorted(set(rng.integers(0, end, 40).tolist()) | set(range(0, 64, 4))):
        bad = bytearray(data)
        bad[off] ^= 1 << int(rng.integers(0, 8))
        p = tmp_path / "flip.ekf"
        p.write_bytes(bytes(bad))
        if off in range(48, 64):          # reserved bytes: ignored by design
            continue
        with pytest.raises(CRuntimeError):
            run_c(p, PROMPT, 1)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("mode", ["hybrid", "window"])
def test_read_threads_same_results(rand, rand_pred, target, mode):
    """--threads 4: a layer's reads go out together on a thread pool; nothing else changes."""
    require_target(target)
    kw = dict(target=target, mode=mode, predictor=rand_pred[0], static_rows=16, cache_rows=24, window=2)
    one, four = run_c(rand[0], PROMPT, 6, **kw), run_c(rand[0], PROMPT, 6, threads=4, **kw)
    assert four.begin["threads"] == "4"
    assert four.tokens == one.tokens
    assert [r.margin for r in four.records] == [r.margin for r in one.records]
    keys = ("bytes", "reads", "loaded", "used", "dropped", "bridged")
    assert [[r.counters[k] for k in keys] for r in four.records] == [[r.counters[k] for k in keys] for r in one.records]


@pytest.mark.parametrize("mode", ["hybrid", "predictor", "window"])
def test_budget_split_stays_within_budget(rand, rand_pred, mode):
    """Without --static, what the budget leaves becomes static neurons; DRAM use <= budget."""
    path, cfg, *_ = rand
    kw = dict(mode=mode, predictor=rand_pred[0], cache_rows=8)
    base = run_c(path, PROMPT, 2, static_rows=0, **kw)
    per_static = cfg["L"] * (int(base.begin["bundle_bytes"]) + 4)     # bundle + its id, every layer
    for extra in (5, 12):
        budget = int(base.begin["dram_bytes"]) + extra * per_static + 3
        r = run_c(path, PROMPT, 2, budget=budget, **kw)
        assert int(r.begin["dram_bytes"]) <= budget
        assert int(r.begin["static_rows"]) == extra
        assert r.begin["staging_bundles"] == base.begin["staging_bundles"]   # hybrid: still a whole layer


@pytest.fixture(scope="module")
def cache_driver(tmp_path_factory):
    exe = tmp_path_factory.mktemp("cache") / "cache_driver"
    subprocess.run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", f"-I{C_DIR}",
                    str(Path(__file__).parent / "data" / "flash_c" / "cache_driver.c"), str(C_DIR / "ek_fo_cache.c"),
                    "-o", str(exe)], check=True)
    return exe


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_cache_policy_equals_python_window_cache(cache_driver, data):
    """Property: for any sequence of predicted sets, the C cache and window_cache.WindowCache
    read the same neurons, drop as many, and keep the same ids in the same rows."""
    from edgekiln.flash_offload.dense.window_cache import WindowCache

    f = data.draw(st.integers(4, 40), label="f")
    cap = data.draw(st.integers(0, f), label="cap")
    k = data.draw(st.integers(0, 4), label="k")
    steps = data.draw(st.lists(st.sets(st.integers(0, f - 1), max_size=f), min_size=1, max_size=12), label="steps")
    lines = [f"{f} {cap}"] + [" ".join(map(str, [t, k, len(s), *sorted(s)])) for t, s in enumerate(steps)]
    out = subprocess.run([str(cache_driver)], input="\n".join(lines) + "\n", capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    py = WindowCache(f, cap, 1)
    for t, (s, line) in enumerate(zip(steps, out.stdout.splitlines(), strict=True)):
        need, dropped = py.admit(np.array(sorted(s), dtype=np.int64), t, k)
        py.append_slots(need)
        py.check()
        left, right = line.split(" | ")
        got = list(map(int, left.split()))
        rows = list(map(int, right.split()))
        assert got[0] == dropped and got[2:] == need.tolist()
        assert rows[1:] == py.ids[:py.n].tolist()
