#!/usr/bin/env python
"""Thin wrapper over `textgen train-tokenizer`: the same arguments (run with --help)."""
import sys

from textgen.cli import main

if __name__ == "__main__":
    sys.exit(main(["train-tokenizer", *sys.argv[1:]]))
