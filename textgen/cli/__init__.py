"""The ``textgen`` command line: see :mod:`textgen.cli.main`."""
from __future__ import annotations

from textgen.cli.main import build_parser, main

__all__ = ["main", "build_parser"]
