"""Training the text-to-image GAN: ``textgen train-gan --config configs/gan/birds32_cpu.yaml [key=value ...]``.

One explicit trainer class, read top to bottom:

    GANTrainer(cfg).fit()
      setup:   data (an imagefolder; rendered first when ``data.make_birds`` asks) -> text encoder (loaded, or
               trained contrastively first) -> every caption embedded ONCE with the frozen encoder ->
               G, EMA-G, D -> optimizers (G 1e-4, D 4e-4, betas (0, 0.9)) and GradScalers
      loop:    ``gan_step``: one D update, one G update, the EMA (the losses in :mod:`textgen.gan.losses`)
      every N: a sample grid from fixed captions and fixed noise, checkpoints (atomic), metrics rows

Run folder::

    out_dir/config.yaml, metrics.{jsonl,csv}, samples/step_XXXXXX.png
    out_dir/text_encoder/          the frozen caption encoder (+ tokenizer)
    out_dir/last/                  model folder (G, EMA-G, the text encoder) + training_state/ (D, optimizers, RNG)
    out_dir/checkpoints/step_XXXXXX/   model folders every ``train.keep_every`` steps (eval-gan's training curves)

Training in stages (a recipe longer than a session; docs/gan.md): ``train.init_from`` continues from a stage folder
that :func:`save_stage_folder` wrote (``scripts/candidate.py save``): G, EMA-G, D and E, and the step counter.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch

from textgen.core.logs import get_logger
from textgen.birds.captions import edit_caption
from textgen.birds.dataset import make_birds_dataset
from textgen.core.checkpoint import TRAINING_STATE_DIR, CheckpointError, load_weights
from textgen.core.config import config_to_dict, save_config
from textgen.core.metrics_log import MetricsLogger
from textgen.core.runtime import (autocast, generator_state, make_grad_scaler, progress, resolve_device,
                                  resolve_precision, set_generator_state, set_seed)
from textgen.core.trainer import (Distributed, LogWindow, NullLogger, StopOnSignals, TrainingState, TrainingStopped,
                                  check_resumable_config, commit_checkpoint, diverged, micro_batches,
                                  claim_run_folder)
from textgen.data.cub import load_cub
from textgen.data.images import ImageCaptionData
from textgen.gan.configuration import CHECKPOINTS_DIR, GANRunConfig, GANTrainConfig
from textgen.core.pictures import captioned_grid, save_picture
from textgen.gan.losses import (d_loss_dfgan, d_loss_reed, g_loss_dfgan, g_loss_reed, info_nce, latent_regression_loss,
                                ma_gradient_penalty, reconstruction_loss)
from textgen.gan.modeling import TextToImageGAN, ema_update
from textgen.gan.text_encoder_training import IMAGE_ENCODER_DIR, save_caption_encoder, train_caption_encoder
from textgen.gan.text_encoders import CaptionEncoder, HFTextEncoder, ImageEncoder, VAETextEncoder

log = get_logger(__name__)

__all__ = ["GANTrainer", "GANOptimizers", "gan_step", "save_stage_folder"]


# ----------------------------------------------------------------------------- one optimisation step

@dataclass
class GANOptimizers:
    """What one step updates besides the networks: G's and D's optimizers (E's, for cVAE-GAN, steps with G's
    loss), and one gradient scaler per loss (fp16; disabled otherwise)."""

    g: torch.optim.Optimizer
    d: torch.optim.Optimizer
    scaler_g: Any
    scaler_d: Any
    e: Optional[torch.optim.Optimizer] = None

    @classmethod
    def create(cls, model: TextToImageGAN, optim, dtype: torch.dtype, device: torch.device) -> "GANOptimizers":
        """Adam for G and D (``optim.g_lr``, ``optim.d_lr``, ``optim.betas``); E, when the model has one, at G's rate."""
        E = model.posterior_encoder
        return cls(g=torch.optim.Adam(model.generator.parameters(), lr=optim.g_lr, betas=optim.betas),
                   d=torch.optim.Adam(model.discriminator.parameters(), lr=optim.d_lr, betas=optim.betas),
                   scaler_g=make_grad_scaler(dtype, device), scaler_d=make_grad_scaler(dtype, device),
                   e=torch.optim.Adam(E.parameters(), lr=optim.g_lr, betas=optim.betas) if E is not None else None)


