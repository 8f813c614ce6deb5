"""The `kiln` group every command module registers on, and its one-line error handling."""
from __future__ import annotations

import click

from ..errors import EdgekilnError
from ._console import fail


class KilnGroup(click.Group):
    """Prints edgekiln's own errors as one clear line instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EdgekilnError as e:
            fail(e)


@click.group(cls=KilnGroup)
@click.version_option(package_name="edgekiln")
def main() -> None:
    """edgekiln: turn trained models into firmware, run it, and measure it."""
