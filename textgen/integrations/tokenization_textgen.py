"""``TextgenTokenizerFast``: the exported tokenizer, which reads raw text as textgen does.

Self-contained like ``modeling_textgen.py``: ``textgen export-hf`` copies it beside the weights together
with ``textgen_textprep.py`` (a copy of ``textgen/tokenization/textprep.py``), and ``tokenizer_config.json``
names it in its ``auto_map``, so that

    AutoTokenizer.from_pretrained(folder, trust_remote_code=True)

gives the ids textgen's own encoders give for the same raw string, where textgen is not installed too.

It is the stock fast tokenizer (``tokenizer.json``: the model's normaliser, pre-tokeniser and vocabulary)
with one step in front: every input string first goes through ``prepare_for_tokenizer``, the very function
textgen runs. For the subword kinds that step only turns control characters into spaces (the normaliser
in ``tokenizer.json`` does the rest). For a ``word`` vocabulary it applies the vocabulary-guided rules a
regex pipeline cannot express (keep ``mr.`` and ``u.s.`` because the vocabulary has them, split ``don't`` into
``do n't`` because it does not, write numbers as ``N``, drop punctuation the vocabulary lacks).

And it truncates to ``model_max_length`` (the exported model's maximum) unless told ``truncation=False``,
as textgen's encoders do.
"""
from __future__ import annotations

from transformers import PreTrainedTokenizerFast

try:  # beside exported weights (remote code): the copied module
    from .textgen_textprep import prepare_for_tokenizer
except ImportError:  # inside the textgen package
    from textgen.tokenization.textprep import prepare_for_tokenizer

__all__ = ["TextgenTokenizerFast"]


class TextgenTokenizerFast(PreTrainedTokenizerFast):
    """A ``PreTrainedTokenizerFast`` that prepares raw text the way textgen does before tokenizing it."""

    # No __init__ of its own: transformers then loads tokenizer.json as it is (normaliser, pre-tokeniser and all).
    # The two settings come from tokenizer_config.json.
    @property
    def textgen_kind(self) -> str:
        return self.init_kwargs.get("textgen_kind", "word")

    @property
    def textgen_lowercase(self) -> bool:
        return bool(self.init_kwargs.get("textgen_lowercase", False))

    def prepare_text(self, text):
        """The string the Hugging Face pipeline in ``tokenizer.json`` reads for ``text``."""
        if not isinstance(text, str):
            return text                               # let the base class reject it with its own message
        kind, vocab = self.textgen_kind, None
        if kind == "word":
            vocab = self.__dict__.get("_textgen_vocab")
            if vocab is None or len(vocab) != len(self):
                vocab = self.__dict__["_textgen_vocab"] = self.get_vocab()   # once (again only if tokens were added)
        return prepare_for_tokenizer(text, kind, vocab, self.textgen_lowercase)

    def _prepare_any(self, text):
        if isinstance(text, (list, tuple)):                 # a batch, or a (text, pair) tuple in one
            prepared = [self._prepare_any(t) for t in text]
            return tuple(prepared) if isinstance(text, tuple) else prepared
        return self.prepare_text(text)

    def _get_padding_truncation_strategies(self, padding=False, truncation=None, max_length=None, *args, **kwargs):
        """Truncate to ``model_max_length`` unless asked not to (``truncation=False``), as textgen's encoders do:
        transformers' default keeps every token, which gives another vector than every other route, and warns
        of "indexing errors" the encoder does not have."""
        if truncation is None:
            truncation = True
        return super()._get_padding_truncation_strategies(padding, truncation, max_length, *args, **kwargs)

    def _encode_plus(self, text, text_pair=None, **kwargs):
        if not kwargs.get("is_split_into_words", False):   # pre-split words are the caller's own tokens
            text = self._prepare_any(text)
            if text_pair is not None:
                text_pair = self._prepare_any(text_pair)
        return super()._encode_plus(text, text_pair, **kwargs)
