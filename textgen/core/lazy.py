"""Lazy package attributes: public names resolved on first access, so importing a package stays cheap.

    _LAZY = {"Tokenizer": "textgen.tokenization", ...}       # public name -> module that defines it
    __getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, MutableMapping


def lazy_attributes(package: str, table: Mapping[str, str],
                    namespace: MutableMapping[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``package``; a resolved name is cached in ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # cache: the next access skips __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
