"""The one rich console every command prints with; errors go to stderr as one line."""
from __future__ import annotations

import sys

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def fail(e: Exception) -> None:
    """`error: ...` on stderr, on one line, and exit code 2."""
    err_console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
    sys.exit(2)


def echo(text: str, err: bool = False) -> None:
    """Print TEXT exactly as given (no markup, colouring or wrapping): generated text, logs."""
    (err_console if err else console).print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


def kib(n: int | None) -> str:
    return "-" if n is None else (f"{n // 1024} KiB" if n < 1 << 20 else f"{n >> 20} MiB")
