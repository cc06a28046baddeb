"""Starting a sentence VAE from another model's weights: the LM baseline's decoder (Li et al. 2020), or an
auto-encoder's encoder (Li et al. 2019). :func:`warm_start` copies what matches and reports what it did."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import torch

from textgen.vae.modeling import SentenceVAE

__all__ = ["WarmStart", "warm_start"]


@dataclass
class WarmStart:
    """What :func:`warm_start` did, parameter name by parameter name."""

    copied: list[str]            # same name and shape: copied
    widened: list[str]           # partly copied: an RNN input's source columns (z's zeroed), or an AE's mu rows
    zeroed: list[str]            # z's entry points into the decoder, zeroed so they add nothing at first
    fresh: list[str]             # left at their initialisation (e.g. the encoder when starting from an LM)
    exact: bool                  # True when the decoder computes exactly the source's p(x_t | x_<t) for any z

    def summary(self) -> str:
        return (f"{len(self.copied)} tensors copied, {len(self.widened)} partly copied, {len(self.zeroed)} z-inputs "
                f"zeroed, {len(self.fresh)} new" + ("; the decoder starts as the source model exactly" if self.exact else ""))


# Where z enters the decoder, and Transformer cross-attention's output projection (its residual branch to z):
# zeroed when the source has no such tensor, so that a z-decoder computes what a z-free one did.
_Z_ENTRIES = re.compile(r"decoder\.(z_to_state|z_embed)\.|decoder\.blocks\.\d+\.cross\.proj\.")
_CROSS_BRANCH = re.compile(r"decoder\.(z_memory\.|blocks\.\d+\.(cross|ln_x)\.)")


@torch.no_grad()
def warm_start(model: SentenceVAE, source: SentenceVAE, parts: Literal["all", "encoder"] = "all") -> WarmStart:
    """Initialise ``model`` from the weights of a trained ``source``.

    ``parts="all"`` (typically from the LM baseline): starting a VAE's decoder from a trained language
    model is the decoder pre-training of Li et al. (2020, Optimus, with GPT-2) applied to the LSTM
    baseline. Tensors of the same name and shape are copied; an RNN input matrix that is wider here
    because z is concatenated to every step keeps the source's columns and gets zeros for z;
    ``z_to_state``, ``z_embed`` and the output projection of a Transformer's cross-attention to z, absent
    in an LM, are zeroed. The decoder then starts as the LM exactly (``WarmStart.exact``): the VAE's first
    ELBO is the LM's log-likelihood minus the KL, and training adds what z can explain. What the source
    lacks keeps its initialisation: the encoder (except the embedding it shares with the decoder), and a
    Transformer's z prefix token (then ``exact`` is False: the prefix shifts every position).

    ``parts="encoder"`` (from an auto-encoder or a beta = 0 VAE): the encoder and the embedding table it
    reads are copied and the decoder keeps its fresh initialisation. This is the recipe of Li et al.
    (2019, "A Surprisingly Effective Fix for Deep Latent Variable Modeling of Text"): pre-train q(z|x)
    with the auto-encoding objective, reset the decoder, then train the VAE with free bits, so that the
    decoder learns to read an informative z before it becomes a good language model on its own. An AE's
    head predicts mu only; a VAE's predicts (mu, logvar): the mu rows are copied and the logvar rows keep
    their initialisation (listed in ``widened``). With ``share_embeddings`` the decoder reads (and with
    ``tie_embeddings`` predicts through) that same copied table.

    A conditional VAE (``model.condition``) started from an unconditional VAE with ``parts="all"`` copies
    everything; the inputs that read the label (the encoder head, the decoder's z inputs) keep the source's
    columns and get zeros for the label's, so it starts as the source and training teaches it the label.

    Raises ``ValueError`` naming the problem when the copied parts differ in kind, size, vocabulary or tying.
    """
    c, sc = model.config, source.config
    if parts not in ("all", "encoder"):
        raise ValueError(f"warm start: parts must be 'all' or 'encoder', got {parts!r}")
    if sc.vocab_size != c.vocab_size:
        raise ValueError(f"warm start: the source has a vocabulary of {sc.vocab_size} tokens, this model "
                         f"{c.vocab_size}; train with the source's tokenizer (leave tokenizer.path unset)")
    if parts == "encoder":
        return _warm_start_encoder(model, source)
    if sc.decoder != c.decoder:
        raise ValueError(f"warm start: the source has a {sc.decoder} decoder, this model a {c.decoder} one; "
                         f"set model.decoder={sc.decoder}")
    if sc.tie_embeddings != c.tie_embeddings:
        raise ValueError(f"warm start: the source has tie_embeddings={sc.tie_embeddings}, this model "
                         f"{c.tie_embeddings}; set model.tie_embeddings={str(sc.tie_embeddings).lower()}")
    if sc.mode != "lm" and c.mode != "lm" and sc.share_embeddings != c.share_embeddings:
        raise ValueError(f"warm start: the source has share_embeddings={sc.share_embeddings}, this model "
                         f"{c.share_embeddings}; set model.share_embeddings={str(sc.share_embeddings).lower()}")
    src = source.state_dict()
    ours = model.state_dict(keep_vars=True)
    report = WarmStart([], [], [], [], exact=False)
    mismatched, seen = [], set()
    for name, tensor in ours.items():
        if id(tensor) in seen:                      # a tied or shared tensor, handled under its first name
            continue
        seen.add(id(tensor))
        param, theirs = tensor.data, src.get(name)
        if theirs is None and _Z_ENTRIES.match(name):
            param.zero_()
            report.zeroed.append(name)
        elif theirs is None:
            report.fresh.append(name)                # the encoder; a Transformer's cross-attention to z
        elif theirs.shape == param.shape:
            param.copy_(theirs)
            report.copied.append(name)
        elif (name == "decoder.rnn.weight_ih_l0" and param.size(0) == theirs.size(0)
              and theirs.size(1) == sc.embed_size < param.size(1)):
            param.zero_()
            param[:, : theirs.size(1)] = theirs                                   # (4H, E) into (4H, E+Z)
            report.widened.append(name)
        elif (c.condition is not None and sc.condition is None and param.dim() == 2 and theirs.dim() == 2
              and param.size(0) == theirs.size(0) and param.size(1) - theirs.size(1) == c.condition.size):
            # a conditional VAE from an unconditional one: the label's columns come last ([h, y], [z, y],
            # [emb, z, y]) and start at zero, so the model starts as the source exactly and learns to use y
            param.zero_()
            param[:, : theirs.size(1)] = theirs
            report.widened.append(name)
        else:
            mismatched.append(f"{name}: {tuple(param.shape)} here vs {tuple(theirs.shape)} in the source")
    _raise_if_mismatched(mismatched, "embed_size, hidden_size, decoder_layers and tie_embeddings")
    unused = [k for k in src if k.startswith("decoder.") and k not in ours]   # e.g. a source VAE's z_to_state
    fresh_decoder = [n for n in report.fresh if n.startswith("decoder.") and not _CROSS_BRANCH.match(n)]
    report.exact = not unused and not fresh_decoder
    return report


def _warm_start_encoder(model: SentenceVAE, source: SentenceVAE) -> WarmStart:
    """``warm_start(..., parts="encoder")``: copy q(z|x) and its embedding, leave the decoder fresh."""
    c, sc = model.config, source.config
    if sc.mode == "lm":
        raise ValueError("warm start of the encoder: the source has mode=lm and no encoder; start the encoder from "
                         "an auto-encoder or VAE folder (e.g. one trained with model.mode=ae)")
    if c.mode == "lm":
        raise ValueError("warm start of the encoder: this model has mode=lm and no encoder to start; "
                         "set model.mode=vae (or ae), or train.init_parts=all")
    if sc.mode == "vae" and c.mode == "ae":
        raise ValueError("warm start: the source encoder is a VAE's (mu and logvar), this model is a deterministic "
                         "auto-encoder; start a mode=ae model from an auto-encoder, or set model.mode=vae")
    # settings that change what same-shaped encoder tensors mean, or which tensors exist
    keys = ["encoder", "latent_size", "embed_size"]
    keys += (["hidden_size", "encoder_layers", "num_heads", "ff_size", "pooling", "positional", "max_length"]
             if c.encoder == "transformer" else ["encoder_layers", "bidirectional"])
    differ = [(k, getattr(sc, k), getattr(c, k)) for k in keys if getattr(sc, k) != getattr(c, k)]
    theirs_h, ours_h = sc.encoder_hidden_size or sc.hidden_size, c.encoder_hidden_size or c.hidden_size
    if c.encoder != "transformer" and theirs_h != ours_h:     # an RNN's effective size (null: hidden_size)
        differ.append(("encoder_hidden_size", theirs_h, ours_h))
    if differ:
        raise ValueError("warm start of the encoder: the source's encoder differs: "
                         + "; ".join(f"{k}={theirs!r} there, {ours!r} here" for k, theirs, ours in differ)
                         + ". Set " + " ".join(f"model.{k}={str(v).lower() if isinstance(v, bool) else v}"
                                               for k, v, _ in differ))
    src = source.state_dict()
    ours = model.state_dict(keep_vars=True)
    report = WarmStart([], [], [], [], exact=False)
    mismatched, seen = [], set()
    for name, tensor in ours.items():
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        param, theirs = tensor.data, src.get(name)
        if not (name.startswith("encoder.") or name == "embedding.weight"):
            report.fresh.append(name)                # the decoder (and a separate decoder embedding)
        elif theirs is not None and theirs.shape == param.shape:
            param.copy_(theirs)
            report.copied.append(name)
        elif (theirs is not None and name.startswith("encoder.head.") and sc.mode == "ae"
              and theirs.size(0) == c.latent_size and param.size(0) == 2 * c.latent_size
              and theirs.shape[1:] == param.shape[1:]):
            param[: c.latent_size] = theirs                                      # mu rows; logvar rows stay fresh
            report.widened.append(name)
        else:
            shape = "missing" if theirs is None else tuple(theirs.shape)
            mismatched.append(f"{name}: {tuple(param.shape)} here vs {shape} in the source")
    unused = [k for k in src if k.startswith("encoder.") and k not in ours]
    mismatched += [f"{k}: in the source only" for k in unused]
    _raise_if_mismatched(mismatched, "encoder settings")
    return report


def _raise_if_mismatched(mismatched: list[str], keys: str) -> None:
    if mismatched:
        more = f" (and {len(mismatched) - 4} more)" if len(mismatched) > 4 else ""
        raise ValueError("warm start: the model differs in size from the source: " + "; ".join(mismatched[:4]) + more
                         + f". Use the source's {keys}")
