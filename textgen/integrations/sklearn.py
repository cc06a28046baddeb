"""scikit-learn integration: ``VAEFeatures``, sentence embeddings as a pipeline step.

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from textgen.integrations.sklearn import VAEFeatures

    clf = make_pipeline(VAEFeatures("en-lstm-vae"), LogisticRegression(max_iter=1000))
    clf.fit(train_sentences, train_labels).score(test_sentences, test_labels)

``fit`` loads the encoder (it learns nothing from the data); ``transform`` returns the posterior means
(or samples / mean+logvar, see :class:`textgen.SentenceEncoder`). Pickling a fitted ``VAEFeatures`` stores
its parameters only, never the weights: unpickling reloads the model from ``model`` (a folder or shipped
name), so pipelines stay small and no weights travel through pickle. A truncated sentence or a word read as
``<unk>`` is warned about through the ``textgen`` logger once per line of the calling code, not on every
``transform``. Needs ``pip install "textgen[sklearn]"``.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from textgen.core.pretrained import DEFAULT_VAE
from textgen.core.text import shorten
from textgen.vae.sentence_encoder import SentenceEncoder

try:
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.utils.validation import check_is_fitted
except ImportError:  # pragma: no cover
    raise ImportError('VAEFeatures needs scikit-learn: pip install "textgen[sklearn]" (or pip install scikit-learn)') from None

__all__ = ["VAEFeatures", "as_sentences"]


def as_sentences(X: Any) -> list:
    """The sentences of ``X``: a list or other iterable of strings, a 1-D (or one-column 2-D) numpy array, a
    pandas Series or a one-column DataFrame (what a ``ColumnTransformer`` passes for ``["text"]``)."""
    if isinstance(X, (str, bytes)):
        raise TypeError("VAEFeatures expects an iterable of sentences, got a single string; wrap it in a list")
    if hasattr(X, "columns") and hasattr(X, "iloc"):                                 # a pandas DataFrame
        if X.shape[1] != 1:
            names = shorten(", ".join(map(str, X.columns)))
            raise ValueError(f"VAEFeatures reads one text column, but this DataFrame has {X.shape[1]} ({names}); "
                             "select the text column (X['text'], or ColumnTransformer([('vae', VAEFeatures(), "
                             "'text')]))")
        return X.iloc[:, 0].tolist()
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise ValueError(f"VAEFeatures reads one column of sentences, got an array of shape {X.shape}; pass "
                             "a 1-D array (or an (N, 1) one)")
        return X.tolist()
    if hasattr(X, "tolist") and getattr(X, "ndim", 1) == 1:                         # a pandas Series
        return X.tolist()
    rows = list(X)
    if rows and isinstance(rows[0], (list, tuple)):                                 # nested rows: one column only
        if any(len(r) != 1 for r in rows):
            raise ValueError("VAEFeatures reads one column of sentences, got rows of several values; pass one "
                             "sentence per row")
        rows = [r[0] for r in rows]
    return rows


class VAEFeatures(TransformerMixin, BaseEstimator):
    """Turn a column of sentences into a (N, dim) array of textgen VAE embeddings.

    ``errors="raise"`` (default) stops at a sentence that cannot be encoded (empty, no known word), naming
    it; ``errors="null"`` gives it a NaN row (follow with ``SimpleImputer`` or drop those rows).
    ``"skip"`` is refused: a transformer must return one row per input.
    """

    def __init__(self, model: str = DEFAULT_VAE, output: str = "mean", normalize: bool = False,
                 batch_size: int = 256, device: str = "cpu", seed: Optional[int] = 0, errors: str = "raise"):
        self.model = model
        self.output = output
        self.normalize = normalize
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self.errors = errors

    def fit(self, X: Any = None, y: Any = None) -> "VAEFeatures":
        if self.errors not in ("raise", "null"):
            hint = (": it would drop rows, and a transformer must return one row per input; use errors='null' "
                    "(NaN rows) with an imputer, or drop the bad sentences first") if self.errors == "skip" else ""
            raise ValueError(f"VAEFeatures takes errors='raise' or 'null', got {self.errors!r}{hint}")
        if X is not None:
            as_sentences(X)                                                 # refuse a wrong shape now
            self.n_features_in_ = 1
            if hasattr(X, "columns") and all(isinstance(c, str) for c in X.columns):
                self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.encoder_ = SentenceEncoder.from_pretrained(str(self.model), device=self.device)
        width = self.encoder_.dim * (2 if self.output == "mean+logvar" else 1)
        self.n_features_out_ = width
        return self

    def transform(self, X: Any) -> np.ndarray:
        import torch

        check_is_fitted(self, "encoder_")
        sentences = as_sentences(X)
        gen = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        out = self.encoder_.encode(sentences, batch_size=self.batch_size, output=self.output, errors=self.errors,
                                   normalize_embeddings=self.normalize, show_progress_bar=False, generator=gen)
        return out[0] if self.errors == "null" else out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "n_features_out_")
        dim = self.encoder_.dim
        names = [f"z{i}" for i in range(dim)]
        if self.output == "mean+logvar":
            names += [f"logvar{i}" for i in range(dim)]
        return np.asarray(names, dtype=object)

    # weights never go through pickle: store the parameters, reload the model from disk
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("encoder_", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "n_features_out_" in state:  # it was fitted: load the encoder again
            self.encoder_ = SentenceEncoder.from_pretrained(str(self.model), device=self.device)
