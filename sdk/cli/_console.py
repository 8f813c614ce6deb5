"""The one rich console every command prints with; errors go to stderr as one line."""
from __future__ import annotations

import sys

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def fail(e: Exception, code: int = 2) -> None:
    """`error: ...` on stderr, on one line, and exit code 2."""
    text = e.format_message() if hasattr(e, "format_message") else str(e)
    err_console.print("[bold red]error:[/] ", end="", highlight=False)
    # a multi-line message (a simulator's last output) stays one line: its lines joined by " | "
    err_console.print(" | ".join(line.strip() for line in text.splitlines() if line.strip()), markup=False,
                      highlight=False, soft_wrap=True)
    sys.exit(code)


def echo(text: str, err: bool = False) -> None:
    """Print TEXT exactly as given (no markup, colouring or wrapping): generated text, logs."""
    (err_console if err else console).print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


def kib(n: int | None) -> str:
    return "-" if n is None else (f"{n // 1024} KiB" if n < 1 << 20 else f"{n >> 20} MiB")