def gan_step(model: TextToImageGAN, opt: GANOptimizers, real: torch.Tensor, e_right: torch.Tensor,
             e_wrong: torch.Tensor, t: GANTrainConfig, dtype: torch.dtype, *, e_edit: Optional[torch.Tensor] = None,
             z: Optional[torch.Tensor] = None, image_encoder: Optional[torch.nn.Module] = None,
             reduce_grads: Optional[Callable[[torch.nn.Module], None]] = None) -> dict[str, torch.Tensor]:
    """One D update and one G update, then the EMA, on a model built for training (its discriminator, and its
    posterior encoder when ``t.recon > 0``); ``image_encoder`` is the frozen image half of the caption encoder
    for ``t.damsm > 0``, ``reduce_grads`` averages a network's gradients over data-parallel ranks.

    D: real/right, real/wrong and fake/right, with GAN-CLS BCE (``reed``) or hinge + MA-GP (``dfgan``).
    G: fool D on the right captions, plus in turn GAN-INT (``reed``), the CA KL term, AttnGAN's sentence-level
    DAMSM (the fakes must pick out their own caption, and with ``e_edit`` (K, E) rank it above its one-word
    edits), and cVAE-GAN's reconstruction and cLR-GAN's latent regression (``t.recon``, ``t.latent``).
    Returns the step's statistics as tensors (no host sync).
    """
    G, D, E, model_cfg, device = model.generator, model.discriminator, model.posterior_encoder, model.config, real.device
    B = real.size(0)
    z = torch.randn(B, model_cfg.noise_dim, device=device) if z is None else z
    zero = real.new_zeros((), dtype=torch.float32)
    reduce = reduce_grads                          # data parallel: average the gradients over the ranks

    # discriminator
    with autocast(device, dtype):
        fake = G(z, e_right).detach()
        h_real = D.features(real)
        d_rr, d_rw = D.logit(h_real, e_right), D.logit(h_real, e_wrong)
        d_fr = D(fake, e_right)
        loss_fn = d_loss_reed if model_cfg.loss == "reed" else d_loss_dfgan
        d_loss = loss_fn(d_rr.float(), d_rw.float(), d_fr.float())
    gp = ma_gradient_penalty(D, real, e_right, t.ma_gp_k, t.ma_gp_p) if model_cfg.loss == "dfgan" else zero
    opt.d.zero_grad(set_to_none=True)
    opt.scaler_d.scale(d_loss + gp).backward()
    if reduce is not None:
        reduce(D)
    opt.scaler_d.step(opt.d)
    opt.scaler_d.update()

    # generator
    damsm = rec_l1 = rec_kl = latent = zero
    with autocast(device, dtype):
        fake, kl = G(z, e_right, return_kl=True)
        d_fake = D(fake, e_right).float()
        if model_cfg.loss == "reed":
            g_loss = g_loss_reed(d_fake)
            if t.gan_int > 0:                                              # GAN-INT: halfway between two captions
                e_int = 0.5 * (e_right + e_right.roll(1, 0))
                g_loss = g_loss + t.gan_int * g_loss_reed(D(G(z, e_int), e_int).float())
        else:
            g_loss = g_loss_dfgan(d_fake)
        g_total = g_loss + t.ca_kl * kl.float()
        if t.damsm > 0:                                                    # DAMSM (AttnGAN, Eq. 10-11)
            damsm = info_nce(e_right.float(), image_encoder(fake.float()).float(),
                             extra_text=e_edit.float() if e_edit is not None else None)
            g_total = g_total + t.damsm * damsm
        if t.recon > 0:                                                    # cVAE-GAN on half the batch (BicycleGAN)
            h = max(1, B // 2)
            rec_l1, rec_kl, _ = reconstruction_loss(G, E, real[:h], e_right[:h])
            g_total = g_total + t.recon * rec_l1 + t.recon_kl * rec_kl
        if t.latent > 0:                                                   # cLR-GAN on the prior fakes
            latent = latent_regression_loss(E, fake, z)
            g_total = g_total + t.latent * latent
    g_opts = [opt.g] + ([opt.e] if t.recon > 0 else [])                # E steps with G, on G's loss
    for o in g_opts:
        o.zero_grad(set_to_none=True)
    opt.scaler_g.scale(g_total).backward()
    if reduce is not None:
        reduce(G)
        if t.recon > 0:
            reduce(E)
    for o in g_opts:
        opt.scaler_g.step(o)
    opt.scaler_g.update()
    ema_update(model.generator_ema, G, t.ema_decay)
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "gp": gp.detach(), "kl": kl.detach(),
            "damsm": damsm.detach(), "rec_l1": rec_l1.detach(), "rec_kl": rec_kl.detach(), "latent": latent.detach(),
            "d_real_right": d_rr.detach().float().mean(), "d_real_wrong": d_rw.detach().float().mean(),
            "d_fake": d_fr.detach().float().mean()}


