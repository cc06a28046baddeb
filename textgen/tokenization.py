"""The one tokenizer layer shared by every textgen model.

A :class:`Tokenizer` turns sentences into integer ids and back. Four kinds share one API:

=================  ==========================================================================
``word``           whitespace-separated tokens (PTB-style, pre-tokenized text); pure Python
``bpe``            byte-pair encoding trained with Hugging Face ``tokenizers``
``unigram``        unigram language model trained with Hugging Face ``tokenizers``
``sentencepiece``  unigram language model trained with the ``sentencepiece`` library
=================  ==========================================================================

Every kind reserves the same four special tokens with the same ids::

    <pad> = 0    <unk> = 1    <bos> = 2    <eos> = 3

Usage::

    from textgen.tokenization import Tokenizer

    tok = Tokenizer.train(sentences, kind="word", min_freq=2, max_length=64)
    ids = tok.encode("the cat sat")              # [.., .., .., 3]   (<eos> appended)
    tok.decode(ids)                              # 'the cat sat'
    batch = tok.encode_batch(["a b", "c"])      # BatchEncoding: input_ids (B,T), lengths, attention_mask
    tok.save("runs/tok")                         # textgen_tokenizer.json + Hugging Face files
    tok = Tokenizer.load("runs/tok")

    sp = Tokenizer.train(sentences, kind="sentencepiece", vocab_size=4000, lowercase=True)
    hf = sp.to_hf()                              # a transformers.PreTrainedTokenizerFast

Conventions (the same for every kind):

* ``encode`` appends ``<eos>`` by default and never prepends ``<bos>`` unless asked: the models
  feed ``<bos>`` themselves. ``max_length`` counts *all* ids, specials included; a longer
  sentence keeps its first tokens and still ends with ``<eos>`` (the content is cut, not the
  ``<eos>``).
* The literal text of a special token (``"<unk>"`` ...) is recognised anywhere in the raw text and
  mapped to its id, exactly as Hugging Face does with added tokens. The Penn Treebank relies on
  this: its text spells unknown words ``<unk>``, and ``decode`` writes ``<unk>`` back, so PTB
  sentences round-trip exactly through the word kind.
* ``decode`` stops at the first ``<eos>``, drops ``<pad>``/``<bos>``, and writes ``<unk>`` as the
  word ``<unk>``.

Text normalisation (see :meth:`Tokenizer.normalize`): the word kind optionally lowercases and
splits on whitespace; the subword kinds apply NFKC, optional lowercasing, collapse runs of
whitespace to one space and strip the ends. For text whose words (or characters) are all in the
vocabulary, ``tok.decode(tok.encode(s)) == tok.normalize(s)``.

Training guards: a unigram vocabulary (``unigram``, ``sentencepiece``) that is too small for its
corpus degenerates into near character-level pieces; ``train`` measures the mean number of
characters per token on a sample of the training text and raises :class:`TokenizerError` below
1.5 (see ``MIN_CHARS_PER_TOKEN``), suggesting a vocabulary size (``strict=False`` warns instead).
A trainer that returns fewer (or more) tokens than ``vocab_size`` is reported with a ``UserWarning``.

``save`` also writes ``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json``,
so ``transformers.AutoTokenizer.from_pretrained(folder)`` loads an equivalent fast tokenizer.
Importing this module never imports ``transformers`` or ``datasets``.
"""
from __future__ import annotations

import base64
import json
import math
import os
import re
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Literal, Optional, Sequence, Union

import numpy as np

