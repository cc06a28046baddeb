"""scikit-learn integration: ``VAEFeatures``, sentence embeddings as a pipeline step.

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from textgen.integrations.sklearn import VAEFeatures

    clf = make_pipeline(VAEFeatures("en-lstm-vae"), LogisticRegression(max_iter=1000))
    clf.fit(train_sentences, train_labels).score(test_sentences, test_labels)

``fit`` loads the encoder (it learns nothing from the data); ``transform`` returns the posterior means
(or samples / mean+logvar, see :class:`textgen.SentenceEncoder`). Pickling a fitted ``VAEFeatures`` stores
its parameters only, never the weights: unpickling reloads the model from ``model`` (a folder or shipped
name), so pipelines stay small and no weights travel through pickle. Needs ``pip install "textgen[sklearn]"``.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from textgen.vae.sentence_encoder import SentenceEncoder
from textgen.core.pretrained import DEFAULT_VAE

try:
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.utils.validation import check_is_fitted
except ImportError:  # pragma: no cover
    raise ImportError('VAEFeatures needs scikit-learn: pip install "textgen[sklearn]" (or pip install scikit-learn)') from None

__all__ = ["VAEFeatures"]


class VAEFeatures(TransformerMixin, BaseEstimator):
    """Turn an iterable of sentences into a (N, dim) array of textgen VAE embeddings."""

    def __init__(self, model: str = DEFAULT_VAE, output: str = "mean", normalize: bool = False,
                 batch_size: int = 256, device: str = "cpu", seed: Optional[int] = 0):
        self.model = model
        self.output = output
        self.normalize = normalize
        self.batch_size = batch_size
        self.device = device
        self.seed = seed

    def fit(self, X: Any = None, y: Any = None) -> "VAEFeatures":
        self.encoder_ = SentenceEncoder.from_pretrained(str(self.model), device=self.device)
        width = self.encoder_.dim * (2 if self.output == "mean+logvar" else 1)
        self.n_features_out_ = width
        return self

    def transform(self, X: Any) -> np.ndarray:
        import torch

        check_is_fitted(self, "encoder_")
        if isinstance(X, str):
            raise TypeError("VAEFeatures.transform expects an iterable of sentences, got a single string")
        sentences = X.tolist() if isinstance(X, np.ndarray) else list(X)
        if sentences and isinstance(sentences[0], (list, tuple)) and len(sentences[0]) == 1:
            sentences = [row[0] for row in sentences]  # a one-column 2-D input (e.g. from a ColumnTransformer)
        gen = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        return self.encoder_.encode(sentences, batch_size=self.batch_size, output=self.output,
                                    normalize=self.normalize, progress_bar=False, generator=gen)

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
            self.fit()
