"""The general-English sentence corpus, built offline from packages (``textgen prepare-corpus english``).

:func:`build_english_corpus` reads the sources of :mod:`textgen.data.english_sources` (news, encyclopedic
text, reviews, dialog and chat, bird captions, fiction, non-fiction prose, speeches, everyday sentences and
web text: nineteen readers, each from a package registry), splits them into sentences, cleans and filters
them, and writes ``train.jsonl``, ``valid.jsonl``, ``test.jsonl`` (one ``{"text", "source", "label"}``
object per line) and ``stats.json`` into a folder. The corpus card with each source's license and the
measured counts is ``docs/experiments/english_corpus.md``.

``label`` is ``"positive"`` / ``"negative"`` for the IMDB and Rotten Tomatoes reviews (their sentiment
label), else null. The result loads with ``load_corpus("DIR/train.jsonl")`` and with
``datasets.load_dataset("json", data_files=..., streaming=True)``.

What the build does, in order:

1. **Passage clean-up** (per reader): IMDB's ``<br />`` become paragraph breaks and other HTML tags
   and entities go; Windows-1252 bytes mis-decoded as C1 controls (``\\x96`` ...) become the
   characters they stand for; a missing space after a full stop (``movie.It's``) is restored; the
   tokenized sources (RT, the dialogs) are detokenized (``it 's`` ... ``film .`` -> ``film.``);
   dialog utterances cut off in the file (they end in a space) are dropped; CUB's mojibake
   spaces (runs of U+FFFD) become spaces.
2. **Normalisation**: NFKC; typographic quotes to ASCII ``'`` and ``"``; control, format and
   private-use characters removed; runs of 4+ identical ``.!?,*=~_#-`` cut to 3; whitespace
   collapsed; a leading stray ``?!,;:)`` or dash dropped (pysbd leaves ``?! His ...``; lists ``-I can't``).
3. **Sentence splitting** with pysbd (chosen by measurement: docs/experiments/english_corpus.md),
   paragraph by paragraph; a passage with no inner ``.!?`` is taken as one sentence unsplit, and a
   paragraph over 2,000 characters (a whole speech on one line) is first cut at sentence ends.
4. **Truecasing** of the lowercased sources: a word takes the casing it has inside sentences of
   the cased source (IMDB) when that casing is seen there at least 3 times and in at least 80% of
   the word's occurrences (``i'm`` -> ``I'm``, ``paris`` -> ``Paris``; ``bill`` stays), dotted
   abbreviations are upper-cased (``u.s.`` -> ``U.S.``); the first letter, and one after ``! `` or
   ``? `` (where pysbd keeps lowercase sentences together), are capitalised. The
   CUB captions (no proper nouns) only get the capital first letter.
5. **Filters**: 3-30 words (whitespace-separated); at least half the non-space characters are
   letters; balanced double quotes and parentheses (drops fragments cut inside a quotation);
   no ``<``/``>`` and no U+FFFD (bytes a source lost in decoding) left; the reader's own ``keep`` test
   and, for ``safe`` readers, no slur or sexual word; exact duplicates (after all of the above) kept once, first seen wins; a reader's ``cap``.
6. **Split** by a salted BLAKE2b hash of the case-folded sentence: 98 / 1 / 1 % by default, so a
   sentence (in any casing) is always on one side, whatever the order of the input. Optionally
   the captions of whole CUB classes (``cub_test_classes``) go to test. The 50 test classes of
   the GAN's CUB split are not in the caption file at all, so no corpus built from it sees them.
   A reader's ``repeat`` writes each of its *training* sentences that many times (valid and test
   hold each sentence once), each copy at its own place in the shuffle.
7. **Streaming output**: rows go to hash buckets on disk and each split is then written bucket by
   bucket in hash order, a deterministic shuffle with flat memory (the dedup set holds 8-byte
   hashes). Files are written under temporary names in ``OUT/.build-PID/`` and renamed at the end;
   the temporary folder goes when the build ends, fails or is interrupted (Ctrl-C or SIGTERM).

PTB (reader ``ptb``) is read only when named: it is lowercased, has no punctuation at all, writes
numbers as ``N`` and rare words as ``<unk>``; the other news sources are real cased text.

Importing this module is cheap: pysbd and ``datasets`` are imported only when needed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
import shutil
import signal
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

from textgen.core.runtime import progress
from textgen.data.corpus import CorpusError
from textgen.data.english_sources import (
    CUB_CAPTIONS_FILE,
    QUOTES,
    READERS,
    SOURCES,
    Reader,
    clean_imdb,
    default_cub_path,
    detokenize,
    english_readers,
    is_unsafe,
)

__all__ = [
    "SOURCES",
    "DEFAULT_SOURCES",
    "SPLITS",
    "CUB_CAPTIONS_FILE",
    "Reader",
    "build_english_corpus",
    "english_readers",
    "default_cub_path",
    "sentence_splitter",
    "normalize_text",
    "clean_imdb",
    "detokenize",
    "split_of",
]

DEFAULT_SOURCES = SOURCES  # every source; each reader of them but ``ptb``
SPLITS = ("train", "valid", "test")
DEFAULT_FRACTIONS = (0.98, 0.01, 0.01)
FORMAT = "textgen-english-corpus"
FORMAT_VERSION = 2  # 2: nineteen readers, repeat/cap/safe

_N_BUCKETS = 32
_TRUECASE_MIN_COUNT = 3   # a word takes a learnt casing seen at least this often ...
_TRUECASE_MIN_SHARE = 0.8  # ... and in at least this share of its non-initial occurrences
_LONG_PARAGRAPH = 2000     # characters: longer paragraphs are cut at sentence ends before pysbd


# ============================================================================= text clean-up

_C1 = re.compile("[\x80-\x9f]")
_KEEP_CONTROLS = {"\n", "\t"}
_PUNCT_RUN = re.compile(r"([.!?,*=~_#-])\1{3,}")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")


def _c1_char(m: re.Match) -> str:
    return m.group().encode("latin-1").decode("cp1252", errors="ignore") or " "


def normalize_text(text: str, keep_newlines: bool = False) -> str:
    """NFKC, C1 controls read as Windows-1252, ASCII quotes, no control/format/private characters,
    runs of 4+ identical ``.!?,*=~_#-`` cut to 3, whitespace collapsed (newlines kept if asked)."""
    text = _C1.sub(_c1_char, text).replace("\u00b4", "'")  # NFKC would turn the acute accent into ' \u0301'
    text = unicodedata.normalize("NFKC", text).translate(QUOTES)
    if not text.isascii() or any(c < " " for c in text):
        text = "".join(c if c in _KEEP_CONTROLS or c == " " or unicodedata.category(c)[0] != "C"
                       else ("" if unicodedata.category(c) == "Cf" else " ") for c in text)
    text = _PUNCT_RUN.sub(r"\1\1\1", text)
    text = _SPACES.sub(" ", text)
    if keep_newlines:
        return _BLANK_LINES.sub("\n", text).strip()
    return " ".join(text.split())


