"""Registries found by file: a package's modules register entries with a decorator and are
imported on first lookup, so adding an op (or estimator, kernel) is a new file, not an edit
to a central list. Core: every stage may use it."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, Iterable, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> entry, filled by `@registry.register(*names)` in the modules of `package`
    (those whose names start with `_` hold shared pieces and are not scanned)."""

    def __init__(self, package: str | None = None, path: Iterable[str] | None = None) -> None:
        self._entries: dict[str, T] = {}
        self._package, self._path = package, list(path) if path is not None else None
        self._loaded = package is None

    def register(self, *names: str) -> Callable[[T], T]:
        def wrap(entry: T) -> T:
            for name in names:
                self._entries[name] = entry
            return entry
        return wrap

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for mod in pkgutil.iter_modules(self._path):
                if not mod.name.startswith("_"):
                    importlib.import_module(f"{self._package}.{mod.name}")

    def get(self, name: str) -> T | None:
        self._load()
        return self._entries.get(name)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)
