"""Text encoders for the text-to-image GAN: captions in, one frozen sentence embedding per caption out.

One small interface, three implementations:

* :class:`CaptionEncoder` (the default) -- a bidirectional LSTM over the shared :class:`Tokenizer`, trained
  contrastively against a small CNN image encoder (:class:`ImageEncoder`) on image-caption pairs with the
  symmetric InfoNCE loss of CLIP (Radford et al. 2021), i.e. a sentence-level DAMSM (Xu et al. 2018, AttnGAN);
* :class:`VAETextEncoder` -- a trained sentence VAE's encoder (the posterior mean);
* :class:`HFTextEncoder` -- a local Hugging Face model directory, mean-pooled over real tokens.

Every implementation has ``dim``, ``tokenizer`` (where it has one) and ``encode(captions) -> (B, dim)``
(no gradients; the GAN trains with the encoder frozen).
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from dataclasses import dataclass, field
from typing import Optional, Protocol, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from textgen.core.checkpoint import CheckpointError, model_type_of
from textgen.core.config import check
from textgen.core.functional import blur_downsample
from textgen.core.pretrained import PretrainedMixin
from textgen.tokenization import Tokenizer
from textgen.vae.sentence_encoder import SentenceEncoder

__all__ = ["TextEncoder", "CaptionEncoderConfig", "CaptionEncoder", "ImageEncoderConfig", "ImageEncoder",
           "strip_punctuation", "VAETextEncoder", "HFTextEncoder", "TEXT_ENCODER_KINDS", "text_encoder_kind",
           "load_text_encoder", "save_text_encoder"]


class TextEncoder(Protocol):
    dim: int

    def check(self, captions: Sequence[str]) -> None: ...          # ValueError naming the first bad caption

    def encode(self, captions: Sequence[str]) -> Tensor: ...


_PUNCTUATION = re.compile(r"[^\w\s'-]+")


def strip_punctuation(caption: str) -> str:
    """``"a red bird, with a white belly."`` -> ``"a red bird  with a white belly "``: the caption encoder's word
    tokenizer reads words only (otherwise ``belly.`` and ``belly,`` would be tokens of their own, and a word
    the training captions only had before a comma would be unknown everywhere else). Hyphens and
    apostrophes inside words stay (``white-tipped``, ``bird's``)."""
    return _PUNCTUATION.sub(" ", caption)


def knows_a_word(tokenizer, caption: str) -> bool:
    """Whether ``tokenizer`` knows at least one word of ``caption`` (otherwise it reads as all ``<unk>``)."""
    return any(i != tokenizer.UNK_ID for i in tokenizer.encode(caption, add_eos=False, max_length=None))


def _check_captions(captions: Sequence[str], tokenizer, prepare=None, unfamiliar=None) -> list[str]:
    """The captions (passed through ``prepare`` when given) after checking each has a word ``tokenizer`` knows
    (with ``unfamiliar``, a function naming the words an encoder never learnt: one word outside it)."""
    if isinstance(captions, str):
        raise TypeError("expected a list of captions, got a single string; wrap it in a list")
    out = []
    for i, c in enumerate(captions):
        if not isinstance(c, str):
            raise TypeError(f"caption {i} is a {type(c).__name__}, not a string")
        if not c.strip():
            raise ValueError(f"caption {i} is empty; every caption needs words (e.g. 'a red bird with black wings')")
        c = prepare(c) if prepare is not None else c
        unknown = unfamiliar(c) if unfamiliar is not None else None
        if (unknown is not None and len(unknown) == len(set(c.lower().split()))) or \
                (tokenizer is not None and not knows_a_word(tokenizer, c)):
            unknown = unknown or tokenizer.unknown_words(c)
            raise ValueError(f"caption {i} ({c!r}) has no word the text encoder knows ({', '.join(unknown)}); "
                                 "describe the bird with common words: colours and parts such as wings, breast, bill")
        out.append(c)
    return out


# ----------------------------------------------------------------------------- the default: a contrastive caption encoder

@dataclass
class CaptionEncoderConfig:
    vocab_size: int = 5000
    dim: int = 256
    embed_size: int = 128
    hidden_size: int = 128
    pad_id: int = 0
    rnn: str = "lstm"             # "lstm" or "gru" (eval-gan's R-precision encoder differs from the GAN's in this)
    words: list[str] = field(default_factory=list)   # subword tokenizers: the training captions' words (warnings)

    def validate(self) -> None:
        for key in ("vocab_size", "dim", "embed_size", "hidden_size"):
            check(getattr(self, key) >= 1, key, f"must be >= 1, got {getattr(self, key)}")
        check(self.rnn in ("lstm", "gru"), "rnn", f"must be 'lstm' or 'gru', got {self.rnn!r}")

    def approx_parameters(self) -> int:
        """Embeddings, the bidirectional RNN and the projection (the folder check's estimate)."""
        E, H = self.embed_size, self.hidden_size
        return self.vocab_size * E + 2 * 4 * H * (E + H + 2) + 2 * H * self.dim


class CaptionEncoder(PretrainedMixin, nn.Module):
    """Bi-LSTM (or bi-GRU) over token embeddings, max-pooled over real tokens, projected to ``dim`` and L2-normalised.
    Captions are read without punctuation (:func:`strip_punctuation`), in training and in ``encode``.

    ``save_pretrained(dir)`` / ``CaptionEncoder.from_pretrained(dir)`` keep the weights, the config and the
    tokenizer together, like every textgen model folder.
    """

    config_class = CaptionEncoderConfig
    model_type = "caption-encoder"
    tokenizer_class = Tokenizer

    def __init__(self, config: CaptionEncoderConfig, tokenizer=None):
        super().__init__()
        config.validate()
        self.config = c = config
        self.dim, self.pad_id, self.tokenizer = c.dim, c.pad_id, tokenizer
        self.embedding = nn.Embedding(c.vocab_size, c.embed_size, padding_idx=c.pad_id)
        rnn = nn.LSTM if c.rnn == "lstm" else nn.GRU
        self.rnn = rnn(c.embed_size, c.hidden_size, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * c.hidden_size, c.dim)

    def forward(self, input_ids: Tensor, lengths: Tensor) -> Tensor:
        B, T = input_ids.shape
        x = self.embedding(input_ids)                                                # (B, T, E)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)   # (B, T, 2H)
        real = torch.arange(T, device=x.device)[None, :] < lengths.to(x.device)[:, None]
        out = out.masked_fill(~real[..., None], float("-inf")).amax(1)               # (B, 2H) max-pool
        return F.normalize(self.proj(out), dim=-1)                                   # (B, dim)

    def unfamiliar_words(self, caption: str) -> list[str]:
        """The words of ``caption`` this encoder never learnt to read, in order, once each: ``<unk>`` words for a
        word tokenizer; for a subword tokenizer, words its training captions did not hold (read as pieces,
        e.g. a misspelling) and character runs that become ``<unk>``."""
        if self.tokenizer is None:
            return []
        text = strip_punctuation(caption)
        unknown = self.tokenizer.unknown_words(text)
        if self.tokenizer.kind == "word" or not self.config.words:
            return unknown
        known = self._known_words()
        return list(dict.fromkeys([w for w in text.lower().split() if w not in known] + unknown))

    def _known_words(self) -> frozenset[str]:
        if getattr(self, "_known", None) is None:
            self._known = frozenset(self.config.words)
        return self._known

    def too_long(self, caption: str) -> bool:
        """Whether ``caption`` has more tokens than the encoder reads (the rest is cut)."""
        limit = self.tokenizer.max_length if self.tokenizer is not None else None
        return limit is not None and len(self.tokenizer.encode(strip_punctuation(caption), add_eos=True,
                                                                max_length=limit + 1)) > limit

    def check(self, captions: Sequence[str]) -> None:
        """Raise ValueError naming the first caption that is empty or has no word this encoder knows."""
        _check_captions(captions, self.tokenizer, prepare=strip_punctuation, unfamiliar=self.unfamiliar_words)

    @torch.no_grad()
    def encode(self, captions: Sequence[str]) -> Tensor:
        if self.tokenizer is None:
            raise ValueError("this CaptionEncoder has no tokenizer; pass tokenizer= or load one saved with it")
        batch = self.tokenizer.encode_batch(_check_captions(captions, self.tokenizer, prepare=strip_punctuation,
                                                            unfamiliar=self.unfamiliar_words))
        was = self.training
        self.eval()
        try:
            return self(batch.input_ids.to(self.embedding.weight.device), batch.lengths)
        finally:
            self.train(was)


class BlurDownsample(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return blur_downsample(x)                                                    # (B, C, H/2, W/2)


@dataclass
class ImageEncoderConfig:
    dim: int = 256
    channels: int = 32
    image_size: int = 64
    pool: str = "mean"            # "mean": global average of the 4x4 map; "flatten": all 16 positions (where is it red?)
    depth: int = 1                # convs per resolution: 1 = one strided 4x4 conv; d > 1 adds d - 1 3x3 convs before it
    downsample: str = "strided"   # "strided" 4x4 convs, or "blur": a 3x3 conv then a binomial low-pass at stride 2
                                  # (G's DAMSM gradient comes through here: see core.functional.blur_downsample)

    def validate(self) -> None:
        for key in ("dim", "channels", "image_size", "depth"):
            check(getattr(self, key) >= 1, key, f"must be >= 1, got {getattr(self, key)}")
        check(self.downsample in ("strided", "blur"), "downsample", f"must be 'strided' or 'blur', got {self.downsample!r}")
        check(self.pool in ("mean", "flatten"), "pool", f"must be 'mean' or 'flatten', got {self.pool!r}")


class ImageEncoder(PretrainedMixin, nn.Module):
    """The caption encoder's image half: strided convs to 4x4, global average pool (or, with ``pool="flatten"``,
    the whole 4x4 map, so that a colour keeps its place: a red crown is red at the top), projection, L2-norm.
    ``depth > 1`` puts ``depth - 1`` stride-1 3x3 convs before each strided one, so that the encoder looks at
    each resolution before halving it: a crown or a bill is only a few pixels at 32 px.

    Trained with the caption encoder (InfoNCE) and saved beside it (``<encoder>/image_encoder/``), so that
    the GAN can use it for AttnGAN's sentence-level DAMSM loss on its fakes (``train.damsm``).
    """

    config_class = ImageEncoderConfig
    model_type = "caption-image-encoder"

    def __init__(self, config: ImageEncoderConfig):
        super().__init__()
        config.validate()
        self.config = config
        layers, c_in, size, c = [], 3, config.image_size, config.channels
        while size > 4:
            for _ in range(config.depth - 1):                                       # look before halving
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.LeakyReLU(0.2)]
                c_in = c
            if config.downsample == "blur":
                layers += [nn.Conv2d(c_in, c, 3, padding=1), BlurDownsample(), nn.BatchNorm2d(c), nn.LeakyReLU(0.2)]
            else:
                layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.BatchNorm2d(c), nn.LeakyReLU(0.2)]
            c_in, c, size = c, min(c * 2, 8 * config.channels), size // 2
        self.net = nn.Sequential(*layers)
        self.proj = nn.Linear(c_in * (16 if config.pool == "flatten" else 1), config.dim)

    def forward(self, images: Tensor) -> Tensor:                                     # (B, 3, S, S) in [-1, 1]
        h = self.net(images)                                                         # (B, C, 4, 4)
        h = h.flatten(1) if self.config.pool == "flatten" else h.mean((2, 3))        # (B, 16C) or (B, C)
        return F.normalize(self.proj(h), dim=-1)                                     # (B, dim)


