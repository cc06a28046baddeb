"""What every tokenizer kind shares: the special tokens and their ids, the error type, the padded
batch, the backend interface, and the checks and helpers the kinds and the facade both use."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Literal, Optional, Sequence

import numpy as np

from textgen.core.logs import warn

__all__ = [
    "PAD_ID", "UNK_ID", "BOS_ID", "EOS_ID",
    "TokenizerError",
    "BatchEncoding",
    "SPECIAL_TOKENS",
    "KINDS",
    "TOKENIZER_FILE",
    "right_pad",
]

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>")  # ids 0, 1, 2, 3 in every kind
PAD, UNK, BOS, EOS = SPECIAL_TOKENS
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3  # their ids
KINDS: tuple[str, ...] = ("word", "bpe", "unigram", "sentencepiece")

TOKENIZER_FILE = "textgen_tokenizer.json"
FORMAT = "textgen-tokenizer"
FORMAT_VERSION = 1
HF_TOKENIZER_FILE = "tokenizer.json"
HF_CONFIG_FILE = "tokenizer_config.json"
HF_SPECIAL_TOKENS_FILE = "special_tokens_map.json"

DEFAULT_SUBWORD_VOCAB_SIZE = 8000
# A unigram vocabulary whose pieces average fewer non-space characters per token than this on its
# own training text is near character level (a pure character split gives <= 1; word-level English
# ~4.5; healthy 1k-8k subword vocabularies 2.5-4), so training refuses it. Scripts without spaces
# (Chinese, Japanese) legitimately sit lower: pass min_chars_per_token=0 to switch the check off.
MIN_CHARS_PER_TOKEN = 1.5
_QUALITY_SAMPLE = 2000  # sentences of the training text the check looks at

_SPECIAL_SPLIT = re.compile("(" + "|".join(re.escape(s) for s in SPECIAL_TOKENS) + ")")
_SPIECE = "\u2581"  # '▁', the SentencePiece / Metaspace word-start marker

Kind = Literal["word", "bpe", "unigram", "sentencepiece"]
IdSequence = Any  # a list or tuple of ints, a 1-D numpy array or a 1-D torch tensor


class TokenizerError(ValueError):
    """A tokenizer cannot be trained or loaded; the message says what went wrong and what to do."""


@dataclass
class BatchEncoding:
    """A padded batch from :meth:`Tokenizer.encode_batch`.

    ``input_ids`` (B, T) padded with ``<pad>`` (id 0) on the right; ``lengths`` (B,) real tokens per
    row, specials included; ``attention_mask`` (B, T) 1 on real tokens, 0 on padding;
    ``num_truncated`` how many inputs were cut to ``max_length``, ``truncated`` which (row indices). Tensors are ``torch`` (``"pt"``),
    ``numpy`` (``"np"``) or nested lists (``None``), as requested.
    """

    input_ids: Any
    lengths: Any
    attention_mask: Any
    num_truncated: int = 0
    truncated: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.lengths)

    def to(self, device: Any) -> "BatchEncoding":
        """A copy with the torch tensors moved to ``device``."""
        return replace(self, input_ids=self.input_ids.to(device), lengths=self.lengths.to(device),
                       attention_mask=self.attention_mask.to(device))


# ============================================================================= backends
#
#
# A backend owns one kind's vocabulary and algorithm. It maps raw texts to *content* ids (no
# <bos>/<eos> added; literal specials in the text already mapped), content ids back to text, and
# knows how to serialise itself and build its Hugging Face `tokenizers.Tokenizer`.

class _PayloadError(Exception):
    """A kind-specific payload is missing or malformed (turned into a TokenizerError by load)."""


class _Backend:
    kind: str
    lowercase: bool
    byte_level: bool = False    # bpe only: GPT-2 style byte-level pre-tokenizer, never <unk>
    vocab: list[str]            # id -> token
    token_ids: dict[str, int]   # token -> id

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError

    def normalize(self, text: str) -> str:
        raise NotImplementedError

    def unknown_words(self, text: str) -> list[str]:
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def hf_tokenizer(self, for_export: bool = False) -> Any:
        raise NotImplementedError


# ============================================================================= helpers

def _add_specials(hf: Any, for_export: bool) -> None:
    """Register the specials as HF added tokens (matched in raw text); exports also append <eos>."""
    from tokenizers import AddedToken, processors

    hf.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIAL_TOKENS])
    _check_special_ids({s: hf.token_to_id(s) for s in SPECIAL_TOKENS}, where="the Hugging Face tokenizer")
    if for_export:  # so that hf(text) == our encode(text): content + <eos>
        hf.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS}", pair=f"$A {EOS} $B:1 {EOS}:1", special_tokens=[(EOS, EOS_ID)])


def _check_special_ids(token_ids: Any, where: str) -> None:
    for i, s in enumerate(SPECIAL_TOKENS):
        if token_ids.get(s) != i:
            raise TokenizerError(f"{where} gives {s} the id {token_ids.get(s)}, expected {i}; "
                                 "this is a bug in textgen, please report it")


def _read_corpus(texts: Iterable[str]) -> list[str]:
    """Validate the training texts; literal special tokens are removed (they are not words to learn)."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("Tokenizer.train expects an iterable of sentences, got a single "
                        f"{type(texts).__name__}; pass a list such as text.splitlines()")
    corpus = []
    for i, t in enumerate(texts):
        _check_text(t, f"Tokenizer.train (sentence {i})")
        if "<" in t:
            t = _SPECIAL_SPLIT.sub(" ", t)
        if not t.isspace() and t:
            corpus.append(t)
    if not corpus:
        raise TokenizerError("empty corpus: every training sentence is empty, whitespace or only special tokens; "
                             "pass at least one non-empty sentence to Tokenizer.train")
    return corpus


