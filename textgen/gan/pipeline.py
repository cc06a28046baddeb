"""``TextToImagePipeline``: captions in, bird images out.

    from textgen.pipelines import TextToImagePipeline

    pipe = TextToImagePipeline.from_pretrained("runs/gan/birds64/last")
    out = pipe(["a red bird with black wings"], num_images_per_caption=4, generator=torch.Generator().manual_seed(0))
    out.images[0].save("bird.png")            # PIL images, caption by caption
    pipe.interpolate("a red bird", "a blue bird", steps=6).images   # a GAN-INT strip (fixed noise)

Sampling uses the EMA copy of the generator and the truncation trick (``truncation < 1`` trades variety for
fidelity). Captions are checked before anything runs: an empty caption, or one whose words the text encoder
does not know at all, raises ``ValueError``.
"""
from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch

from textgen.gan.folder import captioned_grid, load_gan_folder
from textgen.gan.modeling import Generator, truncated_noise
from textgen.core.runtime import resolve_device
from textgen.core.checkpoint import load_weights

__all__ = ["TextToImagePipeline", "TextToImageOutput"]


@dataclass
class TextToImageOutput:
    images: list                       # PIL images, num_images_per_caption per caption, caption by caption
    captions: list[str]                # the caption of each image
    tensors: torch.Tensor              # (N, 3, S, S) in [-1, 1]
    per_caption: int = 1
    extra: dict = field(default_factory=dict)

    def grid(self):
        """A captioned grid: one row per caption."""
        return captioned_grid(self.tensors, self.captions[:: self.per_caption], per_row=self.per_caption)


class TextToImagePipeline:
    def __init__(self, generator: Generator, text_encoder, device: torch.device):
        self.generator = generator.eval().requires_grad_(False)
        self.text_encoder = text_encoder
        self.device = device

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, device: str = "cpu") -> "TextToImagePipeline":
        dev = resolve_device(device)
        loaded = load_gan_folder(name_or_path, device=dev)
        G = Generator(loaded["config"])
        load_weights(G, loaded["generator_ema"], Path(loaded["path"]) / "model.safetensors")
        return cls(G.to(dev), loaded["text_encoder"], dev)

    @property
    def image_size(self) -> int:
        return self.generator.config.image_size

    @torch.no_grad()
    def __call__(self, captions: Sequence[str] | str, num_images_per_caption: int = 4,
                 generator: Optional[torch.Generator] = None, truncation: float = 1.0) -> TextToImageOutput:
        captions = [captions] if isinstance(captions, str) else list(captions)
        if not captions:
            raise ValueError("no captions given: pass at least one, e.g. 'a red bird with black wings'")
        if num_images_per_caption < 1:
            raise ValueError(f"num_images_per_caption must be >= 1, got {num_images_per_caption}")
        e = self.text_encoder.encode(captions).float().to(self.device)                # (C, E)
        e = e.repeat_interleave(num_images_per_caption, 0)                            # (C*n, E)
        z = truncated_noise(e.size(0), self.generator.config.noise_dim, truncation, generator, self.device)
        x = self.generator(z, e).float().cpu()                                        # (C*n, 3, S, S)
        return self._output(x, [c for c in captions for _ in range(num_images_per_caption)], num_images_per_caption)

    @torch.no_grad()
    def interpolate(self, caption_a: str, caption_b: str, steps: int = 6, generator: Optional[torch.Generator] = None,
                    truncation: float = 1.0) -> TextToImageOutput:
        """GAN-INT: the same noise, caption embeddings moving linearly from ``caption_a`` to ``caption_b``."""
        if steps < 2:
            raise ValueError(f"steps must be >= 2 (both ends included), got {steps}")
        ea, eb = self.text_encoder.encode([caption_a, caption_b]).float().to(self.device)
        t = torch.linspace(0, 1, steps, device=self.device)[:, None]
        e = (1 - t) * ea + t * eb                                                     # (steps, E)
        z = truncated_noise(1, self.generator.config.noise_dim, truncation, generator, self.device).expand(steps, -1)
        x = self.generator(z, e).float().cpu()
        labels = [f"{caption_a} -> {caption_b}"] * steps
        return self._output(x, labels, steps, extra={"weights": t[:, 0].tolist()})

    @staticmethod
    def _output(x: torch.Tensor, captions: list[str], per_caption: int, extra: Optional[dict] = None) -> TextToImageOutput:
        from PIL import Image

        arr = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        images = [Image.fromarray(a) for a in arr]
        return TextToImageOutput(images=images, captions=captions, tensors=x, per_caption=per_caption, extra=extra or {})
