"""``python -m textgen`` is the same as the ``textgen`` console script."""
from textgen.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
