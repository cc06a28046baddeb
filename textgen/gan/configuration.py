"""Every configuration of the text-to-image GAN family, torch-free: the networks (:class:`GANConfig`) and a
training run (:class:`GANRunConfig` = model + text encoder + data + train + optim + runtime, one YAML file of
``configs/gan/``)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Optional

from textgen.core.config import RuntimeConfig, check, check_out_dir

__all__ = ["GANConfig", "TextEncoderSpec", "GANDataConfig", "GANTrainConfig", "GANOptimConfig", "GANRunConfig",
           "DEFAULT_SAMPLE_CAPTIONS", "CHECKPOINTS_DIR"]

CHECKPOINTS_DIR = "checkpoints"   # in a run folder: the models kept every train.keep_every steps (step_XXXXXX/)

DEFAULT_SAMPLE_CAPTIONS = [
    "a red bird with black wings",
    "this small bird has a blue crown and a white belly",
    "a yellow bird with a short black bill",
    "this bird is mostly green with an orange breast",
]


# ----------------------------------------------------------------------------- the networks

@dataclass
class GANConfig:
    """Every hyper-parameter of the generator and the discriminator."""

    image_size: int = 64              # 32, 64, 128 or 256
    noise_dim: int = 100
    text_dim: int = 256               # size of the sentence embeddings the text encoder gives
    cond_dim: int = 128               # what G and D see of the text (after projection or CA)
    g_channels: int = 32              # G width: 8 * g_channels at 4x4, halving towards the output
    d_channels: int = 32              # D width: d_channels at full size, doubling towards 4x4
    cond_aug: bool = False            # StackGAN conditioning augmentation (adds a KL term to G's loss)
    loss: Literal["reed", "dfgan"] = "dfgan"
    # resampling: "nearest" / "strided" are DF-GAN's; "bilinear" / "blur" are anti-aliased (see modeling.py).
    # The defaults stay DF-GAN's so that folders saved before these keys existed load as they were trained.
    upsample: Literal["nearest", "bilinear"] = "nearest"      # G: how each block doubles the size
    downsample: Literal["strided", "blur"] = "strided"        # D (and E): how each block halves it

    def validate(self) -> None:
        check(self.image_size in (32, 64, 128, 256), "image_size", f"must be 32, 64, 128 or 256, got {self.image_size}")
        check(self.upsample in ("nearest", "bilinear"), "upsample", f"must be 'nearest' or 'bilinear', got {self.upsample!r}")
        check(self.downsample in ("strided", "blur"), "downsample", f"must be 'strided' or 'blur', got {self.downsample!r}")
        for key in ("noise_dim", "text_dim", "cond_dim", "g_channels", "d_channels"):
            value = getattr(self, key)
            check(value >= 1, key, f"must be >= 1, got {value}")

    def approx_parameters(self) -> int:
        """An upper bound of G's and D's parameters for these sizes (every block counted at the widest channels):
        enough to refuse a typo such as g_channels=1e6 before anything is allocated."""
        g, d, blocks = 8 * self.g_channels, 8 * self.d_channels, max(self.num_blocks, 1)
        gen = (self.noise_dim + self.cond_dim) * 16 * g + blocks * (18 * g * g + 4 * self.cond_dim * g)
        disc = blocks * 18 * d * d + 16 * d * (self.cond_dim + 1) + self.text_dim * self.cond_dim * 2
        return gen + disc

    @property
    def num_blocks(self) -> int:
        """Up-sampling blocks of G (and down-sampling blocks of D): from 4x4 to image_size."""
        return int(math.log2(self.image_size // 4))


# ----------------------------------------------------------------------------- a training run

@dataclass
class TextEncoderSpec:
    kind: Literal["caption", "vae", "hf"] = "caption"
    path: Optional[str] = None              # a trained encoder folder; caption kind: None = train one first
    dim: int = 256                          # caption kind, when trained here
    vocab_min_freq: int = 2                 # caption kind: word tokenizer over the training captions
    pretrain_steps: int = 1500              # caption kind: InfoNCE steps when trained here
    pretrain_lr: float = 2e-3
    pretrain_recon: float = 0.0             # caption kind: weight of the caption reconstruction term (keeps small parts)
    image_pool: Literal["mean", "flatten"] = "mean"   # caption kind: the image encoder's 4x4 map averaged or kept whole
    image_channels: int = 32                # caption kind: width of the image encoder's first conv
    image_depth: int = 1                    # caption kind: convs per resolution in the image encoder (1 = strided only)
    image_downsample: Literal["strided", "blur"] = "strided"   # caption kind: the image encoder's halving (modeling.py)
    tokenizer: Literal["word", "unigram", "bpe"] = "word"      # caption kind: word vocabulary, or subword pieces
    vocab_size: int = 2000                  # caption kind, subword tokenizers: pieces, the 4 special tokens included
    typo_rate: float = 0.0                  # caption kind: share of long words misspelt in contrastive training

    def validate(self) -> None:
        check(self.kind == "caption" or self.path is not None, "path", f"a {self.kind!r} text encoder needs a path")
        check(self.pretrain_steps >= 0, "pretrain_steps", f"must be >= 0, got {self.pretrain_steps}")
        check(self.pretrain_recon >= 0, "pretrain_recon", f"must be >= 0, got {self.pretrain_recon}")
        check(self.image_channels >= 1, "image_channels", f"must be >= 1, got {self.image_channels}")
        check(self.image_depth >= 1, "image_depth", f"must be >= 1, got {self.image_depth}")
        check(self.vocab_size >= 5, "vocab_size", f"must be >= 5 (4 special tokens and a piece), got {self.vocab_size}")
        check(0 <= self.typo_rate < 1, "typo_rate", f"must be in [0, 1), got {self.typo_rate}")

    def approx_parameters(self) -> int:
        """The caption encoder's embedding table and recurrent layers trained here (0 for a given encoder)."""
        if self.kind != "caption" or self.path is not None:
            return 0
        return (self.vocab_size + 8 * self.dim) * self.dim


