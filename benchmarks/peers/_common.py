"""Shared helpers for the peer adapters: template rendering, task detection, file output."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

TASK_CLASSIFY = 0
TASK_REGRESS = 1
TASK_CLUSTER = 2

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


def render(template_name: str, out_path: Path, **context) -> Path:
    """Render ``templates/<template_name>`` with ``context`` into ``out_path``."""
    text = _ENV.get_template(template_name).render(**context)
    out_path.write_text(text)
    return out_path


def task_of(estimator) -> int | None:
    """Harness task code for a fitted estimator, or None if it is none of the three."""
    kind = getattr(estimator, "_estimator_type", None)
    if kind is None:  # scikit-learn >= 1.6 moved this into the tags
        try:
            from sklearn.utils import get_tags

            kind = get_tags(estimator).estimator_type
        except Exception:  # pragma: no cover - non-sklearn objects
            kind = None
    return {"classifier": TASK_CLASSIFY, "regressor": TASK_REGRESS,
            "clusterer": TASK_CLUSTER}.get(kind)


def n_features_of(estimator) -> int:
    return int(estimator.n_features_in_)


def prepare_out_dir(out_dir) -> Path:
    path = Path(out_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def render_model_h(out_dir: Path, *, tool: str, method: str, estimator, n_features: int,
                   n_outputs: int, task: int) -> Path:
    return render(
        "model.h.j2",
        out_dir / "model.h",
        tool=tool,
        method=method,
        estimator_name=type(estimator).__name__,
        n_features=n_features,
        n_outputs=max(1, int(n_outputs)),
        task=task,
    )


def as_posix_list(paths) -> list[str]:
    return [os.fspath(p) for p in paths]
