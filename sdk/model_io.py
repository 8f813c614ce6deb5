"""Loading user model files safely: skops by default, pickles only when trusted explicitly."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ModelLoadError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
# Types from these packages are what scikit-learn models are made of; anything else in a
# .skops file is refused rather than trusted blindly.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


def load_model(path: str | Path, *, trust_pickle: bool = False) -> Any:
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"model file {p} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".skops":
        return _load_skops(p)
    if suffix in PICKLE_SUFFIXES:
        if not trust_pickle:
            raise ModelLoadError(
                f"{p} is a pickle, and loading a pickle runs any code its author put in it. Pass --trust-pickle "
                "(Python: trust_pickle=True) only if you trust the file, or save the model with "
                "skops.io.dump(model, 'model.skops') instead."
            )
        import joblib

        try:
            return joblib.load(p)
        except Exception as e:
            raise ModelLoadError(f"could not unpickle {p}: {e}") from None
    if suffix == ".onnx":
        raise ModelLoadError(f"{p}: ONNX networks are not supported yet; export scikit-learn models as .skops")
    raise ModelLoadError(f"{p}: unknown model file type {suffix!r}; use .skops (or .joblib/.pkl with --trust-pickle)")


def _load_skops(p: Path) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=p)
    except Exception as e:
        raise ModelLoadError(f"{p} is not a valid .skops file ({type(e).__name__}: {e})") from None
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise ModelLoadError(f"{p} contains types outside scikit-learn/numpy/scipy, refused: {', '.join(refused)}")
    try:
        return sio.load(p, trusted=untrusted)
    except Exception as e:
        raise ModelLoadError(f"could not load {p}: {type(e).__name__}: {e}") from None
