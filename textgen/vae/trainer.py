"""Training a sentence VAE (or its LSTM language-model baseline): ``textgen train-vae``.

One explicit trainer class, read top to bottom:

    VAETrainer(cfg).fit()
      setup:   device/precision -> tokenizer -> corpora -> model -> optimizer, LR schedule, scaler
      resume:  (optional) weights + training_state of ``<out_dir>/last``
      loop:    for each length-bucketed batch: forward under autocast, weighted objective
               (KL schedule, free bits), backward, unscale, clip, step
      epoch:   validation with the TRUE ELBO (beta = 1, no free bits), ``last/`` and ``best/`` checkpoints

Run folder::

    out_dir/config.yaml        the resolved config
    out_dir/metrics.{jsonl,csv}
    out_dir/last/              model folder + training_state/ (resumable)
    out_dir/best/              model folder with the best validation -ELBO
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from textgen.core.logs import get_logger
from textgen.core.checkpoint import CheckpointError, TRAINING_STATE_DIR
from textgen.core.config import save_config
from textgen.core.metrics_log import MetricsLogger
from textgen.core.runtime import (TrainingDiverged, autocast, make_grad_scaler, progress, resolve_device,
                                  resolve_precision, set_seed)
from textgen.core.schedules import LRSchedule
from textgen.core.trainer import (Distributed, LogWindow, NullLogger, StopOnSignals, TrainingState, TrainingStopped,
                                  check_resumable_config, commit_checkpoint, diverged, micro_batches,
                                  claim_run_folder)
from textgen.data import corpus_texts
from textgen.data.splits import TokenizedSplit, split_loader, tokenize_split
from textgen.tokenization import Tokenizer
from textgen.vae.configuration import OptimConfig, TrainConfig, VAERunConfig
from textgen.vae.metrics import iw_log_likelihood
from textgen.vae.modeling import SentenceVAE
from textgen.vae.warm_start import warm_start
from textgen.vae.objective import iwae_loss, vae_loss
from textgen.vae.schedules import make_kl_schedule

log = get_logger(__name__)

__all__ = ["OptimConfig", "TrainConfig", "VAERunConfig", "VAETrainer", "TrainingDiverged", "TrainingInterrupted"]


@dataclass
class StepTerms:
    """The step's loss terms when it ran in several pieces (micro-batches and/or ranks)."""

    loss: torch.Tensor
    rec: torch.Tensor
    kl: torch.Tensor
    iw_bound: Optional[torch.Tensor] = None


TrainingInterrupted = TrainingStopped   # Ctrl-C / SIGTERM stopped the run after saving a resumable last/


def training_finished(cfg: VAERunConfig) -> bool:
    """Whether the run in ``cfg.out_dir`` has trained all its epochs (or ``max_steps``), read from the training
    state in ``last/``; False when there is none (the run never started, or it cannot be resumed)."""
    state_dir = Path(cfg.out_dir) / "last" / TRAINING_STATE_DIR
    if not state_dir.is_dir():
        return False
    state = TrainingState.load(state_dir)
    max_steps = cfg.train.max_steps
    return int(state.data["epoch"]) >= cfg.train.epochs or (max_steps is not None and state.step >= max_steps)


# ----------------------------------------------------------------------------- trainer