# ============================================================================= sentences

_INNER_END = re.compile(r"[.!?][\"')\]]*\s+\S")
_LEADING_JUNK = re.compile(r"^(?:[?!,;:)]+|[-\u2013\u2014]+(?=[\s\w\"'(]))\s*")  # stray marks, list dashes
_AFTER_BANG = re.compile(r"(?<=[!?] )[^\W\d_]")


def sentence_splitter() -> Callable[[str], list[str]]:
    """The corpus's sentence splitter: pysbd (English, ``clean=False``) with a fast path for
    one-sentence text. Raises CorpusError if pysbd is not installed."""
    try:
        import pysbd
    except ImportError:
        raise CorpusError("the English corpus splits sentences with pysbd, which is not installed: "
                          "pip install pysbd==0.3.4 (or pip install \"textgen[data]\")") from None
    segmenter = pysbd.Segmenter(language="en", clean=False)

    def split(text: str) -> list[str]:
        if not _INNER_END.search(text):
            return [text]
        return [s for s in (s.strip() for s in segmenter.segment(text)) if s]

    return split


_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_FIRST_LETTER = re.compile(r"[^\W\d_]")
_DOTTED = re.compile(r"(?<![\w.])(?:[a-z]\.){2,}(?!\w)")  # u.s. -> U.S., but not e.g.
_DOTTED_LOWER = {"e.g.", "i.e.", "a.m.", "p.m."}
_I = re.compile(r"\bi(?=\b|')")


