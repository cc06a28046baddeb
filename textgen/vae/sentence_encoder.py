"""``SentenceEncoder``: a trained VAE's encoder as a plain sentence-embedding function.

    from textgen import SentenceEncoder

    enc = SentenceEncoder.from_pretrained("en-lstm-vae")      # or a folder from train-vae
    X = enc.encode(["the market fell on monday", "prices rose"])  # numpy (2, 32): posterior means
    enc.dim, enc.tokenizer, enc.device
    ds = ds.map(enc.as_map_fn(column="text"), batched=True)       # a Hugging Face datasets column

The embedding of a sentence is the mean of its posterior q(z|x) (``output="mean"``), a sample from it
(``"sample"``), or both parameters side by side (``"mean+logvar"``, shape (N, 2 * dim)). Sentences are
normalised like :class:`~textgen.pipelines.SentenceVAEPipeline` does, sorted by length into batches
(little padding), encoded without gradients, and returned in the input order. Control characters and
undecodable bytes in the text become spaces (a stray byte in a large corpus does not stop the job). Memory stays flat however
many sentences are passed: only one batch of activations is alive at a time.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Literal, Optional, Sequence

import numpy as np
import torch

from textgen.vae.modeling import SentenceVAE
from textgen.core.pretrained import DEFAULT_VAE
from textgen.core.runtime import progress, resolve_device
from textgen.tokenization.textprep import prepare_text

__all__ = ["SentenceEncoder"]

Output = Literal["mean", "sample", "mean+logvar"]


class SentenceEncoder:
    """Sentence embeddings from the encoder of a :class:`SentenceVAE` (or auto-encoder)."""

    def __init__(self, model: SentenceVAE, tokenizer=None):
        tokenizer = tokenizer if tokenizer is not None else model.tokenizer
        if tokenizer is None:
            raise ValueError("the model has no tokenizer: load it with SentenceEncoder.from_pretrained(folder)")
        if model.config.mode == "lm":
            raise ValueError("a language-model baseline (mode='lm') has no encoder; load a VAE or auto-encoder folder")
        self.model = model.eval()
        self.tokenizer = tokenizer
        limit = [n for n in (tokenizer.max_length, model.max_positions) if n is not None]
        self.max_length: Optional[int] = min(limit) if limit else None

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike = DEFAULT_VAE, *, device: str = "cpu") -> "SentenceEncoder":
        return cls(SentenceVAE.from_pretrained(name_or_path, device=resolve_device(device)))

    @property
    def dim(self) -> int:
        """Size of one embedding for ``output="mean"`` (the latent size)."""
        return self.model.config.latent_size

    @property
    def device(self) -> torch.device:
        return self.model.device

    def to(self, device: str | torch.device) -> "SentenceEncoder":
        self.model.to(resolve_device(device) if isinstance(device, str) else device)
        return self

    def __repr__(self) -> str:
        c = self.model.config
        return f"SentenceEncoder({c.encoder} encoder, dim={self.dim}, vocab={self.tokenizer.vocab_size}, device={self.device})"

    # -------------------------------------------------------------- encoding

    def _ids(self, sentences: Sequence[str], offset: int = 0) -> tuple[list[list[int]], int, int, list[str]]:
        """Token ids (content + <eos>) of every sentence, with counts of empty and truncated ones."""
        texts, unknown = [], []
        for i, s in enumerate(sentences, offset):
            if not isinstance(s, str):
                raise TypeError(f"sentence {i} is a {type(s).__name__}, not a str; pass a list of strings")
            p = prepare_text(s, self.tokenizer, what=f"sentence {i}", errors="replace")
            texts.append(p.text)
            unknown += p.unknown
        enc = self.tokenizer.encode_batch(texts, add_eos=True, max_length=self.max_length,
                                          padding="do_not_pad", return_tensors=None)
        empty = sum(1 for t in texts if not t)
        return enc.input_ids, empty, enc.num_truncated, list(dict.fromkeys(unknown))

    @torch.no_grad()
    def encode(self, sentences: Sequence[str], batch_size: int = 256, *, output: Output = "mean",
               normalize: bool = False, progress_bar: bool = True, return_tensors: Literal["np", "pt"] = "np",
               generator: Optional[torch.Generator] = None) -> Any:
        """Embeddings (N, dim) -- (N, 2 * dim) for ``"mean+logvar"`` -- in the input order.

        ``normalize=True`` scales each row to unit L2 norm (for cosine similarity). Empty strings are
        encoded as ``<eos>`` alone (with a warning that counts them); an empty list gives a (0, dim) array.
        """
        if isinstance(sentences, (str, bytes)):
            raise TypeError("encode expects a list of strings, got a single string; wrap it in a list")
        if output not in ("mean", "sample", "mean+logvar"):
            raise ValueError(f"output must be 'mean', 'sample' or 'mean+logvar', got {output!r}")
        if return_tensors not in ("np", "pt"):
            raise ValueError(f"return_tensors must be 'np' or 'pt', got {return_tensors!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if output != "mean" and self.model.config.mode != "vae":
            raise ValueError(f"output={output!r} needs a VAE posterior; an auto-encoder only has means")
        sentences = list(sentences)
        width = 2 * self.dim if output == "mean+logvar" else self.dim
        out = torch.empty(len(sentences), width, dtype=torch.float32)
        # Work through the input a chunk at a time (tokenize, sort by length, encode in batches), so that
        # memory stays flat however long the input: only one chunk of ids and one batch of activations live.
        chunk = 32 * batch_size
        empty = cut = 0
        unknown: dict[str, None] = {}
        n_batches = sum(-(-min(chunk, len(sentences) - c0) // batch_size) for c0 in range(0, len(sentences), chunk))
        bar = progress(total=n_batches, enabled=progress_bar and n_batches > 1, desc="encode")
        pad = self.tokenizer.pad_id
        for c0 in range(0, len(sentences), chunk):
            ids, n_empty, n_cut, unk = self._ids(sentences[c0:c0 + chunk], offset=c0)
            empty, cut = empty + n_empty, cut + n_cut
            unknown.update(dict.fromkeys(unk))
            order = np.argsort([len(x) for x in ids], kind="stable")                # length buckets
            for b0 in range(0, len(order), batch_size):
                rows = order[b0:b0 + batch_size]
                lengths = torch.tensor([len(ids[i]) for i in rows])
                batch = torch.full((len(rows), int(lengths.max())), pad, dtype=torch.long)
                for j, i in enumerate(rows):
                    batch[j, : len(ids[i])] = torch.tensor(ids[i])
                mu, logvar = self.model.encode(batch.to(self.device), lengths)    # (b, Z) each
                if output == "sample":
                    emb = self.model.reparameterize(mu, logvar, generator)
                elif output == "mean+logvar":
                    emb = torch.cat([mu, logvar], dim=-1)
                else:
                    emb = mu
                out[torch.as_tensor(rows) + c0] = emb.float().cpu()
                bar.update(1)
        bar.close()
        if empty:
            warnings.warn(f"{empty} empty sentence(s) encoded as <eos> alone", UserWarning, stacklevel=2)
        if cut:
            warnings.warn(f"{cut} sentence(s) longer than {self.max_length} tokens were truncated", UserWarning, stacklevel=2)
        if unknown:
            words = list(unknown)
            warnings.warn(f"{len(words)} distinct word(s) outside the vocabulary were read as <unk> "
                          f"(e.g. {', '.join(words[:5])})", UserWarning, stacklevel=2)
        if normalize:
            out = torch.nn.functional.normalize(out, dim=-1)
        return out if return_tensors == "pt" else out.numpy()

    def as_map_fn(self, column: str = "text", out_column: str = "embedding", **encode_kwargs) -> Callable[[dict], dict]:
        """A function for ``datasets.Dataset.map(fn, batched=True)`` that adds an embedding column."""
        encode_kwargs.setdefault("progress_bar", False)

        def fn(batch: dict) -> dict:
            if column not in batch:
                raise KeyError(f"the dataset has no column {column!r}; its columns are {', '.join(batch)}")
            return {out_column: self.encode(batch[column], **encode_kwargs)}

        return fn
