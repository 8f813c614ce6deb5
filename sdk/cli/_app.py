"""The `kiln` group every command module registers on, and its one-line error handling."""
from __future__ import annotations

import sys

import click

from ..errors import EdgekilnError
from ._console import fail


class KilnGroup(click.Group):
    """Every error is one line on stderr with exit code 2: edgekiln's own (instead of a
    traceback) and click's usage errors (instead of its three-line usage block)."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as e:
            where = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
            fail(click.ClickException(e.format_message() + where), e.exit_code)
        except click.ClickException as e:
            fail(e, e.exit_code)
        except click.Abort:
            fail(click.ClickException("aborted"), 1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EdgekilnError as e:
            fail(e)


@click.group(cls=KilnGroup)
@click.version_option(package_name="edgekiln")
def main() -> None:
    """edgekiln: turn trained models into firmware, run it, and measure it."""
