"""textgen's messages: information through :mod:`logging`, warnings attributed to the user's line.

    import logging
    logging.getLogger("textgen").setLevel(logging.ERROR)     # silence textgen's information and warnings
    logging.basicConfig(level=logging.INFO)                  # or show its information (training progress ...)

* **Information** (a trainer's validation lines, a restored checkpoint, where a report went) goes to the
  ``textgen`` logger or a child of it (``get_logger(__name__)``). Library code never prints it.
* **Warnings about the user's input or settings** (words outside the vocabulary, a truncated sentence, fp16
  asked on a CPU) go through :func:`warn`: a WARNING of the ``textgen`` logger, once per call site, with the
  file and line of the *user's* code that called textgen (not textgen's own line). Repeating a call in a loop
  warns once; another line of the user's code warns again. :func:`silenced` hides them for a block.

The ``textgen`` command line configures the handler (``--quiet``: warnings and errors only; ``--verbose``:
debug); a program that never configures logging still sees the warnings on stderr (Python's last-resort
handler prints WARNING and above).
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import sysconfig
import threading
from typing import Iterator

__all__ = ["get_logger", "warn", "silenced", "user_call_site", "reset_warned", "cli_logging"]

LOGGER_NAME = "textgen"
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = tuple({os.path.abspath(sysconfig.get_paths()[k]) + os.sep
                       for k in ("stdlib", "platstdlib", "purelib", "platlib")})
_warned: set[tuple] = set()
_lock = threading.Lock()


def get_logger(name: str = LOGGER_NAME) -> logging.Logger:
    """The ``textgen`` logger, or a child of it for a module (``get_logger(__name__)``)."""
    if name != LOGGER_NAME and not name.startswith(LOGGER_NAME + "."):
        name = f"{LOGGER_NAME}.{name}"
    return logging.getLogger(name)


def _inside_textgen(filename: str) -> bool:
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE_DIR + os.sep) or "importlib" in filename and "_bootstrap" in filename


def _library(filename: str) -> bool:
    """Installed code (stdlib, site-packages): a wrapper between textgen and the user's line (scikit-learn's
    ``set_output``, ``functools``), not that line."""
    return os.path.abspath(filename).startswith(_LIBRARY_DIRS) or filename.startswith("<frozen ")


def user_call_site() -> tuple[str, int, int]:
    """(file, line, stacklevel) of the first frame outside the textgen package: the user's line.

    ``stacklevel`` counts from the caller of this function, as :meth:`logging.Logger.warning` expects it when
    that caller logs directly (1 = the caller itself)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and _inside_textgen(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    outer, outer_level = frame, level
    while outer is not None and _library(outer.f_code.co_filename):
        outer, outer_level = outer.f_back, outer_level + 1
    if outer is not None:                                       # else only installed code called textgen: keep its line
        frame, level = outer, outer_level
    if frame is None:                                           # called from textgen itself, e.g. python -m textgen
        return "<textgen>", 0, 1
    return frame.f_code.co_filename, frame.f_lineno, level


def warn(message: str, *, key: str | None = None) -> None:
    """Log ``message`` as a warning of the ``textgen`` logger, once per call site of the user's code.

    ``key`` names the kind of warning when its text varies between calls (counts, quoted words): the same
    kind from the same user line is said once. Without a key the message itself is the kind."""
    filename, lineno, level = user_call_site()
    site = (filename, lineno, key or message)
    with _lock:
        if site in _warned:
            return
        _warned.add(site)
    logger = get_logger()
    # stacklevel: our frame (1) -> the chain up to the user's line; logging attributes pathname/lineno there
    logger.warning(message, stacklevel=level)


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Hide textgen's warnings inside the block (errors still show): a corpus-wide job that expects rare words."""
    logger = get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def reset_warned() -> None:
    """Forget which call sites have warned (tests; a long-lived service that wants fresh warnings)."""
    with _lock:
        _warned.clear()


class _CLIFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = {logging.WARNING: "warning: ", logging.ERROR: "error: ", logging.DEBUG: "debug: "}.get(record.levelno, "")
        return prefix + record.getMessage()


@contextlib.contextmanager
def cli_logging(*, quiet: bool = False, verbose: bool = False) -> Iterator[logging.Logger]:
    """While a command runs: the ``textgen`` logger writes ``warning: ...`` lines (and plain information lines)
    to stderr, at the level the flags ask for; afterwards the logger is as it was (tests run many commands)."""
    logger = get_logger()
    saved = (logger.level, logger.propagate)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_CLIFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
    reset_warned()                               # one command, one program: each call site warns once in it
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
