"""What every simulator runner shares: the time limit (a base plus a per-sample budget), the
run of the simulator process under it, the one-line errors for a hang and for a non-zero
exit, and spreading a batch run's figures over its samples.

A runner subclasses `SimulatorProcess` with its budget and, if it can, a way to say where a
hung firmware's cores were (QEMU asks its QMP socket)."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import ClassVar

from edgekiln.errors import SimulatorError
from edgekiln.results import batch_chunk

from ..registry import Target


class SimulatorProcess:
    """One firmware run on a simulator: `run()` returns its stdout, or raises SimulatorError."""

    BASE_TIMEOUT_S: ClassVar[float] = 60.0
    PER_SAMPLE_TIMEOUT_S: ClassVar[float] = 0.05
    # What the hang message suggests; appended after "(" … ")".
    HANG_HINT: ClassVar[str] = "hung firmware?"
    # A sentence after "it was stopped." (what to do about it), or "".
    HANG_ADVICE: ClassVar[str] = ""
    # Stop the whole process group on a hang (a simulator that is a script starting others).
    OWN_SESSION: ClassVar[bool] = False

    def __init__(self, target: Target, cmd: list[str], n_samples: int, *, timeout: float | None = None,
                 cwd: str | Path | None = None, env: dict | None = None, label: str | None = None,
                 exit_label: str | None = None) -> None:
        self.target, self.cmd, self.cwd, self.env = target, cmd, cwd, env
        self.limit = self.time_limit(n_samples, timeout)
        self.label = label or cmd[0]                      # the program named in the hang message
        self.exit_label = exit_label or f"{target.name} firmware"

    @classmethod
    def time_limit(cls, n_samples: int, timeout: float | None = None) -> float:
        """`timeout` when given, else the base plus the per-sample budget."""
        return timeout if timeout is not None else cls.BASE_TIMEOUT_S + cls.PER_SAMPLE_TIMEOUT_S * n_samples

    def where(self) -> list[str]:
        """After a hang, before the process is stopped: where each core was (if known)."""
        return []

    def run(self, stdin_data: bytes | None = None) -> str:
        proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL if stdin_data is None else subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.cwd, env=self.env,
                                start_new_session=self.OWN_SESSION)
        try:
            stdout, stderr = proc.communicate(stdin_data, timeout=self.limit)
        except subprocess.TimeoutExpired:
            states = self.where()
            if self.OWN_SESSION:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            stdout, _ = proc.communicate()
            tail = "\n".join(stdout.decode(errors="replace").strip().splitlines()[-10:])
            where = ("\nWhere each core was:\n  " + "\n  ".join(states)) if states else ""
            raise SimulatorError(
                f"{self.label} did not finish within {self.limit:.0f} s on {self.target.name} ({self.HANG_HINT}); "
                f"it was stopped.{' ' + self.HANG_ADVICE if self.HANG_ADVICE else ''}{where}\nLast output:\n{tail or '(none)'}"
            ) from None
        text = stdout.decode(errors="replace")
        if proc.returncode != 0:
            tail = "\n".join((text + stderr.decode(errors="replace")).strip().splitlines()[-15:])
            raise SimulatorError(f"{self.exit_label} exited with code {proc.returncode}. Last output:\n{tail}")
        return text


def per_sample(n: int, chunk: int, *series: list) -> tuple[list, ...]:
    """Spread each batch run's figures (ints, or dicts of ints per core) evenly over the
    `chunk` samples it processed; n samples in all."""
    out: tuple[list, ...] = tuple([] for _ in series)
    for j, values in enumerate(zip(*series)):
        m = min(chunk, n - j * chunk)
        for acc, v in zip(out, values):
            acc += [{k: x // m for k, x in v.items()} if isinstance(v, dict) else v // m] * m
    return out


def per_sample_figures(text: str, n: int, counter: str, *series: list) -> tuple[list, ...]:
    """Figures per sample from figures per timed run: checks the harness timed as many runs
    as its batch size implies (`counter` names who counted, for the error), then spreads
    batch runs over their samples."""
    chunk = batch_chunk(text)
    runs = -(-n // chunk)
    if len(series[0]) != runs:
        raise SimulatorError(f"{counter} saw {len(series[0])} timed runs, expected {runs}")
    return per_sample(n, chunk, *series) if chunk > 1 else series
