"""Read an R lazy-load database (``data/Rdata.rdx`` + ``.rdb``) without R, e.g. the novels of the
Debian package ``r-cran-janeaustenr`` (``/usr/lib/R/site-library/janeaustenr/data``: ``emma``,
``persuasion``, ... are character vectors, one line of a novel each).

Format (R Internals, "Serialization Formats"; R's ``serialize.c`` and ``connections.c``):

* ``Rdata.rdx`` is an RDS file (gzip by default; bzip2, xz, none, or 4-byte length + zlib also read):
  a list with ``variables`` (object name -> integer ``c(offset, length)`` into the .rdb),
  ``references`` (environments; ignored) and ``compressed`` (TRUE: zlib, 2: bzip2, 3: xz).
* An object is ``rdb[offset:offset + length]``: a 4-byte big-endian uncompressed length, for types 2/3
  a type byte (``1`` zlib, ``2`` bzip2, ``Z`` raw LZMA2, ``0`` stored), then the serialization.
* A serialization is ``X\\n`` (XDR: big-endian), the version (2 or 3), two R versions, for version 3
  the native encoding, then one item: an int of flags (type in bits 0-7, object bit 8, attributes
  bit 9, tag bit 10, "levels" from bit 12 -- a CHARSXP's encoding) and its contents. Pairlist cells
  are [attributes] [tag] car cdr; vectors a length (-1: a 64-bit one in two ints follows), the
  elements, [attributes]; CHARSXPs a length (-1: NA) and bytes. Symbols and namespaces enter a
  reference table indexed by REFSXP items (1-based, in flag bits 8-31 or the next int).

Python values: NULL -> None; CHARSXP and symbol -> str (NA -> None); vectors and lists ->
:class:`RVector` (a ``list`` with the R attributes, e.g. ``names``, in ``.attributes``; NA -> None,
NA_real_ -> nan); pairlists -> RVector with the tags as ``names``; GlobalEnv etc. -> :class:`RSpecial`.
"""
from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import struct
import zlib
from contextlib import contextmanager
from pathlib import Path

__all__ = ["RDataError", "RSpecial", "RVector", "read_character_vectors", "read_rdb", "unserialize"]

NA_INT, NIL, PAIRLISTS, VECTORS = -(2**31), 254, (2, 6, 17), (10, 13, 14, 15, 16, 19, 20, 24)
SPECIALS = {253: "GlobalEnv", 252: "UnboundValue", 251: "MissingArg", 250: "BaseNamespace",
            242: "EmptyEnv", 241: "BaseEnv"}
NAMED = {249: "namespace", 248: "package", 247: "persistent"}  # a STRSXP body; enter the ref table
_LZMA = [{"id": lzma.FILTER_LZMA2, "preset": 6}]  # R_compress3: raw LZMA2, preset 6
_INFLATE = {b"1": zlib.decompress, b"2": bz2.decompress, b"0": bytes,
            b"Z": lambda b: lzma.decompress(b, lzma.FORMAT_RAW, filters=_LZMA)}
_RDS_MAGIC = ((b"\x1f\x8b", gzip.decompress), (b"BZh", bz2.decompress), (b"\xfd7zXZ", lzma.decompress))
_RAW_ERRORS = (struct.error, zlib.error, lzma.LZMAError, OSError, EOFError, LookupError,
               TypeError, AttributeError, ValueError, RecursionError)


class RDataError(ValueError):
    """A missing file, not an R lazy-load database, truncated/corrupt data, or an unsupported type."""


class RVector(list):
    """An R vector or list: its elements, and its R attributes in ``attributes``."""

    def __init__(self, items=(), attributes=None):
        super().__init__(items)
        self.attributes = attributes or {}


class RSpecial(str):
    """A special R object by name: ``GlobalEnv``, ``namespace:stats``, ..."""


def read_rdb(data_dir, name: str = "Rdata") -> dict[str, object]:
    """All objects of ``<data_dir>/<name>.rdx/.rdb`` (or ``<data_dir>/data/...``), in index order."""
    return dict(_objects(data_dir, name, None))


def read_character_vectors(data_dir, name: str = "Rdata") -> dict[str, list[str]]:
    """The character vectors of the database, NA as "", in index order; other objects are skipped
    unparsed (by their top-level type code), so they cannot break the reading of the text."""
    return {var: ["" if s is None else s for s in value] for var, value in _objects(data_dir, name, {16, 238})
            if isinstance(value, list) and all(s is None or isinstance(s, str) for s in value)}


