#!/usr/bin/env python
"""Thin wrapper over `textgen check-discriminator`: the same arguments (run with --help).

    python scripts/check_discriminator.py --run runs/gan/birds32_cpu --data data/birds32 --out d.json
"""
import sys

from textgen.cli import main

if __name__ == "__main__":
    sys.exit(main(["check-discriminator", *sys.argv[1:]]))