# ----------------------------------------------------------------------------- other encoders

class VAETextEncoder:
    """The posterior mean of a trained sentence VAE as the caption embedding."""

    def __init__(self, name_or_path: str | os.PathLike, device: str = "cpu"):
        self.encoder = SentenceEncoder.from_pretrained(name_or_path, device=device)
        self.tokenizer = self.encoder.tokenizer
        self.dim = self.encoder.dim

    def check(self, captions: Sequence[str]) -> None:
        _check_captions(captions, None)

    def encode(self, captions: Sequence[str]) -> Tensor:
        captions = _check_captions(captions, None)
        return self.encoder.encode(captions, return_tensors="pt", progress_bar=False)


class HFTextEncoder:
    """A local Hugging Face model directory (e.g. a sentence-transformers checkpoint), mean-pooled."""

    def __init__(self, path: str | os.PathLike, device: str = "cpu", max_length: Optional[int] = 64):
        from transformers import AutoModel, AutoTokenizer    # imported here: transformers is slow to import

        if not Path(path).is_dir():
            raise FileNotFoundError(f"{path} is not a local model directory; nothing is downloaded at run time: "
                                    "pass a folder holding config.json and the weights")
        self.hf_tokenizer = AutoTokenizer.from_pretrained(str(path))
        folder = Path(path)
        if not list(folder.glob("*.safetensors")):
            pickles = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
            raise CheckpointError(f"{path} holds no .safetensors weights{f' (only {pickles[0]}, a pickle)' if pickles else ''}; "
                                  "textgen never unpickles weights. Convert the model with "
                                  "model.save_pretrained(folder, safe_serialization=True) and use that folder")
        self.model = AutoModel.from_pretrained(str(path), use_safetensors=True).to(device).eval()
        self.path = folder                   # saved with a GAN as a copy of this folder
        self.dim = int(self.model.config.hidden_size)
        self.max_length = max_length
        self.tokenizer = None

    def check(self, captions: Sequence[str]) -> None:
        _check_captions(captions, None)

    @torch.no_grad()
    def encode(self, captions: Sequence[str]) -> Tensor:
        captions = _check_captions(captions, None)
        batch = self.hf_tokenizer(list(captions), padding=True, truncation=True, max_length=self.max_length,
                                  return_tensors="pt").to(self.model.device)
        states = self.model(**batch).last_hidden_state                              # (B, T, D)
        mask = batch["attention_mask"][..., None].to(states.dtype)                   # (B, T, 1)
        return (states * mask).sum(1) / mask.sum(1).clamp_min(1)                     # (B, D)


