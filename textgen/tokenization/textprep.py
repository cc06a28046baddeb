"""Turning text a person typed into what a model's tokenizer expects, without hiding anything.

A model trained on the Penn Treebank of Mikolov et al. (2010) has seen lowercase, whitespace-tokenized
text with numbers written ``N``, contractions split (``do n't``, ``it 's``) and no sentence punctuation.
A user types ``"I don't want 2 cats."``. :func:`prepare_text` bridges the two for ``word`` tokenizers,
guided by the vocabulary itself, so it suits any word-level model, not only PTB:

1. NFKC, curly quotes to straight ones; text with control characters or undecodable bytes is refused;
2. each whitespace token is kept if the vocabulary has it (``mr.``, ``u.s.``, ``at&t``), else its
   lowercase form if the vocabulary has that (``I`` -> ``i``, but ``N`` stays ``N``);
3. otherwise it is split PTB-style into leading punctuation, the word, a clitic (``n't 's 're 've 'll
   'd 'm``) and trailing punctuation, and each piece is looked up the same way; a number becomes ``N``
   when the vocabulary writes numbers so; a punctuation piece the vocabulary lacks is removed (and
   listed in ``removed``);
4. whatever is still not in the vocabulary stays in the text (it becomes ``<unk>``) and is listed in
   ``unknown``, so callers can warn about it.

For subword tokenizers the tokenizer's own normalisation applies and ``unknown`` lists the character
runs it cannot encode. Either way the caller gets the normalised text back to show the user.

This module is the one definition of text preparation, inside textgen and out: it imports nothing but the
standard library, and ``textgen export-hf`` copies it unchanged beside the exported weights (as
``textgen_textprep.py``), where the exported tokenizer class (``tokenization_textgen.py``) runs the same
:func:`prepare_for_tokenizer` before tokenizing. So ``AutoTokenizer`` on an exported folder, with or without
textgen installed, reads raw text exactly as :class:`~textgen.SentenceEncoder` does.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["PreparedText", "prepare_text", "prepare_words", "prepare_for_tokenizer", "check_is_text"]

_CLITIC = re.compile(r"^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$", re.IGNORECASE)
_EDGE_PUNCT = re.compile(r"^([^\w$#&<]*)(.*?)([^\w%$#&>]*)$", re.UNICODE)
_NUMBER = re.compile(r"^[+-]?(\d+([.,:/]\d+)*|\d*\.\d+)(st|nd|rd|th)?$")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2032": "'", "`": "'"})


@dataclass
class PreparedText:
    """``text`` as the tokenizer will read it, with what changed on the way."""

    original: str
    text: str
    unknown: list[str] = field(default_factory=list)   # words that will become <unk>
    removed: list[str] = field(default_factory=list)   # punctuation the vocabulary does not have

    @property
    def num_words(self) -> int:
        return len(self.text.split())


# Control characters (Unicode category Cc) that are not whitespace, surrogates (undecodable bytes read with
# errors="surrogateescape", as in sys.argv) and U+FFFD (bytes already replaced by a decoder).
_NON_TEXT = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff\ufffd]")


def check_is_text(text: Any, what: str = "input", errors: str = "strict") -> str:
    """``text`` if it is a ``str`` of printable text, else a ``ValueError`` that says what is wrong.

    ``errors="replace"`` instead turns control characters, undecodable bytes (surrogates) and U+FFFD into
    spaces, for bulk encoding of real corpora where a stray byte should not stop the job.
    """
    if isinstance(text, (bytes, bytearray)):
        raise ValueError(f"{what} is bytes, not text; decode it first (e.g. data.decode('utf-8'))")
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a string, got {type(text).__name__}")
    bad = _NON_TEXT.search(text)
    if bad is None:
        return text
    if errors == "replace":
        return _NON_TEXT.sub(" ", text)
    raise ValueError(f"{what} contains non-text data ({bad.group()!r} at position {bad.start()}): pass UTF-8 text, "
                     "not binary bytes or a file read with the wrong encoding")


def prepare_text(text: str, tokenizer: Any, what: str = "sentence", errors: str = "strict") -> PreparedText:
    """Normalise ``text`` for a textgen ``tokenizer`` (see the module docstring). Non-text raises ``ValueError``,
    or becomes spaces with ``errors="replace"``."""
    original = text
    text = check_is_text(text, what, errors)
    if tokenizer.kind != "word":
        normalized = tokenizer.normalize(text)
        return PreparedText(original, normalized, unknown=tokenizer.unknown_words(normalized))
    words, unknown, removed = prepare_words(text, tokenizer.vocab, tokenizer.lowercase)
    return PreparedText(original, words, unknown=unknown, removed=removed)


def prepare_for_tokenizer(text: str, kind: str, vocab: Mapping[str, int], lowercase: bool) -> str:
    """What the exported tokenizer feeds its Hugging Face pipeline, the text :func:`prepare_text` gives with
    ``errors="replace"`` (as :class:`~textgen.SentenceEncoder` encodes) before the tokenizer's own normaliser.

    For the subword kinds that is the text with non-text characters as spaces (the normaliser in
    ``tokenizer.json`` does the rest); for ``word`` it is :func:`prepare_words`.
    """
    text = check_is_text(text, "text", errors="replace")
    if kind != "word":
        return text
    return prepare_words(text, vocab, lowercase)[0]


def prepare_words(text: str, vocab: Mapping[str, int], lowercase: bool) -> tuple[str, list[str], list[str]]:
    """The ``word``-kind rules 1-4 of the module docstring, guided by ``vocab`` (token -> id).

    Returns the words joined by single spaces, the distinct words that will become ``<unk>`` and the
    punctuation pieces removed because the vocabulary lacks them.
    """
    clean = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    if lowercase:
        clean = clean.lower()
    tokens = clean.split()
    if all(t in vocab for t in tokens):                            # the common case: nothing to change
        return " ".join(tokens), [], []
    numbers_as_n = "N" in vocab
    words: list[str] = []
    unknown: list[str] = []
    removed: list[str] = []

    def lookup(piece: str) -> str | None:
        if piece in vocab:
            return piece
        if piece.lower() in vocab:
            return piece.lower()
        if numbers_as_n and _NUMBER.match(piece):
            return "N"
        return None

    for token in tokens:
        found = lookup(token)
        if found is not None:
            words.append(found)
            continue
        lead, core, trail = _EDGE_PUNCT.match(token).groups()
        pieces = list(lead)
        m = _CLITIC.match(core)
        if m and lookup(core) is None:
            pieces += [m.group(1), m.group(2)]
        elif core:
            pieces.append(core)
        pieces += list(trail)
        for piece in pieces:
            found = lookup(piece)
            if found is not None:
                words.append(found)
            elif not any(ch.isalnum() for ch in piece):
                removed.append(piece)
            else:
                words.append(piece)
                unknown.append(piece)
    return " ".join(words), list(dict.fromkeys(unknown)), removed
