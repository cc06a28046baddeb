#!/usr/bin/env python
"""Thin wrapper over `textgen eval-vae`: the same arguments (run with --help)."""
import sys

from textgen.cli import main

if __name__ == "__main__":
    sys.exit(main(["eval-vae", *sys.argv[1:]]))
