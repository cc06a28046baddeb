"""``SentenceEncoder``: a trained VAE's encoder as a plain sentence-embedding function.

    from textgen import SentenceEncoder

    enc = SentenceEncoder.from_pretrained("en-lstm-vae")       # or a folder from train-vae
    X = enc.encode(["The market fell on Monday.", "Prices rose."])   # numpy (2, 64): posterior means
    v = enc.encode("Prices rose.")                              # one string: one vector (64,)
    enc.encode(lines, normalize_embeddings=True, convert_to_tensor=True)   # sentence-transformers' arguments
    X, ok = enc.encode(lines, errors="null")                    # NaN rows where ok is False
    X, kept = enc.encode(lines, errors="skip")                  # only the rows of the indices in kept
    for chunk in enc.encode_stream(open("big.txt")): ...        # any number of lines, flat memory
    ds = ds.map(enc.as_map_fn(column="text"), batched=True)     # a Hugging Face datasets column

``encode`` takes sentence-transformers' arguments (``normalize_embeddings``, ``show_progress_bar``,
``convert_to_numpy``, ``convert_to_tensor``, ``device``). The embedding of a sentence is the mean of its
posterior q(z|x) (``output="mean"``), a sample from it (``"sample"``), or both parameters side by side
(``"mean+logvar"``, shape (N, 2 * dim)). Sentences are
prepared as the model's tokenizer expects (:func:`textgen.tokenization.textprep.prepare_text`, the same
function the exported Hugging Face tokenizer runs), sorted by length into batches (little padding), encoded
without gradients, and returned in the input order. Control characters and undecodable bytes become spaces
(a stray byte in a large corpus does not stop the job). Memory stays flat however many sentences come in:
only one chunk of ids and one batch of activations is alive at a time.

**Bad items.** An item that is not a string, is empty (or nothing is left of it once prepared: ``"..."`` for
a model without punctuation), or has no word the vocabulary knows (every token would be ``<unk>``) cannot be
encoded. Every encoding entry point (this class, :class:`~textgen.pipelines.SentenceVAEPipeline`,
``textgen encode``, the datasets map function, :class:`~textgen.integrations.sklearn.VAEFeatures`) takes the
same policy, ``errors=``:

* ``"raise"`` (default): a ``ValueError`` (``TypeError`` for a non-string) naming the first bad item by
  its index and quoting at most 60 characters of it;
* ``"null"``: the item's row is NaN, and a boolean mask (True = encoded) comes back with the embeddings;
* ``"skip"``: the item is left out, and the indices of the kept items come back with the embeddings.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Optional, Sequence

import numpy as np
import torch

from textgen.core import logs
from textgen.core.pretrained import DEFAULT_VAE
from textgen.core.files import atomic_open, atomic_write_text
from textgen.core.runtime import progress, resolve_device
from textgen.core.text import quote, shorten
from textgen.tokenization.textprep import check_is_text, prepare_text
from textgen.vae.modeling import SentenceVAE

__all__ = ["SentenceEncoder", "Encoded", "EncodedChunk", "Problem", "FileReport", "encode_file", "read_lines",
           "ERRORS", "check_errors"]

Output = Literal["mean", "sample", "mean+logvar"]
Errors = Literal["raise", "skip", "null"]
ERRORS = ("raise", "skip", "null")


def check_errors(errors: Any) -> str:
    if errors not in ERRORS:
        raise ValueError(f"errors must be 'raise', 'skip' or 'null', got {errors!r}")
    return errors


@dataclass
class Problem:
    """Why item ``index`` could not be encoded."""

    index: int
    reason: Literal["not a string", "non-text", "empty", "no known word"]   # non-text: bytes, control characters
    message: str                                   # names the item and quotes at most 60 characters of it


@dataclass
class EncodedChunk:
    """Consecutive input items ``start .. start + len(ok) - 1``, encoded (one chunk of :meth:`encode_stream`)."""

    start: int
    mu: torch.Tensor                               # (n, Z) posterior means; NaN rows where ok is False
    logvar: Optional[torch.Tensor]                 # (n, Z), or None (an auto-encoder, or not asked for)
    ok: np.ndarray                                 # (n,) bool: True where the item was encoded
    problems: list[Problem] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)   # the items as the model read them ("" where not ok)
    inputs: list[Any] = field(default_factory=list)  # the items as given
    unknown_words: list[str] = field(default_factory=list)
    num_truncated: int = 0
    first_truncated: Optional[str] = None          # the first truncated item, as given


@dataclass
class Encoded:
    """Every chunk of :meth:`SentenceEncoder.encode_stream` joined: what both ``encode`` methods build on."""

    mu: torch.Tensor                               # (N, Z) on the CPU; NaN rows where ok is False
    logvar: Optional[torch.Tensor]                 # (N, Z), or None (an auto-encoder, or not asked for)
    ok: np.ndarray                                 # (N,) bool
    texts: list[str]                               # as the model read them ("" where not ok; [] unless asked for)
    unknown_words: list[str]
    num_truncated: int


def item_problem(index: int, label: str, item: Any, prepared: Optional[str], content_ids: Optional[list[int]],
                 unk_id: int, unknown: Sequence[str], vocab_size: int) -> Optional[Problem]:
    """The problem of one prepared item (``label`` names it in the message), or None if it can be encoded."""
    if prepared is not None and not prepared.strip():
        after = " after normalisation" if item.strip() else ""
        return Problem(index, "empty", f"{label} is empty{after} ({quote(item)}): pass a sentence with at least one word")
    if content_ids is not None and content_ids and all(i == unk_id for i in content_ids):
        words = f" ({shorten(', '.join(unknown))})" if unknown else ""
        return Problem(index, "no known word",
                       f"{label} ({quote(item)}) has only words outside the model's vocabulary{words}; the model "
                       f"would read nothing but <unk>. Use words it knows (a {vocab_size:,}-token vocabulary)")
    return None


def _former_names(former: dict, normalize_embeddings: bool, show_progress_bar: bool,
                  convert_to_tensor: bool) -> tuple[bool, bool, bool]:
    """``encode``'s former argument names, still accepted: ``normalize``, ``progress_bar``, ``return_tensors``."""
    unknown = sorted(set(former) - {"normalize", "progress_bar", "return_tensors"})
    if unknown:
        raise TypeError(f"encode() got an unexpected keyword argument {unknown[0]!r}")
    tensors = former.get("return_tensors", "np")
    if tensors not in ("np", "pt"):
        raise ValueError(f"return_tensors must be 'np' or 'pt', got {tensors!r}")
    return (former.get("normalize", normalize_embeddings), former.get("progress_bar", show_progress_bar),
            convert_to_tensor or tensors == "pt")