class _Truecaser:
    """Word casing learnt from cased sentences (all but their first word), applied to lowercased ones."""

    def __init__(self) -> None:
        self.lower: Counter[str] = Counter()
        self.forms: dict[str, Counter[str]] = {}
        self.table: dict[str, str] = {}

    def observe(self, sentence: str) -> None:
        for i, m in enumerate(_WORD.finditer(sentence)):
            if i == 0:
                continue
            w = m.group()
            low = w.lower()
            if w == low:
                self.lower[low] += 1
            else:
                self.forms.setdefault(low, Counter())[w] += 1

    def freeze(self) -> None:
        for low, forms in self.forms.items():
            form, n = forms.most_common(1)[0]
            total = sum(forms.values()) + self.lower[low]
            if n >= _TRUECASE_MIN_COUNT and n >= _TRUECASE_MIN_SHARE * total:
                self.table[low] = form
        self.lower, self.forms = Counter(), {}

    def apply(self, sentence: str, words: bool = True) -> str:
        if words:
            table = self.table
            sentence = _WORD.sub(lambda m: table.get(m.group(), m.group()), sentence)
            sentence = _I.sub("I", sentence)
            sentence = _DOTTED.sub(lambda m: m.group() if m.group() in _DOTTED_LOWER else m.group().upper(), sentence)
        sentence = _AFTER_BANG.sub(lambda m: m.group().upper(), sentence)  # "huh! how" (pysbd keeps it whole)
        m = _FIRST_LETTER.search(sentence)
        if m and m.group().islower():
            i = m.start()
            sentence = sentence[:i] + sentence[i].upper() + sentence[i + 1:]
        return sentence


def _reject(sentence: str, min_words: int, max_words: int) -> Optional[str]:
    """Why a normalised sentence is dropped ('length' or 'junk'), or None to keep it."""
    n = sentence.count(" ") + 1
    if n < min_words or n > max_words:
        return "length"
    chars = len(sentence) - n + 1
    letters = sum(c.isalpha() for c in sentence)
    if 2 * letters < chars or "<" in sentence or ">" in sentence or "\ufffd" in sentence:   # U+FFFD: lost bytes
        return "junk"
    if sentence.count('"') % 2 or sentence.count("(") != sentence.count(")"):
        return "junk"
    return None


def _hash(data: str, seed: int) -> bytes:
    return hashlib.blake2b(data.encode("utf-8"), digest_size=16, salt=seed.to_bytes(16, "little")).digest()


