"""scikit-learn integration: VAEFeatures inside a Pipeline, cloning, pickling without weights."""
import pickle

import numpy as np
import pytest

from conftest import TINY_SENTENCES

pytest.importorskip("sklearn")


def test_vae_features_in_a_pipeline(model_dir):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from textgen import SentenceEncoder
    from textgen.integrations.sklearn import VAEFeatures

    X = TINY_SENTENCES * 3
    y = [int("want" in s) for s in X]
    clf = make_pipeline(VAEFeatures(str(model_dir)), LogisticRegression(max_iter=2000))
    clf.fit(X, y)
    assert clf.score(X, y) == 1.0  # the codes of a VAE that reconstructs these sentences separate them

    feats = clf[0]
    ref = SentenceEncoder.from_pretrained(model_dir).encode(TINY_SENTENCES)
    assert np.allclose(feats.transform(TINY_SENTENCES), ref, atol=1e-6)
    assert np.allclose(feats.transform(np.array(TINY_SENTENCES, dtype=object)[:, None]), ref, atol=1e-6)
    assert list(feats.get_feature_names_out()[:2]) == ["z0", "z1"]
    assert clone(feats).get_params() == feats.get_params()

    blob = pickle.dumps(clf)
    assert len(blob) < 20_000, "the weights must not travel through pickle"
    again = pickle.loads(blob)
    assert np.array_equal(again.predict(X), clf.predict(X))


def test_vae_features_errors(model_dir):
    from sklearn.exceptions import NotFittedError

    from textgen.integrations.sklearn import VAEFeatures

    with pytest.raises(NotFittedError):
        VAEFeatures(str(model_dir)).transform(["a"])
    with pytest.raises(TypeError, match="single string"):
        VAEFeatures(str(model_dir)).fit().transform("a sentence")
    both = VAEFeatures(str(model_dir), output="mean+logvar").fit()
    assert both.transform(TINY_SENTENCES[:2]).shape == (2, 16) and len(both.get_feature_names_out()) == 16