def _report_vocab_size(kind: str, requested: int, got: int) -> None:
    if got != requested:
        why = ("the corpus does not support more pieces" if got < requested
               else "the corpus alphabet alone needs more tokens")
        warn(f"the {kind} trainer produced {got} tokens, not the requested vocab_size={requested} "
             f"({why}); the tokenizer works, with vocab_size={got}", key="vocab-size")


def _check_not_degenerate(backend: _Backend, corpus: list[str], requested: int,
                          threshold: float, strict: bool) -> None:
    """Refuse (or warn about) a unigram vocabulary that spells words out letter by letter."""
    step = max(1, len(corpus) // _QUALITY_SAMPLE)
    sample = corpus[::step][:_QUALITY_SAMPLE]
    normalized = [backend.normalize(t) for t in sample]
    chars = sum(len(t) - t.count(" ") for t in normalized)
    tokens = sum(len(ids) for ids in backend.encode_many(sample))
    if tokens == 0 or chars / tokens >= threshold:
        return
    alphabet = _alphabet(normalized)
    msg = (f"the {backend.kind} vocabulary ({backend.vocab_size} tokens) is too small for this corpus: it "
           f"splits the training text into {chars / tokens:.2f} characters per token (threshold "
           f"{threshold}; a character-level split gives about 1), so words are spelled out almost letter "
           f"by letter. Train with a larger vocab_size, e.g. vocab_size="
           f"{_suggest_vocab_size(requested, len(alphabet))}")
    if strict:
        raise TokenizerError(msg + "; or pass strict=False to keep it with a warning")
    warn(msg, key="degenerate-unigram")


def _alphabet(texts: Iterable[str]) -> set[str]:
    chars: set[str] = set()
    for t in texts:
        chars.update(t)
    chars.discard(" ")
    return chars


def _suggest_vocab_size(requested: int, alphabet_size: int) -> int:
    """A vocabulary that leaves room for real pieces: twice the request, at least 4x the alphabet."""
    return int(math.ceil(max(2 * requested, 4 * (alphabet_size + len(SPECIAL_TOKENS))) / 100) * 100)


def _check_text(text: Any, where: str) -> None:
    if isinstance(text, str):
        return
    hint = {bytes: "; decode it first, e.g. text.decode('utf-8')",
            bytearray: "; decode it first, e.g. text.decode('utf-8')",
            type(None): "; use '' for an empty sentence"}.get(type(text), "")
    raise TypeError(f"{where} expects text as a str, got {type(text).__name__}{hint}")


def _check_max_length(value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"max_length must be a positive int or None, got {value!r}")


def _as_id_list(ids: Any, vocab_size: int) -> list[int]:
    """A plain list of ints from a list, tuple, numpy array or torch tensor; checks the range."""
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    if isinstance(ids, int):
        ids = [ids]
    try:
        ids = [int(i) for i in ids]
    except TypeError:
        raise TypeError("decode expects one sequence of ids (1-D); use decode_batch for a batch") from None
    if ids and (min(ids) < 0 or max(ids) >= vocab_size):
        bad = next(i for i in ids if not 0 <= i < vocab_size)
        raise ValueError(f"token id {bad} is out of range for a vocabulary of {vocab_size} tokens")
    return ids


def right_pad(rows: Sequence[Sequence[int]], pad_id: int, width: Optional[int] = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one right-padding of token-id rows: ``ids`` (B, T) int64 with ``pad_id`` after each row's end,
    ``lengths`` (B,) and ``mask`` (B, T) bool (True on real tokens); T is ``width`` or the longest row."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    T = int(lengths.max()) if width is None and len(rows) else (width or 0)
    mask = np.arange(T)[None, :] < lengths[:, None]                                 # (B, T)
    ids = np.full((len(rows), T), pad_id, dtype=np.int64)
    if len(rows):
        ids[mask] = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]) if lengths.sum() else []
    return ids, lengths, mask
