#!/usr/bin/env python
"""Thin wrapper over `textgen compare-nll`: the same arguments (run with --help)."""
import sys

from textgen.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare-nll", *sys.argv[1:]]))
