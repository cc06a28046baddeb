"""Files written whole or not at all, and file digests: the one place textgen writes a file atomically.

Every file textgen writes (configs, reports, tokenizers, metrics, pictures, feature caches, encoded arrays) goes
through :func:`atomic_open`: a temporary sibling, fsynced, then one rename over the target, so a reader (or a
run killed mid-write) never sees half a file. Model folders are written the same way, one level up
(:mod:`textgen.core.checkpoint`).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "file_digest"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """``with atomic_open(path) as f: f.write(...)``: a binary file that replaces ``path`` in one rename when the
    block ends, and disappears (leaving ``path`` as it was) when the block raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_open`)."""
    with atomic_open(path) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_open`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """The hex digest of a file's bytes (read in 1 MiB blocks): ``sha256`` for textgen's own checks, ``sha1``
    where a published digest is SHA-1."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
