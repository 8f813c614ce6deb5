"""Pipeline: convert each step in order, so transformers become nodes in front of the estimator."""
from __future__ import annotations

from sklearn.pipeline import Pipeline

from ...errors import UnsupportedModelError
from . import GraphBuilder, convert_step, converter


@converter(Pipeline)
def convert_pipeline(est, b: GraphBuilder) -> None:
    steps = [s for _, s in est.steps if s not in (None, "passthrough")]
    if not steps:
        raise UnsupportedModelError("the Pipeline has no steps to export")
    for step in steps:
        convert_step(step, b)
