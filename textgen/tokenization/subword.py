"""The subword kinds: ``bpe`` and ``unigram`` (Hugging Face ``tokenizers``) and ``sentencepiece``."""
from __future__ import annotations

import base64
import json
import os
from typing import Any, Union

from textgen.tokenization.base import (BOS, EOS, PAD, SPECIAL_TOKENS, UNK, UNK_ID, _SPECIAL_SPLIT, _SPIECE, TokenizerError,
                                      _add_specials, _alphabet, _Backend, _check_special_ids, _PayloadError,
                                      _suggest_vocab_size)


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

    @property
    def byte_level(self) -> bool:  # type: ignore[override]
        from tokenizers import pre_tokenizers

        return isinstance(self.hf.pre_tokenizer, pre_tokenizers.ByteLevel)


class _HFBackend(_SubwordBackend):
    """``bpe`` and ``unigram``: a Hugging Face ``tokenizers`` model does all the work."""

    def __init__(self, hf: Any, kind: str, lowercase: bool):
        self.hf, self.kind, self.lowercase = hf, kind, lowercase
        self._index_vocab()

    @classmethod
    def train(cls, corpus: list[str], kind: str, vocab_size: int, min_freq: int, lowercase: bool,
              trainer_kwargs: dict[str, Any], byte_level: bool = False) -> "_HFBackend":
        from tokenizers import Tokenizer as HFTokenizer, models, pre_tokenizers, trainers

        options = {"show_progress": False, **trainer_kwargs, "vocab_size": vocab_size,
                   "special_tokens": list(SPECIAL_TOKENS)}
        if kind == "bpe":
            hf = HFTokenizer(models.BPE(unk_token=UNK))
            if byte_level:  # all 256 byte symbols are in the vocabulary, so no text needs <unk>
                options["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
            trainer = trainers.BpeTrainer(min_frequency=options.pop("min_frequency", min_freq), **options)
        else:
            hf = HFTokenizer(models.Unigram())
            trainer = trainers.UnigramTrainer(unk_token=UNK, **options)
        if byte_level:
            _set_byte_level_pipeline(hf, lowercase)
        else:
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
        pieces = (text[a:b] for i, (a, b) in zip(enc.ids, enc.offsets) if i == UNK_ID)
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
                out += [p.lstrip(_SPIECE) for i, p in zip(ids, pieces) if i == UNK_ID]
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
        hf = HFTokenizer(models.Unigram(pieces, unk_id=UNK_ID, byte_fallback=False))
        _set_subword_pipeline(hf, self.lowercase)
        _add_specials(hf, for_export=False)
        return hf


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


_BYTE_SPACE = "\u0120"  # 'Ġ', the byte-level symbol of the space byte


def _set_byte_level_pipeline(hf: Any, lowercase: bool) -> None:
    """The subword normaliser, GPT-2's byte-level pre-tokenizer and its decoder (``bpe`` with byte_level=True).

    Text is split GPT-2 style (words with their leading space, punctuation, digits, contractions) and
    mapped to the 256 byte symbols, all of which are in the vocabulary: any string encodes without
    ``<unk>`` (emoji, CJK, accents) and decodes back to its normalised form. A literal ``<unk>`` is
    still the special token, written back as a word of its own as in the other kinds.
    """
    from tokenizers import decoders, pre_tokenizers

    hf.normalizer = _subword_normalizer(lowercase)
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    hf.decoder = decoders.Sequence([decoders.Replace(UNK, _BYTE_SPACE + UNK), decoders.ByteLevel(),
                                    decoders.Strip(" ", 1, 0)])  # the space add_prefix_space put first
