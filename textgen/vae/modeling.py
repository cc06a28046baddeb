"""The Sentence VAE of Bowman et al. (2016), "Generating Sentences from a Continuous Space" (CoNLL).

    x --encoder--> q(z|x) = N(mu, diag(exp(logvar)))  --z = mu + sigma * eps-->  decoder --> p(x|z)

Three modes share the code (``SentenceVAEConfig.mode``):

* ``"vae"`` -- the variational auto-encoder: z sampled with the reparameterisation trick
  (Kingma & Welling 2014), KL(q(z|x) || N(0, I)) in closed form;
* ``"ae"``  -- a deterministic auto-encoder: z = mu, no KL (Bowman et al.'s AE baseline);
* ``"lm"``  -- the recurrent language-model baseline: the same decoder with no encoder and no z.

Conventions: ``input_ids`` (B, T) are the sentence tokens followed by ``<eos>`` and then padding, with no
``<bos>`` (``tokenizer.encode_batch(add_bos=False, add_eos=True)``); ``lengths`` (B,) count ``<eos>``.
The decoder reads ``[<bos>] + tokens[:-1]`` and predicts ``tokens``, so the NLL includes ``<eos>``.
Keep ``lengths`` on the CPU (as the data loader yields them): packing and the index of real tokens are
built from them on the host, so ``forward`` never waits on the accelerator.

Sections, top-down: the output dataclass and small helpers (decoder inputs, word dropout), then the model.
The configuration is in :mod:`textgen.vae.configuration`, the encoders and decoders in ``encoders.py`` and
``decoders.py``, starting from another model's weights in :mod:`textgen.vae.warm_start`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from textgen.core.runtime import rand, randn
from textgen.core.functional import gaussian_kl
from textgen.core.pretrained import PretrainedMixin
from textgen.tokenization import Tokenizer
from textgen.vae.configuration import SentenceVAEConfig
from textgen.vae.decoders import build_decoder
from textgen.vae.encoders import build_encoder
from textgen.vae.generation import beam_search, sample_search, tokens_to_lists
from textgen.vae.latent_prior import GaussianMixturePrior

__all__ = [
    "SentenceVAEConfig",
    "VAEOutput",
    "SentenceVAE",
    "decoder_inputs",
    "word_dropout",
    "gaussian_kl",
]

# ----------------------------------------------------------------------------- outputs and helpers

@dataclass
class VAEOutput:
    """What :meth:`SentenceVAE.forward` returns: per-sentence terms, in nats, never reduced."""

    rec_nll: Tensor              # (B,) -log p(x|z), summed over the tokens (incl. <eos>); (K, B) for K samples
    kl: Tensor                   # (B,) KL(q(z|x) || p(z)); zeros for ae/lm
    kl_per_dim: Tensor           # (B, Z) its terms per latent dimension; (B, 0) for lm
    mu: Optional[Tensor]         # (B, Z); None for lm
    logvar: Optional[Tensor]     # (B, Z); None for ae/lm
    z: Optional[Tensor]          # (B, Z) the code the decoder saw; (K, B, Z) for K samples; None for lm
    num_tokens: Tensor           # (B,) tokens scored per sentence (= lengths, <eos> included)
    variational: bool = True     # False for ae/lm: there is no KL term to weight


def decoder_inputs(input_ids: Tensor, lengths: Tensor, bos_id: int, pad_id: int) -> Tensor:
    """``[<bos>] + tokens[:-1]`` with every position at or past the sentence's length set to ``<pad>``."""
    B, T = input_ids.shape
    bos = input_ids.new_full((B, 1), bos_id)
    shifted = torch.cat([bos, input_ids[:, :-1]], dim=1)                            # (B, T)
    real = torch.arange(T, device=input_ids.device)[None, :] < lengths[:, None]    # (B, T)
    return shifted.masked_fill(~real, pad_id)


