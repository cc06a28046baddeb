"""The ``word`` kind: whitespace-separated words looked up in a dict."""
from __future__ import annotations

from collections import Counter
from typing import Any, Optional

from textgen.tokenization.base import (SPECIAL_TOKENS, UNK, UNK_ID, _SPECIAL_SPLIT, TokenizerError, _add_specials,
                                      _Backend, _PayloadError)


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
        get, unk, lower, words = self.token_ids.get, UNK_ID, self.lowercase, self._words
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
