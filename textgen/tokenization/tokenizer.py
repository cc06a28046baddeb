"""The one tokenizer layer shared by every textgen model.

A :class:`Tokenizer` turns sentences into integer ids and back. Four kinds share one API:

=================  ==========================================================================
``word``           whitespace-separated tokens (PTB-style, pre-tokenized text); pure Python
``bpe``            byte-pair encoding trained with Hugging Face ``tokenizers``; ``byte_level=True``
                   makes it GPT-2 style byte-level BPE, which never gives ``<unk>``
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

import json
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Literal, Mapping, Optional, Sequence, Union

import numpy as np

from textgen.core.files import atomic_write_text
from textgen.tokenization.base import (BOS, DEFAULT_SUBWORD_VOCAB_SIZE, EOS, FORMAT, FORMAT_VERSION, HF_CONFIG_FILE,
                                      HF_SPECIAL_TOKENS_FILE, HF_TOKENIZER_FILE, KINDS, MIN_CHARS_PER_TOKEN, PAD,
                                      SPECIAL_TOKENS, TOKENIZER_FILE, UNK, BatchEncoding, IdSequence, Kind,
                                      TokenizerError, _as_id_list, _Backend, _check_max_length,
                                      _check_not_degenerate, _check_text, _PayloadError, _read_corpus,
                                      _report_vocab_size, right_pad)
from textgen.tokenization.subword import _HFBackend, _SentencePieceBackend
from textgen.tokenization.word import _WordBackend

__all__ = ["Tokenizer", "TokenizerError", "BatchEncoding", "SPECIAL_TOKENS", "KINDS", "TOKENIZER_FILE"]


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
        byte_level: bool = False,
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
            byte_level: ``bpe`` only: byte-level BPE (GPT-2's pre-tokenizer and its 256 byte
                symbols in the vocabulary), so no text ever encodes to ``<unk>``; the normaliser
                (NFKC, whitespace) is the same as for the other subword kinds.
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
        if byte_level and kind != "bpe":
            raise ValueError(f"byte_level=True applies to kind='bpe' only, got kind={kind!r}; "
                             "use kind='bpe' for a tokenizer that never gives <unk>")
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
                backend = _HFBackend.train(corpus, kind, size, min_freq, lowercase, trainer_kwargs,
                                           byte_level=byte_level)
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
        rows, truncated = [], []
        for i, content in enumerate(self._backend.encode_many(texts)):
            ids, cut = self._finish(content, add_bos, add_eos, budget)
            rows.append(ids)
            if cut:
                truncated.append(i)
        num_truncated, truncated = len(truncated), tuple(truncated)
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))

        if padding == "do_not_pad":
            return BatchEncoding(rows, lengths.tolist(), [[1] * len(r) for r in rows], num_truncated, truncated)
        if padding == "max_length":
            if limit is None:
                raise ValueError("padding='max_length' needs a max_length (argument or tokenizer's)")
            width = limit
        else:
            width = int(lengths.max()) if len(rows) else 0
        input_ids, _, mask = right_pad(rows, self.PAD_ID, width)                     # (B, T), mask True on tokens
        attention_mask = mask.astype(np.int64)

        if return_tensors == "np":
            return BatchEncoding(input_ids, lengths, attention_mask, num_truncated, truncated)
        if return_tensors is None:
            return BatchEncoding(input_ids.tolist(), lengths.tolist(), attention_mask.tolist(), num_truncated,
                                 truncated)
        import torch

        return BatchEncoding(torch.from_numpy(input_ids), torch.from_numpy(lengths),
                             torch.from_numpy(attention_mask), num_truncated, truncated)

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

    @property
    def vocab(self) -> Mapping[str, int]:
        """The token -> id mapping, read-only and not copied (for lookups in a loop)."""
        return MappingProxyType(self._backend.token_ids)

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

    @property
    def byte_level(self) -> bool:
        """True for a byte-level ``bpe`` tokenizer (one that never gives ``<unk>``)."""
        return self._backend.byte_level

    def __repr__(self) -> str:
        byte_level = ", byte_level=True" if self.byte_level else ""
        return (f"Tokenizer(kind={self.kind!r}, vocab_size={self.vocab_size}, "
                f"lowercase={self.lowercase}, max_length={self.max_length}{byte_level})")

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
        atomic_write_text(directory / HF_TOKENIZER_FILE, self._backend.hf_tokenizer(for_export=True).to_str(pretty=True))
        atomic_write_text(directory / HF_CONFIG_FILE, json.dumps(hf_config, indent=2))
        atomic_write_text(directory / HF_SPECIAL_TOKENS_FILE, json.dumps(specials_map, indent=2))
        atomic_write_text(directory / TOKENIZER_FILE, json.dumps(self._to_dict(), ensure_ascii=False))
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