def word_dropout(tokens: Tensor, p: float, unk_id: int, keep_ids: tuple[int, ...] = (),
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """Word dropout of Bowman et al. (2016): replace each token by ``<unk>`` with probability ``p``,
    except tokens in ``keep_ids`` (``<bos>`` and ``<pad>``)."""
    if p <= 0.0:
        return tokens
    drop = rand(tokens.shape, device=tokens.device, generator=generator) < p
    for i in keep_ids:
        drop &= tokens != i
    return tokens.masked_fill(drop, unk_id)


# ----------------------------------------------------------------------------- model

class SentenceVAE(PretrainedMixin, nn.Module):
    """Sentence VAE (Bowman et al. 2016) with LSTM/GRU/Transformer encoders and decoders.

    Training: ``out = model(input_ids, lengths)`` then ``textgen.vae.vae_loss(out, beta)``.
    Inference verbs (``encode``, ``reparameterize``, ``decode``, ``log_likelihood``, ``generate``) run
    under ``torch.no_grad()`` and leave train/eval mode to the caller (call ``model.eval()`` first).
    """

    config_class = SentenceVAEConfig
    model_type = "sentence-vae"
    tokenizer_class = Tokenizer

    def __init__(self, config: SentenceVAEConfig):
        super().__init__()
        config.validate()
        self.config = c = config
        self.embedding = self._new_embedding()
        self.encoder = None if c.mode == "lm" else build_encoder(c, self.embedding)
        dec_embedding = self.embedding if c.share_embeddings or c.mode == "lm" else self._new_embedding()
        # A conditional VAE's decoder reads the code [z, y] (B, Z + C) wherever a plain one reads z.
        cond = c.condition
        self.label_embedding = nn.Embedding(len(cond.labels), cond.size) if cond is not None else None
        self.decoder = build_decoder(c, dec_embedding, code_size=c.latent_size + (cond.size if cond is not None else 0))
        # where sample_prior draws z (None: N(0, I)); fitted after training by set_latent_prior
        K = c.latent_prior_components
        self.latent_prior = GaussianMixturePrior(K, c.latent_size) if K else None

    def _new_embedding(self) -> nn.Embedding:
        c = self.config
        emb = nn.Embedding(c.vocab_size, c.embed_size, padding_idx=c.pad_id)
        nn.init.uniform_(emb.weight, -0.1, 0.1)
        with torch.no_grad():
            emb.weight[c.pad_id].zero_()
        return emb

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of parameters (tied/shared tensors counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    @property
    def device(self) -> torch.device:
        return self.embedding.weight.device

    # -------------------------------------------------------------- training forward

    def forward(self, input_ids: Tensor, lengths: Tensor, *, sample: bool = True,
                word_drop: Optional[bool] = None, num_samples: int = 1, labels: Optional[Tensor] = None) -> VAEOutput:
        """Per-sentence reconstruction NLL and KL. ``sample=False`` decodes z = mu (no noise).
        ``word_drop`` applies word dropout to the decoder's inputs (default: in training mode).
        ``num_samples=K > 1`` (VAE only) decodes K posterior samples per sentence, for the importance-weighted
        objective: ``z`` is then (K, B, Z) and ``rec_nll`` (K, B). ``labels`` (B,) label ids, for a
        conditional VAE (``config.condition``) only: q(z | x, y) and p(x | z, y)."""
        c = self.config
        y = self._label_vectors(labels, input_ids.size(0), "forward")              # (B, C) or None
        if num_samples != 1 and (c.mode != "vae" or not sample or num_samples < 1):
            raise ValueError(f"num_samples={num_samples}: several posterior samples need mode='vae' and sample=True "
                             f"(got mode={c.mode!r}, sample={sample}); use num_samples=1")
        lengths_cpu = lengths.to("cpu")
        input_ids = input_ids[:, : int(lengths_cpu.max())]                         # drop all-pad columns
        B = input_ids.size(0)
        self._check_length(input_ids.size(1))
        if c.mode == "lm":
            mu = logvar = z = None
            kl_per_dim = input_ids.new_zeros((B, 0), dtype=torch.float32)
        else:
            mu, logvar = self.encoder(input_ids, lengths_cpu, condition=y)          # (B, Z) each
            if c.mode == "vae":
                if num_samples > 1:                                                 # (K, B, Z)
                    z = self._reparameterize(mu.expand(num_samples, -1, -1), logvar.expand(num_samples, -1, -1))
                else:
                    z = self._reparameterize(mu, logvar) if sample else mu          # (B, Z)
                kl_per_dim = gaussian_kl(mu.float(), logvar.float())                # (B, Z)
            else:
                z = mu
                kl_per_dim = torch.zeros_like(mu, dtype=torch.float32)
        word_drop = self.training if word_drop is None else word_drop
        if num_samples > 1:  # row s*B + i is sample s of sentence i
            code = self._with_label(z.reshape(num_samples * B, -1), y.repeat(num_samples, 1) if y is not None else None)
            rec = self._rec_nll(code, input_ids.repeat(num_samples, 1),
                                lengths_cpu.repeat(num_samples), word_drop=word_drop).view(num_samples, B)  # (K, B)
        else:
            rec = self._rec_nll(self._with_label(z, y), input_ids, lengths_cpu, word_drop=word_drop)    # (B,)
        return VAEOutput(
            rec_nll=rec, kl=kl_per_dim.sum(-1), kl_per_dim=kl_per_dim, mu=mu, logvar=logvar, z=z,
            num_tokens=lengths_cpu.to(input_ids.device, non_blocking=True), variational=c.mode == "vae",
        )

    def _reparameterize(self, mu: Tensor, logvar: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        eps = randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        return mu + eps * torch.exp(0.5 * logvar)                                   # (B, Z)

    @property
    def max_positions(self) -> Optional[int]:
        """The longest sequence (tokens incl. <eos>) the model accepts: ``max_length`` when a Transformer
        is used, None (no limit) for recurrent models."""
        c = self.config
        uses_positions = c.decoder == "transformer" or (c.mode != "lm" and c.encoder == "transformer")
        return c.max_length if uses_positions else None

    def _check_length(self, T: int) -> None:
        c = self.config
        if self.max_positions is not None and T > c.max_length:
            raise ValueError(f"sequences of {T} tokens exceed max_length={c.max_length} of the Transformer; "
                             "truncate them (tokenizer max_length) or build the model with a larger max_length")

    def _features(self, z: Optional[Tensor], input_ids: Tensor, lengths: Tensor, word_drop: bool) -> Tensor:
        """Teacher-forced decoder features (B, T, F)."""
        c = self.config
        self._check_length(input_ids.size(1))
        inputs = decoder_inputs(input_ids, lengths.to(input_ids.device, non_blocking=True), c.bos_id, c.pad_id)
        if word_drop and c.word_dropout > 0:
            inputs = word_dropout(inputs, c.word_dropout, c.unk_id, keep_ids=(c.bos_id, c.pad_id))
        return self.decoder(inputs, z)

    def _rec_nll(self, z: Optional[Tensor], input_ids: Tensor, lengths_cpu: Tensor, word_drop: bool) -> Tensor:
        """-log p(x|z) per sentence (B,), projecting to the vocabulary at the real positions only."""
        B, T = input_ids.shape
        feats = self._features(z, input_ids, lengths_cpu, word_drop)                # (B, T, F)
        # Index of the N = sum(lengths) real positions, built on the host from CPU lengths (no sync).
        real = torch.arange(T)[None, :] < lengths_cpu[:, None]                      # (B, T) on CPU
        flat = real.view(-1).nonzero().squeeze(1).to(input_ids.device, non_blocking=True)  # (N,)
        h = feats.reshape(B * T, -1).index_select(0, flat)                          # (N, F)
        logits = self.decoder.head(h)                                               # (N, V) one matmul
        targets = input_ids.reshape(-1).index_select(0, flat)                       # (N,)
        nll = F.cross_entropy(logits.float(), targets, reduction="none")            # (N,)
        return nll.new_zeros(B).index_add_(0, torch.div(flat, T, rounding_mode="floor"), nll)  # (B,)

    # -------------------------------------------------------------- inference verbs

    def _require_latent(self, verb: str) -> None:
        if self.config.mode == "lm":
            raise ValueError(f"{verb}: a model with mode='lm' has no encoder and no latent code")

    @torch.no_grad()
    def encode(self, input_ids: Tensor, lengths: Tensor, labels: Optional[Tensor] = None) -> tuple[Tensor, Optional[Tensor]]:
        """Posterior parameters ``mu, logvar`` (B, Z); ``logvar`` is None for an auto-encoder. A conditional VAE
        needs the sentences' ``labels`` (B,) ids: q(z | x, y)."""
        self._require_latent("encode")
        y = self._label_vectors(labels, input_ids.size(0), "encode")
        lengths_cpu = lengths.to("cpu")
        input_ids = input_ids[:, : int(lengths_cpu.max())]
        self._check_length(input_ids.size(1))
        return self.encoder(input_ids, lengths_cpu, condition=y)

    @torch.no_grad()
    def reparameterize(self, mu: Tensor, logvar: Optional[Tensor],
                       generator: Optional[torch.Generator] = None) -> Tensor:
        """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I); ``mu`` itself when ``logvar`` is None (ae)."""
        if logvar is None:
            return mu
        return self._reparameterize(mu, logvar, generator)

    @torch.no_grad()
    def sample_prior(self, n: int, generator: Optional[torch.Generator] = None,
                     temperature: Optional[float] = None) -> Tensor:
        """n codes (n, Z) from the sampling prior: N(0, temperature^2 I), or the Gaussian mixture fitted to the
        aggregate posterior (``config.latent_prior_components``), each component's spread scaled by
        ``temperature`` (None: the model's own, ``config.latent_prior_temperature``)."""
        if temperature is None:
            temperature = self.config.latent_prior_temperature
        if self.latent_prior is not None:
            return self.latent_prior.sample(n, generator, temperature).to(self.device)
        return randn((n, self.config.latent_size), device=self.device, generator=generator) * temperature

    def set_latent_prior(self, fit: dict, temperature: float = 1.0) -> None:
        """Install a Gaussian mixture from :func:`~textgen.vae.latent_prior.fit_gaussian_mixture` (its
        ``weights``, ``means`` and ``scale_tril``) as the sampling prior, drawn from at ``temperature`` by
        default; ``save_pretrained`` then keeps both."""
        self._require_latent("set_latent_prior")
        if self.config.mode != "vae":
            raise ValueError("set_latent_prior: an auto-encoder has no prior; fit one on a VAE (mode='vae')")
        K, Z = fit["means"].shape
        if Z != self.config.latent_size:
            raise ValueError(f"set_latent_prior: the mixture has {Z}-dimensional means, the model's codes are "
                             f"{self.config.latent_size}-dimensional; fit it on this model's codes")
        prior = GaussianMixturePrior(K, Z)
        prior.load_fit(fit["weights"], fit["means"], fit["scale_tril"])
        self.latent_prior = prior.to(self.device)
        self.config = dataclasses.replace(self.config, latent_prior_components=K, latent_prior_temperature=temperature)
        self.config.validate()

    @torch.no_grad()
    def decode(self, z: Optional[Tensor], input_ids: Tensor, lengths: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """Teacher-forced log p(x_t | x_<t, z) over the whole vocabulary: (B, T, V).

        The one verb that materialises the full tensor; positions at or past ``lengths`` hold values
        computed from padding and mean nothing. ``z`` is ignored (may be None) for mode='lm'.
        """
        z = self._z_for_decoder(z, labels, "decode")
        feats = self._features(z, input_ids, lengths.to("cpu"), word_drop=False)   # (B, T, F)
        return F.log_softmax(self.decoder.head(feats).float(), dim=-1)               # (B, T, V)

    @torch.no_grad()
    def log_likelihood(self, z: Optional[Tensor], input_ids: Tensor, lengths: Tensor,
                       labels: Optional[Tensor] = None) -> Tensor:
        """log p(x|z) summed over tokens (incl. <eos>): (B,). To score K codes per sentence, repeat the
        inputs: ``z`` (B*K, Z) with ``input_ids.repeat(K, 1)`` and ``lengths.repeat(K)``."""
        z = self._z_for_decoder(z, labels, "log_likelihood")
        lengths_cpu = lengths.to("cpu")
        return -self._rec_nll(z, input_ids[:, : int(lengths_cpu.max())], lengths_cpu, word_drop=False)

    def _z_for_decoder(self, z: Optional[Tensor], labels: Optional[Tensor] = None, verb: str = "decode") -> Optional[Tensor]:
        """The decoder's code: z, or [z, y] for a conditional VAE (B, Z + C)."""
        if self.config.mode == "lm":
            return None
        if z is None:
            raise ValueError("z is required: pass codes of shape (B, latent_size) (e.g. from encode or sample_prior)")
        z = z.to(self.embedding.weight.dtype)
        return self._with_label(z, self._label_vectors(labels, z.size(0), verb))

    # -------------------------------------------------------------- the label of a conditional VAE

    @property
    def labels(self) -> list[str]:
        """The label vocabulary of a conditional VAE ([] for an unconditional one)."""
        return list(self.config.condition.labels) if self.config.condition is not None else []

    def label_ids(self, labels: Sequence[str] | str, n: Optional[int] = None) -> Tensor:
        """Label names -> ids (B,) on the model's device; one name with ``n`` repeats it. An unknown name is an
        error that lists the known ones."""
        if self.config.condition is None:
            raise ValueError("this model has no label (it was trained without model.condition); load a conditional "
                             "VAE to generate for a label")
        names = [labels] * (n or 1) if isinstance(labels, str) else list(labels)
        known = self.config.condition.labels
        for name in names:
            if name not in known:
                shown = repr(name) if len(str(name)) <= 60 else repr(str(name)[:57] + "...")
                raise ValueError(f"unknown label {shown}; this model knows {', '.join(map(repr, known))}")
        return torch.tensor([known.index(x) for x in names], dtype=torch.long, device=self.device)

    def _label_vectors(self, labels: Optional[Tensor], batch: int, verb: str) -> Optional[Tensor]:
        """The label embeddings (B, C) of a conditional VAE; checks that labels come exactly when needed."""
        cond = self.config.condition
        if cond is None:
            if labels is not None:
                raise ValueError(f"{verb}: this model has no label (trained without model.condition); drop labels=")
            return None
        if labels is None:
            raise ValueError(f"{verb}: this conditional VAE needs labels= ({cond.column}: "
                             f"{', '.join(cond.labels)}), as ids from model.label_ids([...])")
        labels = torch.as_tensor(labels, device=self.device).long().view(-1)
        if labels.numel() != batch:
            raise ValueError(f"{verb}: {labels.numel()} labels for {batch} sentences; pass one label per sentence")
        if bool(((labels < 0) | (labels >= len(cond.labels))).any()):
            raise ValueError(f"{verb}: label ids must be in [0, {len(cond.labels)}), got {labels.tolist()[:8]}")
        return self.label_embedding(labels)                                          # (B, C)

    @staticmethod
    def _with_label(z: Optional[Tensor], y: Optional[Tensor]) -> Optional[Tensor]:
        return z if y is None or z is None else torch.cat([z, y.to(z.dtype)], dim=-1)   # (B, Z + C)

    @torch.no_grad()
    def generate(self, z: Optional[Tensor] = None, *, n: Optional[int] = None,
                 strategy: Literal["greedy", "beam", "sample"] = "greedy", beam_size: int = 5,
                 top_k: int = 0, top_p: float = 1.0, temperature: float = 1.0, max_length: int = 50,
                 length_penalty: float = 1.0, generator: Optional[torch.Generator] = None,
                 return_scores: bool = False, labels: Optional[Tensor] = None,
                 away_labels: Optional[Tensor] = None, guidance: float = 0.0):
        """Decode sentences from codes ``z`` (B, Z): lists of token ids without ``<bos>``/``<eos>``.

        * ``greedy`` -- argmax at each step; ``sample`` -- ancestral sampling from the
          ``temperature``-scaled distribution, optionally restricted to the ``top_k`` tokens and/or the
          nucleus of mass ``top_p`` (Holtzman et al. 2020); ``beam`` -- batched beam search ranked by
          ``log p / length ** length_penalty`` (0: raw log-probability).
        * ``z=None`` with ``n``: n codes from the prior (vae) or, for mode='lm', n unconditional samples.
        * ``max_length`` counts ``<eos>``; ``<pad>`` and ``<bos>`` are never generated.
        * ``return_scores=True`` also returns ``log p(sequence | z)`` (B,): the sum of the model's
          log-probabilities of the generated tokens incl. ``<eos>`` (no temperature, no filtering).
        * ``labels`` (B,) label ids: a conditional VAE decodes p(x | z, y) (required there, refused elsewhere).
        * ``guidance`` w > 0 with ``away_labels`` (B,): label guidance, the classifier-free guidance of Ho &
          Salimans (2022) as applied to language models by Sanchez et al. (2023, "Stay on topic with
          classifier-free guidance"), contrasting the target label with the one to move away from: each step
          decodes from log_softmax((1 + w) log p(x_t | x_<t, z, y) - w log p(x_t | x_<t, z, y_away)). w = 0 is
          p(x | z, y) itself; scores are then under the guided distribution.
        """
        c = self.config
        if strategy not in ("greedy", "beam", "sample"):
            raise ValueError(f"strategy must be 'greedy', 'beam' or 'sample', got {strategy!r}")
        if beam_size < 1 or top_k < 0 or not 0.0 < top_p <= 1.0 or temperature <= 0 or max_length < 1:
            raise ValueError(f"need beam_size >= 1, top_k >= 0, 0 < top_p <= 1, temperature > 0, max_length >= 1; "
                             f"got {beam_size}, {top_k}, {top_p}, {temperature}, {max_length}")
        if c.decoder == "transformer" and max_length > c.max_length:
            raise ValueError(f"max_length={max_length} exceeds the Transformer decoder's max_length={c.max_length}")
        if c.mode == "lm":
            if n is None:
                n = z.size(0) if z is not None else None
            if n is None:
                raise ValueError("mode='lm' generates without z: pass n, the number of sentences")
            z = None
        elif z is None:
            if c.mode == "ae":
                raise ValueError("pass z (B, latent_size): an auto-encoder has no prior to sample codes from")
            if n is None:
                raise ValueError("pass z (B, latent_size), or n to sample z from the prior")
            z = self.sample_prior(n, generator)
        else:
            z = z.to(self.embedding.weight.dtype)
            n = z.size(0)

        if guidance < 0 or (guidance > 0) != (away_labels is not None):
            given = "set" if away_labels is not None else None
            raise ValueError(f"label guidance needs guidance > 0 together with away_labels (the label to move away "
                             f"from), got guidance={guidance} and away_labels={given}")
        z_away = None
        if c.mode != "lm":
            if away_labels is not None:
                z_away = self._with_label(z, self._label_vectors(away_labels, n, "generate"))  # (n, Z + C)
            z = self._with_label(z, self._label_vectors(labels, n, "generate"))      # (n, Z [+ C])
        elif labels is not None or away_labels is not None:
            raise ValueError("generate: a language model (mode='lm') has no label; drop labels=")

        banned = [c.pad_id, c.bos_id]

        def log_probs_of(tokens: Tensor, state):
            feats, state = self.decoder.step(tokens, state)                        # (N, F)
            return F.log_softmax(self.decoder.head(feats).float(), dim=-1), state    # (N, V)

        def step(tokens: Tensor, state):
            if z_away is None:
                log_probs, state = log_probs_of(tokens, state)
            else:                                                                  # two decoders in step: y and y_away
                (lp, s), (lp_away, s_away) = log_probs_of(tokens, state[0]), log_probs_of(tokens, state[1])
                log_probs, state = F.log_softmax((1 + guidance) * lp - guidance * lp_away, dim=-1), (s, s_away)
            log_probs[:, banned] = float("-inf")
            return log_probs, state

        state, reorder = self.decoder.start(z, n), self.decoder.reorder
        if z_away is not None:
            state = (state, self.decoder.start(z_away, n))

            def reorder(pair, index: Tensor):
                return self.decoder.reorder(pair[0], index), self.decoder.reorder(pair[1], index)

        common = dict(bos_id=c.bos_id, eos_id=c.eos_id, pad_id=c.pad_id, max_length=max_length, device=self.device)
        if strategy == "beam":
            tokens, scores = beam_search(step, reorder, state, n, beam_size=beam_size,
                                         length_penalty=length_penalty, **common)
        else:
            tokens, scores = sample_search(step, state, n, greedy=strategy == "greedy", top_k=top_k, top_p=top_p,
                                           temperature=temperature, generator=generator, **common)
        seqs = tokens_to_lists(tokens, c.eos_id, c.pad_id)
        return (seqs, scores) if return_scores else seqs