def unserialize(data: bytes, where: str = "<bytes>", wanted=None):
    """One XDR serialization -> Python; None if ``wanted`` (type codes) excludes its top-level type."""
    if data[:2] != b"X\n":
        raise RDataError(f"{where}: not an XDR R serialization; starts with {_q(data[:20])}")
    reader = _Reader(data, where)
    with _raw_errors(f"{where}: truncated or corrupt data"):
        version = reader.ints(3)[0]
        if version not in (2, 3):
            raise RDataError(f"{where}: unsupported serialization version {version}")
        if version == 3:
            reader.encoding = _codec(reader.take(reader.int()).decode("ascii", "replace"))
        return None if wanted and reader.buf[reader.pos + 3] not in wanted else reader.item()


def _objects(data_dir, name, wanted):
    data_dir = Path(data_dir)
    if not (data_dir / f"{name}.rdx").exists() and (data_dir / "data" / f"{name}.rdx").exists():
        data_dir = data_dir / "data"  # the package's folder
    rdx, rdb = data_dir / f"{name}.rdx", data_dir / f"{name}.rdb"
    raw = _read(rdx)
    with _raw_errors(f"{rdx}: not an R lazy-load database index"):
        inflate = next((f for magic, f in _RDS_MAGIC if raw.startswith(magic)), None)
        data = inflate(raw) if inflate else _inflate(raw, 1, str(rdx)) if raw[4:5] == b"\x78" else raw
        index = unserialize(data, str(rdx))
        index = dict(zip(index.attributes["names"], index))
        variables = index["variables"] or RVector()
        spans = [(str(var), int(s[0]), int(s[1])) for var, s in zip(variables.attributes["names"], variables)]
        compressed = int(index["compressed"][0])
        if compressed not in (0, 1, 2, 3):
            raise RDataError(f"{rdx}: unsupported compression type {compressed}")
    blob = _read(rdb)
    for var, offset, length in spans:
        where = f"{rdb} (object {_q(var)})"
        if offset < 0 or length < 0 or offset + length > len(blob):
            raise RDataError(f"{where}: truncated data (bytes {offset}-{offset + length} of {len(blob)})")
        with _raw_errors(f"{where}: truncated or corrupt data"):
            data = _inflate(blob[offset:offset + length], compressed, where)
        yield var, unserialize(data, where, wanted)


def _inflate(blob: bytes, compressed: int, where: str) -> bytes:
    """One record of a lazy-load database -> its serialization (R_decompress1/2/3)."""
    if not compressed:
        return blob
    kind, body = (blob[4:5], blob[5:]) if compressed in (2, 3) else (b"1", blob[4:])
    if kind not in _INFLATE:
        raise RDataError(f"{where}: unsupported compression (type {compressed}, byte {_q(kind)})")
    data = _INFLATE[kind](body)
    if len(blob) < 5 or len(data) != int.from_bytes(blob[:4], "big"):
        raise RDataError(f"{where}: truncated or corrupt data (length {len(data)} after decompression)")
    return data


@contextmanager
def _raw_errors(message: str):
    """Re-raise struct/zlib/IndexError... as ``RDataError(message (error))``."""
    try:
        yield
    except RDataError:
        raise
    except _RAW_ERRORS as err:
        kind = type(err).__name__ if type(err).__module__ == "builtins" else f"{type(err).__module__}.{type(err).__name__}"
        raise RDataError(f"{message} ({kind}: {_q(str(err))})") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise RDataError(f"{path}: cannot read R lazy-load database file ({err.strerror or err})") from None


def _q(data) -> str:
    """At most 60 characters (or bytes) of some input, quoted, for an error message."""
    return repr(data[:60]) + ("..." if len(data) > 60 else "")


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