__all__ = [
    "Tokenizer",
    "TokenizerError",
    "BatchEncoding",
    "SPECIAL_TOKENS",
    "KINDS",
    "TOKENIZER_FILE",
]

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>")  # ids 0, 1, 2, 3 in every kind
PAD, UNK, BOS, EOS = SPECIAL_TOKENS
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
    ``num_truncated`` how many inputs were cut to ``max_length``. Tensors are ``torch`` (``"pt"``),
    ``numpy`` (``"np"``) or nested lists (``None``), as requested.
    """

    input_ids: Any
    lengths: Any
    attention_mask: Any
    num_truncated: int = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def to(self, device: Any) -> "BatchEncoding":
        """A copy with the torch tensors moved to ``device``."""
        return replace(self, input_ids=self.input_ids.to(device), lengths=self.lengths.to(device),
                       attention_mask=self.attention_mask.to(device))


# ============================================================================= the public class

class Tokenizer:
    """Text <-> ids for every textgen model. Build one with :meth:`train`, :meth:`load` or :meth:`from_vocab`."""

    PAD_ID = 0
    UNK_ID = 1
    BOS_ID = 2
    EOS_ID = 3
    SPECIAL_TOKENS = SPECIAL_TOKENS

    def __init__(self, backend: "_Backend", max_length: Optional[int] = None):
        self._backend = backend
        self.max_length = max_length  # validated by the setter

    # ------------------------------------------------------------------------- construction

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        kind: Kind = "word",
        vocab_size: Optional[int] = None,
        min_freq: int = 1,
        max_size: Optional[int] = None,
        lowercase: bool = False,
        max_length: Optional[int] = None,
        *,
        strict: bool = True,
        min_chars_per_token: float = MIN_CHARS_PER_TOKEN,
        **trainer_kwargs: Any,
    ) -> "Tokenizer":
        """Train a tokenizer of ``kind`` on ``texts`` (one sentence per string).

        Args:
            texts: the training sentences (held in memory once while training).
            kind: ``"word"``, ``"bpe"``, ``"unigram"`` or ``"sentencepiece"``.
            vocab_size: total vocabulary size, **the 4 special tokens included**: the target size
                for the subword kinds (default 8000), an optional cap for ``word``.
            min_freq: ``word``: drop words seen fewer times (they become ``<unk>``); ``bpe``: the
                trainer's ``min_frequency``. Ignored by the unigram kinds.
            max_size: an alias of ``vocab_size`` (pass one or the other, or the same value).
            lowercase: lowercase all text before tokenizing.
            max_length: default ``max_length`` of ``encode``/``encode_batch`` (None: no limit).
            strict: the unigram kinds raise :class:`TokenizerError` when the trained vocabulary
                is degenerate (near character level, see ``min_chars_per_token``); with
                ``strict=False`` they warn instead.
            min_chars_per_token: the degeneracy threshold (mean non-space characters per token
                on a sample of the training text); 0 disables the check.
            **trainer_kwargs: passed to ``tokenizers.trainers.BpeTrainer`` / ``UnigramTrainer``
                or ``sentencepiece.SentencePieceTrainer.train`` (e.g. ``shrinking_factor``,
                ``character_coverage``). The ``word`` kind takes none.

        The ``word`` vocabulary lists the specials, then words by decreasing frequency, ties
        broken alphabetically, so training is deterministic.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(KINDS)}")
        if max_size is not None and vocab_size is not None and max_size != vocab_size:
            raise ValueError(f"vocab_size={vocab_size} and max_size={max_size} disagree; they are "
                             "aliases (both count the 4 special tokens), pass only one")
        size = vocab_size if vocab_size is not None else max_size
        if size is not None and (not isinstance(size, int) or size < len(SPECIAL_TOKENS) + 1):
            raise ValueError(f"vocab_size must be an int >= {len(SPECIAL_TOKENS) + 1} "
                             f"(4 special tokens + at least one token), got {size!r}")
        if not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
        _check_max_length(max_length)

        corpus = _read_corpus(texts)
        if kind == "word":
            if trainer_kwargs:
                raise TypeError(f"the word kind takes no trainer options, got {sorted(trainer_kwargs)}")
            backend: _Backend = _WordBackend.train(corpus, min_freq=min_freq, max_size=size, lowercase=lowercase)
        else:
            size = DEFAULT_SUBWORD_VOCAB_SIZE if size is None else size
            if kind == "sentencepiece":
                backend = _SentencePieceBackend.train(corpus, size, lowercase, trainer_kwargs)
            else:
                backend = _HFBackend.train(corpus, kind, size, min_freq, lowercase, trainer_kwargs)
            _report_vocab_size(kind, requested=size, got=backend.vocab_size)
            if kind in ("unigram", "sentencepiece") and min_chars_per_token > 0:
                _check_not_degenerate(backend, corpus, size, min_chars_per_token, strict)
        return cls(backend, max_length=max_length)

    @classmethod
    def from_vocab(cls, words: Iterable[str], lowercase: bool = False,
                   max_length: Optional[int] = None) -> "Tokenizer":
        """A ``word`` tokenizer with exactly these words (ids follow the order, after the specials).

        Special tokens in ``words`` are skipped; they always keep ids 0-3.
        """
        vocab = list(SPECIAL_TOKENS)
        seen = set(vocab)
        for w in words:
            if not isinstance(w, str) or not w or w != w.strip() or len(w.split()) != 1:
                raise ValueError(f"vocabulary entries must be single non-empty words, got {w!r}")
            if w not in seen:
                seen.add(w)
                vocab.append(w)
        return cls(_WordBackend(vocab, lowercase), max_length=max_length)

    # ------------------------------------------------------------------------- encoding

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = True,
               max_length: Optional[int] = None) -> list[int]:
        """The ids of one sentence, ``<eos>`` appended by default.

        ``max_length`` (default: ``self.max_length``; None means no limit) counts every id,
        specials included; the content is truncated so that ``<eos>`` stays last.
        """
        _check_text(text, "encode")
        ids, _ = self._finish(self._backend.encode_many([text])[0], add_bos, add_eos,
                              self._budget(max_length, add_bos, add_eos))
        return ids

    def encode_batch(
        self,
        texts: Sequence[str],
        add_bos: bool = False,
        add_eos: bool = True,
        max_length: Optional[int] = None,
        padding: Union[bool, Literal["longest", "max_length", "do_not_pad"]] = "longest",
        return_tensors: Optional[Literal["pt", "np"]] = "pt",
    ) -> BatchEncoding:
        """Encode many sentences into a right-padded batch.

        Truncation works as in :meth:`encode` (content cut, ``<eos>`` kept) and
        ``num_truncated`` counts the sentences it cut. ``padding="longest"`` pads to the longest
        row, ``"max_length"`` to ``max_length``; ``"do_not_pad"`` (or False) returns ragged lists
        and needs ``return_tensors=None``. An empty string encodes to ``[<eos>]`` (length 1).
        """
        if isinstance(texts, (str, bytes)):
            raise TypeError("encode_batch expects a list of strings, got a single "
                            f"{type(texts).__name__}; use encode(text) or encode_batch([text])")
        texts = list(texts)
        for i, t in enumerate(texts):
            _check_text(t, f"encode_batch (item {i})")
        padding = {True: "longest", False: "do_not_pad"}.get(padding, padding)  # type: ignore[arg-type]
        if padding not in ("longest", "max_length", "do_not_pad"):
            raise ValueError(f"padding must be 'longest', 'max_length' or 'do_not_pad', got {padding!r}")
        if return_tensors not in ("pt", "np", None):
            raise ValueError(f"return_tensors must be 'pt', 'np' or None, got {return_tensors!r}")
        if padding == "do_not_pad" and return_tensors is not None:
            raise ValueError("padding='do_not_pad' gives ragged rows; pass return_tensors=None")

        limit = self.max_length if max_length is None else max_length
        _check_max_length(limit)
        budget = self._budget(limit, add_bos, add_eos)
        rows, num_truncated = [], 0
        for content in self._backend.encode_many(texts):
            ids, cut = self._finish(content, add_bos, add_eos, budget)
            rows.append(ids)
            num_truncated += cut
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))

        if padding == "do_not_pad":
            return BatchEncoding(rows, lengths.tolist(), [[1] * len(r) for r in rows], num_truncated)
        if padding == "max_length":
            if limit is None:
                raise ValueError("padding='max_length' needs a max_length (argument or tokenizer's)")
            width = limit
        else:
            width = int(lengths.max()) if len(rows) else 0
        mask = np.arange(width)[None, :] < lengths[:, None]  # (B, T) True on real tokens
        input_ids = np.full((len(rows), width), self.PAD_ID, dtype=np.int64)
        if rows:
            input_ids[mask] = np.fromiter((i for r in rows for i in r), dtype=np.int64, count=int(lengths.sum()))
        attention_mask = mask.astype(np.int64)

        if return_tensors == "np":
            return BatchEncoding(input_ids, lengths, attention_mask, num_truncated)
        if return_tensors is None:
            return BatchEncoding(input_ids.tolist(), lengths.tolist(), attention_mask.tolist(), num_truncated)
        import torch

        return BatchEncoding(torch.from_numpy(input_ids), torch.from_numpy(lengths),
                             torch.from_numpy(attention_mask), num_truncated)

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` as vocabulary strings (unknown words show as ``<unk>``), no specials added."""
        _check_text(text, "tokenize")
        vocab = self._backend.vocab
        return [vocab[i] for i in self._backend.encode_many([text])[0]]

    # ------------------------------------------------------------------------- decoding

    def decode(self, ids: IdSequence, skip_special_tokens: bool = True, stop_at_eos: bool = True) -> str:
        """Text from ids (a list, tuple, 1-D numpy array or torch tensor).

        With ``stop_at_eos`` everything after the first ``<eos>`` is ignored; with
        ``skip_special_tokens`` ``<pad>``, ``<bos>`` and ``<eos>`` are dropped. ``<unk>`` is always
        written as the word ``<unk>`` (so PTB text round-trips).
        """
        ids = _as_id_list(ids, self.vocab_size)
        if stop_at_eos and self.EOS_ID in ids:
            ids = ids[: ids.index(self.EOS_ID) + 1]
        if skip_special_tokens:
            ids = [i for i in ids if i not in (self.PAD_ID, self.BOS_ID, self.EOS_ID)]
        return self._backend.decode(ids)

    def decode_batch(self, sequences: Any, skip_special_tokens: bool = True, stop_at_eos: bool = True) -> list[str]:
        """:meth:`decode` for every row of a (B, T) array / tensor or a list of id lists."""
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        return [self.decode(s, skip_special_tokens, stop_at_eos) for s in sequences]

    # ------------------------------------------------------------------------- vocabulary

    @property
    def kind(self) -> str:
        return self._backend.kind

    @property
    def lowercase(self) -> bool:
        return self._backend.lowercase

    @property
    def vocab_size(self) -> int:
        """Number of ids, special tokens included."""
        return self._backend.vocab_size

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def max_length(self) -> Optional[int]:
        """Default ``max_length`` of :meth:`encode` / :meth:`encode_batch` (None: no limit)."""
        return self._max_length

    @max_length.setter
    def max_length(self, value: Optional[int]) -> None:
        _check_max_length(value)
        self._max_length = value

    @property
    def pad_id(self) -> int:
        return self.PAD_ID

    @property
    def unk_id(self) -> int:
        return self.UNK_ID

    @property
    def bos_id(self) -> int:
        return self.BOS_ID

    @property
    def eos_id(self) -> int:
        return self.EOS_ID

    def token_to_id(self, token: str) -> Optional[int]:
        """The id of a vocabulary string, or None if it is not in the vocabulary."""
        return self._backend.token_ids.get(token)

    def id_to_token(self, i: int) -> str:
        """The vocabulary string of id ``i``."""
        i = int(i)
        if not 0 <= i < self.vocab_size:
            raise IndexError(f"token id {i} is out of range for a vocabulary of {self.vocab_size} tokens")
        return self._backend.vocab[i]

    def get_vocab(self) -> dict[str, int]:
        """A copy of the token -> id mapping."""
        return dict(self._backend.token_ids)

    # ------------------------------------------------------------------------- inspection

    def normalize(self, text: str) -> str:
        """The text as the tokenizer sees it (lowercasing, whitespace collapsing, NFKC for subwords)."""
        _check_text(text, "normalize")
        return self._backend.normalize(text)

    def unknown_words(self, text: str) -> list[str]:
        """The words (``word`` kind) or character runs (subword kinds) of ``text`` that become ``<unk>``.

        Unique, in order of first appearance; the literal ``<unk>`` itself is not reported.
        """
        _check_text(text, "unknown_words")
        return list(dict.fromkeys(self._backend.unknown_words(text)))

    def __repr__(self) -> str:
        return (f"Tokenizer(kind={self.kind!r}, vocab_size={self.vocab_size}, "
                f"lowercase={self.lowercase}, max_length={self.max_length})")

    # ------------------------------------------------------------------------- persistence

    def save(self, directory: Union[str, os.PathLike]) -> Path:
        """Write the tokenizer into ``directory`` (created if needed); returns the path.

        Files: ``textgen_tokenizer.json`` (what :meth:`load` reads) and the Hugging Face trio
        ``tokenizer.json``, ``tokenizer_config.json``, ``special_tokens_map.json``. Each file is
        written atomically (temporary file + rename); ``textgen_tokenizer.json`` goes last.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        specials_map = {"pad_token": PAD, "unk_token": UNK, "bos_token": BOS, "eos_token": EOS}
        hf_config: dict[str, Any] = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            **specials_map,
            "clean_up_tokenization_spaces": False,
            "padding_side": "right",
            "textgen_kind": self.kind,
        }
        if self.max_length is not None:
            hf_config["model_max_length"] = self.max_length
        _atomic_write(directory / HF_TOKENIZER_FILE, self._backend.hf_tokenizer(for_export=True).to_str(pretty=True))
        _atomic_write(directory / HF_CONFIG_FILE, json.dumps(hf_config, indent=2))
        _atomic_write(directory / HF_SPECIAL_TOKENS_FILE, json.dumps(specials_map, indent=2))
        _atomic_write(directory / TOKENIZER_FILE, json.dumps(self._to_dict(), ensure_ascii=False))
        return directory

    @classmethod
    def load(cls, directory: Union[str, os.PathLike]) -> "Tokenizer":
        """Load a tokenizer written by :meth:`save` (a folder, or its ``textgen_tokenizer.json``).

        Raises :class:`TokenizerError`, saying what is wrong and how to fix it, for a missing
        folder or file, corrupted JSON, another format, a newer format version, an unknown kind
        or a payload that does not match its kind.
        """
        path = Path(directory)
        if path.is_file() and path.name == TOKENIZER_FILE:
            path = path.parent
        if path.is_file():
            raise TokenizerError(f"{str(path)!r} is a file, not a tokenizer folder; pass the folder that "
                                 f"holds {TOKENIZER_FILE} (written by tok.save(folder))")
        if not path.is_dir():
            raise TokenizerError(f"tokenizer folder {str(path)!r} does not exist; pass the folder "
                                 "written by tok.save(...), or train one with Tokenizer.train(...)")
        file = path / TOKENIZER_FILE
        if not file.is_file():
            hint = (f" (it holds a Hugging Face {HF_TOKENIZER_FILE}: load that with "
                    "transformers.AutoTokenizer.from_pretrained)") if (path / HF_TOKENIZER_FILE).is_file() else ""
            raise TokenizerError(f"{str(path)!r} is not a textgen tokenizer folder; expected {TOKENIZER_FILE} "
                                 f"in it{hint}; train one with Tokenizer.train(...) and save it with tok.save(folder)")
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TokenizerError(f"{file} is corrupted (not valid JSON: {e}); re-save the tokenizer "
                                 "with tok.save(...) or train a new one with Tokenizer.train(...)") from None
        return cls._from_dict(data, where=str(file))

    def to_hf(self) -> Any:
        """An equivalent ``transformers.PreTrainedTokenizerFast`` (imports ``transformers`` now).

        Its ``encode(text, add_special_tokens=False)`` gives our content ids; with special tokens it
        appends ``<eos>`` like our :meth:`encode`. Note its ``decode(..., skip_special_tokens=True)``
        drops ``<unk>``, which ours keeps.
        """
        from transformers import PreTrainedTokenizerFast

        kwargs: dict[str, Any] = {}
        if self.max_length is not None:
            kwargs["model_max_length"] = self.max_length
        return PreTrainedTokenizerFast(
            tokenizer_object=self._backend.hf_tokenizer(for_export=True),
            pad_token=PAD, unk_token=UNK, bos_token=BOS, eos_token=EOS,
            clean_up_tokenization_spaces=False, padding_side="right", **kwargs,
        )

    def __getstate__(self) -> dict[str, Any]:  # pickling (e.g. DataLoader workers) goes through the payload
        return self._to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        other = self._from_dict(state, where="pickled tokenizer")
        self.__dict__.update(other.__dict__)

    # ------------------------------------------------------------------------- internals

    def _budget(self, max_length: Optional[int], add_bos: bool, add_eos: bool) -> Optional[int]:
        """How many content ids fit, given max_length and the specials to add."""
        limit = self.max_length if max_length is None else max_length
        if limit is None:
            return None
        _check_max_length(limit)
        budget = limit - int(add_bos) - int(add_eos)
        if budget < 0:
            raise ValueError(f"max_length={limit} leaves no room for the requested special tokens")
        return budget

    def _finish(self, content: list[int], add_bos: bool, add_eos: bool,
                budget: Optional[int]) -> tuple[list[int], bool]:
        """Truncate content to budget, then add <bos>/<eos>; also report whether it was cut."""
        cut = budget is not None and len(content) > budget
        if cut:
            content = content[:budget]
        if add_bos:
            content = [self.BOS_ID, *content]
        if add_eos:
            content = [*content, self.EOS_ID]
        return content, cut

    def _to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "kind": self.kind,
            "lowercase": self.lowercase,
            "max_length": self.max_length,
            "specials": list(SPECIAL_TOKENS),
            **self._backend.payload(),
        }

    @classmethod
    def _from_dict(cls, data: Any, where: str) -> "Tokenizer":
        fix = "re-save it with tok.save(...) or train a new one with Tokenizer.train(...)"
        if not isinstance(data, dict):
            raise TokenizerError(f"{where} is corrupted (expected a JSON object, got {type(data).__name__}); {fix}")
        if data.get("format") != FORMAT:
            raise TokenizerError(f"{where} is not a textgen tokenizer (format={data.get('format')!r}, expected "
                                 f"{FORMAT!r}); point Tokenizer.load at a folder written by Tokenizer.save")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise TokenizerError(f"{where} has an invalid version {version!r}; the file is corrupted; {fix}")
        if version > FORMAT_VERSION:
            raise TokenizerError(f"{where} has tokenizer format version {version}, but this textgen reads "
                                 f"versions up to {FORMAT_VERSION}; it was written by a newer textgen: "
                                 "upgrade textgen (pip install -U textgen) to load it")
        kind = data.get("kind")
        if kind not in KINDS:
            raise TokenizerError(f"{where} has unknown tokenizer kind {kind!r} (expected one of "
                                 f"{', '.join(KINDS)}); the file is corrupted or from another tool; {fix}")
        if data.get("specials") != list(SPECIAL_TOKENS):
            raise TokenizerError(f"{where} has special tokens {data.get('specials')!r}, expected "
                                 f"{list(SPECIAL_TOKENS)}; the file is corrupted; {fix}")
        lowercase, max_length = data.get("lowercase"), data.get("max_length")
        if not isinstance(lowercase, bool):
            raise TokenizerError(f"{where}: 'lowercase' must be true or false, got {lowercase!r}; {fix}")
        try:
            _check_max_length(max_length)
        except ValueError as e:
            raise TokenizerError(f"{where}: {e}; {fix}") from None
        backend_cls = {"word": _WordBackend, "bpe": _HFBackend, "unigram": _HFBackend,
                       "sentencepiece": _SentencePieceBackend}[kind]
        try:
            backend = backend_cls.from_payload(data, kind, lowercase)
        except _PayloadError as e:
            raise TokenizerError(f"{where}: {e} for kind {kind!r}; the file is corrupted or its kind does "
                                 f"not match its contents; {fix}") from None
        return cls(backend, max_length=max_length)


# ============================================================================= backends
#
# A backend owns one kind's vocabulary and algorithm. It maps raw texts to *content* ids (no
# <bos>/<eos> added; literal specials in the text already mapped), content ids back to text, and
# knows how to serialise itself and build its Hugging Face `tokenizers.Tokenizer`.

class _PayloadError(Exception):
    """A kind-specific payload is missing or malformed (turned into a TokenizerError by load)."""


class _Backend:
    kind: str
    lowercase: bool
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


class _WordBackend(_Backend):
    """Whitespace-separated words looked up in a dict: fast, exact, and PTB round-trips.

    The Hugging Face export (WordLevel + WhitespaceSplit) splits identically except on the few
    control characters Python counts as whitespace and Rust does not (U+001C-U+001F).
    """

    kind = "word"

    def __init__(self, vocab: list[str], lowercase: bool):
        self.vocab = vocab
        self.token_ids = {w: i for i, w in enumerate(vocab)}
        self.lowercase = lowercase

    @classmethod
    def train(cls, corpus: list[str], min_freq: int, max_size: Optional[int], lowercase: bool) -> "_WordBackend":
        counts: Counter[str] = Counter()
        for text in corpus:
            counts.update(cls._words(text, lowercase))
        for s in SPECIAL_TOKENS:
            counts.pop(s, None)
        words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        if not words:
            raise TokenizerError(f"min_freq={min_freq} removed every word of the corpus (the most frequent "
                                 f"appears {max(counts.values())} times); lower min_freq")
        if max_size is not None:
            words = words[: max_size - len(SPECIAL_TOKENS)]
        return cls([*SPECIAL_TOKENS, *words], lowercase)

    @classmethod
    def from_payload(cls, data: dict[str, Any], kind: str, lowercase: bool) -> "_WordBackend":
        vocab = data.get("vocab")
        if not isinstance(vocab, list) or not all(isinstance(w, str) for w in vocab):
            raise _PayloadError("expected 'vocab', a list of strings")
        if tuple(vocab[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS or len(set(vocab)) != len(vocab):
            raise _PayloadError("'vocab' must start with the special tokens and have no duplicates")
        return cls(vocab, lowercase)

    @staticmethod
    def _words(text: str, lowercase: bool) -> list[str]:
        """Whitespace split; literal special tokens become words of their own (as HF added tokens do)."""
        if "<" in text:
            text = _SPECIAL_SPLIT.sub(r" \1 ", text)
        return (text.lower() if lowercase else text).split()

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        get, unk, lower, words = self.token_ids.get, Tokenizer.UNK_ID, self.lowercase, self._words
        return [[get(w, unk) for w in words(t, lower)] for t in texts]

    def decode(self, ids: list[int]) -> str:
        vocab = self.vocab
        return " ".join([vocab[i] for i in ids])

    def normalize(self, text: str) -> str:
        return " ".join(self._words(text, self.lowercase))

    def unknown_words(self, text: str) -> list[str]:
        known = self.token_ids
        return [w for w in self._words(text, False) if (w.lower() if self.lowercase else w) not in known]

    def payload(self) -> dict[str, Any]:
        return {"vocab": self.vocab}

    def hf_tokenizer(self, for_export: bool = False) -> Any:
        from tokenizers import Tokenizer as HFTokenizer, models, normalizers, pre_tokenizers

        tok = HFTokenizer(models.WordLevel(self.token_ids, unk_token=UNK))
        if self.lowercase:
            tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        _add_specials(tok, for_export)
        return tok


class _SubwordBackend(_Backend):
    """Shared by the subword kinds: normalisation, decoding and the HF pipeline around the model."""

    hf: Any  # the tokenizers.Tokenizer (for sentencepiece: converted from the SentencePiece model)

    def decode(self, ids: list[int]) -> str:
        # collapse whitespace so the result is normalised text even for odd (generated) sequences,
        # e.g. a trailing lone '▁' piece or '▁' followed by '▁word'
        return " ".join(self.hf.decode(ids, skip_special_tokens=False).split())

    def normalize(self, text: str) -> str:
        normalize = self.hf.normalizer.normalize_str
        parts = (p if p in SPECIAL_TOKENS else normalize(p) for p in _SPECIAL_SPLIT.split(text))
        return " ".join(p for p in parts if p)

    def hf_tokenizer(self, for_export: bool = False) -> Any:
        if not for_export:
            return self.hf
        from tokenizers import Tokenizer as HFTokenizer

        tok = HFTokenizer.from_str(self.hf.to_str())
        _add_specials(tok, for_export=True)
        return tok

    def _index_vocab(self) -> None:
        self.vocab = [self.hf.id_to_token(i) for i in range(self.hf.get_vocab_size())]
        self.token_ids = {t: i for i, t in enumerate(self.vocab)}


class _HFBackend(_SubwordBackend):
    """``bpe`` and ``unigram``: a Hugging Face ``tokenizers`` model does all the work."""

    def __init__(self, hf: Any, kind: str, lowercase: bool):
        self.hf, self.kind, self.lowercase = hf, kind, lowercase
        self._index_vocab()

    @classmethod
    def train(cls, corpus: list[str], kind: str, vocab_size: int, min_freq: int, lowercase: bool,
              trainer_kwargs: dict[str, Any]) -> "_HFBackend":
        from tokenizers import Tokenizer as HFTokenizer, models, trainers

        options = {"show_progress": False, **trainer_kwargs, "vocab_size": vocab_size,
                   "special_tokens": list(SPECIAL_TOKENS)}
        if kind == "bpe":
            hf = HFTokenizer(models.BPE(unk_token=UNK))
            trainer = trainers.BpeTrainer(min_frequency=options.pop("min_frequency", min_freq), **options)
        else:
            hf = HFTokenizer(models.Unigram())
            trainer = trainers.UnigramTrainer(unk_token=UNK, **options)
        _set_subword_pipeline(hf, lowercase)
        try:
            hf.train_from_iterator(corpus, trainer=trainer, length=len(corpus))
        except Exception as e:  # the Rust trainer raises a bare Exception
            alphabet = _alphabet(hf.normalizer.normalize_str(t) for t in corpus)
            raise TokenizerError(f"training the {kind} tokenizer failed: {e}. A vocab_size of {vocab_size} "
                                 f"may be too small for the corpus alphabet of {len(alphabet)} characters; "
                                 f"try vocab_size={_suggest_vocab_size(vocab_size, len(alphabet))}") from None
        _add_specials(hf, for_export=False)
        backend = cls(hf, kind, lowercase)
        _check_special_ids(backend.token_ids, where=f"the trained {kind} tokenizer")
        return backend

    @classmethod
    def from_payload(cls, data: dict[str, Any], kind: str, lowercase: bool) -> "_HFBackend":
        from tokenizers import Tokenizer as HFTokenizer

        spec = data.get("hf_tokenizer")
        if not isinstance(spec, dict):
            raise _PayloadError("expected 'hf_tokenizer', a Hugging Face tokenizer.json object")
        model_type = (spec.get("model") or {}).get("type")
        if model_type != {"bpe": "BPE", "unigram": "Unigram"}[kind]:
            raise _PayloadError(f"'hf_tokenizer' holds a {model_type!r} model")
        try:
            hf = HFTokenizer.from_str(json.dumps(spec))
        except Exception as e:
            raise _PayloadError(f"'hf_tokenizer' does not load ({e})") from None
        backend = cls(hf, kind, lowercase)
        try:
            _check_special_ids(backend.token_ids, where="'hf_tokenizer'")
        except TokenizerError as e:
            raise _PayloadError(str(e)) from None
        return backend

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        encode = getattr(self.hf, "encode_batch_fast", self.hf.encode_batch)
        return [e.ids for e in encode(texts, add_special_tokens=False)]

    def unknown_words(self, text: str) -> list[str]:
        enc = self.hf.encode(text, add_special_tokens=False)
        pieces = (text[a:b] for i, (a, b) in zip(enc.ids, enc.offsets) if i == Tokenizer.UNK_ID)
        return [p for p in pieces if p != UNK]

    def payload(self) -> dict[str, Any]:
        return {"hf_tokenizer": json.loads(self.hf.to_str())}


class _SentencePieceBackend(_SubwordBackend):
    """``sentencepiece``: the SentencePiece library encodes; an equivalent HF Unigram decodes/exports.

    SentencePiece runs with its normalisation off ("identity"); textgen's subword normaliser is
    applied first, so both the library and the exported HF tokenizer see the same text.
    """

    kind = "sentencepiece"

    def __init__(self, model_proto: bytes, lowercase: bool):
        import sentencepiece as spm

        self.model_proto, self.lowercase = model_proto, lowercase
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.hf = self._to_hf_unigram()
        self._index_vocab()

    @classmethod
    def train(cls, corpus: list[str], vocab_size: int, lowercase: bool,
              trainer_kwargs: dict[str, Any]) -> "_SentencePieceBackend":
        import io

        import sentencepiece as spm

        fixed = {"model_type": "unigram", "normalization_rule_name": "identity",
                 "pad_id": 0, "unk_id": 1, "bos_id": 2, "eos_id": 3,
                 "pad_piece": PAD, "unk_piece": UNK, "bos_piece": BOS, "eos_piece": EOS}
        clash = sorted(set(trainer_kwargs) & (set(fixed) | {"vocab_size", "sentence_iterator", "model_writer"}))
        if clash:
            raise TypeError(f"the sentencepiece kind sets {clash} itself; do not pass them")
        normalize = _subword_normalizer(lowercase).normalize_str
        texts = [n for n in (normalize(t) for t in corpus) if n]
        options = {"character_coverage": 1.0, "hard_vocab_limit": False, "max_sentence_length": 1 << 16,
                   "num_threads": min(os.cpu_count() or 1, 16), "minloglevel": 2, **trainer_kwargs, **fixed}
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model,
                                           vocab_size=vocab_size, **options)
        except RuntimeError as e:
            alphabet = _alphabet(texts)
            raise TokenizerError(f"training the sentencepiece tokenizer failed: {e}. For this corpus "
                                 f"({len(alphabet)} distinct characters) try "
                                 f"vocab_size={_suggest_vocab_size(vocab_size, len(alphabet))}") from None
        return cls(model.getvalue(), lowercase)

    @classmethod
    def from_payload(cls, data: dict[str, Any], kind: str, lowercase: bool) -> "_SentencePieceBackend":
        encoded = data.get("sentencepiece_model")
        if not isinstance(encoded, str):
            raise _PayloadError("expected 'sentencepiece_model', the base64 SentencePiece model")
        try:
            proto = base64.b64decode(encoded, validate=True)
            backend = cls(proto, lowercase)
        except Exception as e:
            raise _PayloadError(f"'sentencepiece_model' is not a valid SentencePiece model ({e})") from None
        if [backend.sp.id_to_piece(i) for i in range(len(SPECIAL_TOKENS))] != list(SPECIAL_TOKENS):
            raise _PayloadError("'sentencepiece_model' does not have <pad> <unk> <bos> <eos> as ids 0-3")
        return backend

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        # Split every text at literal specials, encode all content segments in one call, reassemble.
        normalize = self.hf.normalizer.normalize_str
        plans: list[list[Union[int, str]]] = []   # per text: special ids and normalised segments
        segments: list[str] = []
        for text in texts:
            plan: list[Union[int, str]] = []
            for part in _SPECIAL_SPLIT.split(text) if "<" in text else (text,):
                if part in SPECIAL_TOKENS:
                    plan.append(SPECIAL_TOKENS.index(part))
                elif part := normalize(part):
                    plan.append(part)
                    segments.append(part)
            plans.append(plan)
        encoded = iter(self.sp.encode(segments)) if segments else iter(())
        return [[i for p in plan for i in ([p] if isinstance(p, int) else next(encoded))] for plan in plans]

    def unknown_words(self, text: str) -> list[str]:
        normalize, out = self.hf.normalizer.normalize_str, []
        for part in _SPECIAL_SPLIT.split(text):
            if part not in SPECIAL_TOKENS and (part := normalize(part)):
                ids, pieces = self.sp.encode(part), self.sp.encode(part, out_type=str)  # unk pieces show their surface
                out += [p.lstrip(_SPIECE) for i, p in zip(ids, pieces) if i == Tokenizer.UNK_ID]
        return [p for p in out if p]

    def payload(self) -> dict[str, Any]:
        return {"sentencepiece_model": base64.b64encode(self.model_proto).decode("ascii")}

    def _to_hf_unigram(self) -> Any:
        """The same pieces and scores as an HF Unigram model with the textgen subword pipeline.

        Viterbi over identical pieces/scores gives identical ids on ordinary text (tested);
        exact ties between two segmentations could in principle be broken differently.
        """
        from tokenizers import Tokenizer as HFTokenizer, models

        sp = self.sp
        pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
        hf = HFTokenizer(models.Unigram(pieces, unk_id=Tokenizer.UNK_ID, byte_fallback=False))
        _set_subword_pipeline(hf, self.lowercase)
        _add_specials(hf, for_export=False)
        return hf


# ============================================================================= helpers

def _subword_normalizer(lowercase: bool) -> Any:
    """NFKC, optional lowercase, any whitespace run -> one space, strip the ends."""
    from tokenizers import Regex, normalizers

    steps = [normalizers.NFKC()]
    if lowercase:
        steps.append(normalizers.Lowercase())
    steps += [normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()]
    return normalizers.Sequence(steps)


def _set_subword_pipeline(hf: Any, lowercase: bool) -> None:
    """Normaliser, Metaspace pre-tokenizer and decoder shared by the subword kinds.

    Metaspace marks word starts with '▁' so decoding restores the spaces; the decoder also writes
    ``<unk>`` as a word of its own (" <unk>"), which is how unknown words appear in PTB text.
    """
    from tokenizers import decoders, pre_tokenizers

    hf.normalizer = _subword_normalizer(lowercase)
    hf.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_SPIECE, prepend_scheme="always", split=True)
    hf.decoder = decoders.Sequence([
        decoders.Replace(UNK, _SPIECE + UNK),
        decoders.Metaspace(replacement=_SPIECE, prepend_scheme="always", split=True),
    ])


def _add_specials(hf: Any, for_export: bool) -> None:
    """Register the specials as HF added tokens (matched in raw text); exports also append <eos>."""
    from tokenizers import AddedToken, processors

    hf.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIAL_TOKENS])
    _check_special_ids({s: hf.token_to_id(s) for s in SPECIAL_TOKENS}, where="the Hugging Face tokenizer")
    if for_export:  # so that hf(text) == our encode(text): content + <eos>
        hf.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS}", pair=f"$A {EOS} $B:1 {EOS}:1", special_tokens=[(EOS, Tokenizer.EOS_ID)])


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
        warnings.warn(f"the {kind} trainer produced {got} tokens, not the requested vocab_size={requested} "
                      f"({why}); the tokenizer works, with vocab_size={got}", UserWarning, stacklevel=3)


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
    warnings.warn(msg, UserWarning, stacklevel=3)


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


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling and a rename."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
