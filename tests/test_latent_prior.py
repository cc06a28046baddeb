"""The sampling prior fitted to the aggregate posterior: EM for a Gaussian mixture, and its life in a model folder."""
import json

import pytest
import torch

from textgen.cli import main
from textgen.core.config import ConfigError, load_config
from textgen.pipelines import SentenceVAEPipeline
from textgen.vae.configuration import SentenceVAEConfig, VAERunConfig
from textgen.vae.latent_prior import GaussianMixturePrior, fit_gaussian_mixture
from textgen.vae.modeling import SentenceVAE

from conftest import TINY_SENTENCES


def two_clusters(n=3000, seed=0):
    """30% around (-4, 0) with covariance diag(1, 0.25), 70% around (3, 3) correlated: (n, 2) and the truth."""
    g = torch.Generator().manual_seed(seed)
    n_a = int(0.3 * n)
    a = torch.randn(n_a, 2, generator=g) * torch.tensor([1.0, 0.5]) + torch.tensor([-4.0, 0.0])
    L_b = torch.tensor([[1.0, 0.0], [0.8, 0.6]])
    b = torch.randn(n - n_a, 2, generator=g) @ L_b.T + torch.tensor([3.0, 3.0])
    return torch.cat([a, b]), {"weights": [0.3, 0.7], "means": [[-4.0, 0.0], [3.0, 3.0]],
                               "covs": [torch.diag(torch.tensor([1.0, 0.25])), L_b @ L_b.T]}


def test_em_recovers_a_known_mixture():
    x, truth = two_clusters()
    fit = fit_gaussian_mixture(x, 2, seed=1)
    order = fit["means"][:, 0].argsort()                       # component of the left cluster first
    w, m, L = fit["weights"][order], fit["means"][order], fit["scale_tril"][order]
    assert torch.allclose(w, torch.tensor(truth["weights"]), atol=0.02)
    assert torch.allclose(m, torch.tensor(truth["means"]), atol=0.1)
    for k in range(2):
        assert torch.allclose(L[k] @ L[k].T, truth["covs"][k], atol=0.12)
    assert 1 <= fit["iterations"] <= 100


def test_log_prob_is_the_mixture_density():
    x, _ = two_clusters(500)
    fit = fit_gaussian_mixture(x, 3, seed=0)
    prior = GaussianMixturePrior(3, 2)
    prior.load_fit(fit["weights"], fit["means"], fit["scale_tril"])
    ref = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=fit["weights"]),
        torch.distributions.MultivariateNormal(fit["means"], scale_tril=fit["scale_tril"]))
    assert torch.allclose(prior.log_prob(x[:50]), ref.log_prob(x[:50]), atol=1e-4)
    assert fit["log_likelihood"] == pytest.approx(float(ref.log_prob(x).mean()), abs=1e-3)


def test_an_unfitted_prior_is_the_standard_normal_and_samples_follow_a_fitted_one():
    z = GaussianMixturePrior(4, 3).sample(20000, torch.Generator().manual_seed(0))
    assert z.mean(0).abs().max() < 0.05 and (z.var(0) - 1).abs().max() < 0.05
    x, truth = two_clusters(4000)
    prior = GaussianMixturePrior(2, 2)
    fit = fit_gaussian_mixture(x, 2)
    prior.load_fit(fit["weights"], fit["means"], fit["scale_tril"])
    s = prior.sample(20000, torch.Generator().manual_seed(1))
    assert (s[:, 0] < -0.5).float().mean() == pytest.approx(0.3, abs=0.02)
    assert torch.allclose(s.mean(0), x.mean(0), atol=0.1)
    cold = prior.sample(2000, torch.Generator().manual_seed(2), temperature=0.01)   # spread scaled to ~nothing
    assert torch.cdist(cold, fit["means"]).min(1).values.max() < 0.1


def test_bad_fits_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="components <= points"):
        fit_gaussian_mixture(torch.randn(5, 2), 6)
    with pytest.raises(ValueError, match="NaN"):
        fit_gaussian_mixture(torch.tensor([[0.0, float("nan")]] * 10), 2)
    with pytest.raises(ValueError, match="does not fit"):
        GaussianMixturePrior(2, 3).load_fit(torch.ones(2) / 2, torch.zeros(2, 4), torch.eye(4).repeat(2, 1, 1))


