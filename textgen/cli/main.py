"""The ``textgen`` command line (also ``python -m textgen``): the parser and the entry point.

Each sub-command is a thin wrapper over library code, in one module per family (``demo.py``, ``data.py``,
``vae.py``, ``gan.py``; ``common.py`` for what they share). Heavy libraries are imported inside the command
that needs them, so ``textgen --help`` stays fast.

Errors a user can fix (a bad config key, a missing file, a corrupt tokenizer folder ...)
are printed as one ``error: ...`` line with exit status 2, never as a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Callable, Sequence

from textgen.cli import data, demo, gan, vae
from textgen.cli.common import output_options
from textgen.core import __version__
from textgen.core.logs import cli_logging


EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textgen",
        description="Deep generative models of text: sentence VAEs and text-conditioned GANs.",
    )
    parser.add_argument("--version", action="version", version=f"textgen {__version__}")
    parser.add_argument("--no-verify", action="store_true",
                        help="load model folders without checking their weights' SHA-256 (for weights edited on purpose)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        output_options(p)
        return p

    for family in (demo, data, vae, gan):
        family.register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    if args.no_verify:                             # read by textgen.core.checkpoint.read_model_folder
        previous = os.environ.get("TEXTGEN_NO_VERIFY")
        os.environ["TEXTGEN_NO_VERIFY"] = "1"
        try:
            return _run(args)
        finally:
            if previous is None:
                os.environ.pop("TEXTGEN_NO_VERIFY", None)
            else:
                os.environ["TEXTGEN_NO_VERIFY"] = previous
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    with cli_logging(quiet=args.quiet, verbose=args.verbose) as log:
        return _run_logged(args, log)


def _run_logged(args: argparse.Namespace, log) -> int:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                return int(args.func(args) or 0)
            finally:
                said = set()
                for w in caught:  # Python warnings of the libraries below (torch, transformers): once each, as log lines
                    if str(w.message) not in said:
                        said.add(str(w.message))
                        log.warning(str(w.message))
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
            PermissionError) as e:
        # Our own errors (ConfigError, CorpusError, TokenizerError ...) are ValueErrors whose
        # message names the cause and the fix: print it, without a traceback.
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except RecursionError:
        print("error: the input nests too deeply to be read (a JSON or YAML file of thousands of levels?); check the "
              "files this command reads", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError:
        print("error: out of memory; check the sizes in the config or the model folder (a typo such as 1e9?), or use "
              "smaller batches", file=sys.stderr)
        return EXIT_USER_ERROR
    except RuntimeError as e:
        from textgen.core.runtime import TrainingDiverged   # here: torch is slow to import

        if not isinstance(e, TrainingDiverged):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(f"interrupted: {e}" if str(e) else "interrupted", file=sys.stderr)
        return getattr(e, "exit_code", 130)      # 143 after SIGTERM (a trainer's TrainingStopped)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
