"""Every configuration of the sentence-VAE family, torch-free: the model (:class:`SentenceVAEConfig`) and a
training run (:class:`VAERunConfig` = model + tokenizer + data + train + optim + runtime, one YAML file of
``configs/vae/``). The KL schedule's section lives with the schedules (:mod:`textgen.vae.schedules`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Optional

from textgen.core.config import DataConfig, RuntimeConfig, TokenizerConfig, check, check_out_dir
from textgen.vae.schedules import KLScheduleConfig

__all__ = ["ConditionConfig", "SentenceVAEConfig", "OptimConfig", "TrainConfig", "VAERunConfig"]


# ----------------------------------------------------------------------------- the model

Arch = Literal["lstm", "gru", "transformer"]
# the label guidance weight of transfer and sample (SentenceVAE.generate) for a conditional VAE whose folder does
# not name its own (condition.guidance): on 150 held-out valid sentences w = 2 took the first en-sentiment-cvae's
# transfer accuracy from 48% to 66% for 1.3 BLEU (docs/experiments/cvae_guidance.md)
LABEL_GUIDANCE = 2.0
MAX_PRIOR_COMPONENTS = 1024


# ----------------------------------------------------------------------------- config

@dataclass
class ConditionConfig:
    """A categorical label the conditional VAE (Sohn et al. 2015) reads beside z: its corpus ``column`` and its
    vocabulary ``labels``, embedded in ``size`` dimensions and fed to the encoder (q(z | x, y)) and to the
    decoder (p(x | z, y), wherever z goes: the initial state and, with ``z_concat_input``, every step)."""

    labels: list[str] = field(default_factory=list)
    column: str = "label"
    size: int = 16
    # the label guidance weight transfer and sample decode with by default (None: LABEL_GUIDANCE); a decoding
    # setting kept with the model because each model needs its own (chosen on valid, docs/experiments/cvae_guidance.md)
    guidance: Optional[float] = None

    def validate(self) -> None:
        check(len(self.labels) >= 2, "condition.labels", f"needs at least two labels, got {self.labels!r}")
        check(all(isinstance(x, str) and x.strip() for x in self.labels), "condition.labels",
              f"must be non-empty strings, got {self.labels!r}")
        check(len(set(self.labels)) == len(self.labels), "condition.labels", f"must be distinct, got {self.labels!r}")
        check(self.size >= 1, "condition.size", f"must be >= 1, got {self.size}")
        check(bool(self.column.strip()), "condition.column", "must name the corpus column holding the label")
        check(self.guidance is None or (isinstance(self.guidance, (int, float)) and 0 <= self.guidance <= 20),
              "condition.guidance", f"must be a number in [0, 20] (0: no label guidance) or null, got {self.guidance!r}")


@dataclass
class SentenceVAEConfig:
    """Every hyper-parameter of a :class:`SentenceVAE` (``dataclasses.asdict`` round-trips through ``__init__``).

    Defaults are a modern-size LSTM VAE; Bowman et al. (2016) used embed 353, hidden 191, latent 13.
    """

    vocab_size: int = 10000
    pad_id: int = 0
    unk_id: int = 1
    bos_id: int = 2
    eos_id: int = 3
    mode: Literal["vae", "ae", "lm"] = "vae"

    # sizes
    embed_size: int = 256
    hidden_size: int = 512        # RNN state size, or d_model of the Transformers
    latent_size: int = 32
    max_length: int = 256         # positions of the Transformers (tokens incl. <eos>); unused by RNNs

    # encoder q(z|x)
    encoder: Arch = "lstm"
    encoder_layers: int = 1
    encoder_hidden_size: Optional[int] = None  # RNN encoder's state size per direction (default: hidden_size)
    bidirectional: bool = False   # RNN encoder only
    pooling: Literal["mean", "cls"] = "mean"  # Transformer encoder only

    # decoder p(x|z)
    decoder: Arch = "lstm"
    decoder_layers: int = 1
    z_init_state: bool = True     # RNN: z -> Linear -> initial (h, c) of every layer
    z_init_activation: Literal["tanh", "none"] = "tanh"  # squashes the initial h (c stays linear)
    z_concat_input: bool = False  # RNN: z concatenated to the input embedding at every step
    z_mode: Literal["memory", "prefix", "both"] = "memory"  # Transformer: cross-attended slots / prefix token
    z_memory_slots: int = 1       # Transformer, z_mode memory|both: number of z-vectors to attend to
    z_add_embeddings: bool = False  # Transformer: Linear(z) added to every input embedding

    # Transformer blocks
    num_heads: int = 4
    ff_size: int = 1024
    positional: Literal["learned", "sinusoidal"] = "learned"

    # regularisation
    dropout: float = 0.0          # between RNN layers, before the output projection, inside Transformer blocks
    embed_dropout: float = 0.0    # on input embeddings
    word_dropout: float = 0.0     # Bowman et al.: decoder inputs -> <unk> with this probability (1.0: inputless)

    # embeddings
    share_embeddings: bool = True   # one embedding table for the encoder and the decoder
    tie_embeddings: bool = False    # decoder output projection = decoder input embedding

    # conditional VAE: a label beside z (None: unconditional)
    condition: Optional[ConditionConfig] = None

    # the sampling prior: 0 draws z ~ N(0, I); K >= 1 a K-component Gaussian mixture fitted to the aggregate
    # posterior after training (textgen.vae.latent_prior; `textgen fit-prior`). Training and the metrics use N(0, I).
    latent_prior_components: int = 0
    # the spread of the sampling prior that `sample` uses by default: codes are drawn at this temperature (each
    # component's spread, or N(0, I)'s, scaled by it; reduced-temperature sampling, Kingma & Dhariwal 2018, Glow).
    # Chosen on valid with `fit-prior --temperature`; the shipped en-lstm-vae's is in its folder's config.json
    latent_prior_temperature: float = 1.0

    def approx_parameters(self) -> int:
        """The parameter count these sizes give, to within a few percent (embeddings, RNN or Transformer
        layers, the posterior and z projections, the output layer): enough to refuse a typo before allocating."""
        V, E, H, Z = self.vocab_size, self.embed_size, self.hidden_size, self.latent_size
        gates = {"lstm": 4, "gru": 3}

        def rnn(arch: str, inp: int, hid: int, layers: int, dirs: int) -> int:
            g = gates.get(arch, 4)
            return g * hid * dirs * ((inp + hid) + (layers - 1) * (hid * dirs + hid))

        def transformer(layers: int, cross: bool) -> int:
            return layers * ((8 if cross else 4) * H * H + 2 * H * self.ff_size)

        n = V * E * (1 if self.share_embeddings else 2)
        if self.mode != "lm":
            He = self.encoder_hidden_size or H
            dirs = 2 if self.bidirectional else 1
            enc = transformer(self.encoder_layers, False) if self.encoder == "transformer" else \
                rnn(self.encoder, E, He, self.encoder_layers, dirs)
            n += enc + 2 * (H if self.encoder == "transformer" else He * dirs) * Z
        if self.decoder == "transformer":
            n += transformer(self.decoder_layers, True) + Z * H * (self.z_memory_slots + 1)
        else:
            n += rnn(self.decoder, E + (Z if self.z_concat_input else 0), H, self.decoder_layers, 1)
            n += 2 * Z * H * self.decoder_layers
        if not self.tie_embeddings:
            n += H * V
        n += self.latent_prior_components * (1 + Z + Z * Z)
        return int(n)

    def validate(self) -> None:
        check(self.vocab_size >= 5, "vocab_size", f"must be >= 5 (4 special tokens + words), got {self.vocab_size}")
        specials = {"pad_id": self.pad_id, "unk_id": self.unk_id, "bos_id": self.bos_id, "eos_id": self.eos_id}
        for key, value in specials.items():
            check(0 <= value < self.vocab_size, key, f"must be in [0, vocab_size={self.vocab_size}), got {value}")
        check(len(set(specials.values())) == 4, "pad_id", f"special token ids must be distinct, got {specials}")
        for key in ("embed_size", "hidden_size", "latent_size", "max_length", "encoder_layers", "decoder_layers",
                    "num_heads", "ff_size", "z_memory_slots"):
            value = getattr(self, key)
            check(value >= 1, key, f"must be >= 1, got {value}")
        check(self.encoder_hidden_size is None or self.encoder_hidden_size >= 1, "encoder_hidden_size",
              f"must be >= 1 or null, got {self.encoder_hidden_size}")
        for key in ("dropout", "embed_dropout"):
            value = getattr(self, key)
            check(0.0 <= value < 1.0, key, f"must be in [0, 1), got {value}")
        check(0.0 <= self.word_dropout <= 1.0, "word_dropout", f"must be in [0, 1], got {self.word_dropout}")
        uses_transformer = self.decoder == "transformer" or (self.mode != "lm" and self.encoder == "transformer")
        if uses_transformer:
            check(self.hidden_size % self.num_heads == 0, "hidden_size",
                  f"must be divisible by num_heads={self.num_heads} for a Transformer, got {self.hidden_size}")
        if self.positional == "sinusoidal" and uses_transformer:
            check(self.hidden_size % 2 == 0, "hidden_size", f"must be even for sinusoidal positions, got {self.hidden_size}")
        check(0 <= self.latent_prior_components <= MAX_PRIOR_COMPONENTS, "latent_prior_components",
              f"must be in [0, {MAX_PRIOR_COMPONENTS}] (0: N(0, I)), got {self.latent_prior_components}")
        check(0 < self.latent_prior_temperature <= 10 and math.isfinite(self.latent_prior_temperature),
              "latent_prior_temperature", f"must be in (0, 10] (1: the prior as fitted), got {self.latent_prior_temperature}")
        check(self.latent_prior_components == 0 or self.mode == "vae", "latent_prior_components",
              f"a sampling prior needs mode='vae' (got {self.mode!r}); set it to 0")
        if self.condition is not None:
            self.condition.validate()
            check(self.mode == "vae", "condition", f"a label needs mode='vae' (got {self.mode!r})")
        if self.mode != "lm":
            check(not (self.bidirectional and self.encoder == "transformer"), "bidirectional",
                  "applies to RNN encoders only (a Transformer encoder already sees both sides); set it to false")
            if self.decoder != "transformer":
                check(self.z_init_state or self.z_concat_input, "z_init_state",
                      "the RNN decoder would ignore z: enable z_init_state and/or z_concat_input (or use mode=lm)")


# ----------------------------------------------------------------------------- a training run

@dataclass
class OptimConfig:
    optimizer: Literal["adamw", "adam", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.0                      # SGD only
    grad_clip: Optional[float] = 5.0           # max global grad norm; null disables clipping
    lr_schedule: Literal["constant", "cosine", "plateau"] = "constant"
    warmup_steps: int = 0
    min_lr: float = 0.0                        # floor for cosine and plateau
    plateau_factor: float = 0.5                # plateau: lr *= factor when valid -ELBO stops improving
    plateau_patience: int = 1                  # plateau: epochs without improvement before decaying

    def validate(self) -> None:
        check(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        check(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        check(all(0 <= b < 1 for b in self.betas), "betas", f"must lie in [0, 1), got {self.betas}")
        check(self.grad_clip is None or self.grad_clip > 0, "grad_clip", f"must be > 0 or null, got {self.grad_clip}")
        check(self.warmup_steps >= 0, "warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        check(0 < self.plateau_factor < 1, "plateau_factor", f"must lie in (0, 1), got {self.plateau_factor}")
        check(self.min_lr >= 0, "min_lr", f"must be >= 0, got {self.min_lr}")


@dataclass
class TrainConfig:
    epochs: int = 10
    max_steps: Optional[int] = None            # stop early after this many optimizer steps
    kl: KLScheduleConfig = field(default_factory=KLScheduleConfig)
    free_bits: float = 0.0                     # nats per latent dimension (0 = off)
    free_bits_mode: Literal["per_dim", "total"] = "per_dim"
    log_every: int = 50                        # steps between metrics rows
    save_every: Optional[int] = None           # steps between mid-epoch saves of last/ (epoch ends always save)
    eval_batch_size: int = 128
    early_stop_patience: Optional[int] = None  # epochs without a better valid bound (-ELBO; IW-NLL for IWAE) before stopping
    init_from: Optional[str] = None            # a model folder (e.g. the LM's best/) to start from; its tokenizer is used
    init_parts: Literal["all", "encoder"] = "all"  # encoder: copy q(z|x) only, fresh decoder (Li et al. 2019)
    freeze_decoder: bool = False               # train the encoder only: p(x, z) stays fixed, q(z|x) tightens
    iw_samples: int = 1                        # K > 1: train on the importance-weighted bound (IWAE) with K samples
    grad_accum: int = 1                        # micro-batches per optimizer step: data.batch_size is the whole step's

    def validate(self) -> None:
        check(self.epochs >= 1, "epochs", f"must be >= 1, got {self.epochs}")
        check(self.grad_accum >= 1, "grad_accum", f"must be >= 1, got {self.grad_accum}")
        check(self.max_steps is None or self.max_steps >= 1, "max_steps", f"must be >= 1 or null, got {self.max_steps}")
        check(self.free_bits >= 0, "free_bits", f"must be >= 0, got {self.free_bits}")
        check(self.log_every >= 1, "log_every", f"must be >= 1, got {self.log_every}")
        check(self.save_every is None or self.save_every >= 1, "save_every", f"must be >= 1 or null, got {self.save_every}")
        check(self.eval_batch_size >= 1, "eval_batch_size", f"must be >= 1, got {self.eval_batch_size}")
        check(self.iw_samples >= 1, "iw_samples", f"must be >= 1, got {self.iw_samples}")
        check(self.iw_samples == 1 or (self.kl.kind == "constant" and self.kl.value == 1.0), "iw_samples",
              "the importance-weighted bound has no KL term to weight: use kl: {kind: constant, value: 1.0} "
              "(free_bits still sets a floor on the KL)")
        check(not (self.freeze_decoder and self.iw_samples > 1), "iw_samples",
              "freeze_decoder fits q(z|x) to a fixed decoder by the true ELBO; the IW bound's encoder gradient "
              "weakens as K grows (Rainforth et al. 2018). Use iw_samples=1 with freeze_decoder")
        check(not self.freeze_decoder or bool(self.init_from), "freeze_decoder",
              "trains the encoder against a fixed decoder, which must come from a trained model: set train.init_from")
        check(not (self.freeze_decoder and self.init_parts == "encoder"), "freeze_decoder",
              "would freeze a freshly initialised decoder (init_parts=encoder copies the encoder only); "
              "set train.init_parts=all")
        check(self.init_parts == "all" or bool(self.init_from), "init_parts",
              f"{self.init_parts!r} says which parts of train.init_from to copy; set train.init_from")


@dataclass
class VAERunConfig:
    """``textgen train-vae``: everything one training run needs (see ``configs/vae/``)."""

    model: SentenceVAEConfig = field(default_factory=SentenceVAEConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    out_dir: str = "runs/vae"

    def validate(self) -> None:
        check_out_dir(self.out_dir)
        check(self.model.latent_prior_components == 0, "model.latent_prior_components",
              "the sampling prior is fitted after training, not trained: leave it at 0 here and run "
              "`textgen fit-prior --model RUN/best --data TRAIN.jsonl` on the result")
        n = self.model.approx_parameters()
        check(n <= self.runtime.max_parameters, "model",
              f"these sizes give about {n:,.0f} parameters ({4 * n / 2**30:,.1f} GiB in fp32), more than "
              f"runtime.max_parameters={self.runtime.max_parameters:,}; check the sizes (a typo such as "
              "latent_size=1e9?), or raise runtime.max_parameters if you mean it")
