"""`kiln`: the command line. Each stage runs alone and leaves an inspectable artifact.

One module per command or command family; each registers itself on `main` with
`@main.command()` / `@main.group()`. Modules are found by file (like codegen's ops), so adding
a command is adding a module here; names starting with `_` hold the shared pieces.
"""
from __future__ import annotations

import importlib
import pkgutil

from ._app import main

COMMAND_MODULES = tuple(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))

for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")

__all__ = ["main", "COMMAND_MODULES"]
