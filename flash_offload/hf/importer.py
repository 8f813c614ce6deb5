"""`kiln flash-offload import DIR -o model.ekf`: a Hugging Face checkpoint folder -> an .ekf file
(tokenizer.json inside as a blob) and, from a calibration text, its sparsity predictors."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edgekiln.errors import InputError

from edgekiln.flash_offload.dense.ekf_format import LAYOUTS, EkfFile, write_ekf
from edgekiln.flash_offload.dense.predictor import Predictor, evaluate, train_predictor
from edgekiln.flash_offload.dense.storage import stored_ffn, storage_name
from edgekiln.flash_offload.hf.archs import check_supported, convert
from edgekiln.flash_offload.hf.checkpoint import Tensors, read_config
from edgekiln.flash_offload.hf.tokenizer import HfTokenizer

TOKENIZER_BLOB = "tokenizer.json"


def load_hf(folder: str | Path) -> tuple[dict, dict, list, dict]:
    """(config, resident, ffn, the checkpoint's config.json) of a checkpoint folder."""
    folder = Path(folder)
    hf = read_config(folder)
    check_supported(hf)
    cfg, r, ffn = convert(hf, Tensors(folder))
    cfg["source"] = {"model_type": hf.get("model_type"), "architectures": hf.get("architectures"),
                     "folder": folder.name}
    return cfg, r, ffn, hf


def tokenizer_of(ekf: EkfFile):
    """The tokenizer stored in an .ekf file, else UTF-8 bytes (the byte-level toy)."""
    from edgekiln.flash_offload.hf.tokenizer import ByteTokenizer

    data = ekf.blob(TOKENIZER_BLOB)
    tok = HfTokenizer.from_bytes(data, f"{ekf.path}:{TOKENIZER_BLOB}") if data is not None else ByteTokenizer()
    tok.check_vocab(ekf.config["V"])
    return tok


def calibration_windows(tokens: list[int], length: int, count: int) -> list[np.ndarray]:
    """Up to `count` evenly spaced, non-overlapping windows of `length` tokens."""
    ids = np.asarray(tokens, np.int64)
    if len(ids) < 2:
        raise InputError(f"the calibration text gives {len(ids)} tokens; give at least a few hundred")
    length = min(length, len(ids))
    n = max(1, min(count, len(ids) // length))
    starts = np.linspace(0, len(ids) - length, num=n).astype(np.int64)
    return [ids[s:s + length] for s in starts]


@dataclass
class ImportResult:
    ekf: Path
    predictor: Path | None
    config: dict
    report: dict


def import_checkpoint(folder: str | Path, out: str | Path, storage: str = "float32", calib: str | Path | None = None,
                      predictor_out: str | Path | None = None, tokenizer: str | Path | None = None,
                      layouts=LAYOUTS, rank: int = 32, recall: float = 0.99, window: int = 128,
                      windows: int = 64, epochs: int = 10, seed: int = 0,
                      log: Callable[[str], None] = lambda s: None) -> ImportResult:
    """Pack a checkpoint; with `calib` (a UTF-8 text file) also train its predictors, on the
    model as stored (float16/int8 weights decoded), with a tenth of the windows held out."""
    folder = Path(folder)
    storage = storage_name(storage)
    cfg, r, ffn, _ = load_hf(folder)
    tok_path = Path(tokenizer) if tokenizer else folder / "tokenizer.json"
    tok = HfTokenizer.from_file(tok_path) if tok_path.is_file() else None
    if tokenizer and tok is None:
        raise InputError(f"{tok_path}: no such tokenizer file")
    if tok is not None:
        tok.check_vocab(cfg["V"])
    blobs = {TOKENIZER_BLOB: tok.data} if tok is not None else None
    out = Path(out)
    write_ekf(out, cfg, r, ffn, layouts=layouts, storage=storage, blobs=blobs)
    f = EkfFile(out)
    f.verify()
    report = {"file_bytes": f.file_size, "resident_bytes": f.resident_bytes, "ffn_bytes": f.ffn_bytes,
              "storage": storage, "model_hash": f.model_hash, "tokenizer": tok.source if tok else None}
    log(f"wrote {out}: {cfg['arch']} d={cfg['d']} L={cfg['L']} f={cfg['f']} V={cfg['V']}, {storage}, "
        f"{f.file_size} bytes")
    pred_path = None
    if calib is not None:
        if tok is None:
            raise InputError(f"--calib needs a tokenizer: {folder} has no tokenizer.json (pass --tokenizer)")
        cp = Path(calib)
        if not cp.is_file():
            raise InputError(f"{cp}: no such calibration text file")
        try:
            text = cp.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{cp} is not UTF-8 text ({e.reason} at byte {e.start})") from None
        ids = tok.encode(text)
        ws = calibration_windows(ids, min(window, cfg["T"]), windows)
        held = ws[::10] if len(ws) >= 10 else ws[-1:]
        train = [w for k, w in enumerate(ws) if not (len(ws) >= 10 and k % 10 == 0)] or ws
        model = stored_ffn(ffn, storage)
        pred = train_predictor(cfg, r, model, train, rank=min(rank, cfg["d"]), epochs=epochs,
                               target_recall=recall, seed=seed, log=log)
        if pred.model_hash != f.model_hash:  # the same model as the file holds, by construction
            raise AssertionError("predictor hash differs from the file's")
        ev = evaluate(pred, cfg, r, model, held)
        pred.info.update(calibration={"file": cp.name, "tokens": len(ids), "windows": len(train),
                                      "heldout_windows": len(held)},
                         heldout={"perplexity_dense": ev["perplexity_dense"],
                                  "perplexity_predictor": ev["perplexity_predictor"],
                                  "recall": [lay["recall"] for lay in ev["layers"]],
                                  "predicted_per_token": [lay["predicted_per_token"] for lay in ev["layers"]]})
        pred_path = Path(predictor_out) if predictor_out else out.with_name(out.stem + ".pred.npz")
        pred.save(pred_path)
        report["predictor"] = pred.info
        log(f"wrote {pred_path}: predictors rank {pred.rank} from {len(ids)} calibration tokens; held-out "
            f"perplexity dense {ev['perplexity_dense']:.4f}, predictor {ev['perplexity_predictor']:.4f}")
    return ImportResult(out, pred_path, cfg, report)
