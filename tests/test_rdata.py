"""textgen.data.rdata: R lazy-load databases, checked on tiny databases written here (no R, no Debian)."""
import bz2
import gzip
import lzma
import math
import struct
import zlib
from pathlib import Path

import pytest

from textgen.data.rdata import RDataError, RVector, read_character_vectors, read_rdb, unserialize

INSTALLED = Path("/usr/lib/R/site-library/janeaustenr/data")
NA_INT = -(2**31)


class Ser:
    """A small R XDR serializer (R Internals, "Serialization Formats"), symbols via a reference table."""

    def __init__(self, version=3):
        self.version, self.symbols = version, {}

    def header(self):
        out = b"X\n" + struct.pack(">iii", self.version, 0x040201, 0x030500)
        return out + (struct.pack(">i", 5) + b"UTF-8" if self.version == 3 else b"")

    @staticmethod
    def flags(kind, attrs=False, tag=False, levels=0):
        return struct.pack(">i", kind | (0x200 if attrs else 0) | (0x400 if tag else 0) | levels << 12)

    def char(self, s):
        if s is None:
            return self.flags(9) + struct.pack(">i", -1)
        raw = s.encode()
        return self.flags(9, levels=64 if s.isascii() else 8) + struct.pack(">i", len(raw)) + raw

    def sym(self, name):
        if name in self.symbols:  # REFSXP with the index in the flags
            return struct.pack(">i", self.symbols[name] << 8 | 255)
        self.symbols[name] = len(self.symbols) + 1
        return self.flags(1) + self.char(name)

    def pairlist(self, items):
        return b"".join(self.flags(2, tag=True) + self.sym(k) + v for k, v in items.items()) + self.flags(254)

    def vector(self, kind, body, n, attrs):
        out = self.flags(kind, attrs=bool(attrs)) + struct.pack(">i", n) + body
        return out + (self.pairlist(attrs) if attrs else b"")

    def strs(self, values, **attrs):
        return self.vector(16, b"".join(map(self.char, values)), len(values), attrs)

    def ints(self, values, kind=13, **attrs):
        body = struct.pack(f">{len(values)}i", *(NA_INT if v is None else v for v in values))
        return self.vector(kind, body, len(values), attrs)

    def reals(self, values, **attrs):
        return self.vector(14, struct.pack(f">{len(values)}d", *values), len(values), attrs)

    def items(self, values, **attrs):
        return self.vector(19, b"".join(values), len(values), attrs)


