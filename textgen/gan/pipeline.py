"""``TextToImagePipeline``: captions in, bird images out.

    from textgen.pipelines import TextToImagePipeline

    pipe = TextToImagePipeline.from_pretrained()          # the shipped birds-gan, or a folder: runs/gan/birds64/last
    out = pipe(["a red bird with black wings"], num_images_per_prompt=4, generator=torch.Generator().manual_seed(0))
    out.images[0].save("bird.png")            # PIL images, caption by caption
    pipe.interpolate("a red bird", "a blue bird", steps=6).images   # a GAN-INT strip (fixed noise)
    pipe.to("cuda").save_pretrained("my-gan")                       # from_pretrained("my-gan") loads it back

    for chunk in pipe.stream(captions, num_images_per_prompt=1000, batch_size=256):   # flat memory
        ...                                       # chunk.images, chunk.extra["start"]

``num_images_per_prompt`` is diffusers' name; ``num_images_per_caption`` is an alias of it.

Sampling uses the EMA copy of the generator and the truncation trick (``truncation < 1`` trades variety for
fidelity). Captions are checked before anything runs: an empty caption, or one whose words the text encoder
does not know at all, raises ``ValueError``; words it never saw in training, and captions longer than it
reads, are warned about by name through the ``textgen`` logger (:meth:`TextToImagePipeline.caption_notes`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence

import torch

from textgen.core import logs
from textgen.core.pictures import captioned_grid
from textgen.core.pretrained import DEFAULT_GAN
from textgen.core.runtime import resolve_device
from textgen.core.text import quote
from textgen.gan.modeling import TextToImageGAN, truncated_noise

__all__ = ["TextToImagePipeline", "TextToImageOutput"]


NOISE_BLOCK = 64       # noise is drawn this many images at a time, whatever the batch size
IMAGES_PER_PROMPT = 4  # the default of num_images_per_prompt


def images_per_prompt(per_prompt: Optional[int], per_caption: Optional[int]) -> int:
    """``num_images_per_prompt``, or its alias ``num_images_per_caption``; passing both is an error."""
    if per_prompt is not None and per_caption is not None:
        raise TypeError("pass num_images_per_prompt or num_images_per_caption (an alias of it), not both")
    n = per_prompt if per_prompt is not None else per_caption if per_caption is not None else IMAGES_PER_PROMPT
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"num_images_per_prompt must be an integer >= 1, got {n!r}")
    return n


class _NoiseBlocks:
    """Truncated noise drawn from ``generator`` in blocks of :data:`NOISE_BLOCK` rows, handed out in any sizes."""

    def __init__(self, dim: int, truncation: float, generator: Optional[torch.Generator]):
        self.dim, self.truncation, self.generator = dim, truncation, generator
        self.buffer = torch.empty(0, dim)

    def take(self, k: int) -> torch.Tensor:
        while self.buffer.size(0) < k:
            block = truncated_noise(NOISE_BLOCK, self.dim, self.truncation, self.generator)
            self.buffer = torch.cat([self.buffer, block])
        out, self.buffer = self.buffer[:k], self.buffer[k:]
        return out


@dataclass
class TextToImageOutput:
    images: list                       # PIL images, num_images_per_prompt per caption, caption by caption
    captions: list[str]                # the caption of each image
    tensors: torch.Tensor              # (N, 3, S, S) in [-1, 1]
    per_caption: int = 1
    extra: dict = field(default_factory=dict)

    def grid(self, max_captions: int = 8, max_per_caption: int = 8):
        """A captioned grid: one row per caption, at most ``max_captions`` rows of ``max_per_caption`` images
        (the first ones), so that a thousand images never make a 68,000-pixel picture."""
        n, rows = self.per_caption, min(max_captions, len(self.captions) // self.per_caption)
        cols = min(n, max_per_caption)
        idx = [r * n + j for r in range(rows) for j in range(cols)]
        return captioned_grid(self.tensors[idx], [self.captions[r * n] for r in range(rows)], per_row=cols)


class TextToImagePipeline:
    """Captions in, images out, from a :class:`~textgen.gan.modeling.TextToImageGAN` (its EMA generator)."""

    def __init__(self, model: TextToImageGAN):
        if model.text_encoder is None:
            raise ValueError("the pipeline reads captions: load the GAN with its text encoder")
        self.model = model.eval().requires_grad_(False)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike = DEFAULT_GAN, *,
                        device: str | torch.device = "cpu") -> "TextToImagePipeline":
        """Load a folder written by :meth:`save_pretrained` / ``train-gan``, or a shipped model by name
        (default: the shipped ``birds-gan``)."""
        return cls(TextToImageGAN.from_pretrained(name_or_path, device=resolve_device(device)))

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write the GAN (G, EMA-G and the text encoder); ``from_pretrained(directory)`` loads it back."""
        return self.model.save_pretrained(directory)

    def to(self, device: str | torch.device) -> "TextToImagePipeline":
        """Move the model (and its text encoder) to ``device`` (``"cpu"``, ``"cuda:1"``, ``"auto"``, a
        ``torch.device``); returns self."""
        self.model.to(resolve_device(device))
        return self

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def generator(self):
        """The EMA generator that draws the images."""
        return self.model.generator_ema

    @property
    def text_encoder(self):
        return self.model.text_encoder

    @property
    def image_size(self) -> int:
        return self.model.config.image_size

    def caption_notes(self, captions: Sequence[str], limit: int = 5) -> list[str]:
        """What a user should know about ``captions`` before generating: words the caption encoder never learnt
        (read as ``<unk>`` or as subword pieces) and captions longer than it reads. One line per kind of
        problem, naming up to ``limit`` captions (each quoted to at most 60 characters)."""
        return [note for _, note in self._notes(captions, limit)]

    def _warn(self, captions: Sequence[str]) -> None:
        for key, note in self._notes(captions):
            logs.warn(note, key=key)                          # once per kind and line of the caller's code

    def _notes(self, captions: Sequence[str], limit: int = 5) -> list[tuple[str, str]]:
        """:meth:`caption_notes` with a stable key for each kind of note."""
        enc = self.text_encoder
        unfamiliar, long = [], []
        for i, c in enumerate(captions):
            if not isinstance(c, str):
                continue
            words = enc.unfamiliar_words(c) if hasattr(enc, "unfamiliar_words") else []
            if words:
                unfamiliar.append((i, c, words))
            if hasattr(enc, "too_long") and enc.too_long(c):
                long.append((i, c))
        notes = []
        if unfamiliar:
            kind = getattr(getattr(enc, "tokenizer", None), "kind", "word")
            how = "ignored (<unk>)" if kind == "word" else "read as word pieces"
            shown = "; ".join(f"caption {i} ({quote(c)}): {', '.join(map(repr, w[:8]))}" for i, c, w in unfamiliar[:limit])
            more = f"; and {len(unfamiliar) - limit} more captions" if len(unfamiliar) > limit else ""
            notes.append(("caption-unfamiliar-words",
                          f"words the caption encoder never saw in training are {how}, so what they say may not be "
                          f"drawn; check the spelling or use common words: {shown}{more}"))
        if long:
            limit_tokens = enc.tokenizer.max_length
            shown = "; ".join(f"caption {i} ({quote(c)})" for i, c in long[:limit])
            more = f"; and {len(long) - limit} more" if len(long) > limit else ""
            notes.append(("caption-too-long",
                          f"{len(long)} caption(s) are longer than the {limit_tokens} tokens the caption encoder "
                          f"reads; only their beginning is used: {shown}{more}"))
        return notes

    def stream(self, captions: Sequence[str] | str, num_images_per_prompt: Optional[int] = None,
               generator: Optional[torch.Generator] = None, truncation: float = 1.0, batch_size: int = 64,
               warn: bool = True, *, num_images_per_caption: Optional[int] = None) -> Iterator[TextToImageOutput]:
        """Generate caption by caption, image by image, ``batch_size`` images at a time, yielding one
        :class:`TextToImageOutput` per chunk (``extra["start"]`` is the index of its first image). Memory stays
        flat whatever the number of images. The noise is drawn in fixed blocks of :data:`NOISE_BLOCK`, so the
        images are the same for every ``batch_size``. ``num_images_per_caption`` is an alias of
        ``num_images_per_prompt`` (default 4). Captions are checked, and warned about, when it is called."""
        n = images_per_prompt(num_images_per_prompt, num_images_per_caption)
        captions = [captions] if isinstance(captions, str) else list(captions)
        if not captions:
            raise ValueError("no captions given: pass at least one, e.g. 'a red bird with black wings'")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.text_encoder.check(captions)                    # every caption is checked before any image is made
        if warn:
            self._warn(captions)
        return self._generate(captions, n, generator, truncation, batch_size)

    @torch.no_grad()
    def _generate(self, captions: list[str], n: int, generator: Optional[torch.Generator], truncation: float,
                  batch_size: int) -> Iterator[TextToImageOutput]:
        total = len(captions) * n
        noise = _NoiseBlocks(self.model.config.noise_dim, truncation, generator)
        for start in range(0, total, batch_size):
            stop = min(start + batch_size, total)
            first, last = start // n, (stop - 1) // n                     # the captions this chunk draws
            e = self.model.embed(captions[first:last + 1])                                    # (K, E)
            owner = torch.arange(start, stop) // n - first                                   # (b,)
            z = noise.take(stop - start).to(self.device)                                     # (b, Z)
            x = self.model.generate(z, e[owner.to(self.device)]).float().cpu()               # (b, 3, S, S)
            yield self._output(x, [captions[i // n] for i in range(start, stop)], n, extra={"start": start})

    def __call__(self, captions: Sequence[str] | str, num_images_per_prompt: Optional[int] = None,
                 generator: Optional[torch.Generator] = None, truncation: float = 1.0, batch_size: int = 64, *,
                 num_images_per_caption: Optional[int] = None) -> TextToImageOutput:
        """Every image at once (generated ``batch_size`` at a time); for many images use :meth:`stream`.
        ``num_images_per_prompt`` (default 4) as in diffusers; ``num_images_per_caption`` is an alias of it."""
        n = images_per_prompt(num_images_per_prompt, num_images_per_caption)
        chunks = list(self.stream(captions, n, generator, truncation, batch_size))
        x = torch.cat([c.tensors for c in chunks])
        return self._output(x, [c for chunk in chunks for c in chunk.captions], n)

    def interpolate(self, caption_a: str, caption_b: str, steps: int = 6, generator: Optional[torch.Generator] = None,
                    truncation: float = 1.0) -> TextToImageOutput:
        """GAN-INT: the same noise, caption embeddings moving linearly from ``caption_a`` to ``caption_b``."""
        if steps < 2:
            raise ValueError(f"steps must be >= 2 (both ends included), got {steps}")
        ea, eb = self.model.embed([caption_a, caption_b])
        self._warn([caption_a, caption_b])
        t = torch.linspace(0, 1, steps, device=self.device)[:, None]
        e = (1 - t) * ea + t * eb                                                     # (steps, E)
        z = truncated_noise(1, self.model.config.noise_dim, truncation, generator, self.device).expand(steps, -1)
        x = self.model.generate(z, e).float().cpu()
        labels = [f"{caption_a} -> {caption_b}"] * steps
        return self._output(x, labels, steps, extra={"weights": t[:, 0].tolist()})

    @staticmethod
    def _output(x: torch.Tensor, captions: list[str], per_caption: int, extra: Optional[dict] = None) -> TextToImageOutput:
        from PIL import Image

        arr = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        images = [Image.fromarray(a) for a in arr]
        return TextToImageOutput(images=images, captions=captions, tensors=x, per_caption=per_caption, extra=extra or {})