class VAETrainer:
    def __init__(self, cfg: VAERunConfig, *, resume: bool = False, overwrite: bool = False, tokenizer=None,
                 splits: Optional[dict[str, TokenizedSplit]] = None):
        self.cfg = cfg
        self.out_dir = Path(cfg.out_dir)
        self.dist = Distributed()                  # rank 0 of 1 without torchrun
        # the folder is this run's from here on: locked, refused if it holds a run we were not told to continue
        self.run_lock = (claim_run_folder(cfg.out_dir, resume=resume, overwrite=overwrite)
                         if self.dist.is_main else None)
        self.device = self.dist.setup(resolve_device(cfg.runtime.device))
        self.dtype = resolve_precision(cfg.runtime.precision, self.device)
        set_seed(cfg.runtime.seed)
        if cfg.data.batch_size < self.dist.world * cfg.train.grad_accum:
            raise ValueError(f"data.batch_size={cfg.data.batch_size} is the whole optimizer step's batch; it must be at "
                             f"least {self.dist.world} processes x train.grad_accum={cfg.train.grad_accum}")

        # tokenizer and data ------------------------------------------------------------
        # A warm start brings its tokenizer; a resumed warm start takes it from last/, not from the source again.
        source = None if resume else self._load_init_source()
        if tokenizer is None and resume and cfg.train.init_from:
            tokenizer = self._resume_tokenizer()
        if tokenizer is None:
            tokenizer = source.tokenizer if source is not None else self._make_tokenizer()
        self.tokenizer = tokenizer
        max_len = cfg.model.max_length if cfg.tokenizer.max_length is None else min(cfg.tokenizer.max_length, cfg.model.max_length)
        self.max_length = max_len
        if splits is None:
            cond = cfg.model.condition
            splits = {"train": tokenize_split(cfg.data.train, self.tokenizer, cfg.data, max_len, cond)}
            if cfg.data.valid:
                splits["valid"] = tokenize_split(cfg.data.valid, self.tokenizer, cfg.data, max_len, cond)
            for name, split in splits.items():
                if split.num_unlabelled and self.dist.is_main:
                    log.warning(f"{split.num_unlabelled:,} {name} sentences skipped: their {cond.column!r} is not one "
                                f"of the model's labels ({', '.join(cond.labels)})")
        self.splits = splits
        self.batches_per_epoch = math.ceil(len(splits["train"].ids) / cfg.data.batch_size)

        # model -------------------------------------------------------------------------
        model_cfg = cfg.model
        model_cfg.vocab_size = self.tokenizer.vocab_size  # always the tokenizer's; the config's value is ignored
        self.model = SentenceVAE(model_cfg).to(self.device)
        self.model.tokenizer = self.tokenizer
        if cfg.train.iw_samples > 1 and model_cfg.mode != "vae":
            raise ValueError(f"train.iw_samples={cfg.train.iw_samples} needs a VAE; a model with "
                             f"mode={model_cfg.mode!r} has no posterior to sample. Set train.iw_samples=1")
        if cfg.train.freeze_decoder:
            self._freeze_decoder()
        if source is not None:                  # (a resumed run loads its own weights from last/)
            report = warm_start(self.model, source, parts=cfg.train.init_parts)
            if self.dist.is_main:
                log.info(f"warm start ({cfg.train.init_parts}) from {cfg.train.init_from}: {report.summary()}")

        # optimisation ------------------------------------------------------------------
        self.optimizer = self._make_optimizer()
        total = cfg.train.max_steps or cfg.train.epochs * self.batches_per_epoch
        self.lr_schedule = LRSchedule(cfg.optim, total)
        self.scaler = make_grad_scaler(self.dtype, self.device)
        self.kl_weight = make_kl_schedule(cfg.train.kl)
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.best_valid = math.inf
        self.epochs_since_best = 0
        self.stop = StopOnSignals()  # SIGINT/SIGTERM: the loop saves last/ and stops at the next step boundary
        self.window = LogWindow()    # the step statistics since the last metrics row (saved with last/)
        if resume:
            self._resume()

    # -- setup helpers --------------------------------------------------------------------
    def _load_init_source(self) -> Optional[SentenceVAE]:
        """The model of ``train.init_from``, or None. Its tokenizer replaces the config's (the weights need its ids)."""
        path = self.cfg.train.init_from
        if not path:
            return None
        if self.cfg.tokenizer.path:
            raise ValueError(f"train.init_from={path} brings its own tokenizer; remove tokenizer.path="
                             f"{self.cfg.tokenizer.path} (a model starts from weights made for one tokenizer only)")
        source = SentenceVAE.from_pretrained(path)
        if source.tokenizer is None:
            raise CheckpointError(f"train.init_from={path} has no tokenizer files; point it at a folder written by "
                                  "train-vae (e.g. runs/vae/ptb_lm/best)")
        return source

    def _make_tokenizer(self):
        t = self.cfg.tokenizer
        if t.path:
            return Tokenizer.load(t.path)

        texts = corpus_texts(self.cfg.data.train, text_column=self.cfg.data.text_column, errors=self.cfg.data.errors)
        return Tokenizer.train(texts, kind=t.kind, vocab_size=t.vocab_size, min_freq=t.min_freq,
                               lowercase=t.lowercase, max_length=t.max_length, byte_level=t.byte_level)

    def _resume_tokenizer(self):
        return Tokenizer.load(self._resumable_last())

    def _resumable_last(self) -> Path:
        """``<out_dir>/last``, checked to hold a training state to resume from."""
        last = self.out_dir / "last"
        if not (last / TRAINING_STATE_DIR).is_dir():
            raise CheckpointError(
                f"cannot resume: {last / TRAINING_STATE_DIR} does not exist; start without --resume, "
                "or point out_dir at the run folder you want to continue"
            )
        return last

    def _freeze_decoder(self) -> None:
        """Fix p(x, z): the decoder and the embedding it reads stop learning, and its dropout is off (see train_step).

        Only the encoder learns, and with the true ELBO (beta = 1, no free bits) it then minimises
        KL(q(z|x) || p(z|x)) alone, since log p(x) = ELBO + that KL no longer moves: the amortisation gap
        of Cremer et al. (2018, "Inference Suboptimality in Variational Autoencoders") closes, and the ELBO
        and the importance-weighted NLL (whose proposal is q) measure the same model more tightly. He et
        al. (2019) train the encoder alone in the inner loop of their aggressive schedule for the same reason.
        """
        if self.cfg.model.mode != "vae":
            raise ValueError(f"train.freeze_decoder trains the encoder alone; a model with mode={self.cfg.model.mode!r} "
                             "has nothing else to train. Use mode=vae (or set freeze_decoder=false)")
        for p in self.model.decoder.parameters():   # includes the embedding when the encoder shares it
            p.requires_grad_(False)

    def _decoder_without_dropout(self) -> None:
        """Score the fixed decoder as at evaluation: every dropout off (word dropout is off in train_step).

        Its RNN stays in training mode with its between-layer dropout at 0 (cuDNN runs an RNN's backward,
        which the encoder's gradient passes through, only in training mode); every other module is in eval.
        """
        for m in self.model.decoder.modules():
            if isinstance(m, torch.nn.RNNBase):
                m.dropout = 0.0
            else:
                m.training = False

    def _make_optimizer(self) -> torch.optim.Optimizer:
        o = self.cfg.optim
        params = [p for p in self.model.parameters() if p.requires_grad]
        if o.optimizer == "sgd":
            return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
        cls = torch.optim.AdamW if o.optimizer == "adamw" else torch.optim.Adam
        return cls(params, lr=o.lr, betas=o.betas, weight_decay=o.weight_decay)

    # -- checkpoints ----------------------------------------------------------------------
    def _stateful_parts(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "scaler": self.scaler, "lr_schedule": self.lr_schedule}

    def _training_state(self) -> TrainingState:
        return TrainingState.capture(self.step, self._stateful_parts(), window=self.window,
                                     data={"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch},
                                     extra={"best_valid": self.best_valid, "epochs_since_best": self.epochs_since_best})

    def save_checkpoint(self, name: str, *, with_state: bool) -> Path:
        """A model folder; with the training state, one crash-safe swap (see :func:`commit_checkpoint`)."""
        folder = self.out_dir / name
        if not self.dist.is_main:
            return folder
        if not with_state:
            return self.model.save_pretrained(folder, tokenizer=self.tokenizer)

        def write(tmp: Path) -> None:
            self.model.save_pretrained(tmp, tokenizer=self.tokenizer)
            self._training_state().save(tmp / TRAINING_STATE_DIR)

        return commit_checkpoint(folder, write)

    def _resume(self) -> None:
        last = self._resumable_last()
        loaded = SentenceVAE.from_pretrained(last)
        check_resumable_config(loaded.config, self.model.config, last, self.out_dir / "config.yaml")
        self.model.load_state_dict(loaded.state_dict())
        state = TrainingState.load(last / TRAINING_STATE_DIR)
        state.restore(self._stateful_parts(), where=last / TRAINING_STATE_DIR, window=self.window, device=self.device)
        self.step, self.epoch = state.step, int(state.data["epoch"])
        self.batch_in_epoch = int(state.data["batch_in_epoch"])
        self.best_valid = float(state.extra["best_valid"])
        self.epochs_since_best = int(state.extra["epochs_since_best"])

    # -- one step ---------------------------------------------------------------------------
    def train_step(self, input_ids: torch.Tensor, lengths: torch.Tensor, labels: Optional[torch.Tensor] = None):
        cfg = self.cfg
        self.model.train()
        frozen = cfg.train.freeze_decoder
        if frozen:
            self._decoder_without_dropout()
        input_ids, lengths = input_ids.to(self.device, non_blocking=True), lengths.to(self.device)
        labels = labels.to(self.device) if labels is not None else None
        lr = self.lr_schedule.lr_at(self.step)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        beta = self.kl_weight(self.step)
        K = cfg.train.iw_samples
        n = input_ids.size(0)
        pieces = micro_batches(n, self.dist.world, cfg.train.grad_accum, self.dist.rank)
        self.optimizer.zero_grad(set_to_none=True)
        totals: dict[str, torch.Tensor] = {}
        for rows in pieces:
            ids, lens = input_ids[rows], lengths[rows]
            ids = ids[:, :int(lens.max())]                                       # (b, T_b) this piece's own padding
            # each piece's mean loss, weighted so that the sum over pieces and ranks is the global batch's mean
            # (the gradients are averaged over ranks below, hence the factor world)
            weight = (rows.stop - rows.start) / n
            with autocast(self.device, self.dtype):
                out = self.model(ids, lens, word_drop=False if frozen else None, num_samples=K,
                                 labels=labels[rows] if labels is not None else None)
            if K > 1:
                terms = iwae_loss(out, free_bits=cfg.train.free_bits, free_bits_mode=cfg.train.free_bits_mode)
            else:
                terms = vae_loss(out, beta=beta, free_bits=cfg.train.free_bits, free_bits_mode=cfg.train.free_bits_mode)
            loss = terms.loss if weight == 1 else terms.loss * (weight * self.dist.world)
            self.scaler.scale(loss).backward()
            for k in ("loss", "rec", "kl", "iw_bound"):
                v = getattr(terms, k)
                if v is not None:
                    v = v.detach() if weight == 1 else v.detach() * weight
                    totals[k] = v if k not in totals else totals[k] + v
        self.dist.average_gradients(self.model)   # data parallel: every rank now holds the global batch's gradient
        self.scaler.unscale_(self.optimizer)  # unscale before clipping
        if cfg.optim.grad_clip:
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], cfg.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if len(pieces) > 1 or self.dist.enabled:
            terms = StepTerms(**totals)          # this rank's share of the global batch's means (summed at logging)
        return terms, beta, lr

    # -- validation --------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """True ELBO on the validation split: beta = 1 and no free bits, whatever the training objective.
        A run trained on the IW bound (``train.iw_samples`` = K > 1) also reports ``iw_nll`` with the same K,
        and keeps its best checkpoint (and steers a plateau schedule) by that bound instead of the ELBO.

        It samples z from its own forked RNG, so validating never changes the training's random stream
        (a resumed run repeats an uninterrupted one exactly).
        """
        split = self.splits.get("valid")
        if split is None:
            return {}
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.cfg.runtime.seed)
            return self._validate(split)

    def _validate(self, split: TokenizedSplit) -> dict[str, float]:
        self.model.eval()
        K = self.cfg.train.iw_samples
        rec = kl = iw = 0.0
        n = 0
        for batch in split_loader(split, self.cfg.train.eval_batch_size, pad_id=self.tokenizer.pad_id, shuffle=False):
            input_ids, lengths = batch["input_ids"].to(self.device), batch["lengths"].to(self.device)
            labels = batch["labels"].to(self.device) if "labels" in batch else None
            with autocast(self.device, self.dtype):
                out = self.model(input_ids, lengths, labels=labels)
                if K > 1:
                    iw += float(iw_log_likelihood(self.model, input_ids, lengths, K, mu=out.mu,  # encoded once
                                                  logvar=out.logvar, labels=labels).double().sum())
            rec += out.rec_nll.float().sum().item()
            kl += out.kl.float().sum().item()
            n += len(lengths)
        tokens = split.num_tokens
        nll_bound = rec + kl
        valid = {
            "elbo": -nll_bound / n,
            "rec": rec / n,
            "kl": kl / n,
            "nll_bound": nll_bound / n,
            "ppl_bound": math.exp(nll_bound / tokens),
        }
        if K > 1:
            valid["iw_nll"] = -iw / n
        return valid

    # -- the loop ------------------------------------------------------------------------------
    def fit(self) -> dict[str, float]:
        cfg = self.cfg
        main = self.dist.is_main                       # rank 0 alone writes folders, logs and bars
        if main:                                       # (the folder was claimed and cleaned in __init__)
            save_config(cfg, self.out_dir / "config.yaml")
        self.dist.barrier()
        logger = MetricsLogger(self.out_dir, keep_until_step=self.step) if main else NullLogger()
        train = self.splits["train"]
        if main and (train.num_truncated or train.num_empty):
            log.warning(f"{train.num_truncated} training sentences truncated to {self.max_length} tokens, "
                        f"{train.num_empty} empty ones skipped")
        last_valid: dict[str, float] = {}
        stop = False
        try:
            with self.stop:
                while self.epoch < cfg.train.epochs and not stop:
                    stop = self._run_epoch(logger)
                    if self.batch_in_epoch == 0 or stop:  # finished the epoch (or max_steps)
                        last_valid = self._end_epoch(logger)
                        if cfg.train.early_stop_patience is not None and self.epochs_since_best > cfg.train.early_stop_patience:
                            if main:
                                log.info(f"early stop: no better validation -ELBO for {self.epochs_since_best} epochs")
                            break
        finally:
            logger.close()
            if self.run_lock is not None:
                self.run_lock.release()          # the run is over (finished, stopped or failed): free the folder
        self.dist.barrier()
        self.dist.close()
        return last_valid

    def _interrupt(self) -> None:
        folder = self.save_checkpoint("last", with_state=True)
        self.dist.barrier()                            # every rank waits for rank 0's save before exiting
        raise TrainingStopped(
            f"interrupted at step {self.step} (epoch {self.epoch + 1}, batch {self.batch_in_epoch}); saved a resumable "
            f"checkpoint to {folder}. Continue with: textgen train-vae --config {self.out_dir / 'config.yaml'} --resume",
            self.stop.signum)

    def _run_epoch(self, logger: MetricsLogger) -> bool:
        """Train to the end of the epoch (or ``max_steps``); True when max_steps is reached."""
        cfg = self.cfg
        train = self.splits["train"]
        batches = split_loader(train, cfg.data.batch_size, pad_id=self.tokenizer.pad_id, shuffle=True,
                               seed=cfg.runtime.seed, epoch=self.epoch, bucketing=cfg.data.bucketing,
                               skip=self.batch_in_epoch, num_workers=cfg.data.num_workers)
        bar = progress(batches, enabled=cfg.runtime.progress and self.dist.is_main, total=self.batches_per_epoch,
                       initial=self.batch_in_epoch, desc=f"epoch {self.epoch + 1}/{cfg.train.epochs}")
        window = self.window
        if window.steps == 0:
            window.reset()                             # its clock starts now, not before the last validation
        for batch in bar:
            lengths = batch["lengths"]
            terms, beta, lr = self.train_step(batch["input_ids"], lengths, batch.get("labels"))
            stats = {"loss": terms.loss, "rec": terms.rec, "kl": terms.kl}     # summed on device: one sync per row
            if terms.iw_bound is not None:
                stats["iw_bound"] = terms.iw_bound
            window.add(stats, tokens=int(lengths.sum()))
            self.step += 1
            self.batch_in_epoch += 1
            if self.step % cfg.train.log_every == 0 or self.batch_in_epoch == self.batches_per_epoch:
                means = self._window_means()
                dt = window.seconds
                row = {"loss": means["loss"], "rec": means["rec"], "kl": means["kl"], "beta": beta, "lr": lr,
                       "epoch": self.epoch + 1, "tokens_per_s": window.counts["tokens"] / dt,
                       "sentences_per_s": window.steps * cfg.data.batch_size / dt}
                if "iw_bound" in means:               # IWAE: the bound being maximised (loss = -bound + KL floor)
                    row["iw_bound"] = means["iw_bound"]
                logger.log(row, step=self.step)
                bar.set_postfix(loss=f"{row['loss']:.2f}", kl=f"{row['kl']:.2f}", beta=f"{beta:.2f}",
                                tok_s=f"{row['tokens_per_s']:.0f}")
                window.reset()
            stop = self.dist.any(self.stop.requested, self.device)           # every rank stops at the same step
            if stop or (cfg.train.save_every and self.step % cfg.train.save_every == 0
                        and self.batch_in_epoch < self.batches_per_epoch):
                self._window_means()  # never save weights from a window that diverged
                if stop:
                    self._interrupt()
                self.save_checkpoint("last", with_state=True)
            if cfg.train.max_steps is not None and self.step >= cfg.train.max_steps:
                self._window_means()
                return True
        self.batch_in_epoch = 0
        self.epoch += 1
        return False

    def _end_epoch(self, logger: MetricsLogger) -> dict[str, float]:
        valid = self.validate()
        if valid:
            logger.log(valid, step=self.step, split="valid")
            score = valid.get("iw_nll", valid["nll_bound"])     # the bound the run optimises
            self.lr_schedule.epoch_end(score)
            if score < self.best_valid:
                self.best_valid = score
                self.epochs_since_best = 0
                self.save_checkpoint("best", with_state=False)
            else:
                self.epochs_since_best += 1
            when = f"epoch {self.epoch}" if self.batch_in_epoch == 0 else f"step {self.step} (epoch {self.epoch + 1}, partial)"
            iw = f", IW-NLL (k={self.cfg.train.iw_samples}) {valid['iw_nll']:.2f}" if "iw_nll" in valid else ""
            if self.dist.is_main:
                log.info(f"{when}: valid -ELBO {valid['nll_bound']:.2f} (rec {valid['rec']:.2f} + KL {valid['kl']:.2f}), "
                         f"PPL bound {valid['ppl_bound']:.1f}{iw}")
        self.save_checkpoint("last", with_state=True)
        return valid

    def _window_means(self) -> dict[str, float]:
        """Mean loss, rec, KL (and IW bound) of the steps since the last row; stops the run if any is non-finite."""
        means = self.window.means(reduce=self.dist.all_reduce_sum if self.dist.enabled else None)
        if not all(math.isfinite(v) for v in means.values()):
            shown = ", ".join(f"{k}={v}" for k, v in means.items())
            raise diverged(f"the training loss ({shown})", self.step, self.out_dir / "last",
                           "Lower optim.lr, set optim.grad_clip, or use runtime.precision=fp32, then resume with --resume")
        return means
