"""Simulators that run a built firmware and return a RunResult: qemu (system and user mode),
native (the host) and gvsoc (pulp-open --sim gvsoc). Boards over serial produce the same
RunResult (boards/)."""
from .runner import run_firmware  # noqa: F401
