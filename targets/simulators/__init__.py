"""Simulators that run a built firmware and return a RunResult: qemu (system and user mode)
and native (the host). Boards over serial produce the same RunResult (boards/)."""
from .runner import run_firmware  # noqa: F401