# ----------------------------------------------------------------------------- a text encoder's own folder

TEXT_ENCODER_KINDS = ("caption", "vae", "hf")


def text_encoder_kind(folder: str | os.PathLike) -> str:
    """Which kind of text encoder a folder holds, by what it declares: ``caption`` (a CaptionEncoder), ``vae`` (a
    sentence VAE, read through its posterior mean), or ``hf`` (a folder of another library)."""
    declared = model_type_of(folder)
    kinds = {CaptionEncoder.model_type: "caption", "sentence-vae": "vae", None: "hf"}
    if declared not in kinds:
        raise CheckpointError(f"{folder} holds a {declared!r} model, not a text encoder; pass a caption encoder, a "
                              "sentence VAE or a Hugging Face model folder (or a GAN folder, for its text_encoder/)")
    return kinds[declared]


def load_text_encoder(folder: str | os.PathLike, kind: str | None = None, device: str | torch.device = "cpu"):
    """The frozen text encoder of ``kind`` (caption, vae, hf; None: as the folder declares) saved in ``folder``."""
    kind = kind or text_encoder_kind(folder)
    if kind == "caption":
        return CaptionEncoder.from_pretrained(folder, device=device).requires_grad_(False)
    if kind == "vae":
        return VAETextEncoder(folder, device=str(device))
    if kind == "hf":
        return HFTextEncoder(folder, device=str(device))
    raise ValueError(f"text encoder kind {kind!r} is not one of {', '.join(TEXT_ENCODER_KINDS)}")


def save_text_encoder(encoder, kind: str, target: Path) -> None:
    """Write ``encoder`` as a folder :func:`load_text_encoder` reads (an HF model: a copy of its directory)."""
    if kind == "caption":
        encoder.save_pretrained(target)
    elif kind == "vae":
        encoder.encoder.model.save_pretrained(target)
    else:
        shutil.copytree(encoder.path, target)
