"""Hugging Face checkpoints in flash_offload: tiny OPT and ReLU-Llama models made here with
transformers (random weights, save_pretrained; nothing downloaded) give transformers' logits
within 1e-4; the engine over their .ekf (float32/float16/int8) gives the dense tokens;
`kiln flash-offload import` and `generate` over token ids; bad checkpoints, tokenizers, files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from click.testing import CliRunner  # noqa: E402

from edgekiln.cli import main  # noqa: E402
from edgekiln.errors import InputError  # noqa: E402
from edgekiln.flash_offload.dense.ekf_format import EkfFile, EkfFormatError, write_ekf  # noqa: E402
from edgekiln.flash_offload.dense.engine import OffloadEngine  # noqa: E402
from edgekiln.flash_offload.dense.storage import stored_ffn  # noqa: E402
from edgekiln.flash_offload.hf.importer import import_checkpoint, load_hf, tokenizer_of  # noqa: E402
from edgekiln.flash_offload.lm import model as lm  # noqa: E402

V = 320
TOL = 1e-4


def source_text(n_files: int = 6) -> str:
    return "\n".join(p.read_text() for p in sorted(Path(np.__file__).parent.glob("_core/*.py"))[:n_files])


def save_tokenizer(folder: Path, vocab: int = 300) -> Path:
    """A byte-level BPE tokenizer.json trained here by the `tokenizers` library."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([source_text(3)], trainer)
    path = folder / "tokenizer.json"
    tok.save(str(path))
    return path


def make_opt(folder: Path, seed: int = 0, **kw) -> Path:
    torch.manual_seed(seed)
    c = transformers.OPTConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, ffn_dim=96, num_attention_heads=4,
                               max_position_embeddings=64, init_std=0.2, **kw)
    transformers.OPTForCausalLM(c).eval().save_pretrained(folder)
    save_tokenizer(folder)
    return folder


def make_llama(folder: Path, seed: int = 0, **kw) -> Path:
    torch.manual_seed(seed)
    args = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, intermediate_size=96, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=64, hidden_act="relu", initializer_range=0.2,
                rope_parameters={"rope_type": "default", "rope_theta": 5000.0}, tie_word_embeddings=False)
    args.update(kw)
    transformers.LlamaForCausalLM(transformers.LlamaConfig(**args)).eval().save_pretrained(folder)
    save_tokenizer(folder)
    return folder


