#!/usr/bin/env python
"""Thin wrapper over `textgen generate-images`: the same arguments (run with --help).

    python scripts/generate_images.py "a red bird with black wings" -n 4 --model runs/gan/birds64/last
"""
import sys

from textgen.cli import main

if __name__ == "__main__":
    sys.exit(main(["generate-images", *sys.argv[1:]]))
