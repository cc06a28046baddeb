"""``python -m textgen`` and the ``textgen`` console script (``run``).

The command line is imported inside :func:`run`, so that Ctrl-C while torch is still loading ends with one line
and exit status 130, not a traceback through the import machinery.
"""
import sys


def run() -> int:
    try:
        from textgen.cli import main

        return main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(run())