def record(data, compressed):
    head = struct.pack(">I", len(data))
    if compressed == 0:
        return data
    if compressed == 1:
        return head + zlib.compress(data)
    if compressed == 2:
        return head + b"2" + bz2.compress(data)
    return head + b"Z" + lzma.compress(data, lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": 6}])


def write_db(folder, objects, compressed=1, version=3):
    """Write Rdata.rdx/.rdb in ``folder``; ``objects``: name -> function(Ser) -> serialized item."""
    rdb, spans = b"", {}
    for name, make in objects.items():
        ser = Ser(version)
        rec = record(ser.header() + make(ser), compressed)
        spans[name] = (len(rdb), len(rec))
        rdb += rec
    ser = Ser(version)
    variables = ser.items([ser.ints(list(s)) for s in spans.values()], names=ser.strs(list(spans)))
    flag = ser.ints([1], kind=10) if compressed == 1 else ser.ints([compressed])
    index = ser.items([variables, ser.items([]), flag], names=ser.strs(["variables", "references", "compressed"]))
    (folder / "Rdata.rdx").write_bytes(gzip.compress(ser.header() + index))
    (folder / "Rdata.rdb").write_bytes(rdb)
    return folder


NOVEL = ["A TINY NOVEL", "", "CHAPTER 1", "", "It cost \u00a3200 a year,", None, "the end."]
OBJECTS = {
    "novel": lambda s: s.strs(NOVEL, names=s.strs([f"l{i}" for i in range(len(NOVEL))])),
    "counts": lambda s: s.ints([3, None, -7]),
    "frame": lambda s: s.items([s.strs(["a", "b"]), s.reals([1.5, math.inf])],
                               names=s.strs(["x", "y"]), **{"class": s.strs(["data.frame"]),
                                                            "row.names": s.ints([NA_INT, -2])}),
    "empty": lambda s: s.strs([]),
}


@pytest.mark.parametrize("compressed,version", [(1, 3), (1, 2), (2, 3), (3, 3), (0, 2)])
def test_character_vectors_round_trip(tmp_path, compressed, version):
    write_db(tmp_path, OBJECTS, compressed, version)
    texts = read_character_vectors(tmp_path)
    assert texts == {"novel": ["" if line is None else line for line in NOVEL], "empty": []}
    assert list(texts) == ["novel", "empty"]  # the database's order


def test_read_rdb_values_and_attributes(tmp_path):
    objects = read_rdb(write_db(tmp_path, OBJECTS))
    assert list(objects) == ["novel", "counts", "frame", "empty"]
    assert objects["novel"] == NOVEL and objects["novel"].attributes["names"][-1] == "l6"
    assert objects["counts"] == [3, None, -7] and isinstance(objects["counts"], RVector)
    frame = objects["frame"]
    assert frame == [["a", "b"], [1.5, math.inf]]
    assert frame.attributes == {"names": ["x", "y"], "class": ["data.frame"], "row.names": [None, -2]}


def test_altrep_compact_sequence_and_package_dir(tmp_path):
    def seq(s):  # 1:4 as R >= 3.5 saves it: ALTREP(info = pairlist(class, package, type), state, attr)
        info = s.flags(2) + s.sym("compact_intseq") + s.flags(2) + s.sym("base") + s.flags(2) + s.ints([13])
        return s.flags(238) + info + s.flags(254) + s.reals([4, 1, 1]) + s.flags(254)

    (tmp_path / "data").mkdir()
    write_db(tmp_path / "data", {"seq": seq, "t": lambda s: s.strs(["x"])})
    assert read_rdb(tmp_path) == {"seq": [1, 2, 3, 4], "t": ["x"]}  # the package's folder works too
    assert read_character_vectors(tmp_path) == {"t": ["x"]}


def test_truncated_rdb(tmp_path):
    write_db(tmp_path, OBJECTS)
    rdb = tmp_path / "Rdata.rdb"
    rdb.write_bytes(rdb.read_bytes()[:-10])
    with pytest.raises(RDataError, match=r"Rdata\.rdb.*truncated"):
        read_character_vectors(tmp_path)


def test_corrupt_record_and_bad_serialization(tmp_path):
    write_db(tmp_path, {"t": lambda s: s.strs(["x"])})
    rdb = tmp_path / "Rdata.rdb"
    data = bytearray(rdb.read_bytes())
    data[6:12] = b"\xff" * 6
    rdb.write_bytes(bytes(data))
    with pytest.raises(RDataError, match=r"Rdata\.rdb \(object 't'\): truncated or corrupt data \(zlib\.error"):
        read_rdb(tmp_path)
    with pytest.raises(RDataError, match="not an XDR R serialization"):
        unserialize(b"hello world")
    with pytest.raises(RDataError, match="truncated"):
        unserialize(Ser().header() + Ser().strs(["abc"])[:-2])


def test_unsupported_type(tmp_path):
    write_db(tmp_path, {"env": lambda s: s.flags(4) + struct.pack(">i", 0)})  # ENVSXP
    with pytest.raises(RDataError, match=r"Rdata\.rdb \(object 'env'\): unsupported R type code 4$"):
        read_rdb(tmp_path)
    assert read_character_vectors(tmp_path) == {}  # skipped: not a character vector


def test_not_an_r_database(tmp_path):
    (tmp_path / "Rdata.rdx").write_text("this is not R data at all " * 20)
    (tmp_path / "Rdata.rdb").write_bytes(b"")
    with pytest.raises(RDataError, match=r"Rdata\.rdx: not an XDR R serialization") as err:
        read_character_vectors(tmp_path)
    assert len(str(err.value)) < len(str(tmp_path)) + 150  # quotes only a little of the input
    with pytest.raises(RDataError, match=r"missing.*Rdata\.rdx: cannot read"):
        read_rdb(tmp_path / "missing")


@pytest.mark.skipif(not (INSTALLED / "Rdata.rdx").exists(), reason="r-cran-janeaustenr is not installed")
def test_installed_janeaustenr():
    novels = read_character_vectors(INSTALLED)
    assert {"emma", "persuasion", "prideprejudice", "mansfieldpark", "northangerabbey",
            "sensesensibility"} <= set(novels)
    assert all(len(lines) > 5000 for lines in novels.values())
    assert novels["prideprejudice"][0] == "PRIDE AND PREJUDICE"
    assert "CHAPTER I" in novels["emma"]
