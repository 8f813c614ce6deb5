"""`kiln build`: cross-compile an exported project and report its memory use."""
from __future__ import annotations

import click

from ._app import main
from ._console import console


@main.command()
@click.argument("project", type=click.Path(file_okay=False, exists=True))
@click.option("--opt", default="-O2", show_default=True, help="optimisation flag, e.g. -Os")
def build(project: str, opt: str) -> None:
    """Cross-compile PROJECT; prints flash/RAM use per memory region."""
    from edgekiln.targets.build import build_project

    from ..report import print_build_summary

    summary = build_project(project, opt=opt).to_dict()  # also written to PROJECT/build.json
    print_build_summary(summary, console)
