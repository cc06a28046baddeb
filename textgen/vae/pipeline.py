"""``SentenceVAEPipeline``: the user API of a trained sentence VAE.

    from textgen.pipelines import SentenceVAEPipeline

    pipe = SentenceVAEPipeline.from_pretrained("en-lstm-vae")          # or a folder from train-vae
    out = pipe.interpolate("i want to talk to you", "she did n't want to be with him", steps=6)
    for line in out.lines(): print(line)
    pipe.sample(5, generator=torch.Generator().manual_seed(0)).sentences
    pipe.reconstruct(["the market fell on monday"]).sentences
    pipe.encode(["a sentence", "another one"]).mu                       # (2, Z) posterior means
    pipe.encode("a sentence", convert_to_numpy=True).mu                 # one string: (Z,), as numpy
    pipe.save_pretrained("my-vae")                                     # from_pretrained("my-vae") loads it back
    pipe.analogy("he is a man", "she is a woman", "he is a king").sentence

Every method takes batches (lists of sentences), normalises text the way the model's tokenizer expects
(:func:`textgen.tokenization.textprep.prepare_text`: e.g. ``"I don't"`` -> ``"i do n't"`` for a PTB model), reports
words outside the vocabulary (a warning of the ``textgen`` logger, :mod:`textgen.core.logs`, and the
``unknown_words`` field of the output) and
refuses bad input with a ``ValueError`` that says what to do. Outputs are dataclasses.

Interpolation runs between the **posterior means** of the two sentences (not samples), so a path is a
deterministic function of its endpoints; ``method="slerp"`` (default) follows the great circle
(:mod:`textgen.vae.interpolation`). Reconstruct, interpolate and analogy decode with beam search (4 beams) by
default, ``sample`` greedily; pass ``strategy=`` and ``beam_size=`` to choose.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional, Sequence

import torch
from torch import Tensor

from textgen.core import logs
from textgen.core.functional import gaussian_kl
from textgen.core.runtime import progress, resolve_device
from textgen.core.pretrained import DEFAULT_VAE
from textgen.vae.configuration import LABEL_GUIDANCE
from textgen.vae.sentence_encoder import Errors, SentenceEncoder
from textgen.vae.interpolation import analogy as latent_analogy
from textgen.vae.interpolation import interpolate as latent_path
from textgen.vae.latent_prior import fit_gaussian_mixture
from textgen.vae.modeling import SentenceVAE

MAX_STEPS = 1000    # points on one interpolation path: more is a typo, and would decode for minutes

__all__ = [
    "SentenceVAEPipeline",
    "EncodeOutput",
    "SentencesOutput",
    "InterpolationOutput",
    "AnalogyOutput",
    "TransferOutput",
]

Strategy = Literal["greedy", "beam", "sample"]

# Decoding a given code (reconstruct, interpolate, analogy) defaults to beam search with 4 beams: on the shipped
# English model it reconstructs more sentences exactly than greedy decoding (18.0% against 13.6% of held-out
# sentences of <= 12 words) and takes smaller steps along paths, for 2.7x the decoding time
# (docs/experiments/en_vae_recipes.md). Prior samples stay greedy.
BEAM_SIZE = 4


# ----------------------------------------------------------------------------- outputs

@dataclass
class EncodeOutput:
    """Posterior parameters of q(z|x) for each input sentence: tensors, or numpy arrays (``convert_to_numpy``).
    For a single string, ``mu`` and ``logvar`` are one vector (Z,) and the lists hold one entry."""

    mu: Tensor                          # (N, Z) posterior means
    logvar: Optional[Tensor]            # (N, Z), or None unless asked for (and always None for an auto-encoder)
    texts: list[str]                    # the inputs as the model read them (normalised; "" where not encoded)
    unknown_words: list[str] = field(default_factory=list)
    num_truncated: int = 0
    ok: Optional[Tensor] = None         # (N_in,) bool: True where the input was encoded (errors="null"/"skip")
    indices: list[int] = field(default_factory=list)   # the input position of each row of mu


@dataclass
class SentencesOutput:
    """Decoded sentences (``reconstruct`` and ``sample``), with the codes they came from."""

    sentences: list[str]
    latents: Tensor                     # (N, Z)
    inputs: list[str] = field(default_factory=list)   # normalised inputs (reconstruct only)
    unknown_words: list[str] = field(default_factory=list)
    num_truncated: int = 0


@dataclass
class InterpolationOutput:
    """A path between two sentences: ``sentences[i]`` decodes ``latents[i]``, taken at weight ``weights[i]``
    (0 = the first sentence's code, 1 = the second's). The first and last entries are the reconstructions
    of the two endpoints (``is_endpoint``)."""

    sentences: list[str]
    latents: Tensor                     # (P, Z)
    weights: list[float]                # (P,) in [0, 1], increasing
    source: str                         # the two inputs as the model read them
    target: str
    method: str
    is_endpoint: list[bool] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)
    num_truncated: int = 0

    def lines(self) -> list[str]:
        """One printable line per point: the weight, a marker for the endpoint reconstructions, the sentence."""
        return [f"{w:4.2f} {'*' if e else ' '} {s}" for s, w, e in zip(self.sentences, self.weights, self.is_endpoint)]


@dataclass
class AnalogyOutput:
    """"a is to b as c is to ?": the decoding of z_c + (z_b - z_a)."""

    sentence: str
    latent: Tensor                      # (Z,)
    inputs: list[str] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)


@dataclass
class TransferOutput:
    sentences: list[str]                 # each input rewritten for ``target``
    inputs: list[str]                    # the inputs as the model read them
    source_labels: list[str]             # the label each input was encoded under (given or predicted)
    target: str
    latents: Tensor                      # (N, Z) posterior means, shared by input and output
    unknown_words: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{src} -> {self.target}: {a}\n    {b}" for src, a, b in zip(self.source_labels, self.inputs, self.sentences)]


# ----------------------------------------------------------------------------- the pipeline

class SentenceVAEPipeline:
    """Encode, decode, sample, reconstruct and interpolate with a :class:`SentenceVAE` and its tokenizer."""

    def __init__(self, model: SentenceVAE, tokenizer=None, *, show_progress: bool = True):
        tokenizer = tokenizer if tokenizer is not None else model.tokenizer
        if tokenizer is None:
            raise ValueError("the model has no tokenizer: load it with SentenceVAE.from_pretrained(folder) "
                             "or pass tokenizer=")
        if model.config.mode == "lm":
            raise ValueError("this is a language-model baseline (mode='lm'): it has no latent space to "
                             "encode into or interpolate in; load a VAE or auto-encoder folder")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.show_progress = show_progress
        self._engine = SentenceEncoder(self.model, tokenizer)          # batched, length-sorted encoding
        # A recurrent model reads any length; the tokenizer's max_length is the training cut, which we keep
        # for inputs too (the model never saw longer sentences), and report when it applies.
        self.max_length: Optional[int] = self._engine.max_length

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike = DEFAULT_VAE, *, device: str = "cpu",
                        show_progress: bool = True) -> "SentenceVAEPipeline":
        """Load a folder written by ``save_pretrained`` / ``train-vae``, or a shipped model by name."""
        model = SentenceVAE.from_pretrained(name_or_path, device=resolve_device(device))
        return cls(model, show_progress=show_progress)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write the model (with its fitted sampling prior) and tokenizer; ``from_pretrained(directory)`` loads it."""
        return self.model.save_pretrained(directory, tokenizer=self.tokenizer)

    def to(self, device: str | torch.device) -> "SentenceVAEPipeline":
        """Move the model to ``device`` (``"cpu"``, ``"cuda:1"``, ``"auto"``, a ``torch.device``); returns self."""
        self.model.to(resolve_device(device))
        return self

    @property
    def device(self) -> torch.device:
        return self.model.device

    # -------------------------------------------------------------- text in

    def encode(self, sentences: str | Sequence[str], batch_size: int = 64, *, return_logvar: bool = False,
               errors: Errors = "raise", labels: Optional[Sequence[str] | str] = None,
               normalize_embeddings: bool = False, show_progress_bar: Optional[bool] = None,
               convert_to_numpy: bool = False, convert_to_tensor: bool = False,
               device: Optional[str | torch.device] = None) -> EncodeOutput:
        """Posterior means (and, on request, log-variances) of q(z|x): (N, Z), or (Z,) for a single string; an
        empty list gives (0, Z).

        ``errors`` says what a sentence that cannot be encoded does (empty, no known word, not text):
        ``"raise"`` (default) stops with a message naming it, ``"null"`` gives it a NaN row (``ok`` False),
        ``"skip"`` leaves it out (``indices`` lists the input position of each row; a single string is never
        left out: its ``mu`` is NaN). A conditional VAE encodes under ``labels`` (one per sentence, or one for
        all): q(z | x, y). The other arguments are sentence-transformers': ``normalize_embeddings`` scales each
        ``mu`` to unit length (``logvar`` stays as is), ``device=`` moves the model there first (as :meth:`to`),
        ``show_progress_bar`` defaults to the pipeline's ``show_progress``. The fields are tensors (on the CPU),
        as every pipeline output and :meth:`decode`'s input are; ``convert_to_numpy=True`` makes them numpy
        arrays (unless ``convert_to_tensor=True``).
        """
        if device is not None:
            self.to(device)
        single = isinstance(sentences, (str, bytes))
        sentences = [sentences] if single else list(sentences)
        ids = self._label_ids(labels, len(sentences), "encode")
        enc = self._engine.encode_all(sentences, batch_size, errors=errors, output_logvar=return_logvar,
                                      show_progress_bar=self.show_progress if show_progress_bar is None else
                                      show_progress_bar, text_errors="strict", want_texts=True,
                                      labels=ids.tolist() if ids is not None else None)
        mu, logvar, texts, ok = enc.mu, enc.logvar, enc.texts, torch.from_numpy(enc.ok)
        if normalize_embeddings:
            mu = torch.nn.functional.normalize(mu, dim=-1)                         # NaN rows stay NaN
        indices = list(range(len(sentences)))
        if errors == "skip" and not single:
            indices = ok.nonzero().flatten().tolist()
            mu, texts = mu[indices], [texts[i] for i in indices]
            logvar = logvar[indices] if logvar is not None else None
        if single:
            mu, logvar = mu[0], logvar[0] if logvar is not None else None
        if convert_to_numpy and not convert_to_tensor:
            mu, ok = mu.numpy(), ok.numpy()
            logvar = logvar.numpy() if logvar is not None else None
        return EncodeOutput(mu=mu, logvar=logvar, texts=texts, unknown_words=enc.unknown_words,
                            num_truncated=enc.num_truncated, ok=ok, indices=indices)

    # -------------------------------------------------------------- the label of a conditional VAE

    @property
    def labels(self) -> list[str]:
        """The labels a conditional VAE generates for ([] for an unconditional model)."""
        return self.model.labels

    def _label_ids(self, labels: Optional[Sequence[str] | str], n: int, verb: str) -> Optional[Tensor]:
        """Label names (one per item, or one for all) -> ids (n,); None stays None. Checks they fit the model."""
        if labels is None:
            if self.model.config.condition is not None:
                raise ValueError(f"{verb}: this model is conditioned on {self.model.config.condition.column!r}; pass "
                                 f"label= one of {', '.join(map(repr, self.labels))}")
            return None
        if self.model.config.condition is None:
            raise ValueError(f"{verb}: this model has no label (it was trained without model.condition); drop the "
                             "label, or load a conditional VAE")
        names = [labels] * n if isinstance(labels, str) else list(labels)
        if len(names) != n:
            raise ValueError(f"{verb}: {len(names)} labels for {n} sentences; pass one label, or one per sentence")
        return self.model.label_ids(names)

    @property
    def guidance(self) -> float:
        """The label guidance weight ``transfer`` and ``sample`` use when not told: the model's own
        (``config.condition.guidance``), else ``LABEL_GUIDANCE``."""
        cond = self.model.config.condition
        return LABEL_GUIDANCE if cond is None or cond.guidance is None else float(cond.guidance)

    def _check_guidance(self, guidance: Optional[float]) -> float:
        """``guidance`` checked, or the model's own for None."""
        if guidance is None:
            return self.guidance
        if not (isinstance(guidance, (int, float)) and math.isfinite(guidance) and guidance >= 0):
            raise ValueError(f"guidance must be a number >= 0 (0: no label guidance; default: the model's own, "
                             f"{self.guidance:g}), got {guidance!r}")
        return guidance

    def _away_labels(self, to: str, sources: Sequence[str]) -> list[str]:
        """What label guidance steers away from: each sentence's own label; for one that already has ``to``
        (given, guessed, or a prior sample), the other label of a two-label model, else ``to`` itself (which adds
        nothing: (1 + w) lp - w lp = lp)."""
        others = [y for y in self.labels if y != to]
        return [src if src != to else others[0] if len(others) == 1 else to for src in sources]

    def predict_labels(self, sentences: Sequence[str], batch_size: int = 64) -> list[str]:
        """The label a conditional VAE finds most likely for each sentence: argmax_y of the ELBO of log p(x | y)
        under each label (Bayes' rule with a uniform prior over labels; Sohn et al. 2015)."""
        if self.model.config.condition is None:
            raise ValueError("predict_labels needs a conditional VAE (trained with model.condition)")
        sentences = list(sentences)
        scores = [self._elbo(self.encode(sentences, batch_size, return_logvar=True, labels=name), name)
                  for name in self.labels]                                      # no gradients: both are no_grad
        best = torch.stack(scores).argmax(0)                                            # (N,)
        return [self.labels[int(k)] for k in best]

    def _elbo(self, enc: EncodeOutput, label: str) -> Tensor:
        """ELBO of each encoded sentence under ``label``, at z = mu (a cheap, deterministic estimate)."""
        batch = self.tokenizer.encode_batch(enc.texts)
        ids, lengths = batch.input_ids.to(self.device), batch.lengths
        y = self.model.label_ids(label, len(enc.texts))
        rec = self.model.log_likelihood(enc.mu.to(self.device), ids, lengths, labels=y).float().cpu()   # (N,)
        kl = gaussian_kl(enc.mu, enc.logvar).sum(-1)                                               # (N,)
        return rec - kl

    def transfer(self, sentences: Sequence[str] | str, to: str, *, source_labels: Optional[Sequence[str] | str] = None,
                 strategy: Strategy = "beam", batch_size: int = 64, generator: Optional[torch.Generator] = None,
                 guidance: Optional[float] = None, **generate_kwargs) -> "TransferOutput":
        """Rewrite each sentence for the label ``to`` (Hu et al. 2017): encode it under its own label (
        ``source_labels``, or the one :meth:`predict_labels` finds), keep z, decode under ``to``, steered away
        from the source label (from the other one, for a sentence that already has ``to`` under a two-label
        model) with label guidance of weight ``guidance`` (0: plain p(x | z, to); None: the model's own,
        :attr:`guidance`; :meth:`SentenceVAE.generate`)."""
        if isinstance(sentences, str):
            sentences = [sentences]
        if self.model.config.condition is None:
            raise ValueError("transfer needs a conditional VAE (trained with model.condition): this model has no "
                             "label to change")
        self._label_ids(to, 1, "transfer")                                              # a known target
        guidance = self._check_guidance(guidance)
        sources = list(source_labels) if isinstance(source_labels, (list, tuple)) else \
            [source_labels] * len(sentences) if isinstance(source_labels, str) else self.predict_labels(sentences)
        same = [i for i, src in enumerate(sources) if src == to]
        if same:
            how = "given" if source_labels is not None else "the likeliest by the model"
            logs.warn(f"{len(same)} of {len(sources)} sentence(s) already have the label {to!r} ({how}; the first: "
                      f"sentence {same[0]}): they are rewritten under it; if that is wrong, give the sentences' "
                      f"own label (source_labels=, --from)", key="transfer-same-label")
        generate_kwargs.setdefault("beam_size", BEAM_SIZE)
        enc = self.encode(sentences, batch_size, labels=sources)
        away = {"away_labels": self._away_labels(to, sources), "guidance": guidance} if guidance > 0 else {}
        out = self.decode(enc.mu, strategy=strategy, batch_size=batch_size, generator=generator, labels=to,
                          **away, **generate_kwargs)
        return TransferOutput(sentences=out, inputs=enc.texts, source_labels=sources, target=to, latents=enc.mu,
                              unknown_words=enc.unknown_words)

    @torch.no_grad()
    def decode(self, latents: Tensor, *, strategy: Strategy = "greedy", batch_size: int = 64,
               generator: Optional[torch.Generator] = None, labels: Optional[Sequence[str] | str] = None,
               away_labels: Optional[Sequence[str] | str] = None, **generate_kwargs) -> list[str]:
        """Sentences from codes (N, Z); ``generate_kwargs`` go to :meth:`SentenceVAE.generate`
        (``beam_size``, ``top_k``, ``top_p``, ``temperature``, ``max_length``). Greedy unless told otherwise; the
        methods that decode a sentence's own code (reconstruct, interpolate, analogy) default to beam 4.
        A conditional VAE decodes under ``labels`` (one per code, or one for all): p(x | z, y), and with
        ``away_labels`` and ``guidance=w`` steers away from those (label guidance, :meth:`SentenceVAE.generate`)."""
        latents = torch.as_tensor(latents, dtype=torch.float32)
        if latents.dim() != 2 or latents.size(1) != self.model.config.latent_size:
            raise ValueError(f"latents must have shape (N, {self.model.config.latent_size}), got {tuple(latents.shape)}")
        if not torch.isfinite(latents).all():
            raise ValueError("latents contain NaN or infinite values")
        generate_kwargs.setdefault("max_length", self.max_length or 64)
        label_ids = self._label_ids(labels, latents.size(0), "decode")
        away_ids = None if away_labels is None else self._label_ids(away_labels, latents.size(0), "decode")
        out: list[str] = []
        starts = range(0, latents.size(0), batch_size)
        for start in progress(starts, enabled=self.show_progress and len(starts) > 1, desc="decode", total=len(starts)):
            z = latents[start:start + batch_size].to(self.device)
            y = {} if label_ids is None else {"labels": label_ids[start:start + batch_size]}
            if away_ids is not None:
                y["away_labels"] = away_ids[start:start + batch_size]
            seqs = self.model.generate(z, strategy=strategy, generator=generator, **y, **generate_kwargs)
            out += [self.tokenizer.decode(s) for s in seqs]
        return out

    def reconstruct(self, sentences: Sequence[str], *, strategy: Strategy = "beam", batch_size: int = 64,
                    generator: Optional[torch.Generator] = None, labels: Optional[Sequence[str] | str] = None,
                    **generate_kwargs) -> SentencesOutput:
        """Encode each sentence to its posterior mean and decode it back (beam search with 4 beams by default);
        a conditional VAE does both under ``labels``."""
        generate_kwargs.setdefault("beam_size", BEAM_SIZE)
        enc = self.encode(sentences, batch_size, labels=labels)
        sents = self.decode(enc.mu, strategy=strategy, batch_size=batch_size, generator=generator, labels=labels,
                            **generate_kwargs)
        return SentencesOutput(sentences=sents, latents=enc.mu, inputs=enc.texts, unknown_words=enc.unknown_words,
                               num_truncated=enc.num_truncated)

    def sample(self, n: int = 5, *, temperature: Optional[float] = None, strategy: Strategy = "greedy",
               batch_size: int = 64,
               generator: Optional[torch.Generator] = None, label: Optional[str] = None,
               guidance: Optional[float] = None, **generate_kwargs) -> SentencesOutput:
        """``n`` sentences decoded from codes of the model's sampling prior: N(0, temperature^2 I), or the
        Gaussian mixture fitted to its aggregate posterior (:meth:`fit_prior`) with each component's spread
        scaled by ``temperature`` (None: the model's own, set by :meth:`fit_prior`; it scales the code, not the
        decoder's softmax: pass ``strategy="sample"`` and a ``generate_kwargs`` temperature for that);
        a conditional VAE decodes them under ``label``, a two-label one with label guidance away from the other
        label (``guidance``, as :meth:`transfer`; 0: plain p(x | z, label))."""
        if self.model.config.mode != "vae":
            raise ValueError("an auto-encoder has no prior to sample from; use a VAE (mode='vae')")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if temperature is not None and not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a positive number (or None: the model's own), got {temperature!r}")
        self._label_ids(label, 1, "sample")
        guidance = self._check_guidance(guidance)
        z = self.model.sample_prior(n, generator, temperature).cpu()                          # (n, Z)
        away = {"away_labels": self._away_labels(label, [label] * n), "guidance": guidance} \
            if label is not None and guidance > 0 else {}
        sents = self.decode(z, strategy=strategy, batch_size=batch_size, generator=generator, labels=label,
                            **away, **generate_kwargs)
        return SentencesOutput(sentences=sents, latents=z)

    def fit_prior(self, sentences: Sequence[str], components: int = 50, *, batch_size: int = 64, seed: int = 0,
                  iterations: int = 100, temperature: float = 1.0) -> dict:
        """Fit the sampling prior to this model's aggregate posterior: one code per sentence (use training
        sentences, a few tens of thousands), its posterior mean (the deterministic codes Ghosh et al. fit; fitting
        to z ~ q(z|x) instead measured worse, docs/experiments/en_vae_broad.md), then a ``components``-Gaussian
        mixture by EM
        (:mod:`textgen.vae.latent_prior`, Ghosh et al. 2020). :meth:`sample` draws from it from then on, at
        ``temperature`` unless told otherwise (reduced-temperature sampling: choose it on held-out data), and
        ``pipe.save_pretrained(dir)`` keeps it. Returns the fit's summary (codes, iterations, mean
        log-likelihood per code, and the same under N(0, I) for comparison). Sentences that cannot be encoded
        (empty, binary) are skipped."""
        if self.model.config.mode != "vae":
            raise ValueError("fit_prior: an auto-encoder or LM has no prior to fit; use a VAE (mode='vae')")
        if self.model.config.condition is not None:
            raise ValueError("fit_prior: a conditional VAE's codes depend on the label; fit the prior of an "
                             "unconditional VAE")
        if not (isinstance(temperature, (int, float)) and 0 < temperature <= 10 and math.isfinite(temperature)):
            raise ValueError(f"fit_prior: temperature must be in (0, 10] (1: the mixture as fitted), got {temperature!r}")
        enc = self.encode(sentences, batch_size, errors="skip")
        if enc.mu.size(0) < components:
            raise ValueError(f"fit_prior: {enc.mu.size(0)} sentences could be encoded, fewer than components="
                             f"{components}; pass more sentences (tens of thousands) or fewer components")
        z = enc.mu
        fit = fit_gaussian_mixture(z, components, iterations=iterations, seed=seed)
        self.model.set_latent_prior(fit, temperature)
        standard = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1).mean()
        return {"codes": z.size(0), "components": components, "iterations": fit["iterations"],
                "log_likelihood": fit["log_likelihood"], "log_likelihood_standard_normal": float(standard)}

    def interpolate(self, a: str, b: str, steps: int = 8, *, method: Literal["slerp", "linear"] = "slerp",
                    strategy: Strategy = "beam", dedupe: bool = True, generator: Optional[torch.Generator] = None,
                    label: Optional[str] = None, **generate_kwargs) -> InterpolationOutput:
        """Decode ``steps`` points between the posterior means of ``a`` and ``b``, plus both endpoints (a
        conditional VAE encodes both and decodes the path under ``label``).

        ``dedupe`` merges consecutive points that decode to the same sentence (keeping the first of each run,
        and the endpoint itself for the run that ends the path), so the path lists each change once.
        """
        if isinstance(steps, int) and not isinstance(steps, bool) and steps > MAX_STEPS:
            raise ValueError(f"steps={steps:,} is too many points for one path (at most {MAX_STEPS}); "
                             "a path of 8-20 points shows every change")
        generate_kwargs.setdefault("beam_size", BEAM_SIZE)
        self._label_ids(label, 1, "interpolate")
        enc = self.encode([a, b], labels=label)
        path, t = latent_path(enc.mu[0], enc.mu[1], steps, method)                  # (P, Z), (P,)
        sents = self.decode(path, strategy=strategy, generator=generator, labels=label, **generate_kwargs)
        weights = t.tolist()
        keep = list(range(len(sents)))
        if dedupe:
            keep = [i for i in keep if i == 0 or sents[i] != sents[i - 1]]            # first of each run
            last = len(sents) - 1
            if keep[-1] != last:                                 # the final run is represented by the endpoint
                if keep[-1] == 0:
                    keep.append(last)
                else:
                    keep[-1] = last
        return InterpolationOutput(
            sentences=[sents[i] for i in keep], latents=path[keep], weights=[weights[i] for i in keep],
            source=enc.texts[0], target=enc.texts[1], method=method,
            is_endpoint=[i in (0, len(sents) - 1) for i in keep],
            unknown_words=enc.unknown_words, num_truncated=enc.num_truncated,
        )

    def analogy(self, a: str, b: str, c: str, *, strategy: Strategy = "beam",
                generator: Optional[torch.Generator] = None, **generate_kwargs) -> AnalogyOutput:
        """"a is to b as c is to ?": decodes z_c + (z_b - z_a) from the posterior means."""
        generate_kwargs.setdefault("beam_size", BEAM_SIZE)
        enc = self.encode([a, b, c])
        z = latent_analogy(enc.mu[0], enc.mu[1], enc.mu[2])                          # (Z,)
        sent = self.decode(z[None], strategy=strategy, generator=generator, **generate_kwargs)[0]
        return AnalogyOutput(sentence=sent, latent=z, inputs=enc.texts, unknown_words=enc.unknown_words)
