"""The one rich console every command prints with."""
from __future__ import annotations

import sys

from rich.console import Console

console = Console()


def fail(e: Exception) -> None:
    console.print(f"[bold red]error:[/] {e}", highlight=False)
    sys.exit(2)


def kib(n: int | None) -> str:
    return "-" if n is None else (f"{n // 1024} KiB" if n < 1 << 20 else f"{n >> 20} MiB")