class _Reader:
    def __init__(self, data: bytes, where: str):
        self.buf, self.pos, self.where, self.refs, self.encoding = data, 2, where, [], "utf-8"

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise RDataError(f"{self.where}: truncated or corrupt data ({n} bytes wanted at {self.pos})")
        self.pos += n
        return self.buf[self.pos - n:self.pos]

    def ints(self, n: int, fmt: str = "i") -> tuple:
        return struct.unpack(f">{n}{fmt}", self.take(4 * n))

    def int(self) -> int:
        return self.ints(1)[0]

    def length(self, size: int) -> int:
        n = self.int()
        if n == -1:                                     # long vector: two more ints
            hi, lo = self.ints(2, "I")
            n = hi << 32 | lo
        if n < 0 or n * size > len(self.buf) - self.pos:
            raise RDataError(f"{self.where}: truncated or corrupt data (length {n} at {self.pos})")
        return n

    def item(self):
        flags = self.int()
        kind = flags & 0xFF
        if kind == NIL:
            return None
        if kind == 255:                                 # REFSXP
            i = (flags >> 8) or self.int()
            if not 0 < i <= len(self.refs):
                raise RDataError(f"{self.where}: corrupt data (reference {i} of {len(self.refs)})")
            return self.refs[i - 1]
        if kind in SPECIALS:
            return RSpecial(SPECIALS[kind])
        if kind == 1:                                   # SYMSXP: its name, a CHARSXP
            self.refs.append(self.item())
            return self.refs[-1]
        if kind in NAMED:                               # int 0, then a STRSXP's length and elements
            self.int()
            self.refs.append(RSpecial(f"{NAMED[kind]}:{','.join(map(str, self.elements(16)))}"))
            return self.refs[-1]
        if kind == 9:
            return self.charsxp(flags >> 12)
        if kind in PAIRLISTS:
            return self.pairlist(flags)
        if kind == 238:
            return self.altrep()
        if kind not in VECTORS:
            raise RDataError(f"{self.where}: unsupported R type code {kind}")
        return RVector(self.elements(kind), self.attributes() if flags & 0x200 else None)

    def elements(self, kind: int) -> list:
        if kind in (16, 19, 20):                        # STRSXP, VECSXP, EXPRSXP
            return [self.item() for _ in range(self.length(4))]
        if kind == 24:                                  # RAWSXP
            return list(self.take(self.length(1)))
        if kind in (10, 13):                            # LGLSXP, INTSXP
            cast = bool if kind == 10 else int
            return [None if v == NA_INT else cast(v) for v in self.ints(self.length(4))]
        n = self.length(8) * (2 if kind == 15 else 1)   # REALSXP, CPLXSXP
        values = struct.unpack(f">{n}d", self.take(8 * n))
        return list(values) if kind == 14 else [complex(*values[i:i + 2]) for i in range(0, n, 2)]

    def charsxp(self, levels: int):
        n = self.int()
        if n == -1:
            return None                                 # NA_STRING
        raw = self.take(n)
        encoding = "utf-8" if levels & 8 else "latin-1" if levels & 6 else "ascii" if levels & 64 else self.encoding
        try:                                            # flags UTF8 8, LATIN1 4, BYTES 2, ASCII 64
            return raw.decode(encoding)
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def pairlist(self, flags: int) -> RVector:
        """Cells read in a loop, not recursively: [attributes] [tag] car, then the cdr's flags."""
        values, tags, attributes = RVector(), [], {}
        while flags & 0xFF in PAIRLISTS:
            if flags & 0x200:
                attributes = attributes or self.attributes()
            tags.append(self.item() if flags & 0x400 else "")
            values.append(self.item())
            flags = self.int()
        if flags & 0xFF != NIL:                         # a dotted pair: the last cdr is a value
            self.pos -= 4
            values.append(self.item())
            tags.append("")
        values.attributes = {**attributes, **({"names": tags} if any(tags) else {})}
        return values

    def attributes(self) -> dict:
        pairs = self.item()
        if not isinstance(pairs, RVector) or "names" not in pairs.attributes:
            raise RDataError(f"{self.where}: corrupt data (attributes are not a tagged pairlist)")
        return dict(zip(pairs.attributes["names"], pairs))

    def altrep(self) -> RVector:
        """ALTREP_SXP: info (class, package, type), state, attributes; compact and wrapper classes."""
        info, state, attributes = self.item(), self.item(), self.item()
        cls = str(info[0]) if isinstance(info, list) and info else ""
        if cls in ("compact_intseq", "compact_realseq"):        # state: c(n, first, step)
            n, first, step = state
            values = [(int if cls == "compact_intseq" else float)(first + i * step) for i in range(int(n))]
        elif cls.startswith("wrap_"):                           # state: list(x, metadata)
            values = state[0]
        elif cls == "deferred_string":                          # state: pairlist(numbers, scipen)
            values = [v if v is None else str(v) if isinstance(v, int) else "%.15g" % v for v in state[0]]
        else:
            raise RDataError(f"{self.where}: unsupported ALTREP class {_q(cls)}")
        attrs = dict(zip(attributes.attributes.get("names", []), attributes)) if attributes else {}
        return RVector(values, attrs or getattr(values, "attributes", None))
