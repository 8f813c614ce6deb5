"""Run the flash-offload C runtime (host or arm under qemu-aarch64) and parse its output.

Protocol (see flash_offload/dense/c/ek_fo_main.c): `ekfo-begin k=v...`, one `ekfo-token k=v...`
line per position (prompt positions, then generated ones), `ekfo-end k=v...`; errors are
one `ekfo: error: ...` line on stderr with exit status 2.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from edgekiln.errors import InputError, SimulatorError
from edgekiln.targets.simulators.runner import simulator_command

from edgekiln.flash_offload.dense.c_build import build, runtime_target

MODES = ("naive", "hybrid", "predictor", "window")
INT_FIELDS = ("pos", "in", "next", "bytes", "reads", "loaded", "predicted", "used", "active", "hits", "evicted",
              "dropped", "bridged", "io_bytes", "io_ns", "mm_ns", "total_ns")


class CRuntimeError(InputError):
    """The C runtime refused its input (bad or corrupt file, budget too small...)."""


@dataclass
class TokenRecord:
    pos: int
    kind: str        # "prompt" or "gen"
    token_in: int
    next: int        # greedy prediction after this position
    margin: float    # best minus second-best logit
    counters: dict[str, int] = field(default_factory=dict)


@dataclass
class CRunResult:
    target: str
    begin: dict[str, str]
    records: list[TokenRecord]
    end: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> list[int]:
        """The generated tokens."""
        return [r.next for r in self.records if r.kind == "gen"]

    def total(self, name: str) -> int:
        return sum(r.counters[name] for r in self.records)


def _fields(line: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in line.split()[1:])


def parse_output(text: str) -> tuple[dict[str, str], list[TokenRecord], dict[str, int]]:
    begin: dict[str, str] | None = None
    end: dict[str, int] | None = None
    records = []
    for line in text.splitlines():
        tag = line.split(" ", 1)[0]
        if tag == "ekfo-begin":
            begin = _fields(line)
        elif tag == "ekfo-token":
            f = _fields(line)
            counters = {k: int(f[k]) for k in INT_FIELDS if k in f}
            records.append(TokenRecord(counters.pop("pos"), f["kind"], counters.pop("in"), counters.pop("next"),
                                       float(f["margin"]), counters))
        elif tag == "ekfo-end":
            end = {k: int(v) for k, v in _fields(line).items()}
    if begin is None or end is None:
        raise SimulatorError(f"the C runtime's output has no ekfo-begin/ekfo-end lines:\n{text[-2000:]}")
    return begin, records, end


def run_c(model: str | Path, prompt: bytes | str, tokens: int, *, target: str = "host", mode: str = "naive",
          predictor: str | Path | None = None, budget: int | None = None, window: int = 4,
          static_rows: int | None = None, cache_rows: int | None = None, gap_bytes: int = 0, threads: int = 1,
          direct: bool = False, verify: bool = True, check_cache: bool = False,
          timeout: float = 600) -> CRunResult:
    """Generate `tokens` tokens after `prompt` with the C runtime on `target`.

    static_rows / cache_rows: neurons per layer kept in DRAM for good / in the window cache
    (default: what the budget leaves / f/8, as flash_offload.engine plans them).
    gap_bytes: naive/hybrid read through holes up to this size (counted as `bridged`).
    threads: threads issuing each layer's reads together.
    direct: cold reads with O_DIRECT (the runtime warns and reads through the page cache
    where the file system refuses it; see `warnings` and begin["direct"]).
    """
    if mode not in MODES:
        raise InputError(f"mode {mode!r}: use one of {', '.join(MODES)}")
    data = prompt.encode() if isinstance(prompt, str) else bytes(prompt)
    if not data:
        raise InputError("the prompt is empty: give at least one byte")
    t = runtime_target(target)
    exe = build(target)
    args = [str(Path(model).resolve()), "--mode", mode, "--prompt-hex", data.hex(), "--tokens", str(tokens),
            "--window", str(window)]
    if predictor is not None:
        args += ["--predictor", str(Path(predictor).resolve())]
    if budget is not None:
        args += ["--budget", str(int(budget))]
    if static_rows is not None:
        args += ["--static", str(int(static_rows))]
    if cache_rows is not None:
        args += ["--cache-rows", str(int(cache_rows))]
    if threads != 1:
        args += ["--threads", str(int(threads))]
    if gap_bytes:
        args += ["--gap-bytes", str(int(gap_bytes))]
    if direct:
        args.append("--direct")
    if not verify:
        args.append("--no-verify")
    if check_cache:
        args.append("--check-cache")
    cmd = simulator_command(t, exe, []) + args
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SimulatorError(f"the C runtime did not finish within {timeout:.0f} s on {target}") from None
    if proc.returncode != 0:
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ekfo: error:")]
        if proc.returncode == 2 and errors:
            raise CRuntimeError(errors[0].removeprefix("ekfo: error:").strip())
        raise SimulatorError(f"the C runtime exited with code {proc.returncode} on {target}:\n"
                             f"{proc.stderr.strip()[-2000:]}")
    begin, records, end = parse_output(proc.stdout)
    warns = [ln.removeprefix("ekfo: warning:").strip() for ln in proc.stderr.splitlines()
             if ln.startswith("ekfo: warning:")]
    return CRunResult(target, begin, records, end, warns)
