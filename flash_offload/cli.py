"""`kiln flash-offload ...`: pack, measure and run models served from a bundled weight file."""
from __future__ import annotations

import click


@click.group("flash-offload")
def flash_offload_group() -> None:
    """Run language models larger than RAM from a bundled weight file (LLM in a flash)."""