def raise_problem(problem: Problem) -> None:
    fix = "; or pass errors='skip' to leave such items out, or errors='null' for a NaN row"
    if problem.reason == "not a string":
        raise TypeError(problem.message + fix)
    raise ValueError(problem.message + fix)


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
    def from_pretrained(cls, name_or_path: str | os.PathLike = DEFAULT_VAE, *,
                        device: str | torch.device = "cpu") -> "SentenceEncoder":
        """Load a folder written by :meth:`save_pretrained` (or ``train-vae``), or a shipped model by name."""
        return cls(SentenceVAE.from_pretrained(name_or_path, device=resolve_device(device)))

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write the model and its tokenizer to ``directory``; ``from_pretrained(directory)`` loads them back."""
        return self.model.save_pretrained(directory, tokenizer=self.tokenizer)

    @property
    def dim(self) -> int:
        """Size of one embedding for ``output="mean"`` (the latent size)."""
        return self.model.config.latent_size

    @property
    def device(self) -> torch.device:
        return self.model.device

    def to(self, device: str | torch.device) -> "SentenceEncoder":
        """Move the model to ``device`` (``"cpu"``, ``"cuda:1"``, ``"auto"``, a ``torch.device``); returns self."""
        self.model.to(resolve_device(device))
        return self

    def __repr__(self) -> str:
        c = self.model.config
        return f"SentenceEncoder({c.encoder} encoder, dim={self.dim}, vocab={self.tokenizer.vocab_size}, device={self.device})"

    # -------------------------------------------------------------- the engine

    def _prepare_chunk(self, items: list[Any], start: int, text_errors: str, want_texts: bool, what: str,
                       number_from: int):
        """Token ids (content + <eos>) of the items that can be encoded, and the problems of the others."""
        tok = self.tokenizer
        word = tok.kind == "word"
        texts: list[Optional[str]] = []
        problems: dict[int, Problem] = {}
        unknown_of: dict[int, list[str]] = {}
        def label(j: int) -> str:              # messages count from number_from (0: Python indices, 1: lines)
            return f"{what} {start + j + number_from}"

        for j, item in enumerate(items):
            i = start + j
            if isinstance(item, (bytes, bytearray)):
                problems[j] = Problem(i, "non-text", f"{label(j)} is bytes, not text; decode it first "
                                                     "(e.g. data.decode('utf-8'))")
                texts.append(None)
                continue
            if not isinstance(item, str):
                problems[j] = Problem(i, "not a string", f"{label(j)} is a {type(item).__name__}, not a str; "
                                                         "pass a list of strings")
                texts.append(None)
                continue
            try:
                if word or want_texts:
                    p = prepare_text(item, tok, what=label(j), errors=text_errors)
                    text, unknown_of[j] = p.text, p.unknown
                else:                      # subword kinds: the tokenizer's own normaliser runs while encoding
                    text = check_is_text(item, label(j), text_errors)
            except ValueError as e:
                problems[j] = Problem(i, "non-text", str(e))
                texts.append(None)
                continue
            if not text.strip():
                problems[j] = item_problem(i, label(j), item, text, None, tok.unk_id, [], tok.vocab_size)
                texts.append(None)
                continue
            texts.append(text)
        keep = [j for j, t in enumerate(texts) if t is not None]
        enc = tok.encode_batch([texts[j] for j in keep], add_eos=True, max_length=self.max_length,
                               padding="do_not_pad", return_tensors=None)
        ids: dict[int, list[int]] = {}
        for j, row in zip(keep, enc.input_ids):
            content = row[:-1]
            if tok.unk_id in content:
                if j not in unknown_of:
                    unknown_of[j] = tok.unknown_words(tok.normalize(texts[j]))
                problem = item_problem(start + j, label(j), items[j], texts[j], content, tok.unk_id, unknown_of[j],
                                       tok.vocab_size)
                if problem is not None:
                    problems[j] = problem
                    continue
            ids[j] = row
        truncated = [keep[r] for r in enc.truncated]
        unknown = [w for j in ids for w in unknown_of.get(j, ())]
        shown = [t if t is not None and j in ids else "" for j, t in enumerate(texts)] if want_texts else []
        return ids, [problems[j] for j in sorted(problems)], list(dict.fromkeys(unknown)), truncated, shown

    @torch.no_grad()
    def encode_stream(self, sentences: Iterable[Any], batch_size: int = 256, *, errors: Errors = "raise",
                      output_logvar: bool = False, chunk_size: Optional[int] = None, text_errors: str = "replace",
                      want_texts: bool = False, what: str = "sentence", number_from: int = 0,
                      labels: Optional[Sequence[int]] = None) -> Iterator[EncodedChunk]:
        """Encode any iterable of sentences (a list, a file object, a generator) a chunk at a time.

        Yields :class:`EncodedChunk` s in input order; within a chunk the items are sorted by length into
        batches of ``batch_size``. Under ``errors="raise"`` the first bad item stops the stream with its
        message; otherwise its row is NaN and ``ok`` False (``skip`` is the caller's choice to drop it).
        Messages call item ``i`` "``what`` ``i + number_from``" (``what="line", number_from=1`` for files);
        ``Problem.index`` is always the 0-based input index. A conditional VAE needs ``labels``, one label id
        per sentence (:meth:`SentenceVAE.label_ids`): q(z | x, y).
        """
        check_errors(errors)
        if isinstance(sentences, (str, bytes)):
            raise TypeError("encode expects a list of strings, got a single string; wrap it in a list")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        chunk_size = chunk_size or 32 * batch_size
        pad, Z = self.tokenizer.pad_id, self.dim
        it = iter(sentences)
        start = 0
        while True:
            items = [s for _, s in zip(range(chunk_size), it)]
            if not items:
                return
            ids, problems, unknown, truncated, texts = self._prepare_chunk(items, start, text_errors, want_texts, what,
                                                                           number_from)
            if problems and errors == "raise":
                raise_problem(problems[0])
            n = len(items)
            mu = torch.full((n, Z), float("nan"))
            logvar = torch.full((n, Z), float("nan")) if output_logvar and self.model.config.mode == "vae" else None
            rows = sorted(ids, key=lambda j: len(ids[j]))                                  # length buckets
            for b0 in range(0, len(rows), batch_size):
                batch_rows = rows[b0:b0 + batch_size]
                lengths = torch.tensor([len(ids[j]) for j in batch_rows])
                batch = torch.full((len(batch_rows), int(lengths.max())), pad, dtype=torch.long)   # (b, T)
                for r, j in enumerate(batch_rows):
                    batch[r, : len(ids[j])] = torch.tensor(ids[j])
                y = {}
                if labels is not None:
                    y = {"labels": torch.as_tensor([int(labels[start + j]) for j in batch_rows], device=self.device)}
                m, lv = self.model.encode(batch.to(self.device), lengths, **y)            # (b, Z) each
                index = torch.tensor(batch_rows)
                mu[index] = m.float().cpu()
                if logvar is not None and lv is not None:
                    logvar[index] = lv.float().cpu()
            ok = np.zeros(n, dtype=bool)
            ok[list(ids)] = True
            yield EncodedChunk(start, mu, logvar, ok, problems, texts, items, unknown, len(truncated),
                               items[truncated[0]] if truncated else None)
            start += n

    # -------------------------------------------------------------- encoding

    def encode(self, sentences: str | Sequence[str], batch_size: int = 256, *, output: Output = "mean",
               normalize_embeddings: bool = False, errors: Errors = "raise", show_progress_bar: bool = True,
               convert_to_numpy: bool = True, convert_to_tensor: bool = False,
               device: Optional[str | torch.device] = None, generator: Optional[torch.Generator] = None,
               **former) -> Any:
        """Embeddings (N, dim) -- (N, 2 * dim) for ``"mean+logvar"`` -- in the input order; one vector (dim,)
        for a single string. An empty list gives a (0, dim) array.

        As in sentence-transformers: ``normalize_embeddings=True`` scales each row to unit L2 norm (for cosine
        similarity); ``convert_to_tensor=True`` (or ``convert_to_numpy=False``) returns a torch tensor (on the
        CPU) instead of numpy; ``device=`` moves the encoder there first (as :meth:`to`); ``show_progress_bar``
        shows a bar past one chunk (32 batches). The former names ``normalize=``, ``progress_bar=`` and
        ``return_tensors="np"|"pt"`` still work. With ``errors="null"`` the result is ``(embeddings, ok)``,
        ``ok`` a boolean (N,) mask and the other rows NaN; with ``errors="skip"`` it is ``(embeddings, kept)``,
        the rows of the items whose input indices are in ``kept`` (see the module docstring). For a single
        string both give ``(vector, encoded)``: a NaN vector and False if it could not be encoded.
        """
        normalize_embeddings, show_progress_bar, convert_to_tensor = _former_names(
            former, normalize_embeddings, show_progress_bar, convert_to_tensor)
        if output not in ("mean", "sample", "mean+logvar"):
            raise ValueError(f"output must be 'mean', 'sample' or 'mean+logvar', got {output!r}")
        if output != "mean" and self.model.config.mode != "vae":
            raise ValueError(f"output={output!r} needs a VAE posterior; an auto-encoder only has means")
        if device is not None:
            self.to(device)
        single = isinstance(sentences, (str, bytes))
        sentences = [sentences] if single else list(sentences)
        enc = self.encode_all(sentences, batch_size, errors=errors, output_logvar=output != "mean",
                              show_progress_bar=show_progress_bar)
        out = enc.mu
        if output == "sample":
            out = self.model.reparameterize(enc.mu, enc.logvar, generator)                # z ~ q(z|x)
        elif output == "mean+logvar":
            out = torch.cat([enc.mu, enc.logvar], dim=-1)
        if normalize_embeddings:
            out = torch.nn.functional.normalize(out, dim=-1)                  # NaN rows stay NaN
        if convert_to_numpy and not convert_to_tensor:
            out = out.numpy()
        if single:
            return out[0] if errors == "raise" else (out[0], bool(enc.ok[0]))
        if errors == "null":
            return out, enc.ok
        if errors == "skip":
            kept = np.flatnonzero(enc.ok)
            return out[kept], kept
        return out

    def encode_all(self, sentences: list, batch_size: int = 256, *, errors: Errors = "raise",
                   output_logvar: bool = False, show_progress_bar: bool = False, **stream_kwargs) -> Encoded:
        """:meth:`encode_stream` over a list, joined, with a progress bar over its chunks; warns (once per line of
        the caller's code) about truncated sentences and words read as ``<unk>``."""
        check_errors(errors)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        chunk_size = 32 * batch_size
        n_chunks = -(-len(sentences) // chunk_size)
        bar = progress(total=n_chunks, enabled=show_progress_bar and n_chunks > 1, desc="encode")
        chunks = []
        for chunk in self.encode_stream(sentences, batch_size, errors=errors, output_logvar=output_logvar,
                                        chunk_size=chunk_size, **stream_kwargs):
            chunks.append(chunk)
            bar.update(1)
        bar.close()
        empty = torch.empty(0, self.dim)
        has_logvar = output_logvar and self.model.config.mode == "vae"
        unknown = list(dict.fromkeys(w for c in chunks for w in c.unknown_words))
        cut = sum(c.num_truncated for c in chunks)
        if unknown:
            logs.warn(f"{len(unknown)} word(s) outside the model's vocabulary are read as <unk>: "
                      f"{shorten(', '.join(unknown))}", key="unknown-words")
        if cut:
            first = next(c.first_truncated for c in chunks if c.first_truncated is not None)
            logs.warn(f"{cut} sentence(s) longer than the model's maximum of {self.max_length} tokens (incl. <eos>) "
                      f"were truncated to it, the first: {quote(first)}", key="truncated")
        return Encoded(mu=torch.cat([c.mu for c in chunks]) if chunks else empty,
                       logvar=(torch.cat([c.logvar for c in chunks]) if chunks else empty) if has_logvar else None,
                       ok=np.concatenate([c.ok for c in chunks]) if chunks else np.zeros(0, dtype=bool),
                       texts=[t for c in chunks for t in c.texts], unknown_words=unknown, num_truncated=cut)

    def as_map_fn(self, column: str = "text", out_column: str = "embedding", *, errors: Errors = "raise",
                  mask_column: str = "embedding_ok", **encode_kwargs) -> Callable[[dict], dict]:
        """A function for ``datasets.Dataset.map(fn, batched=True)`` that adds an embedding column.

        ``errors="null"`` also adds ``mask_column`` (True where encoded, NaN embeddings elsewhere);
        ``errors="skip"`` drops the rows that cannot be encoded, keeping every other column aligned.
        In worker processes (``num_proc > 1``) it sets one torch thread per worker: torch's default
        thread pool in forked workers stalls the map.
        """
        check_errors(errors)
        encode_kwargs.setdefault("show_progress_bar", False)
        main_pid = os.getpid()

        def fn(batch: dict) -> dict:
            if column not in batch:
                raise KeyError(f"the dataset has no column {column!r}; its columns are {', '.join(batch)}")
            if os.getpid() != main_pid and torch.get_num_threads() != 1:
                torch.set_num_threads(1)                                   # a datasets worker process
            result = self.encode(batch[column], errors=errors, **encode_kwargs)
            if errors == "raise":
                return {out_column: result}
            emb, extra = result
            if errors == "null":
                return {out_column: emb, mask_column: extra}
            kept = extra.tolist()
            return {**{k: [v[i] for i in kept] for k, v in batch.items()}, out_column: emb}

        return fn


# ----------------------------------------------------------------------------- files

@dataclass
class FileReport:
    """What :func:`encode_file` did: rows written, and the lines it could not encode."""

    path: str
    rows: int
    lines: int
    shape: tuple[int, ...]
    problems: list[Problem]                      # Problem.index: 0-based line index
    num_truncated: int = 0
    num_undecodable: int = 0                     # lines with bytes that are not UTF-8 (read as spaces)
    lines_file: Optional[str] = None             # .npy under errors="skip": the line number of each row

    def summary(self, errors: str, limit: int = 10) -> Optional[str]:
        """One line about the lines that could not be encoded (None if there were none)."""
        if not self.problems:
            return None
        counts: dict[str, int] = {}
        for p in self.problems:
            counts[p.reason] = counts.get(p.reason, 0) + 1
        kinds = ", ".join(f"{n:,} {reason}" for reason, n in counts.items())
        numbers = ", ".join(str(p.index + 1) for p in self.problems[:limit])
        more = f" and {len(self.problems) - limit:,} more" if len(self.problems) > limit else ""
        what = "left out" if errors == "skip" else "written as NaN rows (null in JSONL)"
        return f"{len(self.problems):,} of {self.lines:,} lines could not be encoded ({kinds}) and were {what}: " \
               f"line {numbers}{more}"


def read_lines(path: str | os.PathLike) -> Iterator[str]:
    """The lines of a text file, streamed: universal newlines (\\n, \\r\\n and a lone \\r all end a line), the
    newline itself removed; bytes that are not UTF-8 come through as surrogates (encoded as spaces)."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline=None) as f:
        for line in f:
            yield line[:-1] if line.endswith("\n") else line


def encode_file(encoder: SentenceEncoder, lines: Iterable[str], out: str | os.PathLike, *, errors: Errors = "raise",
                logvar: bool = False, batch_size: int = 256, what: str = "line",
                on_chunk: Optional[Callable[[int], None]] = None) -> FileReport:
    """Encode ``lines`` (an iterable: a list, or :func:`read_lines` of a file) into ``out``, streaming.

    ``out`` ends in ``.npy`` -- an (N, Z) float32 array, (N, 2, Z) with ``logvar`` -- or ``.jsonl``, one
    ``{"line", "text", "mu"[, "logvar"]}`` object per line. Memory stays flat: rows go to a temporary file as
    they are encoded, and the result appears in one rename at the end (an interrupted run leaves no partial
    file). Bad lines follow ``errors``: ``raise`` stops at the first; ``null`` writes NaN rows (``null`` in
    JSONL); ``skip`` leaves them out, and for ``.npy`` writes ``<out>.lines.txt`` with each row's line number.
    """
    import json
    import tempfile

    check_errors(errors)
    out = Path(out)
    if out.suffix not in (".npy", ".jsonl"):
        raise ValueError(f"the output must end in .npy or .jsonl, got {out.name!r}")
    if logvar and encoder.model.config.mode != "vae":
        raise ValueError("--logvar needs a VAE posterior; an auto-encoder only has means")
    out.parent.mkdir(parents=True, exist_ok=True)
    problems: list[Problem] = []
    rows = total = cut = undecodable = 0
    kept_lines: list[int] = []

    def count_undecodable(items: Iterable[str]) -> Iterator[str]:
        nonlocal undecodable
        for item in items:
            if isinstance(item, str) and any("\udc80" <= ch <= "\udcff" for ch in item):
                undecodable += 1
            yield item

    fd, raw_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    raw = Path(raw_name)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in encoder.encode_stream(count_undecodable(lines), batch_size, errors=errors,
                                               output_logvar=logvar, what=what, number_from=1):
                n = len(chunk.ok)
                emb = chunk.mu if not logvar else torch.stack([chunk.mu, chunk.logvar], dim=1)   # (n, Z) / (n, 2, Z)
                keep = np.flatnonzero(chunk.ok) if errors == "skip" else np.arange(n)
                if out.suffix == ".npy":
                    f.write(np.ascontiguousarray(emb.numpy()[keep], dtype="<f4").tobytes())
                else:
                    for j in keep.tolist():
                        item = chunk.inputs[j]
                        row: dict[str, Any] = {"line": chunk.start + j + 1,
                                               "text": _printable(item) if isinstance(item, str) else None,
                                               "mu": chunk.mu[j].tolist() if chunk.ok[j] else None}
                        if logvar:
                            row["logvar"] = chunk.logvar[j].tolist() if chunk.ok[j] else None
                        f.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
                kept_lines += (keep + chunk.start + 1).tolist() if errors == "skip" else []
                problems += chunk.problems
                rows += len(keep)
                total += n
                cut += chunk.num_truncated
                if on_chunk is not None:
                    on_chunk(n)
            f.flush()
            os.fsync(f.fileno())
        if total == 0:
            raise ValueError("no lines to encode: the input is empty")
        shape: tuple[int, ...] = (rows, 2, encoder.dim) if logvar else (rows, encoder.dim)
        lines_file = None
        if out.suffix == ".npy":
            _npy_from_raw(raw, out, shape)
            if errors == "skip":
                lines_file = str(out) + ".lines.txt"
                atomic_write_text(lines_file, "".join(f"{n}\n" for n in kept_lines))
        else:
            os.replace(raw, out)
        return FileReport(str(out), rows, total, shape, problems, cut, undecodable, lines_file)
    finally:
        raw.unlink(missing_ok=True)


def _printable(text: str) -> str:
    """``text`` with undecodable bytes (surrogates from surrogateescape) as "?", so it can be written."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _npy_from_raw(raw, out, shape: tuple[int, ...]) -> None:
    """``out`` (.npy) = a header for float32 ``shape`` + the raw rows, copied in blocks, then one rename."""
    with atomic_open(out) as f, open(raw, "rb") as src:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
        shutil.copyfileobj(src, f, 16 << 20)


