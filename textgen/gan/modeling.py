"""Text-conditioned GAN: a caption embedding in, a bird image out.

The method is Reed et al. (2016), "Generative Adversarial Text to Image Synthesis" (ICML): a generator
G(z, e) and a *matching-aware* discriminator D(x, e) that must tell real images with the right caption from
fakes and from real images with a wrong caption (GAN-CLS), with G also trained on interpolated caption
embeddings (GAN-INT). The architecture follows DF-GAN (Tao et al. 2022, "DF-GAN: A Simple and Effective
Baseline for Text-to-Image Synthesis", CVPR): G's upsampling blocks fuse the text through per-channel affine
transforms predicted from the sentence embedding, and D joins the sentence at 4x4. Conditioning augmentation
(Zhang et al. 2017, StackGAN) is a switch. The losses live in :mod:`textgen.gan.losses`, the configuration
in :mod:`textgen.gan.configuration`.

Sections, top-down: small blocks (affine fusion, G and D residual blocks, conditioning augmentation); the
generator; the discriminator; the posterior encoder of cVAE-GAN; sampling helpers (truncated noise, EMA); the
model, :class:`TextToImageGAN`, which owns them all with the text encoder and saves/loads as one folder.
Shapes use (B, C, H, W) images in [-1, 1] and (B, E) sentence embeddings.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from textgen.core.checkpoint import (CheckpointError, describe_count, load_weights, read_model_folder,
                                     write_model_folder)
from textgen.core.config import ConfigError, config_from_dict, config_to_dict
from textgen.core.functional import blur_downsample, gaussian_kl
from textgen.core.pretrained import resolve_model_path
from textgen.gan.configuration import GANConfig
from textgen.gan import text_encoders

__all__ = [
    "GANConfig", "unit_scale", "Generator", "Discriminator", "PosteriorEncoder", "ConditioningAugmentation",
    "truncated_noise", "ema_update", "TextToImageGAN",
]


def unit_scale(e: Tensor) -> Tensor:
    """Sentence embeddings rescaled to norm sqrt(E), i.e. components of about unit size.

    Text encoders differ in scale (the caption encoder's outputs are unit vectors, whose components are
    ~1/sqrt(E) = 0.06 for E = 256; a VAE's posterior means are larger). Fed as they are, unit vectors give a
    text condition ~30x weaker than the N(0, I) noise it is concatenated with, and the generator learns to
    ignore the caption; rescaling puts text and noise on the same footing for every encoder.
    """
    return F.normalize(e.float(), dim=-1).to(e.dtype) * math.sqrt(e.size(-1))


def _widths(base: int, n: int) -> list[int]:
    """Channel widths from 4x4 (index 0) up to full size (index n): 8b, 8b, 8b, 4b, 2b, 1b, ... (at least b)."""
    mult = [8, 8, 8, 4, 2, 1, 1]
    return [base * mult[min(i, len(mult) - 1)] for i in range(n + 1)]


# ----------------------------------------------------------------------------- small blocks

class ConditioningAugmentation(nn.Module):
    """StackGAN (Zhang et al. 2017): c ~ N(mu(e), diag(sigma(e)^2)), with KL(N(mu, sigma) || N(0, I)) as a regulariser."""

    def __init__(self, text_dim: int, cond_dim: int):
        super().__init__()
        self.fc = nn.Linear(text_dim, 2 * cond_dim)

    def forward(self, e: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = F.leaky_relu(self.fc(e), 0.2).chunk(2, dim=-1)                  # (B, C) each
        c = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return c, gaussian_kl(mu, logvar).sum(-1).mean()                            # nats per image


class Affine(nn.Module):
    """DF-GAN's text-conditioned affine transform: x * (1 + gamma(c)) + beta(c), per channel."""

    def __init__(self, cond_dim: int, channels: int):
        super().__init__()
        self.gamma = nn.Sequential(nn.Linear(cond_dim, channels), nn.ReLU(inplace=True), nn.Linear(channels, channels))
        self.beta = nn.Sequential(nn.Linear(cond_dim, channels), nn.ReLU(inplace=True), nn.Linear(channels, channels))
        for head in (self.gamma[-1], self.beta[-1]):      # start as the identity transform
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        return x * (1 + self.gamma(c))[:, :, None, None] + self.beta(c)[:, :, None, None]


class GBlock(nn.Module):
    """Up-sample x2 (``nearest`` as DF-GAN, or ``bilinear``), then two (affine fusion -> LeakyReLU -> 3x3 conv)
    stages, plus a learned shortcut. Nearest copies make 2x2 blocks that the shortcut carries to the output
    (a grid texture aligned with the pixel grid); bilinear up-sampling has none."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, upsample: str = "nearest"):
        super().__init__()
        self.fuse1, self.conv1 = Affine(cond_dim, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.fuse2, self.conv2 = Affine(cond_dim, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.upsample = upsample

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        if self.upsample == "bilinear":
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)   # (B, Cin, 2H, 2W)
        else:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        h = self.conv1(F.leaky_relu(self.fuse1(x, c), 0.2))
        h = self.conv2(F.leaky_relu(self.fuse2(h, c), 0.2))
        return self.shortcut(x) + h                                                  # (B, Cout, 2H, 2W)


class DBlock(nn.Module):
    """Residual down-sampling block: two convs plus an average-pooled shortcut. ``strided`` (DF-GAN): a 4x4
    stride-2 conv then a 3x3; ``blur``: a 3x3 conv, :func:`blur_downsample`, then a 3x3."""

    def __init__(self, c_in: int, c_out: int, downsample: str = "strided"):
        super().__init__()
        self.downsample = downsample
        if downsample == "blur":
            self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        else:
            self.conv1 = nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.gamma = nn.Parameter(torch.zeros(1))                                    # DF-GAN: residual starts at 0

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.leaky_relu(x, 0.2))
        if self.downsample == "blur":
            h = blur_downsample(h)                                                   # (B, Cout, H/2, W/2)
        h = self.conv2(F.leaky_relu(h, 0.2))                                          # (B, Cout, H/2, W/2)
        return F.avg_pool2d(self.shortcut(x), 2) + self.gamma * h


def down_trunk(config: GANConfig) -> tuple[nn.Conv2d, nn.ModuleList, list[int]]:
    """D's convolutional trunk (also E's, with its own weights): a 3x3 conv to ``d_channels``, then DBlocks
    down to 4x4. Returns ``(from_rgb, blocks, widths)``, widths from full size to 4x4."""
    widths = list(reversed(_widths(config.d_channels, config.num_blocks)))          # SxS ... 4x4
    from_rgb = nn.Conv2d(3, widths[0], 3, padding=1)                                 # first: the seed's init order
    return from_rgb, nn.ModuleList(DBlock(widths[i], widths[i + 1], config.downsample)
                                  for i in range(config.num_blocks)), widths


# ----------------------------------------------------------------------------- generator

class Generator(nn.Module):
    """G(z, e): noise (B, noise_dim) and sentence embeddings (B, text_dim) -> images (B, 3, S, S) in [-1, 1]."""

    def __init__(self, config: GANConfig):
        super().__init__()
        config.validate()
        self.config = c = config
        widths = _widths(c.g_channels, c.num_blocks)                                 # 4x4 ... SxS
        self.text = ConditioningAugmentation(c.text_dim, c.cond_dim) if c.cond_aug else nn.Linear(c.text_dim, c.cond_dim)
        cond = c.noise_dim + c.cond_dim                                              # blocks see [z, c] (DF-GAN)
        self.fc = nn.Linear(c.noise_dim, widths[0] * 16)
        self.blocks = nn.ModuleList(GBlock(widths[i], widths[i + 1], cond, c.upsample) for i in range(c.num_blocks))
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(widths[-1], 3, 3, padding=1), nn.Tanh())
        self.widths = widths

    def condition(self, e: Tensor) -> tuple[Tensor, Tensor]:
        """The text condition (B, cond_dim) and its CA KL term (0 without conditioning augmentation)."""
        e = unit_scale(e)
        if self.config.cond_aug:
            return self.text(e)
        return self.text(e), e.new_zeros(())

    def forward(self, z: Tensor, e: Tensor, return_kl: bool = False):
        c, kl = self.condition(e)                                                    # (B, C)
        cz = torch.cat([z, c], dim=1)                                                # (B, Z + C)
        x = self.fc(z).view(z.size(0), self.widths[0], 4, 4)                         # (B, 8g, 4, 4)
        for block in self.blocks:
            x = block(x, cz)
        img = self.to_rgb(x)                                                         # (B, 3, S, S)
        return (img, kl) if return_kl else img


# ----------------------------------------------------------------------------- discriminator

class Discriminator(nn.Module):
    """D(x, e): a matching-aware logit (B,) for image x (B, 3, S, S) and sentence embedding e (B, text_dim).

    ``features(x)`` is computed once per image batch and scored against several captions with ``logit``.
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        config.validate()
        self.config = c = config
        self.from_rgb, self.blocks, widths = down_trunk(c)                           # SxS ... 4x4
        self.text = nn.Linear(c.text_dim, c.cond_dim)
        top = widths[-1]
        self.joint = nn.Sequential(                                                  # sentence joined at 4x4
            nn.Conv2d(top + c.cond_dim, top * 2, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(top * 2, 1, 4),
        )

    def features(self, x: Tensor) -> Tensor:
        h = self.from_rgb(x)
        for block in self.blocks:
            h = block(h)
        return h                                                                     # (B, 8d, 4, 4)

    def logit(self, h: Tensor, e: Tensor) -> Tensor:
        t = self.text(unit_scale(e))[:, :, None, None].expand(-1, -1, 4, 4)          # (B, C, 4, 4)
        return self.joint(torch.cat([h, t], dim=1)).view(-1)                         # (B,)

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        return self.logit(self.features(x), e)


# ----------------------------------------------------------------------------- posterior encoder (cVAE-GAN)

class PosteriorEncoder(nn.Module):
    """E(x): the posterior q(z | x) = N(mu, diag(exp(logvar))) over G's noise for a real image (B, 3, S, S).

    The cVAE-GAN half of BicycleGAN (Zhu et al. 2017, "Toward Multimodal Image-to-Image Translation",
    NeurIPS; after Larsen et al. 2016's VAE/GAN): G must rebuild each real image from its caption and the
    noise E read from it, so every scene of the data (sky, foliage, branch; facing; unstated colours) has a
    region of the noise that G draws it for, and mode dropping costs reconstruction loss. The KL term keeps
    q(z | x) near G's N(0, I) prior, so plain noise still lands on those regions at sampling time. E is only
    used in training (it lives in the run's training state, like D); D's trunk shape, its own weights.
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        config.validate()
        self.from_rgb, self.blocks, widths = down_trunk(config)                      # SxS ... 4x4
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(widths[-1] * 16, 2 * config.noise_dim))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.from_rgb(x)
        for block in self.blocks:
            h = block(h)                                                             # (B, 8d, 4, 4) at the end
        mu, logvar = self.head(h).float().chunk(2, dim=1)                            # (B, Z) each
        return mu, logvar.clamp(-10, 10)


# ----------------------------------------------------------------------------- sampling helpers

def truncated_noise(n: int, dim: int, truncation: float = 1.0, generator: Optional[torch.Generator] = None,
                    device: str | torch.device = "cpu") -> Tensor:
    """N(0, I) noise with every |value| above ``truncation`` resampled (the truncation trick of BigGAN,
    Brock et al. 2019): lower truncation trades diversity for fidelity. ``truncation >= 4`` is plain noise."""
    if not truncation > 0:
        raise ValueError(f"truncation must be > 0, got {truncation}")
    z = torch.randn(n, dim, generator=generator)
    if truncation < 4:
        for _ in range(100):
            bad = z.abs() > truncation
            if not bool(bad.any()):
                break
            z[bad] = torch.randn(int(bad.sum()), generator=generator)
        z = z.clamp(-truncation, truncation)
    return z.to(device)


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float = 0.999) -> None:
    """ema <- decay * ema + (1 - decay) * model, parameter by parameter; buffers are copied."""
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm.detach(), 1.0 - decay)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)


# ----------------------------------------------------------------------------- the model

class TextToImageGAN(nn.Module):
    """The text-to-image GAN as one object, as :class:`~textgen.vae.modeling.SentenceVAE` is for sentences.

    It owns the generator G, its EMA copy (what sampling uses), the discriminator D and cVAE-GAN's posterior
    encoder E when built for training (``discriminator=True``, ``posterior_encoder=True``), and the frozen text
    encoder that turns captions into the (B, text_dim) embeddings they read. The text encoder is held beside the
    networks, not among them: it is frozen, moves with :meth:`to`, and is saved as a folder of its own.

    A model folder (:meth:`save_pretrained`, written atomically)::

        config.json          format, model_type "text-to-image-gan", the GANConfig and the text-encoder kind
        model.safetensors    generator.* (the trained G) and generator_ema.* (the EMA copy)
        text_encoder/        the text encoder with its tokenizer (a CaptionEncoder or sentence-VAE folder, or a
                             copy of a local Hugging Face model directory)

    D and E are training state: the trainer keeps them in ``last/training_state/``, not in the model folder.
    """

    model_type = "text-to-image-gan"

    def __init__(self, config: GANConfig, text_encoder=None, text_encoder_kind: str = "caption", *,
                 discriminator: bool = False, posterior_encoder: bool = False):
        super().__init__()
        if text_encoder_kind not in text_encoders.TEXT_ENCODER_KINDS:
            raise ValueError(f"text_encoder_kind must be one of {', '.join(text_encoders.TEXT_ENCODER_KINDS)}, "
                             f"got {text_encoder_kind!r}")
        self.config = config
        self.generator = Generator(config)
        self.generator_ema = Generator(config).eval().requires_grad_(False)
        self.generator_ema.load_state_dict(self.generator.state_dict())
        self.discriminator = Discriminator(config) if discriminator else None
        self.posterior_encoder = PosteriorEncoder(config) if posterior_encoder else None
        self.__dict__["text_encoder"] = text_encoder          # beside the networks: not in state_dict or train()
        self.text_encoder_kind = text_encoder_kind

    @property
    def device(self) -> torch.device:
        return self.generator.fc.weight.device

    def to(self, *args, **kwargs):
        super().to(*args, **kwargs)
        if isinstance(self.text_encoder, nn.Module):
            self.text_encoder.to(self.device)
        return self

    # -------------------------------------------------------------- inference

    @torch.no_grad()
    def embed(self, captions) -> Tensor:
        """Caption embeddings (B, text_dim) from the frozen text encoder, on the model's device."""
        if self.text_encoder is None:
            raise ValueError("this GAN was loaded without its text encoder (load_text_encoder=False); reload it to "
                             "read captions")
        return self.text_encoder.encode(list(captions)).float().to(self.device)

    @torch.no_grad()
    def generate(self, z: Tensor, e: Tensor) -> Tensor:
        """Images (B, 3, S, S) in [-1, 1] from noise (B, noise_dim) and caption embeddings (B, text_dim), by the
        EMA generator."""
        return self.generator_ema(z, e)

    # -------------------------------------------------------------- the folder

    def save_pretrained(self, directory: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Path:
        """Write G, EMA-G and the text encoder; ``dtype=torch.float16`` halves the weights (cast back on load)."""
        if self.text_encoder is None:
            raise ValueError("save_pretrained: this GAN has no text encoder to save with it (it was loaded with "
                             "load_text_encoder=False); load it with its text encoder first")
        state = {**{f"generator.{k}": v for k, v in self.generator.state_dict().items()},
                 **{f"generator_ema.{k}": v for k, v in self.generator_ema.state_dict().items()}}
        return write_model_folder(
            directory, model_type=self.model_type,
            config={"gan": config_to_dict(self.config), "text_encoder": {"kind": self.text_encoder_kind}},
            state_dict=state, dtype=dtype,
            extra_files=lambda tmp: text_encoders.save_text_encoder(self.text_encoder, self.text_encoder_kind,
                                                                    tmp / "text_encoder"))

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, device: str | torch.device = "cpu",
                        load_text_encoder: bool = True) -> "TextToImageGAN":
        """Rebuild the model from a folder written by :meth:`save_pretrained` (or a shipped short name), checking
        that the config, the weights and the text encoder belong together."""
        path = resolve_model_path(name_or_path)
        raw, state, _ = read_model_folder(path, model_type=cls.model_type)
        try:
            config = config_from_dict(GANConfig, raw.get("gan", {}))
        except ConfigError as e:
            raise CheckpointError(f"{path / 'config.json'} does not describe a valid GAN: {e}") from None
        spec = raw.get("text_encoder") or {}
        kind = spec.get("kind", "caption") if isinstance(spec, dict) else None
        if kind not in text_encoders.TEXT_ENCODER_KINDS:
            raise CheckpointError(f"{path / 'config.json'}: text_encoder.kind is {json.dumps(kind)}, not one of "
                                  f"{', '.join(text_encoders.TEXT_ENCODER_KINDS)}; restore the file or re-save the model")
        weights = path / "model.safetensors"
        extra = sorted(k for k in state if not k.startswith(("generator.", "generator_ema.")))
        if extra:
            raise CheckpointError(f"{weights} holds tensors a GAN folder does not have ({', '.join(extra[:3])}); "
                                  "it mixes files of different models: re-save the model from its training run")
        g = {k[len("generator."):]: v.float() for k, v in state.items() if k.startswith("generator.")}
        ema = {k[len("generator_ema."):]: v.float() for k, v in state.items() if k.startswith("generator_ema.")}
        odd = next((k for k in sorted(set(g) | set(ema)) if k not in g or k not in ema or g[k].shape != ema[k].shape),
                   None)
        if odd is not None:
            raise CheckpointError(f"{weights}: the generator and its EMA copy differ at {odd!r} (missing, or of "
                                  "another shape); the file is damaged: restore it from a good checkpoint")
        held = sum(v.numel() for v in g.values())
        if config.approx_parameters() > 20 * held + 10_000_000:
            raise CheckpointError(f"{path / 'config.json'} describes a GAN of up to "
                                  f"{describe_count(config.approx_parameters())} parameters, but its generator holds "
                                  f"{held:,}; the config does not belong to these weights (restore the folder's own "
                                  "config.json)")
        text_encoder = None
        if load_text_encoder:
            if not (path / "text_encoder").is_dir():
                raise CheckpointError(f"{path} has no text_encoder/ folder; the GAN cannot read captions without it. "
                                      "Re-save the model from its training run")
            text_encoder = text_encoders.load_text_encoder(path / "text_encoder", kind, device)
        model = cls(config, text_encoder, kind)
        model.load_generators(g, ema, weights)
        return model.to(device).eval()

    def load_generators(self, generator: dict[str, Tensor], generator_ema: dict[str, Tensor], source: Path) -> None:
        """Load G and EMA-G from state dicts read from ``source`` (named in the error when they do not fit)."""
        load_weights(self.generator, generator, source)
        load_weights(self.generator_ema, generator_ema, source)