@dataclass
class GANDataConfig:
    format: Literal["imagefolder", "cub"] = "imagefolder"
    path: str = "data/birds64"              # an imagefolder with metadata.jsonl captions, or the CUB root
    flip: bool = False                      # random horizontal flips (random crops happen when images are larger)
    make_birds: Optional[int] = None        # render this many synthetic birds into ``path`` if it is missing
    captions_from: Optional[str] = None     # ... with real CUB captions from this file (make_birds: at most that many)
    captions_classes: Literal["all", "train", "heldout"] = "all"   # ... of these CUB classes (birds.CUB_HELDOUT_CLASSES)
    grammar_birds: int = 0                  # ... followed by this many birds with grammar captions
    limit: Optional[int] = None
    batch_size: int = 32
    max_bad_images: int = 10

    def validate(self) -> None:
        check(self.batch_size >= 2, "batch_size", f"must be >= 2 (wrong captions come from other images), got {self.batch_size}")


@dataclass
class GANTrainConfig:
    steps: int = 10000                      # the step the run stops at, counted from the recipe's start (also when
                                            # resumed or started from init_from at step k: then it trains steps - k)
    log_every: int = 50
    sample_every: int = 500
    save_every: int = 1000
    keep_every: int = 0                     # also keep the model (no training state) in checkpoints/step_XXXXXX (0: off)
    ema_decay: float = 0.999
    ma_gp_k: float = 2.0                    # DF-GAN: k * ||grad||^p
    ma_gp_p: float = 6.0
    gan_int: float = 1.0                    # reed: weight of the GAN-INT term (0 disables)
    ca_kl: float = 1.0                      # weight of the conditioning-augmentation KL term
    damsm: float = 0.0                      # weight of AttnGAN's sentence-level DAMSM loss on G (0 = off; caption kind)
    damsm_edited: bool = False              # DAMSM: each fake must also rank its caption above that caption with one
                                            # attribute word changed, not only above the batch's other captions
    recon: float = 0.0                      # cVAE-GAN (BicycleGAN's lambda_image, 10 there; 0 = off): G rebuilds each
                                            # real image from its caption and the noise a posterior encoder E reads from it
    recon_kl: float = 0.01                  # BicycleGAN's lambda_KL on KL(q(z | x) || N(0, I)) in nats per image
    latent: float = 0.0                     # BicycleGAN's lambda_latent (0.5 there; needs recon > 0): E must read each
                                            # prior fake's noise back (cLR-GAN), so G draws what E's region of z means
    sample_captions: list[str] = field(default_factory=lambda: list(DEFAULT_SAMPLE_CAPTIONS))
    samples_per_caption: int = 6
    init_from: Optional[str] = None         # continue a staged run from a candidate folder (scripts/candidate.py) or a
                                            # run's last/: G, EMA-G, D and E, and the step (steps: where it stops)

    def validate(self) -> None:
        check(self.steps >= 1, "steps", f"must be >= 1, got {self.steps}")
        check(0 <= self.ema_decay < 1, "ema_decay", f"must be in [0, 1), got {self.ema_decay}")
        check(self.damsm >= 0, "damsm", f"must be >= 0, got {self.damsm}")
        check(self.recon >= 0, "recon", f"must be >= 0 (0 turns it off), got {self.recon}")
        check(self.recon_kl >= 0, "recon_kl", f"must be >= 0, got {self.recon_kl}")
        check(self.latent >= 0, "latent", f"must be >= 0, got {self.latent}")
        check(self.latent == 0 or self.recon > 0, "latent",
              "reads the noise back with the posterior encoder, which only train.recon > 0 trains; set train.recon=10")
        check(self.keep_every >= 0, "keep_every", f"must be >= 0 (0 keeps only last/), got {self.keep_every}")
        check(not self.damsm_edited or self.damsm > 0, "damsm_edited",
              "adds negatives to the DAMSM loss, which is off; set train.damsm > 0 (the shipped configs use 2)")
        for key in ("log_every", "sample_every", "save_every", "samples_per_caption"):
            check(getattr(self, key) >= 1, key, f"must be >= 1, got {getattr(self, key)}")


@dataclass
class GANOptimConfig:
    g_lr: float = 1e-4
    d_lr: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.9)

    def validate(self) -> None:
        check(self.g_lr > 0 and self.d_lr > 0, "g_lr", "learning rates must be > 0")


@dataclass
class GANRunConfig:
    """``textgen train-gan``: everything one training run needs (see ``configs/gan/``)."""

    model: GANConfig = field(default_factory=GANConfig)
    text_encoder: TextEncoderSpec = field(default_factory=TextEncoderSpec)
    data: GANDataConfig = field(default_factory=GANDataConfig)
    train: GANTrainConfig = field(default_factory=GANTrainConfig)
    optim: GANOptimConfig = field(default_factory=GANOptimConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    out_dir: str = "runs/gan"

    def validate(self) -> None:
        check_out_dir(self.out_dir)
        n = self.model.approx_parameters() + self.text_encoder.approx_parameters()
        check(n <= self.runtime.max_parameters, "model",
              f"these sizes give up to about {n:,.0f} parameters ({4 * n / 2**30:,.1f} GiB in fp32), more than "
              f"runtime.max_parameters={self.runtime.max_parameters:,}; check the sizes (a typo such as "
              "noise_dim=1e9?), or raise runtime.max_parameters if you mean it")
