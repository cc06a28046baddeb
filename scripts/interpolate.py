#!/usr/bin/env python
"""Thin wrapper over `textgen interpolate`: the same arguments (run with --help).

    python scripts/interpolate.py "i want to talk to you" "she did n't want to be with him" --steps 6
"""
import sys

from textgen.cli import main

if __name__ == "__main__":
    sys.exit(main(["interpolate", *sys.argv[1:]]))
