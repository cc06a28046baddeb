"""SentenceVAE: every switch trains, the maths is right, decoding is correct and batched, a tiny model overfits."""
import dataclasses
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from textgen.core.config import ConfigError, config_from_dict
from textgen.vae.modeling import SentenceVAE, VAEOutput, decoder_inputs, word_dropout
from textgen.vae.configuration import SentenceVAEConfig
from textgen.core.functional import gaussian_kl
from textgen.vae import vae_loss

PAD, UNK, BOS, EOS = 0, 1, 2, 3
V = 60


def tiny(**kw) -> SentenceVAEConfig:
    base = dict(vocab_size=V, embed_size=16, hidden_size=32, latent_size=8, num_heads=4, ff_size=64, max_length=16)
    base.update(kw)
    return SentenceVAEConfig(**base)


def random_batch(B=8, T=10, vocab=V, seed=0, min_len=1):
    """Random sentences: words, then <eos>, then <pad>; lengths count <eos>; the first is full length."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, T + 1, (B,), generator=g)
    lengths[0] = T
    ids = torch.randint(4, vocab, (B, T), generator=g)
    ids = ids.masked_fill(torch.arange(T)[None] >= lengths[:, None], PAD)
    ids[torch.arange(B), lengths - 1] = EOS
    return ids, lengths


def build(seed=0, **kw) -> SentenceVAE:
    torch.manual_seed(seed)
    return SentenceVAE(tiny(**kw))


# ----------------------------------------------------------------------------- config

def test_config_roundtrips_through_asdict_and_strict_loader():
    cfg = tiny(encoder="transformer", decoder="gru", pooling="cls", z_concat_input=True)
    d = dataclasses.asdict(cfg)
    assert SentenceVAEConfig(**d) == cfg
    assert config_from_dict(SentenceVAEConfig, d) == cfg
    SentenceVAEConfig().validate()  # defaults are valid


@pytest.mark.parametrize("override, key", [
    (dict(vocab_size=4), "vocab_size"),
    (dict(hidden_size=0), "hidden_size"),
    (dict(latent_size=0), "latent_size"),
    (dict(dropout=1.0), "dropout"),
    (dict(embed_dropout=-0.1), "embed_dropout"),
    (dict(word_dropout=1.5), "word_dropout"),
    (dict(decoder="transformer", hidden_size=30, num_heads=4), "hidden_size"),
    (dict(encoder="transformer", bidirectional=True), "bidirectional"),
    (dict(z_init_state=False, z_concat_input=False), "z_init_state"),
    (dict(eos_id=0), "pad_id"),
    (dict(unk_id=99), "unk_id"),
    (dict(decoder_layers=0), "decoder_layers"),
])
def test_config_rejects_impossible_values(override, key):
    with pytest.raises(ConfigError, match=key):
        tiny(**override).validate()
    with pytest.raises(ConfigError):
        config_from_dict(SentenceVAEConfig, dataclasses.asdict(tiny(**override)))


def test_config_allows_what_only_looks_odd():
    tiny(mode="lm", z_init_state=False, z_concat_input=False).validate()   # lm ignores z switches
    tiny(word_dropout=1.0).validate()                                       # Bowman's inputless decoder
    tiny(decoder="transformer", z_init_state=False).validate()             # transformer ignores RNN switches


# ----------------------------------------------------------------------------- every switch trains

SWITCHES = {
    "lstm-lstm-init": dict(),
    "lstm-lstm-init-notanh": dict(z_init_activation="none"),
    "gru-gru-concat": dict(encoder="gru", decoder="gru", z_init_state=False, z_concat_input=True),
    "lstm-gru-both": dict(decoder="gru", z_concat_input=True),
    "bilstm-2layer": dict(bidirectional=True, encoder_layers=2, decoder_layers=2, dropout=0.1),
    "bigru-lstm-concat": dict(encoder="gru", bidirectional=True, z_init_state=False, z_concat_input=True),
    "trf-mean-lstm": dict(encoder="transformer", pooling="mean", encoder_layers=2),
    "trf-cls-gru": dict(encoder="transformer", pooling="cls", decoder="gru", positional="sinusoidal"),
    "lstm-trf-memory": dict(decoder="transformer", z_mode="memory", decoder_layers=2),
    "lstm-trf-memory3": dict(decoder="transformer", z_mode="memory", z_memory_slots=3),
    "trf-trf-prefix": dict(encoder="transformer", decoder="transformer", z_mode="prefix"),
    "trf-trf-both-add": dict(encoder="transformer", decoder="transformer", z_mode="both", z_add_embeddings=True,
                             positional="sinusoidal", dropout=0.1, embed_dropout=0.1),
    "ae-lstm": dict(mode="ae"),
    "ae-trf": dict(mode="ae", encoder="transformer", decoder="transformer"),
    "lm-lstm": dict(mode="lm"),
    "lm-trf": dict(mode="lm", decoder="transformer"),
    "tied-same-size": dict(embed_size=32, tie_embeddings=True),
    "tied-bottleneck": dict(tie_embeddings=True, decoder="gru"),
    "tied-trf": dict(tie_embeddings=True, decoder="transformer"),
    "unshared-embeddings": dict(share_embeddings=False, word_dropout=0.3, embed_dropout=0.2),
    "small-encoder-uni": dict(encoder_hidden_size=8),
    "small-encoder-bi-gru": dict(encoder="gru", bidirectional=True, encoder_hidden_size=8),
}


@pytest.mark.parametrize("name", list(SWITCHES))
def test_forward_backward_every_switch(name):
    model = build(**SWITCHES[name])
    model.train()
    ids, lengths = random_batch(B=6, T=9, seed=1)
    out = model(ids, lengths)
    B, Z = 6, model.config.latent_size
    mode = model.config.mode
    assert isinstance(out, VAEOutput)
    assert out.rec_nll.shape == out.kl.shape == (B,)
    assert torch.equal(out.num_tokens, lengths)
    if mode == "lm":
        assert out.mu is None and out.z is None and out.kl_per_dim.shape == (B, 0)
    else:
        assert out.mu.shape == out.z.shape == (B, Z) and out.kl_per_dim.shape == (B, Z)
    if mode == "vae":
        assert out.logvar.shape == (B, Z) and bool((out.kl > 0).all())
    else:
        assert bool((out.kl == 0).all()) and not out.variational
    if mode == "ae":
        assert out.logvar is None and torch.equal(out.z, out.mu)

    terms = vae_loss(out, beta=0.5, free_bits=0.1)
    assert torch.isfinite(terms.loss)
    terms.loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} takes no part in the loss"
        assert torch.isfinite(p.grad).all(), pname
    # generation works for every switch as well
    model.eval()
    z = None if mode == "lm" else torch.randn(2, Z)
    for strategy in ("greedy", "beam", "sample"):
        seqs = model.generate(z, n=2, strategy=strategy, beam_size=3, max_length=6)
        assert len(seqs) == 2 and all(len(s) <= 6 for s in seqs)
        assert all(t not in (PAD, BOS, EOS) for s in seqs for t in s)


def test_tied_embeddings_share_one_tensor():
    model = build(embed_size=32, tie_embeddings=True)
    assert model.decoder.head.proj.weight is model.embedding.weight
    untied = build(embed_size=32)
    assert model.num_parameters() == untied.num_parameters() - V * 32
    assert model.num_parameters(trainable_only=True) == model.num_parameters()


def test_gradient_flows_through_reparameterization_to_the_encoder():
    for kw in (dict(), dict(encoder="transformer", decoder="transformer")):
        model = build(**kw)
        ids, lengths = random_batch(seed=2)
        out = model(ids, lengths)
        vae_loss(out, beta=0.0).loss.backward()  # the reconstruction term alone
        enc = dict(model.encoder.named_parameters())
        assert enc["head.weight"].grad.abs().sum() > 0
        # both halves of the head get gradient: mu directly, logvar through sigma * eps
        Z = model.config.latent_size
        assert enc["head.weight"].grad[:Z].abs().sum() > 0 and enc["head.weight"].grad[Z:].abs().sum() > 0
        deep = [p for n, p in enc.items() if not n.startswith("head") and n != "embedding.weight"]
        assert any(p.grad.abs().sum() > 0 for p in deep)


def test_sample_false_decodes_the_mean():
    model = build().eval()
    ids, lengths = random_batch(seed=3)
    out = model(ids, lengths, sample=False)
    assert torch.equal(out.z, out.mu)
    torch.testing.assert_close(out.rec_nll, -model.log_likelihood(out.mu, ids, lengths))


def test_kl_closed_form_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g)
    logvar = torch.randn(4, 3, generator=g) * 0.5
    n = 200_000
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(n, 4, 3, generator=g, dtype=torch.float64)
    log_q = -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp())
    log_p = -0.5 * (math.log(2 * math.pi) + z ** 2)
    mc = (log_q - log_p).mean(0)                                                    # (4, 3)
    torch.testing.assert_close(mc.float(), gaussian_kl(mu, logvar), atol=0.02, rtol=0.02)
    assert bool((gaussian_kl(torch.zeros(3), torch.zeros(3)) == 0).all())


# ----------------------------------------------------------------------------- decoder inputs, word dropout

def test_decoder_inputs_shift_right_and_pad():
    ids = torch.tensor([[7, 8, 3], [9, 3, 0]])
    inp = decoder_inputs(ids, torch.tensor([3, 2]), BOS, PAD)
    assert inp.tolist() == [[BOS, 7, 8], [BOS, 9, PAD]]


def test_word_dropout_rate_and_protected_tokens():
    ids, lengths = random_batch(B=400, T=12, seed=4)
    inp = decoder_inputs(ids, lengths, BOS, PAD)
    g = torch.Generator().manual_seed(0)
    for p in (0.25, 0.6):
        out = word_dropout(inp, p, UNK, keep_ids=(BOS, PAD), generator=g)
        eligible = (inp != BOS) & (inp != PAD)
        rate = ((out == UNK) & eligible).sum().item() / eligible.sum().item()
        n = eligible.sum().item()
        assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n), (rate, p)
        assert torch.equal(out[~eligible], inp[~eligible])   # <bos> and <pad> untouched
        assert bool((out[eligible] == inp[eligible]).logical_or(out[eligible] == UNK).all())
    assert torch.equal(word_dropout(inp, 0.0, UNK), inp)
    full = word_dropout(inp, 1.0, UNK, keep_ids=(BOS, PAD))
    assert bool((full[(inp != BOS) & (inp != PAD)] == UNK).all())


def test_word_dropout_applies_in_training_only():
    model = build(word_dropout=0.5)
    ids, lengths = random_batch(seed=5)
    model.eval()
    a, b = model(ids, lengths, sample=False), model(ids, lengths, sample=False)
    assert torch.equal(a.rec_nll, b.rec_nll)
    model.train()
    torch.manual_seed(0)
    c = model(ids, lengths, sample=False)
    assert not torch.allclose(a.rec_nll, c.rec_nll)
    model.config.word_dropout = 0.0   # same weights, no word dropout: training == eval (no other dropout)
    torch.testing.assert_close(model(ids, lengths, sample=False).rec_nll, a.rec_nll)


# ----------------------------------------------------------------------------- efficient NLL == naive NLL

@pytest.mark.parametrize("kw", [dict(), dict(decoder="transformer", z_mode="both"), dict(mode="lm", decoder="gru"),
                                dict(tie_embeddings=True)])
def test_real_token_projection_equals_full_softmax(kw):
    model = build(**kw).eval()
    ids, lengths = random_batch(B=8, T=11, seed=6)
    out = model(ids, lengths, sample=False)
    log_probs = model.decode(out.z, ids, lengths)                                   # (B, T, V) naive
    assert log_probs.shape == (8, 11, V)
    mask = torch.arange(11)[None] < lengths[:, None]
    naive = -(log_probs.gather(-1, ids[..., None])[..., 0] * mask).sum(1)
    torch.testing.assert_close(out.rec_nll, naive, rtol=1e-5, atol=1e-4)
    # and against an independent full-softmax cross-entropy with ignore_index
    logits = model.decoder.head(model._features(out.z, ids, lengths, word_drop=False))
    ce = F.cross_entropy(logits.transpose(1, 2), ids.masked_fill(~mask, -100), reduction="none").sum(1)
    torch.testing.assert_close(out.rec_nll, ce, rtol=1e-5, atol=1e-4)


def test_extra_padding_columns_change_nothing():
    model = build(decoder="transformer").eval()
    ids, lengths = random_batch(seed=7)
    padded = torch.cat([ids, torch.zeros(ids.size(0), 4, dtype=torch.long)], dim=1)
    a, b = model(ids, lengths, sample=False), model(padded, lengths, sample=False)
    torch.testing.assert_close(a.rec_nll, b.rec_nll)
    torch.testing.assert_close(a.mu, b.mu)


@pytest.mark.parametrize("kw", [dict(encoder_layers=2), dict(encoder="gru", bidirectional=True, encoder_layers=2),
                                dict(encoder="transformer", pooling="mean"), dict(encoder="transformer", pooling="cls"),
                                dict(decoder="transformer", z_mode="both", z_add_embeddings=True)])
def test_padding_content_never_leaks(kw):
    model = build(**kw).eval()
    ids, lengths = random_batch(B=8, T=10, seed=12)
    garbage = ids.masked_fill(torch.arange(10)[None] >= lengths[:, None], 17)  # junk where <pad> should be
    a, b = model(ids, lengths, sample=False), model(garbage, lengths, sample=False)
    torch.testing.assert_close(a.mu, b.mu, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.rec_nll, b.rec_nll, rtol=1e-5, atol=1e-4)
    # each sentence alone (no padding at all) gives the same numbers as inside the padded batch
    for i in (1, 5):
        n = int(lengths[i])
        one = model(ids[i:i + 1, :n], lengths[i:i + 1], sample=False)
        torch.testing.assert_close(one.mu[0], a.mu[i], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(one.rec_nll[0], a.rec_nll[i], rtol=1e-4, atol=1e-4)


def test_transformer_rejects_sequences_longer_than_max_length():
    ids, lengths = random_batch(T=10, seed=8)
    for kw in (dict(decoder="transformer"), dict(encoder="transformer")):
        with pytest.raises(ValueError, match="max_length"):
            build(max_length=8, **kw)(ids, lengths)
    build(max_length=8)(ids, lengths)   # RNNs have no position limit
    model = build(decoder="transformer", max_length=8).eval()
    with pytest.raises(ValueError, match="max_length"):
        model.generate(torch.randn(1, 8), max_length=9)


# ----------------------------------------------------------------------------- incremental decoding

DECODERS = {
    "lstm-init": dict(),
    "lstm-concat-2layer": dict(z_init_state=True, z_concat_input=True, decoder_layers=2),
    "gru-concat": dict(decoder="gru", z_init_state=False, z_concat_input=True),
    "trf-memory": dict(decoder="transformer", decoder_layers=2, z_memory_slots=2),
    "trf-prefix-add": dict(decoder="transformer", z_mode="prefix", z_add_embeddings=True),
    "trf-both-sinusoid": dict(decoder="transformer", z_mode="both", positional="sinusoidal"),
    "lm-lstm": dict(mode="lm"),
    "lm-trf": dict(mode="lm", decoder="transformer"),
}


@pytest.mark.parametrize("name", list(DECODERS))
def test_incremental_steps_match_teacher_forcing(name):
    model = build(**DECODERS[name]).eval()
    ids, lengths = random_batch(B=5, T=9, seed=9)
    z = None if model.config.mode == "lm" else torch.randn(5, 8)
    full = model.decode(z, ids, lengths)                                           # (B, T, V)
    with torch.no_grad():
        state = model.decoder.start(z, 5)
        tokens = torch.full((5,), BOS)
        for t in range(9):
            feats, state = model.decoder.step(tokens, state)
            step_lp = F.log_softmax(model.decoder.head(feats), -1)
            real = t < lengths
            torch.testing.assert_close(step_lp[real], full[real, t], rtol=1e-4, atol=1e-4)
            tokens = ids[:, t]


@pytest.mark.parametrize("name", ["lstm-init", "trf-both-sinusoid", "lm-trf"])
def test_generation_scores_are_model_log_likelihoods(name):
    model = build(**DECODERS[name]).eval()
    with torch.no_grad():
        model.decoder.head.proj.bias[EOS] += 2.0   # let some sentences end before max_length
    n, max_len = 6, 8
    z = None if model.config.mode == "lm" else torch.randn(n, 8)
    for strategy in ("greedy", "beam", "sample"):
        seqs, scores = model.generate(z, n=n, strategy=strategy, max_length=max_len, length_penalty=0.0,
                                      generator=torch.Generator().manual_seed(1), return_scores=True)
        # a sentence shorter than max_length ended with <eos>; one of max_length tokens was truncated
        full = [s + [EOS] if len(s) < max_len else s for s in seqs]
        assert any(len(s) < max_len for s in seqs)
        ids = torch.zeros(n, max(len(s) for s in full), dtype=torch.long)
        for i, s in enumerate(full):
            ids[i, : len(s)] = torch.tensor(s)
        ll = model.log_likelihood(z, ids, torch.tensor([len(s) for s in full]))
        torch.testing.assert_close(scores, ll, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- search

@pytest.mark.parametrize("name", ["lstm-init", "gru-concat", "trf-prefix-add", "lm-lstm"])
def test_beam_size_one_equals_greedy(name):
    model = build(seed=3, **DECODERS[name]).eval()
    z = None if model.config.mode == "lm" else torch.randn(8, 8) * 2
    greedy, gs = model.generate(z, n=8, strategy="greedy", max_length=10, return_scores=True)
    beam, bs = model.generate(z, n=8, strategy="beam", beam_size=1, max_length=10, length_penalty=0.0,
                              return_scores=True)
    assert beam == greedy
    torch.testing.assert_close(bs, gs)


def _all_sequence_scores(model, z, vocab, max_len):
    """log p of every sequence the search space holds: bodies + <eos> (<= max_len tokens) and truncated ones."""
    words = [t for t in range(vocab) if t not in (PAD, BOS, EOS)]
    seqs = [list(b) + [EOS] for n in range(max_len) for b in itertools.product(words, repeat=n)]
    seqs += [list(b) for b in itertools.product(words, repeat=max_len)]
    ids = torch.zeros(len(seqs), max_len, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
    lengths = torch.tensor([len(s) for s in seqs])
    lp = model.decode(z.expand(len(seqs), -1), ids, lengths)
    mask = torch.arange(max_len)[None] < lengths[:, None]
    scores = (lp.gather(-1, ids[..., None])[..., 0] * mask).sum(1)
    return seqs, scores, lengths


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@pytest.mark.parametrize("kw", [dict(), dict(decoder="transformer", z_mode="both")])
def test_beam_search_matches_exhaustive_search(kw, length_penalty):
    vocab, max_len = 6, 4   # words: <unk>, 4, 5
    for seed in range(3):
        model = build(seed=seed, vocab_size=vocab, **kw).eval()
        z = torch.randn(1, 8, generator=torch.Generator().manual_seed(seed)) * 2
        seqs, scores, lengths = _all_sequence_scores(model, z, vocab, max_len)
        ranked = scores / lengths.float() ** length_penalty
        best = int(ranked.argmax())
        out, out_score = model.generate(z, strategy="beam", beam_size=40, max_length=max_len,
                                        length_penalty=length_penalty, return_scores=True)
        expect = [t for t in seqs[best] if t != EOS]
        assert out[0] == expect, (seed, out, expect)
        torch.testing.assert_close(out_score[0], scores[best], rtol=1e-4, atol=1e-4)


def test_beam_search_beats_greedy_and_is_batched():
    model = build(seed=4, decoder="gru").eval()
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(0)) * 2
    _, greedy = model.generate(z, strategy="greedy", max_length=15, return_scores=True)
    beam_seqs, beam = model.generate(z, strategy="beam", beam_size=5, max_length=15, length_penalty=0.0,
                                     return_scores=True)
    assert bool((beam >= greedy - 1e-5).all())
    assert bool((beam > greedy + 1e-3).any())  # on a random model beam search does find better sequences
    one_by_one = [model.generate(z[i:i + 1], strategy="beam", beam_size=5, max_length=15,
                                 length_penalty=0.0)[0] for i in range(6)]
    assert one_by_one == beam_seqs


def test_sampling_is_reproducible_and_top_k_1_is_greedy():
    model = build(seed=5, decoder="transformer").eval()
    z = torch.randn(8, 8)
    kw = dict(strategy="sample", max_length=10)
    a = model.generate(z, generator=torch.Generator().manual_seed(7), **kw)
    b = model.generate(z, generator=torch.Generator().manual_seed(7), **kw)
    c = model.generate(z, generator=torch.Generator().manual_seed(8), **kw)
    assert a == b and a != c
    greedy = model.generate(z, strategy="greedy", max_length=10)
    assert model.generate(z, top_k=1, generator=torch.Generator().manual_seed(1), **kw) == greedy
    assert model.generate(z, top_p=1e-6, generator=torch.Generator().manual_seed(1), **kw) == greedy
    # lower temperature -> more likely sentences (per token)
    zz = torch.randn(64, 8)
    mean_lp = {}
    for temp in (0.3, 3.0):
        seqs, sc = model.generate(zz, temperature=temp, generator=torch.Generator().manual_seed(2),
                                  return_scores=True, **kw)
        mean_lp[temp] = (sc / torch.tensor([min(len(q) + 1, 10) for q in seqs])).mean()
    assert mean_lp[0.3] > mean_lp[3.0] + 0.1


def test_filter_logits_top_k_and_nucleus():
    from textgen.vae.generation import filter_logits

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, top_k=2)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.7)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.8)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.81)).tolist() == [[False, False, False, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.01)).tolist() == [[False, True, True, True]]


def test_generate_without_z():
    lm = build(mode="lm").eval()
    assert len(lm.generate(n=3, strategy="sample", generator=torch.Generator().manual_seed(0))) == 3
    with pytest.raises(ValueError, match="pass n"):
        lm.generate()
    vae = build().eval()
    a = vae.generate(n=4, strategy="sample", generator=torch.Generator().manual_seed(0), max_length=8)
    b = vae.generate(n=4, strategy="sample", generator=torch.Generator().manual_seed(0), max_length=8)
    assert len(a) == 4 and a == b
    with pytest.raises(ValueError, match="no prior"):
        build(mode="ae").generate(n=2)
    with pytest.raises(ValueError, match="strategy"):
        vae.generate(torch.zeros(1, 8), strategy="topk")


# ----------------------------------------------------------------------------- verbs

@pytest.mark.parametrize("train_mode", [False, True])
def test_verbs_run_without_grad_and_keep_the_mode(train_mode):
    model = build()
    model.train(train_mode)
    ids, lengths = random_batch(seed=10)
    mu, logvar = model.encode(ids, lengths)
    z = model.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    z2 = model.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert torch.equal(z, z2)
    outs = [mu, logvar, z, model.decode(z, ids, lengths), model.log_likelihood(z, ids, lengths),
            model.sample_prior(3)]
    model.generate(z, strategy="beam", beam_size=2, max_length=4)
    assert all(not t.requires_grad for t in outs)
    assert model.training == train_mode
    assert all(m.training == train_mode for m in model.modules())
    with pytest.raises(ValueError, match="no encoder"):
        build(mode="lm").encode(ids, lengths)
    ae = build(mode="ae")
    mu, logvar = ae.encode(ids, lengths)
    assert logvar is None and ae.reparameterize(mu, logvar) is mu


def test_log_likelihood_scores_repeated_codes():
    model = build().eval()
    ids, lengths = random_batch(B=4, seed=11)
    z = torch.randn(3 * 4, 8)
    ll = model.log_likelihood(z, ids.repeat(3, 1), lengths.repeat(3))
    assert ll.shape == (12,)
    torch.testing.assert_close(ll[4:8], model.log_likelihood(z[4:8], ids, lengths))


# ----------------------------------------------------------------------------- a tiny model learns

SENTENCES = [
    [4, 5, 6], [7, 8, 9, 10], [11, 12], [13, 14, 15, 16, 17],
    [5, 4, 18], [19, 20, 21, 22], [8, 7, 23, 24, 25], [26, 11, 27],
]


def test_tiny_vae_overfits_and_reconstructs_greedily():
    torch.manual_seed(0)
    model = SentenceVAE(tiny(vocab_size=30, embed_size=32, hidden_size=64, latent_size=8))
    T = max(len(s) for s in SENTENCES) + 1
    ids = torch.zeros(len(SENTENCES), T, dtype=torch.long)
    for i, s in enumerate(SENTENCES):
        ids[i, : len(s) + 1] = torch.tensor(s + [EOS])
    lengths = torch.tensor([len(s) + 1 for s in SENTENCES])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for step in range(300):  # beta warms up to 0.1: enough KL pressure to be a VAE, little enough to encode
        terms = vae_loss(model(ids, lengths), beta=min(1.0, step / 100) * 0.1)
        opt.zero_grad()
        terms.loss.backward()
        opt.step()
    model.eval()
    mu, _ = model.encode(ids, lengths)
    assert model.generate(mu, strategy="greedy", max_length=T) == SENTENCES
    assert model.generate(mu, strategy="beam", beam_size=3, max_length=T) == SENTENCES


def test_encoder_hidden_size_sets_the_encoder_state_only():
    model = build(encoder_hidden_size=8, bidirectional=True)
    assert model.encoder.rnn.hidden_size == 8 and model.decoder.rnn.hidden_size == model.config.hidden_size
    assert model.encoder.head.in_features == 16


# ----------------------------------------------------------------------------- conditional VAE

def _conditional(**kw):
    from textgen.vae.configuration import ConditionConfig

    return build(condition=ConditionConfig(labels=["negative", "positive"], size=4), **kw)


@pytest.mark.parametrize("arch", [dict(), dict(encoder="transformer", decoder="transformer"),
                                  dict(z_concat_input=True, bidirectional=True)])
def test_the_label_decides_what_a_conditional_vae_says_for_the_same_z(arch):
    """Sohn et al. (2015): p(x | z, y). Two sentences that differ only in their label's word, trained a few
    steps, then decoded from the same z under each label: the label picks the word."""
    torch.manual_seed(0)
    m = _conditional(**arch)
    good, bad = 7, 8                                                  # "the film was <good|bad> ." as ids
    ids = torch.tensor([[4, 5, 6, good, 9, EOS], [4, 5, 6, bad, 9, EOS]])
    lengths, y = torch.tensor([6, 6]), m.label_ids(["positive", "negative"])
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(60):
        out = m(ids, lengths, labels=y)
        loss = (out.rec_nll + 0.1 * out.kl).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    z = torch.zeros(2, m.config.latent_size)
    said = m.generate(z, labels=m.label_ids(["positive", "negative"]), max_length=8)
    assert said[0][3] == good and said[1][3] == bad
    assert m.log_likelihood(z[:1], ids[:1], lengths[:1], labels=m.label_ids("positive")) > \
        m.log_likelihood(z[:1], ids[:1], lengths[:1], labels=m.label_ids("negative"))


def test_conditional_vae_refuses_missing_unknown_or_surplus_labels(tmp_path):
    m = _conditional().eval()
    ids, lengths = random_batch(B=2)
    for call in (lambda: m(ids, lengths), lambda: m.encode(ids, lengths), lambda: m.generate(n=2)):
        with pytest.raises(ValueError, match=r"needs labels= \(label: negative, positive\)"):
            call()
    with pytest.raises(ValueError, match="unknown label 'happy'; this model knows 'negative', 'positive'"):
        m.label_ids(["positive", "happy"])
    with pytest.raises(ValueError, match="3 labels for 2 sentences"):
        m.encode(ids, lengths, labels=m.label_ids("positive", 3))
    plain = build().eval()
    with pytest.raises(ValueError, match="has no label"):
        plain.encode(ids, lengths, labels=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="has no label"):
        plain.label_ids("positive")
    with pytest.raises(ConfigError, match="at least two labels"):
        from textgen.vae.configuration import ConditionConfig
        tiny(condition=ConditionConfig(labels=["only"])).validate()
    # the label vocabulary travels with the folder; old folders (no condition key) load unconditional
    from textgen.tokenization import Tokenizer

    m.save_pretrained(tmp_path / "cvae", tokenizer=Tokenizer.from_vocab([f"w{i}" for i in range(V - 4)]))
    again = SentenceVAE.from_pretrained(tmp_path / "cvae")
    assert again.labels == ["negative", "positive"] and again.config.condition.column == "label"
    assert SentenceVAE(config_from_dict(SentenceVAEConfig, {"vocab_size": V})).labels == []


def test_a_conditional_vae_warm_started_from_a_plain_one_starts_as_it_exactly():
    from textgen.vae.warm_start import warm_start

    torch.manual_seed(0)
    for arch in (dict(z_concat_input=True, bidirectional=True), dict(encoder="transformer", decoder="transformer")):
        plain = build(seed=1, **arch).eval()
        cond = _conditional(**arch).eval()
        report = warm_start(cond, plain, parts="all")
        assert report.widened and "label_embedding.weight" in report.fresh
        ids, lengths = random_batch(B=4)
        y = cond.label_ids(["negative", "positive", "positive", "negative"])
        mu, logvar = plain.encode(ids, lengths)
        mu_c, logvar_c = cond.encode(ids, lengths, labels=y)
        assert torch.allclose(mu, mu_c, atol=1e-6) and torch.allclose(logvar, logvar_c, atol=1e-6)
        assert torch.allclose(plain.log_likelihood(mu, ids, lengths), cond.log_likelihood(mu, ids, lengths, labels=y),
                              atol=1e-5)