def split_of(text: str, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> str:
    """The split (``train``/``valid``/``test``) of a normalised sentence: a function of its
    case-folded text and ``seed`` only, so one sentence is never on two sides."""
    return _split_from_hash(_hash(text.casefold(), seed), fractions)


def _split_from_hash(digest: bytes, fractions: Sequence[float]) -> str:
    u = int.from_bytes(digest[:8], "little") / 2.0 ** 64
    if u < fractions[0]:
        return "train"
    return "valid" if u < fractions[0] + fractions[1] else "test"


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    try:
        train, valid, test = (float(f) for f in fractions)
    except (TypeError, ValueError):
        raise CorpusError(f"fractions must be three numbers (train, valid, test), got {fractions!r}") from None
    if min(train, valid, test) < 0 or abs(train + valid + test - 1.0) > 1e-9:
        raise CorpusError(f"fractions must be three non-negative numbers that add up to 1, got {fractions!r}")
    return train, valid, test


def _sentences(reader: Reader, text: str, split: Callable[[str], list[str]]) -> Iterator[str]:
    if reader.clean is not None:
        text = reader.clean(text)
    text = normalize_text(text, keep_newlines=reader.segment)
    if not reader.segment:
        if text:
            yield text
        return
    for paragraph in text.split("\n"):
        for piece in _cut_long(paragraph):
            for s in split(piece):
                s = _LEADING_JUNK.sub("", " ".join(s.split()))
                if s:
                    yield s


_SENTENCE_END = re.compile(r"(?<=[a-z0-9)][.!?]) (?=[A-Z])")


def _cut_long(paragraph: str) -> list[str]:
    """A paragraph of up to ``_LONG_PARAGRAPH`` characters as is; a longer one cut at sentence ends
    (``end. Next``) into pieces of about that size, so that pysbd never sees a whole speech at once."""
    if len(paragraph) <= _LONG_PARAGRAPH:
        return [paragraph] if paragraph else []
    pieces, start = [], 0
    for m in _SENTENCE_END.finditer(paragraph):
        if m.start() - start >= _LONG_PARAGRAPH:
            pieces.append(paragraph[start:m.start()])
            start = m.end()
    pieces.append(paragraph[start:])
    return [p for p in pieces if p]


# ============================================================================= the build

def build_english_corpus(
    out_dir: Union[str, os.PathLike],
    *,
    sources: Sequence[str] = DEFAULT_SOURCES,
    cub_path: Union[str, os.PathLike, None] = None,
    seed: int = 0,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    min_words: int = 3,
    max_words: int = 30,
    cub_test_classes: Sequence[int] = (),
    truecase: bool = True,
    readers: Optional[Sequence[Reader]] = None,
    segmenter: Optional[Callable[[str], list[str]]] = None,
    log: Optional[Callable[[str], None]] = None,
    show_progress: bool = True,
    limit: Optional[int] = None,
) -> dict:
    """Build the general-English corpus into ``out_dir``; returns the statistics (also in ``stats.json``).

    Args:
        out_dir: the folder to write ``train.jsonl``, ``valid.jsonl``, ``test.jsonl`` and
            ``stats.json`` into (created; files already there are replaced).
        sources: source names (``news``, ``review``, ...; default: all of :data:`SOURCES`) and reader names
            (``ptb``, ``imdb``, ...) to read; see :func:`~textgen.data.english_sources.english_readers`.
        cub_path: the CUB caption file (default: :func:`default_cub_path`), read only.
        seed: salts the split hash; another seed gives other (equally sized) splits.
        fractions: train/valid/test shares (default 0.98/0.01/0.01).
        min_words, max_words: keep sentences with this many whitespace-separated words.
        cub_test_classes: CUB class ids whose captions all go to test (and any sentence equal to one).
        truecase: give the words of the lowercased sources the casing learnt from the cased ones and
            capitalise their first letter (False: they stay lowercase).
        readers: use these :class:`Reader` objects instead of the packaged sources (tests, new data).
        segmenter: a ``str -> list[str]`` sentence splitter instead of pysbd.
        log: called with one summary line per reader (the CLI logs them); a progress bar counts
            passages unless ``show_progress`` is False or ``TEXTGEN_PROGRESS=0``.
        limit: read at most this many passages of each reader (a quick look; None: all).

    Raises:
        CorpusError: an unknown source, a missing package (the message gives the pip command),
            a missing CUB file, bad fractions or word limits, or an empty result.
    """
    fractions = _check_fractions(fractions)
    if not (isinstance(min_words, int) and isinstance(max_words, int) and 1 <= min_words <= max_words):
        raise CorpusError(f"need 1 <= min_words <= max_words, got min_words={min_words!r}, max_words={max_words!r}")
    if not isinstance(seed, int) or not 0 <= seed < 2 ** 64:
        raise CorpusError(f"seed must be an int in [0, 2**64), got {seed!r}")
    if limit is not None and not (isinstance(limit, int) and limit >= 1):
        raise CorpusError(f"limit must be a positive number of passages per source, got {limit!r}")
    readers = list(readers) if readers is not None else english_readers(sources, cub_path)
    if limit is not None:
        readers = [dataclasses.replace(r, read=lambda r=r: itertools.islice(r.read(), limit)) for r in readers]
    split = segmenter if segmenter is not None else sentence_splitter()
    held_classes = set(cub_test_classes)
    say = log or (lambda msg: None)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = out / f".build-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    with _sigterm_as_interrupt():
        try:
            stats = _build(out, work, readers, split, seed, fractions, min_words, max_words,
                           held_classes, truecase, say, show_progress)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return stats


class _sigterm_as_interrupt:
    """Within the block, SIGTERM raises KeyboardInterrupt (so ``finally`` clean-ups run); main thread only."""

    def __enter__(self):
        self.previous = None
        try:
            self.previous = signal.signal(signal.SIGTERM, self._raise)
        except ValueError:  # not the main thread: leave signals alone
            pass
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False


def _build(out: Path, work: Path, readers: list[Reader], split: Callable[[str], list[str]], seed: int,
           fractions: tuple[float, float, float], min_words: int, max_words: int, held_classes: set,
           truecase: bool, say: Callable[[str], None], show_progress: bool) -> dict:
    # forced-test keys: the case-folded sentences of the held-out CUB classes (a first pass)
    forced: set[bytes] = set()
    if held_classes:
        for reader in readers:
            if reader.source != "caption":
                continue
            for text, _, group in reader.read():
                if group in held_classes:
                    for s in _sentences(reader, text, split):
                        forced.add(_hash(s.casefold(), seed)[:8])

    truecaser = _Truecaser()
    seen: set[bytes] = set()
    buckets: dict[tuple[str, int], object] = {}
    splits_stats = {s: Counter() for s in SPLITS}
    labels_stats = {s: Counter() for s in SPLITS}
    histogram = {s: Counter() for s in SPLITS}
    reader_stats: dict[str, dict] = {}
    try:
        # cased readers first: they teach the truecaser the casing of each word
        ordered = [r for r in readers if r.cased] + [r for r in readers if not r.cased]
        frozen = False
        for reader in ordered:
            if not reader.cased and truecase and not frozen:
                truecaser.freeze()
                frozen = True
            rs = reader_stats[reader.name] = {"source": reader.source, "passages": 0, "sentences": 0, "kept": 0,
                                              "written": 0, "dropped": {"length": 0, "junk": 0, "unsafe": 0,
                                                                        "duplicate": 0, "cap": 0}}
            bar = progress(reader.read(), enabled=show_progress, desc=f"{reader.name} ({reader.source})", unit=" passages")
            for text, label, group in bar:
                rs["passages"] += 1
                if reader.cap is not None and rs["kept"] >= reader.cap:
                    rs["dropped"]["cap"] += 1
                    continue
                for sentence in _sentences(reader, text, split):
                    rs["sentences"] += 1
                    if reader.cased:
                        truecaser.observe(sentence)
                    elif truecase:
                        sentence = truecaser.apply(sentence, reader.truecase_words)
                    why = _reject(sentence, min_words, max_words)
                    if why is None and reader.keep is not None and not reader.keep(sentence):
                        why = "junk"
                    if why is None and reader.safe and is_unsafe(sentence):
                        why = "unsafe"
                    if why:
                        rs["dropped"][why] += 1
                        continue
                    key = hashlib.blake2b(sentence.encode("utf-8"), digest_size=8).digest()
                    if key in seen:
                        rs["dropped"]["duplicate"] += 1
                        continue
                    seen.add(key)
                    digest = _hash(sentence.casefold(), seed)
                    name = "test" if digest[:8] in forced else _split_from_hash(digest, fractions)
                    line = json.dumps({"text": sentence, "source": reader.source, "label": label}, ensure_ascii=False)
                    copies = reader.repeat if name == "train" else 1
                    for copy in range(copies):  # each copy its own place in the shuffle
                        order = (digest[8:] if copy == 0 else _hash(f"{copy}:{digest.hex()}", seed)[8:]).hex()
                        bucket = int(order[:4], 16) % _N_BUCKETS
                        f = buckets.get((name, bucket))
                        if f is None:
                            f = buckets[(name, bucket)] = open(work / f"{name}-{bucket:02d}.tsv", "w", encoding="utf-8")
                        f.write(order + "\t" + line + "\n")  # type: ignore[attr-defined]
                    rs["kept"] += 1
                    rs["written"] += copies
                    splits_stats[name][reader.source] += copies
                    labels_stats[name][label or "none"] += copies
                    histogram[name][sentence.count(" ") + 1] += copies
                    if reader.cap is not None and rs["kept"] >= reader.cap:
                        break
            bar.close()
            d = rs["dropped"]
            say(f"{reader.name} ({reader.source}): {rs['passages']:,} passages, {rs['sentences']:,} sentences, "
                f"{rs['kept']:,} kept" + (f", {rs['written']:,} rows with repeats" if reader.repeat > 1 else "") +
                f" (dropped {d['length']:,} for length, {d['junk']:,} as junk, {d['unsafe']:,} unsafe, "
                f"{d['duplicate']:,} duplicates" + (f", {d['cap']:,} passages over the cap" if d['cap'] else "") + ")")
    finally:
        for f in buckets.values():
            f.close()  # type: ignore[attr-defined]

    total = sum(sum(c.values()) for c in splits_stats.values())
    if total == 0:
        raise CorpusError(f"the English corpus is empty: no sentence of {', '.join(r.name for r in readers)} "
                          f"passed the filters ({min_words}-{max_words} words, mostly letters, no duplicates)")

    # each split: buckets in turn, each sorted by its hash, so the file order is a deterministic shuffle
    for name in SPLITS:
        tmp = work / f"{name}.jsonl"
        with open(tmp, "w", encoding="utf-8") as dst:
            for b in range(_N_BUCKETS):
                part = work / f"{name}-{b:02d}.tsv"
                if part.exists():
                    lines = part.read_text(encoding="utf-8").splitlines()
                    lines.sort()
                    dst.writelines(line.split("\t", 1)[1] + "\n" for line in lines)
                    part.unlink()
    stats = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "config": {"sources": sorted({r.source for r in readers},
                                     key=lambda s: (SOURCES.index(s) if s in SOURCES else len(SOURCES), s)),
                   "readers": [r.name for r in readers], "seed": seed, "fractions": list(fractions),
                   "min_words": min_words, "max_words": max_words, "truecase": truecase,
                   "cub_test_classes": sorted(held_classes), "segmenter": _segmenter_name(split),
                   "repeat": {r.name: r.repeat for r in readers if r.repeat > 1},
                   "cap": {r.name: r.cap for r in readers if r.cap is not None}},
        "splits": {s: {"total": sum(c.values()), **dict(sorted(c.items()))} for s, c in splits_stats.items()},
        "labels": {s: dict(sorted(c.items())) for s, c in labels_stats.items()},
        "readers": reader_stats,
        "truecase_words": len(truecaser.table),
        "length_histogram": {s: {str(k): c[k] for k in sorted(c)} for s, c in histogram.items()},
    }
    for name in SPLITS:
        os.replace(work / f"{name}.jsonl", out / f"{name}.jsonl")
    tmp = work / "stats.json"
    tmp.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / "stats.json")
    return stats


def _segmenter_name(split: Callable) -> str:
    if getattr(split, "__qualname__", "").startswith("sentence_splitter"):
        try:
            from importlib.metadata import version

            return f"pysbd {version('pysbd')}"
        except Exception:  # noqa: BLE001 - metadata missing
            return "pysbd"
    return getattr(split, "__name__", type(split).__name__)
