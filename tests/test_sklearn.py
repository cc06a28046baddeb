"""scikit-learn integration: VAEFeatures inside a Pipeline, cloning, pickling without weights."""
import logging
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


def test_vae_features_reads_every_one_column_container_and_refuses_more(model_dir):
    import pandas as pd

    from textgen import SentenceEncoder
    from textgen.integrations.sklearn import VAEFeatures

    ref = SentenceEncoder.from_pretrained(model_dir).encode(TINY_SENTENCES)
    feats = VAEFeatures(str(model_dir)).fit()
    frame = pd.DataFrame({"text": TINY_SENTENCES})
    for X in (TINY_SENTENCES, tuple(TINY_SENTENCES), np.array(TINY_SENTENCES), np.array(TINY_SENTENCES)[:, None],
              pd.Series(TINY_SENTENCES), frame, frame[["text"]], [[s] for s in TINY_SENTENCES],
              (s for s in TINY_SENTENCES)):
        assert np.allclose(feats.transform(X), ref, atol=1e-6), type(X)
    two = pd.DataFrame({"text": TINY_SENTENCES, "label": range(10)})
    with pytest.raises(ValueError, match=r"one text column, but this DataFrame has 2 \(text, label\)"):
        feats.transform(two)
    with pytest.raises(ValueError, match=r"shape \(10, 2\)"):
        feats.transform(two.to_numpy())


def test_vae_features_follows_the_estimator_conventions_that_apply_to_text(model_dir):
    import pandas as pd
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    from textgen.integrations.sklearn import VAEFeatures

    est = VAEFeatures(str(model_dir), batch_size=3)
    params = est.get_params()
    assert est.fit(TINY_SENTENCES) is est and est.get_params() == params           # fit returns self, keeps params
    assert est.n_features_in_ == 1 and est.transform(TINY_SENTENCES).dtype == np.float32
    assert np.allclose(clone(est).fit_transform(TINY_SENTENCES), est.transform(TINY_SENTENCES), atol=1e-6)
    assert clone(est).set_params(normalize=True).get_params()["normalize"] is True
    frame = pd.DataFrame({"text": TINY_SENTENCES * 2, "n": range(20)})
    est.set_output(transform="pandas")
    out = est.fit(frame[["text"]]).transform(frame[["text"]])
    assert list(out.columns[:2]) == ["z0", "z1"] and out.shape == (20, 8)
    est.set_output(transform="default")
    y = [int("want" in s) for s in frame["text"]]
    ct = ColumnTransformer([("vae", VAEFeatures(str(model_dir)), ["text"]), ("n", "passthrough", ["n"])])
    assert ct.fit_transform(frame).shape == (20, 9)
    clf = make_pipeline(VAEFeatures(str(model_dir)), LogisticRegression(max_iter=2000))
    assert cross_val_score(clf, frame["text"], y, cv=2).shape == (2,)                # clone + fit in a model search
    # bad rows: raise names them, null gives NaN rows an imputer fills, skip is refused with the reason
    bad = TINY_SENTENCES[:4] + ["", "zzz qqq"]
    with pytest.raises(ValueError, match="sentence 4 is empty"):
        VAEFeatures(str(model_dir)).fit().transform(bad)
    Z = VAEFeatures(str(model_dir), errors="null").fit().transform(bad)
    assert np.isnan(Z[4:]).all() and np.isfinite(Z[:4]).all()
    assert np.isfinite(make_pipeline(VAEFeatures(str(model_dir), errors="null"), SimpleImputer()).fit_transform(bad)).all()
    with pytest.raises(ValueError, match="one row per input"):
        VAEFeatures(str(model_dir), errors="skip").fit()


def test_vae_features_warns_once_per_line_of_the_callers_code(model_dir, caplog, monkeypatch):
    from textgen.core.logs import reset_warned
    from textgen.integrations.sklearn import VAEFeatures

    reset_warned()
    monkeypatch.setattr(logging.getLogger("textgen"), "propagate", True)   # the CLI's handler turns it off
    caplog.set_level(logging.WARNING, logger="textgen")
    feats = VAEFeatures(str(model_dir)).fit()
    long = [" ".join(TINY_SENTENCES[:3])]                          # 18 words > max_length 12
    for _ in range(2):
        X = feats.transform(long)                                  # the same line twice: one warning
    truncated = [r for r in caplog.records if "truncated" in r.getMessage()]
    assert len(truncated) == 1 and X.shape == (1, 8)
    assert truncated[0].pathname == __file__                       # the caller's line, not textgen's or sklearn's
    assert truncated[0].funcName == "test_vae_features_warns_once_per_line_of_the_callers_code"
    feats.transform(long)                                          # another line warns again
    assert len([r for r in caplog.records if "truncated" in r.getMessage()]) == 2