# ----------------------------------------------------------------------------- trainer

class GANTrainer:
    def __init__(self, cfg: GANRunConfig, *, resume: bool = False, overwrite: bool = False):
        self.cfg = cfg
        if cfg.train.damsm > 0 and cfg.text_encoder.kind != "caption":
            raise ValueError(f"train.damsm needs the caption text encoder (it has an image half); text_encoder.kind is "
                             f"{cfg.text_encoder.kind!r}. Set train.damsm=0 or text_encoder.kind=caption")
        self.out_dir = Path(cfg.out_dir)
        self.dist = Distributed()                  # rank 0 of 1 without torchrun
        self.device = self.dist.setup(resolve_device(cfg.runtime.device))
        self.dtype = resolve_precision(cfg.runtime.precision, self.device)
        set_seed(cfg.runtime.seed)
        if cfg.data.batch_size < self.dist.world:
            raise ValueError(f"data.batch_size={cfg.data.batch_size} is the whole step's batch; it must be at least "
                             f"the {self.dist.world} processes")
        stage = None if resume else self._read_init_from()   # checked before --overwrite empties the run folder
        self._given_caption_encoder()                         # (and before the data is rendered)
        # the folder is this run's from here on: locked, refused if it holds a run we were not told to continue
        self.run_lock = (claim_run_folder(cfg.out_dir, resume=resume, overwrite=overwrite)
                         if self.dist.is_main else None)
        if resume and not (self.out_dir / "last" / TRAINING_STATE_DIR).is_dir() and not cfg.text_encoder.path:
            # killed before its first checkpoint: only the text-encoder stage was done, and it is redone from the
            # seed, so the run ends exactly as an uninterrupted one (its random draws are not skipped)
            if self.dist.is_main:
                log.warning(f"{self.out_dir} has no checkpoint yet (stopped during or right after the text-encoder "
                            "stage); starting it again from the beginning")
                shutil.rmtree(self.out_dir / "text_encoder", ignore_errors=True)
            resume = False
            stage = self._read_init_from()
        self.stop = StopOnSignals()      # SIGINT/SIGTERM: the loop saves last/ and stops at the next step boundary
        self.window = LogWindow()        # the step statistics since the last metrics row (saved with last/)

        # data: images (uint8, in memory) and their captions ---------------------------------
        data_dir = Path(cfg.data.path)
        if self.dist.is_main and not data_dir.exists() and cfg.data.make_birds:
            log.info(f"rendering {cfg.data.make_birds:,} synthetic birds into {data_dir} ...")
            make_birds_dataset(data_dir, n=cfg.data.make_birds, size=cfg.model.image_size, seed=cfg.runtime.seed,
                               captions_from=cfg.data.captions_from, classes=cfg.data.captions_classes,
                               grammar_birds=cfg.data.grammar_birds, show_progress=cfg.runtime.progress)
        self.dist.barrier()                        # the other ranks read what rank 0 rendered
        if cfg.data.format == "cub":
            self.data = load_cub(data_dir, "train", image_size=cfg.model.image_size, limit=cfg.data.limit,
                                 max_bad=cfg.data.max_bad_images)
        else:
            self.data = ImageCaptionData.load(data_dir, image_size=cfg.model.image_size, limit=cfg.data.limit,
                                              max_bad=cfg.data.max_bad_images)
        self.images = torch.from_numpy(self.data.images)                             # (N, 3, S, S) uint8

        # the frozen text encoder, and every caption embedded once -----------------------------
        self.text_encoder = self._text_encoder(resume)
        if stage is not None:
            self._check_stage_text_encoder(*stage)
        self.image_encoder = self._damsm_image_encoder()
        self.caption_emb, self.caption_owner = self._embed_captions()                # (M, E), (M,) image index
        self.captions_of = [np.flatnonzero(self.caption_owner == i) for i in range(len(self.data))]
        cfg.model.text_dim = int(self.caption_emb.size(1))

        # the model (G, EMA-G, D, and E for cVAE-GAN, beside the text encoder) and its optimisation ---------
        self.model = TextToImageGAN(cfg.model, self.text_encoder, cfg.text_encoder.kind, discriminator=True,
                                    posterior_encoder=cfg.train.recon > 0).to(self.device)
        if self.device.type == "cuda":
            for net in (self.model.generator, self.model.discriminator, self.model.posterior_encoder):
                if net is not None:
                    net.to(memory_format=torch.channels_last)
        self.opt = GANOptimizers.create(self.model, cfg.optim, self.dtype, self.device)
        self.step = self.init_step = 0                                       # init_step: where this stage began
        if stage is not None:
            self._warm_start(*stage)
        self.np_rng = np.random.default_rng(cfg.runtime.seed + self.step)            # batches: images, captions, crops
        gen = torch.Generator().manual_seed(cfg.runtime.seed + 1)
        self.sample_noise = torch.randn(cfg.train.samples_per_caption, cfg.model.noise_dim, generator=gen)
        self.sample_emb = self.text_encoder.encode(cfg.train.sample_captions).float().cpu()
        if resume:
            self._resume()

    # -- the text encoder ---------------------------------------------------------------------------
    def _given_caption_encoder(self) -> Optional[Path]:
        """The caption encoder folder this run is given: ``text_encoder.path``, else the one ``train.init_from`` was
        trained with; None when it trains one. A given folder is never retrained: a missing one is an error, not an
        hour of training an encoder that the next stage would not have."""
        spec, init = self.cfg.text_encoder, self.cfg.train.init_from
        if spec.kind != "caption":
            return None
        given = Path(spec.path) if spec.path else Path(init) / "text_encoder" if init else None
        if given is not None and not given.is_dir():
            raise FileNotFoundError(
                f"the caption encoder {given} does not exist; a run given one never trains one. Train it first "
                "with textgen train-text-encoder ... --out DIR (a staged run's stage 0 then saves DIR there with "
                "scripts/candidate.py save: docs/gan.md, Training in stages), or unset text_encoder.path (and "
                "train.init_from) to train one at the start of this run")
        return given

    def _text_encoder(self, resume: bool):
        """The frozen text encoder: the given one (:meth:`_given_caption_encoder`, or a VAE or Hugging Face folder),
        else a caption encoder trained here first, into ``out_dir/text_encoder``."""
        spec, local = self.cfg.text_encoder, self.out_dir / "text_encoder"
        if spec.kind == "vae":
            return VAETextEncoder(spec.path)
        if spec.kind == "hf":
            return HFTextEncoder(spec.path)
        given = self._given_caption_encoder()
        path = given or local
        fresh = given is None and not local.is_dir() and not resume
        enc = self._pretrain_caption_encoder(local) if fresh and self.dist.is_main else None
        self.dist.barrier()                        # under torchrun the other ranks read the one rank 0 trained
        if enc is None and path.is_dir():
            enc = CaptionEncoder.from_pretrained(path)
        elif enc is None:
            raise CheckpointError(f"cannot resume: the run's text encoder {local} is missing")
        self.dist.broadcast_rng(self.device)       # rank 0's RNG state everywhere: G and D start alike
        return enc.to(self.device).eval().requires_grad_(False)

    def _pretrain_caption_encoder(self, out: Path):
        """Contrastive (InfoNCE) pre-training of the caption encoder against a small image CNN."""
        spec, cfg = self.cfg.text_encoder, self.cfg
        text, image, report = train_caption_encoder(
            self.data, image_size=cfg.model.image_size, dim=spec.dim, vocab_min_freq=spec.vocab_min_freq,
            steps=spec.pretrain_steps, lr=spec.pretrain_lr, batch_size=min(cfg.data.batch_size * 2, len(self.data)),
            seed=cfg.runtime.seed, device=self.device, show_progress=cfg.runtime.progress,
            recon_weight=spec.pretrain_recon, image_pool=spec.image_pool,
            image_channels=spec.image_channels, image_depth=spec.image_depth, image_downsample=spec.image_downsample,
            tokenizer_kind=spec.tokenizer, vocab_size=spec.vocab_size, typo_rate=spec.typo_rate)
        log.info(f"text encoder: {report.summary()}")
        save_caption_encoder(text, report, out, image_encoder=image)
        return text

    def _damsm_image_encoder(self):
        """The frozen image half of the caption encoder, for ``train.damsm`` (None when the loss is off)."""
        if self.cfg.train.damsm <= 0:
            return None
        spec = self.cfg.text_encoder
        folder = Path(spec.path or self.out_dir / "text_encoder") / IMAGE_ENCODER_DIR
        if not folder.is_dir():
            raise CheckpointError(f"train.damsm needs {folder} (the image encoder trained with the caption encoder); "
                                  "retrain the encoder with `textgen train-text-encoder` or set train.damsm=0")
        enc = ImageEncoder.from_pretrained(folder, device=self.device).requires_grad_(False)
        if enc.config.image_size != self.cfg.model.image_size:
            raise ValueError(f"the image encoder in {folder} reads {enc.config.image_size} px images but the GAN makes "
                             f"{self.cfg.model.image_size} px; train the text encoder at --size {self.cfg.model.image_size}")
        return enc

    @torch.no_grad()
    def _embed_captions(self) -> tuple[torch.Tensor, np.ndarray]:
        texts, owner = [], []
        for i, caps in enumerate(self.data.captions):
            texts += caps
            owner += [i] * len(caps)
        self.caption_texts = texts                                                   # for train.damsm_edited
        out = [self.text_encoder.encode(texts[k:k + 512]).float().cpu() for k in range(0, len(texts), 512)]
        return torch.cat(out), np.asarray(owner)

    # -- a stage of a staged run (train.init_from) -------------------------------------------------
    def _read_init_from(self) -> Optional[tuple[Path, TextToImageGAN, TrainingState]]:
        """The stage folder of ``train.init_from`` (its model and its D/E state), checked against this config before
        any work; None without one. The weights fit one architecture: a mismatch is refused, naming key and fix."""
        init = self.cfg.train.init_from
        if not init:
            return None
        src = Path(init)
        if not src.is_dir():
            raise FileNotFoundError(f"train.init_from={init} does not exist; the first stage of a staged run starts "
                                    "without it (train.init_from=null), the next ones from the folder that "
                                    "`python scripts/candidate.py save RUN` wrote")
        if not (src / TRAINING_STATE_DIR / "state.json").is_file():
            raise CheckpointError(f"train.init_from={init} has no {TRAINING_STATE_DIR}/ with the discriminator: it "
                                  "is a model folder for generation only (like the shipped birds-gan). Continue from "
                                  "a candidate that `scripts/candidate.py save` wrote, or from a run's last/")
        saved = TextToImageGAN.from_pretrained(src)
        theirs, ours = config_to_dict(saved.config), config_to_dict(self.cfg.model)
        diff = [f"model.{k}: {theirs.get(k)!r} there, {v!r} here" for k, v in ours.items()
                if k != "text_dim" and theirs.get(k) != v]                     # text_dim: the encoder's, checked below
        if saved.text_encoder_kind != self.cfg.text_encoder.kind:
            diff.append(f"text_encoder.kind: {saved.text_encoder_kind!r} there, {self.cfg.text_encoder.kind!r} here")
        if diff:
            raise CheckpointError(f"train.init_from={init} does not fit this config ({'; '.join(diff)}); its weights "
                                  "fit its own architecture only: set those keys as it has them, or start afresh "
                                  "without train.init_from")
        state = TrainingState.load(src / TRAINING_STATE_DIR)
        if "D" not in state.parts:
            raise CheckpointError(f"{src / TRAINING_STATE_DIR} holds no discriminator D; re-save the stage folder "
                                  "with `scripts/candidate.py save` from the run's last/")
        if state.step >= self.cfg.train.steps:
            raise ValueError(f"train.init_from={init} is at step {state.step:,} and train.steps="
                             f"{self.cfg.train.steps:,} is the step this run stops at (counted from the recipe's "
                             f"start): nothing to train. For N more steps set train.steps={state.step}+N")
        return src, saved, state

    def _check_stage_text_encoder(self, src: Path, saved: TextToImageGAN, state: TrainingState) -> None:
        """G and D read the embeddings of the encoder they were trained with: refuse another one (text_encoder.path)."""
        captions = [caps[0] for caps in self.data.captions[:16]]
        ours = self.text_encoder.encode(captions).float().cpu()
        theirs = saved.text_encoder.encode(captions).float().cpu()
        if ours.shape != theirs.shape or not torch.allclose(ours, theirs, atol=1e-3):
            raise CheckpointError(f"train.init_from={src} was trained with another text encoder than "
                                  f"text_encoder.path={self.cfg.text_encoder.path} (they embed the same captions "
                                  "differently); set text_encoder.path to the encoder its stages used, or remove it to "
                                  "use the one inside the folder")

    def _warm_start(self, src: Path, saved: TextToImageGAN, state: TrainingState) -> None:
        """Copy G, EMA-G, D and E (fp16 in a candidate: cast to fp32) and continue the step counter. The optimisers
        start afresh (a candidate keeps none; with betas (0, 0.9) Adam's moments are rebuilt within some ten steps),
        and the batches and the noise are drawn from ``runtime.seed + step``, so that a stage does not replay the
        previous one's (the sample grids keep their fixed noise)."""
        m, where = self.model, src / TRAINING_STATE_DIR / "state.safetensors"
        m.load_generators(saved.generator.state_dict(), saved.generator_ema.state_dict(), src / "model.safetensors")
        load_weights(m.discriminator, state.parts["D"], where)
        if m.posterior_encoder is not None and "E" in state.parts:
            load_weights(m.posterior_encoder, state.parts["E"], where)
        elif m.posterior_encoder is not None and self.dist.is_main:
            log.warning(f"{src} was trained without the posterior encoder E (train.recon=0); E starts afresh")
        self.step = self.init_step = state.step
        set_seed(self.cfg.runtime.seed + self.step)
        if self.dist.is_main:
            log.info(f"stage from {src} at step {self.step:,}: G, EMA-G, D{', E' if 'E' in state.parts else ''} "
                     f"loaded, fresh optimisers; training to step {self.cfg.train.steps:,}")

    # -- helpers --------------------------------------------------------------------------------------
    def _to_float(self, images_u8: torch.Tensor) -> torch.Tensor:
        x = images_u8.to(self.device, non_blocking=True).float() / 127.5 - 1.0     # (B, 3, S, S) in [-1, 1]
        return x.contiguous(memory_format=torch.channels_last) if self.device.type == "cuda" else x

    def _batch(self, rng: np.random.Generator):
        """Images, a right caption embedding for each, a wrong one (a caption of a different image), and the
        embeddings of the right captions with one word edited for ``train.damsm_edited`` (else None)."""
        B = self.cfg.data.batch_size
        idx = rng.choice(len(self.data), B, replace=len(self.data) < B)
        right = np.array([rng.choice(self.captions_of[i]) for i in idx])
        other = (idx + rng.integers(1, len(self.data), B)) % len(self.data)        # never the same image
        wrong = np.array([rng.choice(self.captions_of[j]) for j in other])
        e_right = self.caption_emb[torch.from_numpy(right)].to(self.device)
        e_wrong = self.caption_emb[torch.from_numpy(wrong)].to(self.device)
        e_edit = self._edited(right, np.arange(B), rng)[1] if self.cfg.train.damsm_edited else None
        images = self.images[torch.from_numpy(idx)]                                  # (B, 3, L, L) uint8
        S, L = self.cfg.model.image_size, images.size(-1)
        if L > S:                                                                    # random crops (StackGAN)
            off = rng.integers(0, L - S + 1, (B, 2))
            images = torch.stack([im[:, y:y + S, x:x + S] for im, (y, x) in zip(images, off)])
        if self.cfg.data.flip:
            flip = torch.from_numpy(rng.random(B) < 0.5)
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        return self._to_float(images), e_right, e_wrong, e_edit

    @torch.no_grad()
    def _edited(self, right: np.ndarray, rows, rng: np.random.Generator) -> tuple[list[int], Optional[torch.Tensor]]:
        """For the given rows of a batch, the captions ``right[row]`` with one attribute word changed
        (:func:`~textgen.birds.captions.edit_caption`), encoded: ``(rows that had a word to edit, (K, E))``."""
        edits = [(r, edit_caption(self.caption_texts[right[r]], rng)) for r in rows]
        edits = [(int(r), text) for r, text in edits if text is not None]
        if not edits:
            return [], None
        kept, texts = zip(*edits)
        return list(kept), self.text_encoder.encode(list(texts)).to(self.device)

    # -- one step -------------------------------------------------------------------------------------
    def train_step(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        real, e_right, e_wrong, e_edit = self._batch(rng)                         # the global batch, on every rank
        z = torch.randn(real.size(0), self.cfg.model.noise_dim, device=self.device)
        if self.dist.enabled:                                                     # this rank's share of it
            rows = micro_batches(real.size(0), self.dist.world, 1, self.dist.rank)[0]
            real, e_right, e_wrong, z = real[rows], e_right[rows], e_wrong[rows], z[rows]
        stats = gan_step(self.model, self.opt, real, e_right, e_wrong, self.cfg.train, self.dtype, e_edit=e_edit, z=z,
                         image_encoder=self.image_encoder, reduce_grads=self.dist.average_gradients if self.dist.enabled else None)
        self.step += 1
        return stats

    # -- checkpoints ----------------------------------------------------------------------------------
    def save_checkpoint(self, name: str = "last", with_state: bool = True) -> Path:
        """A model folder; with the training state, one crash-safe swap (see :func:`commit_checkpoint`)."""
        folder = self.out_dir / name
        if not self.dist.is_main:
            return folder

        def write(target: Path) -> None:
            self.model.save_pretrained(target)
            if with_state:
                self._training_state().save(target / TRAINING_STATE_DIR)

        if not with_state:
            write(folder)
            return folder
        return commit_checkpoint(folder, write)

    def _stateful_parts(self) -> dict[str, Any]:
        """D (and E), the optimisers and scalers: what last/ keeps besides the model folder's G and EMA-G."""
        m, o = self.model, self.opt
        return {"D": m.discriminator, "E": m.posterior_encoder, "opt_g": o.g, "opt_d": o.d, "opt_e": o.e,
                "scaler_g": o.scaler_g, "scaler_d": o.scaler_d}

    def _training_state(self) -> TrainingState:
        return TrainingState.capture(self.step, self._stateful_parts(), window=self.window,
                                     data={"np_rng": generator_state(self.np_rng)}, extra={"init_step": self.init_step})

    def _resume(self) -> None:
        last = self.out_dir / "last"
        if not (last / TRAINING_STATE_DIR).is_dir():
            raise CheckpointError(f"cannot resume: {last / TRAINING_STATE_DIR} does not exist; start without --resume")
        saved = TextToImageGAN.from_pretrained(last, load_text_encoder=False)
        check_resumable_config(saved.config, self.cfg.model, last, self.out_dir / "config.yaml")
        m = self.model
        m.load_generators(saved.generator.state_dict(), saved.generator_ema.state_dict(), last / "model.safetensors")
        state = TrainingState.load(last / TRAINING_STATE_DIR)
        if m.posterior_encoder is not None and "E" not in state.parts:
            raise CheckpointError(f"cannot resume from {last} with train.recon > 0: it was trained without the "
                                  "posterior encoder E; resume with its own config (train.recon=0)")
        state.restore(self._stateful_parts(), where=last / TRAINING_STATE_DIR, window=self.window, device=self.device)
        self.step, self.init_step = state.step, int(state.extra.get("init_step", 0))
        set_generator_state(self.np_rng, state.data["np_rng"])

    # -- samples ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def save_samples(self) -> Path:
        path = self.out_dir / "samples" / f"step_{self.step:06d}.png"
        if not self.dist.is_main:
            return path
        n = self.sample_noise.size(0)
        z = self.sample_noise.repeat(len(self.cfg.train.sample_captions), 1).to(self.device)
        e = self.sample_emb.repeat_interleave(n, 0).to(self.device)
        imgs = self.model.generate(z, e).float().cpu()                               # (C*n, 3, S, S)
        save_picture(captioned_grid(imgs, self.cfg.train.sample_captions, per_row=n), path)
        return path

    # -- the loop ----------------------------------------------------------------------------------------
    def fit(self) -> dict[str, float]:
        cfg, t = self.cfg, self.cfg.train
        main = self.dist.is_main                   # rank 0 alone writes folders, samples, logs and bars
        if main:                                   # (the folder was claimed and cleaned in __init__)
            save_config(cfg, self.out_dir / "config.yaml")
            (self.out_dir / "samples").mkdir(exist_ok=True)
        logger = MetricsLogger(self.out_dir, keep_until_step=self.step) if main else NullLogger()
        if self.window.steps == 0:
            self.window.reset()                    # its clock starts now, not when the trainer was built
        bar = progress(range(self.step, t.steps), enabled=cfg.runtime.progress and main, total=t.steps, initial=self.step,
                       desc="train-gan")
        last = {}
        try:
            with self.stop:
                for _ in bar:
                    self.window.add(self.train_step(self.np_rng))
                    saving = self.step % t.save_every == 0 or self.step == t.steps
                    stop = self.dist.any(self.stop.requested, self.device)      # every rank stops at the same step
                    if self.step % t.log_every == 0 or saving or stop:           # never save a diverged state
                        row = self._window_means()
                        if self.step % t.log_every == 0 or saving:
                            row["images_per_s"] = self.window.steps * cfg.data.batch_size / self.window.seconds
                            logger.log(row, step=self.step)
                            bar.set_postfix(d=f"{row['d_loss']:.2f}", g=f"{row['g_loss']:.2f}",
                                            img_s=f"{row['images_per_s']:.0f}")
                            last = row
                            self.window.reset()
                    if self.step % t.sample_every == 0 or self.step == t.steps:
                        self.save_samples()
                    if saving or stop:
                        folder = self.save_checkpoint("last")
                        self.dist.barrier()
                        if stop:
                            raise TrainingStopped(
                                f"interrupted at step {self.step}; saved a resumable checkpoint to {folder}. Continue "
                                f"with: textgen train-gan --config {self.out_dir / 'config.yaml'} --resume",
                                self.stop.signum)
                    if t.keep_every and self.step % t.keep_every == 0:      # for eval-gan's curves over training
                        self.save_checkpoint(f"{CHECKPOINTS_DIR}/step_{self.step:06d}", with_state=False)
        finally:
            logger.close()
            if self.run_lock is not None:
                self.run_lock.release()          # the run is over (finished, stopped or failed): free the folder
        self.dist.barrier()
        self.dist.close()
        return last

    def _mean_over_ranks(self, sums: torch.Tensor) -> torch.Tensor:
        return self.dist.all_reduce_sum(sums) / self.dist.world     # each rank's statistics are its share's means

    def _window_means(self) -> dict[str, float]:
        row = self.window.means(reduce=self._mean_over_ranks if self.dist.enabled else None)
        if not all(math.isfinite(v) for v in row.values()):
            shown = ", ".join(f"{k}={v:.4g}" for k, v in row.items())
            raise diverged(f"a loss ({shown})", self.step, self.out_dir / "last",
                           "Lower the learning rates or use runtime.precision=fp32, then --resume")
        return row


# ----------------------------------------------------------------------------- a stage's result, for the next one

def save_stage_folder(last: str | Path, target: str | Path, dtype: torch.dtype = torch.float16) -> int:
    """Write a run's ``last/`` as the folder ``train.init_from`` continues from, replacing ``target``: the model
    folder (G, EMA-G in ``dtype``, the text encoder; it generates like any GAN folder) and ``training_state/``
    with D and E in ``dtype`` and the step. No optimiser state: Adam's moments are twice the networks (16.5 MB
    in fp16 for birds32_real, against 11.2 MB of networks), and with betas (0, 0.9) a fresh Adam has rebuilt
    them within some ten steps. Returns the step."""
    last, target = Path(last), Path(target)
    state = TrainingState.load(last / TRAINING_STATE_DIR)
    TextToImageGAN.from_pretrained(last).save_pretrained(target, dtype=dtype)     # replaces target: first
    cast = {k: {n: t.to(dtype) if t.is_floating_point() else t for n, t in state.parts[k].items()}
            for k in ("D", "E") if k in state.parts}
    TrainingState(step=state.step, parts=cast).save(target / TRAINING_STATE_DIR)
    return state.step
