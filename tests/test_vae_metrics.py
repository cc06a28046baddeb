"""Evaluation metrics: ELBO, PPL (with <eos>), importance-weighted NLL, mutual information, active units."""
import math

import pytest
import torch

from textgen.vae.modeling import SentenceVAE
from textgen.vae.configuration import SentenceVAEConfig
from textgen.vae import vae_loss
from textgen.vae.metrics import (active_units, evaluate_vae, iw_log_likelihood, log_normal_diag, log_standard_normal,
                                 mutual_information, mutual_information_batch, perplexity)

PAD, UNK, BOS, EOS = 0, 1, 2, 3
V, Z = 40, 8


def tiny(**kw) -> SentenceVAEConfig:
    base = dict(vocab_size=V, embed_size=16, hidden_size=32, latent_size=Z, num_heads=4, ff_size=64, max_length=16)
    base.update(kw)
    return SentenceVAEConfig(**base)


def corpus(n=64, T=8, seed=0):
    """Sentences with structure (a topic word decides the rest) so that a VAE has something to encode."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, T + 1, (n,), generator=g)
    topic = torch.randint(0, 4, (n,), generator=g)
    ids = 4 + (topic[:, None] * 9 + torch.randint(0, 9, (n, T), generator=g)) % (V - 4)
    ids = ids.masked_fill(torch.arange(T)[None] >= lengths[:, None], PAD)
    ids[torch.arange(n), lengths - 1] = EOS
    return ids, lengths


def batches(ids, lengths, size=16):
    return [(ids[i:i + size], lengths[i:i + size]) for i in range(0, ids.size(0), size)]


@pytest.fixture(scope="module")
def trained():
    """A tiny VAE trained for a few steps (KL > 0, a posterior that depends on x)."""
    torch.manual_seed(0)
    model = SentenceVAE(tiny())
    ids, lengths = corpus()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(60):
        loss = vae_loss(model(ids, lengths), beta=0.2).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


# ----------------------------------------------------------------------------- densities, PPL

def test_gaussian_log_densities():
    z, mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, math.log(4.0)]])
    expect = sum(torch.distributions.Normal(m, s).log_prob(torch.tensor(x)) for x, m, s in [(0.5, 0.0, 1.0), (-1.0, 1.0, 2.0)])
    torch.testing.assert_close(log_normal_diag(z, mu, logvar)[0], torch.tensor(float(expect)))
    torch.testing.assert_close(log_standard_normal(z), log_normal_diag(z, torch.zeros(1, 2), torch.zeros(1, 2)))
    assert perplexity(10.0, 5) == pytest.approx(math.exp(2.0))


def test_lm_perplexity_is_exact_and_counts_eos():
    torch.manual_seed(0)
    lm = SentenceVAE(tiny(mode="lm")).eval()
    ids, lengths = corpus(n=24)
    res = evaluate_vae(lm, batches(ids, lengths, 10))
    ll = lm.log_likelihood(None, ids, lengths)
    assert res["num_tokens"] == int(lengths.sum())                       # <eos> is counted
    assert res["num_sentences"] == 24
    assert res["ppl"] == pytest.approx(math.exp(-ll.sum().item() / lengths.sum().item()), rel=1e-5)
    assert res["ppl"] != pytest.approx(math.exp(-ll.sum().item() / (lengths - 1).sum().item()), rel=1e-3)
    assert res["nll"] == pytest.approx(-ll.mean().item(), rel=1e-5) and res["kl"] == 0.0
    assert res["elbo"] == pytest.approx(-res["nll"]) and res["rec_ppl"] == pytest.approx(res["ppl"])
    assert not {"mi", "au", "iw_nll"} & set(res)


# ----------------------------------------------------------------------------- ELBO and importance weighting

def test_vae_metrics_are_consistent(trained):
    ids, lengths = corpus(seed=1)
    res = evaluate_vae(trained, batches(ids, lengths), iw_samples=10, generator=torch.Generator().manual_seed(0))
    assert res["kl"] > 0.1                                                # the posterior is not collapsed
    assert res["elbo"] == pytest.approx(-(res["rec"] + res["kl"]))
    assert res["nll"] == pytest.approx(-res["elbo"])
    assert res["ppl"] == pytest.approx(math.exp(res["nll"] * res["num_sentences"] / res["num_tokens"]))
    assert res["iw_ppl"] == pytest.approx(math.exp(res["iw_nll"] * res["num_sentences"] / res["num_tokens"]))
    assert res["rec_ppl"] == pytest.approx(math.exp(res["rec"] * res["num_sentences"] / res["num_tokens"]))
    assert res["iw_samples"] == 10 and 0 <= res["au"] <= Z and res["mi"] > 0
    # the curve ends at K itself; k = 1 is an ELBO estimate, so it lies above the K-sample bound
    assert list(res["iw_nll_by_k"]) == ["1", "10"] and res["iw_nll_by_k"]["10"] == pytest.approx(res["iw_nll"])
    assert res["iw_nll_by_k"]["1"] > res["iw_nll"]
    assert res["posterior_kl"] > 0 and 1 <= res["ess_min"] <= res["ess"] <= 10
    # deterministic given the generator
    again = evaluate_vae(trained, batches(ids, lengths), iw_samples=10, generator=torch.Generator().manual_seed(0))
    assert again == res


def test_iw_nll_is_at_most_negative_elbo(trained):
    ids, lengths = corpus(seed=2)
    res = evaluate_vae(trained, batches(ids, lengths), iw_samples=50, generator=torch.Generator().manual_seed(1))
    assert res["iw_nll"] <= res["nll"]
    assert res["iw_ppl"] <= res["ppl"]
    # the exact -ELBO (reconstruction averaged over many z) is above IW-NLL too, by more than MC noise
    g = torch.Generator().manual_seed(2)
    mu, logvar = trained.encode(ids, lengths)
    rec = torch.stack([-trained.log_likelihood(trained.reparameterize(mu, logvar, g), ids, lengths)
                       for _ in range(20)]).mean(0)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
    neg_elbo = (rec + kl).mean().item()
    assert res["iw_nll"] < neg_elbo - 0.2


def test_iw_with_one_sample_is_an_elbo_estimate(trained):
    ids, lengths = corpus(n=32, seed=3)
    mu, logvar = trained.encode(ids, lengths)
    g = torch.Generator().manual_seed(3)
    iw1 = torch.stack([iw_log_likelihood(trained, ids, lengths, 1, generator=g) for _ in range(30)])   # (30, B)
    rec = torch.stack([trained.log_likelihood(trained.reparameterize(mu, logvar, g), ids, lengths) for _ in range(30)])
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
    elbo = (rec.mean(0) - kl).mean()
    stderr = iw1.mean(1).std() / math.sqrt(30) + rec.mean(1).std() / math.sqrt(30)
    assert abs(iw1.mean() - elbo) < 4 * stderr + 1e-3
    assert iw_log_likelihood(trained, ids, lengths, 20, generator=g).mean() > elbo   # more samples: tighter


def test_iw_chunking_and_normalisation():
    torch.manual_seed(0)
    model = SentenceVAE(tiny()).eval()
    with torch.no_grad():   # q(z|x) = p(z) = N(0, I) and a decoder that ignores z: every weight is p(x)
        model.encoder.head.weight.zero_()
        model.encoder.head.bias.zero_()
        model.decoder.z_to_state.weight.zero_()
    ids, lengths = corpus(n=6)
    exact = model.log_likelihood(torch.zeros(6, Z), ids, lengths)
    g = torch.Generator().manual_seed(0)
    for k, max_rows in [(1, 1000), (7, 1000), (7, 1), (7, 13), (7, 24), (50, 100)]:   # chunks of 1, 7, 1, 2, 4, 16
        got = iw_log_likelihood(model, ids, lengths, k, generator=g, max_rows=max_rows)
        torch.testing.assert_close(got, exact, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="mode='vae'"):
        iw_log_likelihood(SentenceVAE(tiny(mode="ae")), ids, lengths, 5)


# ----------------------------------------------------------------------------- mutual information, active units

def test_mi_and_au_vanish_when_the_encoder_ignores_x():
    torch.manual_seed(0)
    model = SentenceVAE(tiny()).eval()
    with torch.no_grad():
        model.encoder.head.weight.zero_()          # mu, logvar = constants, whatever x
    ids, lengths = corpus(n=256)
    g = torch.Generator().manual_seed(0)
    mi = mutual_information(model, batches(ids, lengths, 64), generator=g)
    assert abs(mi) < 0.35                          # Monte-Carlo noise only (std ~ 0.13 here)
    n_active, var = active_units(model, batches(ids, lengths, 64))
    assert n_active == 0 and float(var.max()) < 1e-12
    res = evaluate_vae(model, batches(ids, lengths, 64), generator=g)
    assert res["au"] == 0 and abs(res["mi"]) < 0.35
    # the constant posterior is not the prior: KL > 0 even though no information flows
    assert res["kl"] > 0


def test_mi_approaches_log_batch_size_for_a_sharp_informative_encoder():
    torch.manual_seed(0)
    model = SentenceVAE(tiny()).eval()
    with torch.no_grad():
        model.encoder.head.weight[:Z] *= 50.0      # means far apart
        model.encoder.head.weight[Z:].zero_()
        model.encoder.head.bias[Z:] = -8.0         # tiny variances
    ids, lengths = corpus(n=64)
    mi = mutual_information(model, batches(ids, lengths, 16), generator=torch.Generator().manual_seed(0))
    assert 0.9 * math.log(16) < mi < math.log(16) + 0.5   # the estimator is bounded by log(batch size)
    n_active, _ = active_units(model, batches(ids, lengths, 16))
    assert n_active == Z


def test_mutual_information_batch_of_identical_posteriors_is_near_zero():
    mu = torch.randn(1, 4).expand(512, 4)
    logvar = torch.randn(1, 4).expand(512, 4)
    assert abs(float(mutual_information_batch(mu, logvar, torch.Generator().manual_seed(0)))) < 0.3


def test_active_units_uses_the_variance_of_the_posterior_mean(monkeypatch):
    torch.manual_seed(0)
    model = SentenceVAE(tiny(latent_size=4)).eval()
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([1.0, 0.2, 0.05, 0.0])   # variances ~1, 0.04, 0.0025, 0
    mus = [torch.randn(16, 4, generator=g) * scales + 3.0 for _ in range(4)]
    it = iter(mus)
    monkeypatch.setattr(model, "encode", lambda ids, lengths: (next(it), None))
    ids, lengths = corpus(n=64)
    n_active, var = active_units(model, batches(ids, lengths, 16), threshold=0.01)
    expect = torch.cat(mus).double().var(0, unbiased=True)
    torch.testing.assert_close(var, expect)
    assert n_active == 2


# ----------------------------------------------------------------------------- modes, model state

def test_ae_reports_reconstruction_only():
    torch.manual_seed(0)
    ae = SentenceVAE(tiny(mode="ae")).eval()
    ids, lengths = corpus(n=16)
    res = evaluate_vae(ae, batches(ids, lengths), iw_samples=10)
    mu, _ = ae.encode(ids, lengths)
    assert res["rec"] == pytest.approx(-ae.log_likelihood(mu, ids, lengths).mean().item(), rel=1e-5)
    assert res["rec"] == pytest.approx(res["rec_mu"]) and res["kl"] == 0.0
    assert not {"elbo", "nll", "ppl", "iw_nll", "mi"} & set(res)
    assert "au" in res and "rec_ppl" in res


def test_evaluation_restores_training_mode_and_reads_batches_once(trained):
    ids, lengths = corpus(n=32, seed=4)
    trained.train()
    try:
        res = evaluate_vae(trained, iter(batches(ids, lengths)), iw_samples=2)   # a one-shot iterator
        assert trained.training
        assert res["num_sentences"] == 32
        mutual_information(trained, batches(ids, lengths))
        active_units(trained, batches(ids, lengths))
        assert trained.training
        # mapping batches work as well
        res2 = evaluate_vae(trained, [{"input_ids": ids, "lengths": lengths}])
        assert res2["num_tokens"] == int(lengths.sum())
    finally:
        trained.eval()
    assert not trained.training


def test_edit_distance_is_levenshtein():
    from textgen.vae.metrics import edit_distance

    assert edit_distance([], []) == 0 and edit_distance([1, 2, 3], []) == 3 and edit_distance([], [4]) == 1
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance([1, 2, 3], [1, 3]) == 1 and edit_distance([1, 2], [2, 1]) == 2


def test_reconstruction_quality_counts_exact_matches_and_word_errors(trained, monkeypatch):
    from textgen.vae.metrics import reconstruction_quality

    refs = [[5, 6, 7], [8, 9], [10, 11, 12, 13]]
    canned = [[5, 6, 7], [8], [10, 11, 99, 13, 14]]  # exact; one deletion; one substitution + one insertion
    monkeypatch.setattr(trained, "generate", lambda mu, **kw: canned[: mu.size(0)])
    r = reconstruction_quality(trained, refs)
    assert r == {"recon_sentences": 3, "recon_exact": pytest.approx(1 / 3), "recon_wer": pytest.approx(3 / 9)}


# ----------------------------------------------------------------------------- importance-weighted training

def test_iwae_loss_is_the_iw_bound_of_the_samples_the_decoder_saw(trained):
    from textgen.vae import iwae_loss

    ids, lengths = corpus(n=16, seed=4)
    torch.manual_seed(4)
    out = trained(ids, lengths, num_samples=6)
    assert out.z.shape == (6, 16, Z) and out.rec_nll.shape == (6, 16)
    # each row of rec_nll is -log p(x|z_k) for that row's sample, as log_likelihood computes it
    for k in (0, 5):
        torch.testing.assert_close(-out.rec_nll[k], trained.log_likelihood(out.z[k], ids, lengths), rtol=1e-5, atol=1e-4)
    t = iwae_loss(out)
    log_w = (-out.rec_nll + log_standard_normal(out.z) - log_normal_diag(out.z, out.mu, out.logvar)).double()
    expected = (torch.logsumexp(log_w, 0) - math.log(6)).mean()
    torch.testing.assert_close(t.iw_bound.double(), expected, rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(t.loss.double(), -expected, rtol=1e-6, atol=1e-5)
    assert t.elbo.item() == pytest.approx(-(out.rec_nll.mean() + out.kl.mean()).item(), rel=1e-6)
    assert t.iw_bound > log_w.mean()              # log-mean-exp >= mean: the bound is tighter than its ELBO estimate


def test_iwae_loss_trains_encoder_and_decoder_and_its_floor_lifts_a_small_kl():
    from textgen.vae import iwae_loss

    torch.manual_seed(0)
    model = SentenceVAE(tiny())
    ids, lengths = corpus(n=16)
    t = iwae_loss(model(ids, lengths, num_samples=4))
    t.loss.backward()
    for name in ("encoder", "decoder"):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(name) and p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), name
    # the floor adds sum_j max(0, lambda - mean_x KL_j), which is 0 once every dimension holds lambda
    out = model(ids, lengths, num_samples=4)
    free = iwae_loss(out)
    floored = iwae_loss(out, free_bits=10.0, free_bits_mode="per_dim")
    expected = torch.clamp(10.0 - out.kl_per_dim.mean(0), min=0).sum()
    torch.testing.assert_close(floored.loss - free.loss, expected, rtol=1e-5, atol=1e-4)
    total = iwae_loss(out, free_bits=10.0, free_bits_mode="total")                # binds: mean KL is below 10
    torch.testing.assert_close(total.loss - free.loss, 10.0 - out.kl.mean(), rtol=1e-5, atol=1e-4)
    loose = iwae_loss(out, free_bits=0.5 * out.kl.mean().item(), free_bits_mode="total")   # does not bind
    torch.testing.assert_close(loose.loss, free.loss)
    with pytest.raises(ValueError, match="goes to iwae_loss"):
        vae_loss(out)                                                               # K samples: not an ELBO input
    with pytest.raises(ValueError, match="num_samples=K"):
        iwae_loss(model(ids, lengths))
    with pytest.raises(ValueError, match="mode='vae'"):
        SentenceVAE(tiny(mode="ae"))(ids, lengths, num_samples=3)


# ----------------------------------------------------------------------------- tightness and the true posterior

def test_iw_nll_by_samples_averages_disjoint_groups_and_falls_with_k(trained):
    from textgen.vae.metrics import iw_log_weights, iw_nll_by_samples

    ids, lengths = corpus(n=16, seed=5)
    log_w, log_p = iw_log_weights(trained, ids, lengths, 40, generator=torch.Generator().manual_seed(5))
    assert log_w.shape == log_p.shape == (40, 16)
    curve = iw_nll_by_samples(log_w, [1, 4, 40])
    assert curve[1] == pytest.approx(-log_w.double().mean().item())          # k = 1: the ELBO estimate
    groups = torch.stack([torch.logsumexp(log_w[i * 4:(i + 1) * 4].double(), 0) - math.log(4) for i in range(10)])
    assert curve[4] == pytest.approx(-groups.mean().item())
    assert curve[1] > curve[4] > curve[40]
    with pytest.raises(ValueError, match=r"k=41 must lie in \[1, 40\]"):
        iw_nll_by_samples(log_w, [41])


def test_true_posterior_kl_is_zero_when_the_decoder_ignores_z_and_positive_when_it_uses_it(trained):
    from textgen.vae.metrics import true_posterior_kl

    # p(x|z) constant in z: p(z|x) = p(z), so the true KL is 0; with q != p(z) the estimate is
    # -log mean(p(z)/q(z|x)), 0 up to the noise of IW_K (and >= 0 on average: it leans high)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, 3, 2, generator=g)
    mu, logvar = torch.tensor([[0.5, -0.2]] * 3), torch.full((3, 2), -0.5)
    z = mu + z * (0.5 * logvar).exp()
    log_p = torch.full((200, 3), -7.0)
    log_w = log_p + log_standard_normal(z) - log_normal_diag(z, mu, logvar)
    res = true_posterior_kl(log_w, log_p)
    assert res["posterior_rec"] == pytest.approx(7.0)
    assert res["posterior_kl"] == pytest.approx(0.0, abs=0.3)                 # up to the noise of IW_K
    assert 1 <= res["ess"] < 200
    prior_q = true_posterior_kl(log_p.clone(), log_p)                          # q = p(z): every weight equal
    assert prior_q["posterior_kl"] == pytest.approx(0.0, abs=1e-9) and prior_q["ess"] == pytest.approx(200)
    # a decoder that uses z: the true posterior moves away from the prior
    ids, lengths = corpus(n=16, seed=6)
    from textgen.vae.metrics import iw_log_weights
    log_w, log_p = iw_log_weights(trained, ids, lengths, 200, generator=torch.Generator().manual_seed(6))
    assert true_posterior_kl(log_w, log_p)["posterior_kl"] > 0.01
