"""Quoting user input in messages: at most about 60 characters of it, however long the input is."""
from __future__ import annotations

from typing import Any

__all__ = ["QUOTE_LIMIT", "quote", "shorten"]

QUOTE_LIMIT = 60


def quote(text: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr`` of ``text`` cut to its first ``limit`` characters, with how long it really was:
    ``'I want to ...'... (100,000 characters)``."""
    s = text if isinstance(text, str) else str(text)
    if len(s) <= limit:
        return repr(s)
    return f"{s[:limit]!r}... ({len(s):,} characters)"


def shorten(text: Any, limit: int = QUOTE_LIMIT) -> str:
    """``text`` as it is, cut to its first ``limit`` characters with ``...`` when longer (for lists of words)."""
    s = text if isinstance(text, str) else str(text)
    return s if len(s) <= limit else s[:limit] + "..."
