"""Targets: one folder each (target.toml + port files); simulators that run their firmware."""
from .registry import Target, all_targets, get_target, project_target  # noqa: F401