def test_the_prior_travels_in_the_model_folder_and_sample_uses_it(model_dir, tmp_path):
    pipe = SentenceVAEPipeline.from_pretrained(model_dir, show_progress=False)
    before = pipe.sample(4, generator=torch.Generator().manual_seed(0)).latents
    info = pipe.fit_prior(TINY_SENTENCES * 3, 2, seed=0)
    assert info["codes"] == 30 and info["components"] == 2
    assert info["log_likelihood"] > info["log_likelihood_standard_normal"]   # the codes fill less than N(0, I)
    pipe.model.save_pretrained(tmp_path / "with-prior")
    config = json.loads((tmp_path / "with-prior" / "config.json").read_text())
    assert config["config"]["latent_prior_components"] == 2
    again = SentenceVAEPipeline.from_pretrained(tmp_path / "with-prior", show_progress=False)
    for name in ("weights", "means", "scale_tril"):
        assert torch.equal(getattr(again.model.latent_prior, name), getattr(pipe.model.latent_prior, name))
    out = again.sample(4, generator=torch.Generator().manual_seed(0))
    assert len(out.sentences) == 4 and not torch.allclose(out.latents, before)
    assert torch.equal(out.latents, pipe.sample(4, generator=torch.Generator().manual_seed(0)).latents)
    # its codes lie where the training sentences' codes are, unlike N(0, I)'s
    mu = pipe.encode(TINY_SENTENCES).mu
    many = again.sample(200, generator=torch.Generator().manual_seed(3)).latents
    near = torch.cdist(many, mu).min(1).values.median()
    far = torch.cdist(torch.randn(200, 8, generator=torch.Generator().manual_seed(3)), mu).min(1).values.median()
    assert near < far


def test_fit_prior_refuses_too_few_sentences_and_models_without_a_prior(model_dir, tmp_path):
    pipe = SentenceVAEPipeline.from_pretrained(model_dir, show_progress=False)
    with pytest.raises(ValueError, match="fewer than components"):
        pipe.fit_prior(TINY_SENTENCES[:3], 5)
    means = pipe.encode(TINY_SENTENCES).mu
    pipe.fit_prior(TINY_SENTENCES, 1)                               # one component on the means: their moments
    assert torch.allclose(pipe.model.latent_prior.means[0], means.mean(0), atol=1e-5)
    ae = SentenceVAE(SentenceVAEConfig(vocab_size=20, embed_size=8, hidden_size=8, latent_size=4, mode="ae"))
    with pytest.raises(ValueError, match="auto-encoder"):
        ae.set_latent_prior({"weights": torch.ones(1), "means": torch.zeros(1, 4), "scale_tril": torch.eye(4)[None]})
    with pytest.raises(ValueError, match="mode='vae'"):
        SentenceVAE(SentenceVAEConfig(vocab_size=20, embed_size=8, hidden_size=8, latent_size=4, mode="ae",
                                      latent_prior_components=2))


def test_a_training_run_refuses_a_prior_to_train():
    with pytest.raises(ConfigError, match="fit-prior"):
        load_config(VAERunConfig, None, ["model.latent_prior_components=4"])


def test_cli_fit_prior_writes_a_folder_that_samples_from_it(model_dir, tmp_path, capsys):
    data = tmp_path / "train.txt"
    data.write_text("\n".join(TINY_SENTENCES * 5) + "\n", encoding="utf-8")
    out = tmp_path / "fitted"
    assert main(["fit-prior", "--model", str(model_dir), "--data", str(data), "--out", str(out),
                 "--components", "3", "--num-sentences", "40", "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "3-component Gaussian mixture to 40 codes" in said and str(out) in said
    assert SentenceVAE.from_pretrained(out).config.latent_prior_components == 3
    assert main(["sample", "-n", "2", "--model", str(out)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    assert main(["fit-prior", "--model", str(model_dir), "--data", str(data), "--out", str(out),
                 "--components", "30", "--num-sentences", "10"]) == 2
    assert "--num-sentences (10) must be at least --components (30)" in capsys.readouterr().err


def test_the_sampling_temperature_is_kept_in_the_folder_and_used_by_default(model_dir, tmp_path, capsys):
    pipe = SentenceVAEPipeline.from_pretrained(model_dir, show_progress=False)
    with pytest.raises(ValueError, match=r"temperature must be in \(0, 10\]"):
        pipe.fit_prior(TINY_SENTENCES * 3, 2, temperature=0.0)
    pipe.fit_prior(TINY_SENTENCES * 3, 2, seed=0, temperature=0.5)
    pipe.model.save_pretrained(tmp_path / "cool")
    again = SentenceVAEPipeline.from_pretrained(tmp_path / "cool", show_progress=False)
    assert again.model.config.latent_prior_temperature == 0.5
    default = again.sample(6, generator=torch.Generator().manual_seed(0)).latents
    told = again.sample(6, temperature=0.5, generator=torch.Generator().manual_seed(0)).latents
    full = again.sample(6, temperature=1.0, generator=torch.Generator().manual_seed(0)).latents
    assert torch.equal(default, told) and not torch.allclose(default, full)
    # the same components and draws: the spread around each component's mean is halved
    means = again.model.latent_prior.means
    assert torch.cdist(default, means).min(1).values.sum() < torch.cdist(full, means).min(1).values.sum()
    data = tmp_path / "train.txt"
    data.write_text("\n".join(TINY_SENTENCES * 5) + "\n", encoding="utf-8")
    assert main(["fit-prior", "--model", str(model_dir), "--data", str(data), "--out", str(tmp_path / "cli"),
                 "--components", "2", "--num-sentences", "40", "--temperature", "0.8", "--quiet"]) == 0
    assert "sampled at temperature 0.8" in capsys.readouterr().out
    assert main(["sample", "-n", "2", "--json", "--model", str(tmp_path / "cli")]) == 0
    assert json.loads(capsys.readouterr().out)["temperature"] == 0.8