VARIANTS = {
    "opt": lambda d: make_opt(d),
    "opt-project-in-out": lambda d: make_opt(d, word_embed_proj_dim=16),
    "opt-norm-after": lambda d: make_opt(d, do_layer_norm_before=False),
    "llama-gqa-relu": lambda d: make_llama(d),
    "llama-tied-mha": lambda d: make_llama(d, num_key_value_heads=4, tie_word_embeddings=True),
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def checkpoint(request, tmp_path_factory):
    return request.param, VARIANTS[request.param](tmp_path_factory.mktemp(request.param))


def hf_logits(folder: Path, tokens: np.ndarray) -> np.ndarray:
    m = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return m(torch.tensor(tokens[None])).logits[0].numpy()


def tokens_for(cfg: dict, n: int = 24, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, cfg["V"], n)


def test_logits_equal_transformers(checkpoint):
    name, folder = checkpoint
    cfg, r, ffn, _ = load_hf(folder)
    assert cfg["arch"] == name.split("-")[0]
    toks = tokens_for(cfg)
    ref = hf_logits(folder, toks)
    cache = lm.KVCache.empty(cfg)
    got = np.stack([lm.forward_token(cfg, r, int(t), cache, lm.dense_ffn(ffn)) for t in toks])
    np.testing.assert_allclose(got, ref, rtol=0, atol=TOL)
    assert np.abs(ref).max() > 1.0  # weights large enough that a wrong layer shows
    # the batched path (predictor training, perplexities) computes the same model
    lp = torch.log_softmax(torch.tensor(ref, dtype=torch.float64), -1).numpy()
    want = -lp[np.arange(len(toks) - 1), toks[1:]].sum()
    assert lm.nll_dense_batch(cfg, r, ffn, toks) == pytest.approx(want, rel=1e-5)
    # and a gated neuron's activity is its relu(gate) > 0: about half on random weights
    h = np.random.default_rng(0).normal(size=cfg["d"]).astype(np.float32)
    assert 0.1 < float(((ffn[0][0] @ h + ffn[0][1]) > 0).mean()) < 0.9


class Oracle:
    """Perfect predictor over the stored model (pre-activation > 0)."""

    nbytes = 0

    def __init__(self, model_hash, ffn):
        self.model_hash, self.ffn = model_hash, ffn

    def predict(self, layer, h):
        return self.ffn[layer][0] @ h + self.ffn[layer][1] > 0

    def ranking(self, layer):
        return np.arange(self.ffn[layer][0].shape[0])


@pytest.mark.parametrize("storage", ["float32", "float16", "int8"])
def test_engine_equals_dense_on_the_stored_model(checkpoint, storage, tmp_path):
    name, folder = checkpoint
    cfg, r, ffn, _ = load_hf(folder)
    path = write_ekf(tmp_path / "m.ekf", cfg, r, ffn, storage=storage)
    f = EkfFile(path)
    assert f.version == 2 and f.storage == storage and f.gated == name.startswith("llama")
    stored = [f.ffn(i) for i in range(cfg["L"])]
    for a, b in zip(stored, stored_ffn(ffn, storage)):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    err = max(float(np.abs(a[0] - b[0]).max()) for a, b in zip(stored, ffn))
    assert err == 0 if storage == "float32" else 0 < err < (2e-3 if storage == "float16" else 2e-2)
    prompt = [int(t) for t in tokens_for(cfg, 6)]
    want = lm.generate_dense(cfg, r, stored, prompt, 10)
    budget = int(0.8 * (f.resident_bytes + f.ffn_bytes)) + 400_000
    for config in ("naive", "bundle"):
        eng = OffloadEngine(f, config, predictor=Oracle(f.model_hash, stored), budget_bytes=budget, window_k=2,
                            audit=True, static_fraction=0.25, cache_fraction=0.75)
        got, stats = eng.generate(prompt, 10)
        assert got == want, config
        assert all(s.missed in (-1, 0) and s.dropped == 0 for s in stats)
        assert sum(s.bytes_read for s in stats) > 0, (config, eng.memory_report())


def test_storage_shrinks_bytes(tmp_path):
    cfg, r, ffn, _ = load_hf(make_llama(tmp_path / "ck"))
    sizes = {s: EkfFile(write_ekf(tmp_path / f"{s}.ekf", cfg, r, ffn, storage=s, layouts=("bundled",))).ffn_bytes
             for s in ("float32", "float16", "int8")}
    d, f = cfg["d"], cfg["f"]
    assert sizes["float32"] == cfg["L"] * f * 4 * (3 * d + 1)
    assert sizes["float16"] == cfg["L"] * f * (4 + 2 * 3 * d)
    assert sizes["int8"] == cfg["L"] * f * (4 + 3 * 4 + 3 * d)


def test_import_cli_and_generate_over_token_ids(tmp_path):
    folder = make_opt(tmp_path / "opt")
    (tmp_path / "calib.txt").write_text(source_text(4))
    out = tmp_path / "m.ekf"
    res = CliRunner().invoke(main, ["flash-offload", "import", str(folder), "-o", str(out), "--storage", "int8",
                                    "--calib", str(tmp_path / "calib.txt"), "--windows", "12", "--window", "48",
                                    "--rank", "8"])
    assert res.exit_code == 0, res.output
    pred = tmp_path / "m.pred.npz"
    assert pred.is_file() and "checksums verified" in res.output
    f = EkfFile(out)
    tok = tokenizer_of(f)
    cfg, r = f.config, f.resident()
    stored = [f.ffn(i) for i in range(cfg["L"])]
    prompt = tok.encode("def main(argv):\n    return")
    assert len(prompt) < len("def main(argv):\n    return")  # merges: real tokens, not bytes
    want = lm.generate_dense(cfg, r, stored, prompt, 8)
    for args in (["--prompt", "def main(argv):\n    return"], ["--ids", ",".join(map(str, prompt))]):
        res = CliRunner().invoke(main, ["flash-offload", "generate", str(out), *args, "--tokens", "8", "--config",
                                        "naive", "--budget-bytes", "400000"])
        assert res.exit_code == 0, res.output
        assert f"ids: {' '.join(map(str, want))}" in res.output
        assert "dropped" in res.output and "cost model: measured on m.ekf" in res.output
    res = CliRunner().invoke(main, ["flash-offload", "generate", str(out), "--ids", "1,2,3", "--tokens", "4",
                                    "--predictor", str(pred), "--config", "bundle", "--budget-bytes", "400000"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["flash-offload", "generate", str(out), "--ids", f"1,{V + 5}", "--tokens", "2",
                                    "--config", "naive", "--budget-bytes", "400000"])
    assert res.exit_code == 2 and "outside the vocabulary" in res.output


def _cli_error(args) -> str:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    return " ".join(res.output.split())


def test_bad_checkpoints(tmp_path):
    folder = make_llama(tmp_path / "ck")
    out = str(tmp_path / "x.ekf")
    # unsupported architecture: say which are supported
    gpt = tmp_path / "gpt2"
    gpt.mkdir()
    (gpt / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    msg = _cli_error(["flash-offload", "import", str(gpt), "-o", out])
    assert "unsupported architecture" in msg and "gpt2" in msg and "opt" in msg and "llama" in msg
    silu = tmp_path / "silu"
    make_llama(silu, hidden_act="silu")
    msg = _cli_error(["flash-offload", "import", str(silu), "-o", out])
    assert "hidden_act='silu'" in msg and "ReLU" in msg
    # sharded checkpoints: a missing shard, a shard that does not match its index
    sharded = tmp_path / "sharded"
    m = transformers.AutoModelForCausalLM.from_pretrained(folder)
    m.save_pretrained(sharded, max_shard_size="20KB")
    shards = sorted(sharded.glob("model-*.safetensors"))
    assert len(shards) > 2 and (sharded / "model.safetensors.index.json").is_file()
    cfg, r, ffn, _ = load_hf(sharded)  # whole: it loads
    assert cfg["L"] == 2
    index = json.loads((sharded / "model.safetensors.index.json").read_text())
    shards[1].rename(tmp_path / "aside.safetensors")
    msg = _cli_error(["flash-offload", "import", str(sharded), "-o", out])
    assert "missing" in msg and shards[1].name in msg
    (tmp_path / "aside.safetensors").rename(shards[1])
    name = next(k for k, v in index["weight_map"].items() if v == shards[1].name)
    index["weight_map"][name] = shards[0].name
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    msg = _cli_error(["flash-offload", "import", str(sharded), "-o", out])
    assert "does not match" in msg
    (sharded / "model.safetensors.index.json").unlink()
    shards[0].unlink()
    msg = _cli_error(["flash-offload", "import", str(sharded), "-o", out])
    assert "shards" in msg and "missing" in msg
    # a tensor of the wrong shape, and no weights at all
    from safetensors.numpy import load_file, save_file
    one = tmp_path / "shape"
    make_opt(one)
    t = load_file(one / "model.safetensors")
    key = next(k for k in t if k.endswith("fc1.weight"))
    t[key] = t[key][:, :-1].copy()
    save_file(t, one / "model.safetensors", metadata={"format": "pt"})
    msg = _cli_error(["flash-offload", "import", str(one), "-o", out])
    assert "fc1.weight" in msg and "shape" in msg
    (one / "model.safetensors").unlink()
    assert "no *.safetensors" in _cli_error(["flash-offload", "import", str(one), "-o", out])
    assert "not a folder" in _cli_error(["flash-offload", "import", str(tmp_path / "none"), "-o", out])


def test_tokenizer_that_does_not_match_the_vocabulary(tmp_path):
    folder = make_opt(tmp_path / "ck")
    big = tmp_path / "big"
    big.mkdir()
    save_tokenizer(big, vocab=V + 40)
    msg = _cli_error(["flash-offload", "import", str(folder), "-o", str(tmp_path / "x.ekf"),
                      "--tokenizer", str(big / "tokenizer.json")])
    assert "does not match the model" in msg and str(V) in msg
    (folder / "tokenizer.json").write_text("{not json")
    assert "not a readable tokenizer.json" in _cli_error(["flash-offload", "import", str(folder), "-o",
                                                          str(tmp_path / "x.ekf")])
    (folder / "tokenizer.json").unlink()
    (tmp_path / "c.txt").write_text("some text")
    assert "needs a tokenizer" in _cli_error(["flash-offload", "import", str(folder), "-o", str(tmp_path / "x.ekf"),
                                              "--calib", str(tmp_path / "c.txt")])


@pytest.mark.parametrize("storage", ["float16", "int8"])
def test_truncated_or_bit_flipped_ekf(tmp_path, storage):
    cfg, r, ffn, _ = load_hf(make_opt(tmp_path / "ck"))
    path = write_ekf(tmp_path / "m.ekf", cfg, r, ffn, storage=storage)
    raw = path.read_bytes()
    s = EkfFile(path).sections["l1.bundled"]
    flipped = bytearray(raw)
    flipped[s.offset + 5] ^= 0x10
    (tmp_path / "flip.ekf").write_bytes(bytes(flipped))
    msg = _cli_error(["flash-offload", "verify", str(tmp_path / "flip.ekf")])
    assert "checksum mismatch" in msg and "l1.bundled" in msg
    with pytest.raises(EkfFormatError, match="checksum"):
        OffloadEngine(tmp_path / "flip.ekf", "naive")
    (tmp_path / "cut.ekf").write_bytes(raw[:len(raw) - 5000])
    assert "truncated" in _cli_error(["flash-offload", "generate", str(tmp_path / "cut.ekf"), "--ids", "1"])
    hdr = bytearray(raw)
    hdr[200] ^= 1  # inside the section table: the header checksum
    (tmp_path / "hdr.ekf").write_bytes(bytes(hdr))
    with pytest.raises(EkfFormatError, match="header checksum"):
        EkfFile(tmp_path / "hdr.ekf")


def test_toy_files_stay_version_1(tmp_path):
    from flash_offload_synth import synthetic_model

    cfg, r, ffn = synthetic_model()
    f = EkfFile(write_ekf(tmp_path / "t.ekf", cfg, r, ffn))
    assert f.version == 1 and f.storage == "float32" and "storage" not in f.layout
    f2 = EkfFile(write_ekf(tmp_path / "t8.ekf", cfg, r, ffn, storage="int8"))
    assert f2.version == 2 and f2.model_hash != f.model_hash
    with pytest.raises(InputError, match="unknown storage"):
        write_ekf(tmp_path / "bad.ekf", cfg, r, ffn, storage="int4")


def test_trained_toy_as_an_opt_checkpoint(tmp_path):
    """The committed trained toy written as OPT: transformers, the toy and the import agree, and
    the byte-level tokenizer.json maps bytes to their own ids."""
    from flash_offload_synth import TINY_FIXTURE

    from edgekiln.flash_offload.hf.export import toy_to_opt
    from edgekiln.flash_offload.hf.tokenizer import HfTokenizer

    cfg, r, ffn = lm.load_checkpoint(TINY_FIXTURE)
    folder = toy_to_opt(cfg, r, ffn, tmp_path / "opt")
    text = "import os\ndef main(argv):\n    return 'é'\n"
    tok = HfTokenizer.from_file(folder / "tokenizer.json")
    assert tok.encode(text) == list(text.encode()) and tok.decode(tok.encode(text)) == text
    toks = np.array(tok.encode(text))
    ref = hf_logits(folder, toks)
    c2, r2, f2, _ = load_hf(folder)
    for c, rr, ff in ((cfg, r, ffn), (c2, r2, f2)):
        cache = lm.KVCache.empty(c)
        got = np.stack([lm.forward_token(c, rr, int(t), cache, lm.dense_ffn(ff)) for t in toks])
        np.testing.assert_allclose(got, ref, rtol=0, atol=TOL)
