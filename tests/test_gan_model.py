"""GAN building blocks: shapes, losses on known values, MA-GP gradients, CA, truncation, EMA, and a D that
learns to tell matching from mismatched captions."""
import pytest
import torch

from textgen.core.config import ConfigError
from textgen.gan.losses import (d_loss_dfgan, d_loss_reed, g_loss_dfgan, g_loss_reed, latent_regression_loss,
                                ma_gradient_penalty, reconstruction_loss)
from textgen.gan.modeling import ConditioningAugmentation, Discriminator, Generator, PosteriorEncoder, ema_update, truncated_noise
from textgen.gan.configuration import GANConfig
from textgen.core.checkpoint import CheckpointError


def tiny(size=32, **kw):
    return GANConfig(image_size=size, noise_dim=8, text_dim=12, cond_dim=8, g_channels=4, d_channels=4, **kw)


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("cond_aug", [False, True])
def test_shapes_and_range(size, cond_aug):
    torch.manual_seed(0)
    cfg = tiny(size, cond_aug=cond_aug)
    g, d = Generator(cfg), Discriminator(cfg)
    z, e = torch.randn(3, 8), torch.randn(3, 12)
    img, kl = g(z, e, return_kl=True)
    assert img.shape == (3, 3, size, size) and img.abs().max() <= 1
    assert (kl > 0) if cond_aug else (kl == 0)
    logits = d(img, e)
    assert logits.shape == (3,)
    (g_loss_dfgan(logits) + kl).backward()
    assert all(p.grad is not None for p in g.parameters())


def test_config_rejects_bad_sizes():
    with pytest.raises(ConfigError, match="image_size"):
        Generator(GANConfig(image_size=48))


def test_losses_on_known_values():
    one, zero = torch.tensor([1.0]), torch.tensor([0.0])
    assert d_loss_dfgan(one, -one, -one).item() == 0.0              # every margin met
    assert d_loss_dfgan(zero, zero, zero).item() == 2.0              # 1 + (1 + 1) / 2
    assert g_loss_dfgan(torch.tensor([2.0, 4.0])).item() == -3.0
    big = torch.tensor([20.0])
    assert d_loss_reed(big, -big, -big).item() < 1e-6
    ln2 = torch.log(torch.tensor(2.0)).item()
    assert abs(d_loss_reed(zero, zero, zero).item() - 2 * ln2) < 1e-6
    assert abs(g_loss_reed(zero, zero).item() - 2 * ln2) < 1e-6     # GAN-INT adds its own term


def test_ma_gp_is_zero_centred_and_differentiable():
    torch.manual_seed(0)
    cfg = tiny()
    d = Discriminator(cfg)
    x, e = torch.randn(4, 3, 32, 32), torch.randn(4, 12)
    gp = ma_gradient_penalty(d, x, e)
    assert gp.item() > 0
    gp.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())
    # matches the definition computed by hand
    xr, er = x.clone().requires_grad_(True), e.clone().requires_grad_(True)
    gx, ge = torch.autograd.grad(d(xr, er).sum(), (xr, er))
    manual = 2.0 * (gx.flatten(1).pow(2).sum(1) + ge.pow(2).sum(1)).sqrt().pow(6).mean()
    assert torch.allclose(gp.detach(), manual, rtol=1e-4)
    # a discriminator whose output ignores its inputs has no penalty
    for p in d.joint.parameters():
        torch.nn.init.zeros_(p)
    assert ma_gradient_penalty(d, x, e).item() == 0.0


def test_reconstruction_loss_on_known_values():
    torch.manual_seed(0)
    cfg = tiny()
    g, enc = Generator(cfg), PosteriorEncoder(cfg)
    x, e = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, 12)
    nn = torch.nn
    nn.init.zeros_(enc.head[-1].weight)
    nn.init.zeros_(enc.head[-1].bias)                  # q(z | x) = N(0, I) exactly: KL 0
    torch.manual_seed(1)
    l1, kl, z = reconstruction_loss(g, enc, x, e)
    assert z.shape == (4, 8) and kl.item() == 0.0
    torch.manual_seed(1)
    assert torch.allclose(l1, (g(torch.randn(4, 8), e) - x).abs().mean())   # the same draw of z: the same L1
    with torch.no_grad():
        enc.head[-1].bias[:8] = 1.0                    # mu = 1 in each of 8 dims, unit variance: KL = 8 * 1/2
    assert torch.isclose(reconstruction_loss(g, enc, x, e)[1], torch.tensor(4.0))
    l1.backward()                                      # the L1 reaches G and E
    assert g.fc.weight.grad.abs().sum() > 0 and enc.head[-1].weight.grad.abs().sum() > 0


def test_cvae_terms_make_the_noise_carry_what_the_caption_does_not():
    """Two images with the same caption (a 'sky' and a 'foliage' scene): G alone cannot tell them apart, so
    only a G that reads E's noise rebuilds both. Trained on the cVAE-GAN terms alone, each image's
    reconstruction ends nearer to it than to the other: the scene lives in the noise, not dropped."""
    torch.manual_seed(0)
    cfg = tiny()
    g, enc = Generator(cfg), PosteriorEncoder(cfg)
    sky, leaf = torch.zeros(3, 32, 32), torch.zeros(3, 32, 32)
    sky[2], leaf[1] = 0.8, 0.8                         # blue and green backgrounds ...
    sky[:, 12:20, 12:20] = leaf[:, 12:20, 12:20] = -0.5   # ... behind the same "bird"
    x, e = torch.stack([sky, leaf]).repeat(4, 1, 1, 1), torch.randn(1, 12).expand(8, -1)
    opt = torch.optim.Adam([*g.parameters(), *enc.parameters()], lr=3e-3)
    for _ in range(150):
        l1, kl, _ = reconstruction_loss(g, enc, x, e)
        loss = 10 * l1 + 0.01 * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        rec = g(enc(x[:2])[0], e[:2])                 # from the posterior means
    d = lambda a, b: float((a - b).abs().mean())      # noqa: E731
    assert d(rec[0], sky) < 0.5 * d(rec[0], leaf) and d(rec[1], leaf) < 0.5 * d(rec[1], sky)
    assert kl.item() > 0.5                            # the noise carries information about x


def test_latent_regression_trains_g_only_to_draw_what_e_reads_back():
    torch.manual_seed(0)
    cfg = tiny()
    g, enc = Generator(cfg), PosteriorEncoder(cfg)
    z, e = torch.randn(16, 8), torch.randn(1, 12).expand(16, -1)
    head = enc.head[-1]
    saved = head.weight.data.clone(), head.bias.data.clone()
    nn = torch.nn
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)                          # E reads nothing: mu = 0, the loss is sum |z| per image
    assert torch.isclose(latent_regression_loss(enc, g(z, e), z), z.abs().sum(1).mean())
    head.weight.data, head.bias.data = saved
    loss = latent_regression_loss(enc, g(z, e), z)
    loss.backward()
    assert all(p.grad is None for p in enc.parameters())           # E is held fixed (BicycleGAN)
    assert g.fc.weight.grad.abs().sum() > 0

    def corr() -> float:                               # how well E's read of G's fakes follows the noise
        with torch.no_grad():
            zz = torch.randn(256, 8)
            mu = enc(g(zz, e[:1].expand(256, -1)))[0]
            return float(torch.stack([torch.corrcoef(torch.stack([mu[:, k], zz[:, k]]))[0, 1] for k in range(8)]).mean())

    before = corr()
    opt = torch.optim.Adam(g.parameters(), lr=3e-3)
    for _ in range(60):
        z = torch.randn(16, 8)
        loss = latent_regression_loss(enc, g(z, e), z)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert corr() > before + 0.3


def test_conditioning_augmentation():
    torch.manual_seed(0)
    ca = ConditioningAugmentation(12, 8)
    e = torch.randn(5, 12)
    c1, kl = ca(e)
    c2, _ = ca(e)
    assert kl.item() >= 0 and not torch.equal(c1, c2)                # sampled in training
    ca.eval()
    assert torch.equal(ca(e)[0], ca(e)[0])                           # the mean in eval


def test_truncated_noise_and_ema():
    g = torch.Generator().manual_seed(0)
    z = truncated_noise(1000, 16, truncation=0.5, generator=g)
    assert z.abs().max() <= 0.5 and z.std() > 0.2
    assert torch.equal(truncated_noise(4, 3, generator=torch.Generator().manual_seed(1)),
                       truncated_noise(4, 3, generator=torch.Generator().manual_seed(1)))
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = a.weight.detach().clone()
    ema_update(a, b, decay=0.9)
    assert torch.allclose(a.weight, 0.9 * before + 0.1 * b.weight)


def test_discriminator_learns_to_separate_right_from_wrong_captions():
    """Real/right vs real/wrong on a small overfit: 8 colour images, each with its own caption embedding."""
    torch.manual_seed(0)
    cfg = tiny()
    d = Discriminator(cfg)
    colours = torch.rand(8, 3) * 2 - 1
    imgs = colours[:, :, None, None].expand(-1, -1, 32, 32).contiguous()
    emb = torch.randn(8, 12)
    wrong = emb.roll(1, dims=0)
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.0, 0.9))
    for _ in range(150):
        fake = torch.rand(8, 3, 32, 32) * 2 - 1
        h = d.features(imgs)
        loss = d_loss_dfgan(d.logit(h, emb), d.logit(h, wrong), d(fake, emb))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        h = d.features(imgs)
        assert (d.logit(h, emb) > d.logit(h, wrong)).all()


def test_text_condition_is_as_strong_as_the_noise_for_any_embedding_scale():
    """Unit-norm caption embeddings must not give a condition ~30x weaker than the noise (G would ignore the
    text); G and D see the embedding rescaled to norm sqrt(E), so its scale does not matter."""
    torch.manual_seed(0)
    cfg = GANConfig(image_size=32, text_dim=256, g_channels=4, d_channels=4)
    g, d = Generator(cfg).eval(), Discriminator(cfg).eval()
    e = torch.nn.functional.normalize(torch.randn(16, 256), dim=-1)                  # a caption encoder's output
    c, _ = g.condition(e)
    assert 0.3 < c.std().item() < 3                                                  # like the N(0, 1) noise
    z = torch.randn(16, cfg.noise_dim)
    assert torch.allclose(g(z, e), g(z, 7.0 * e), atol=1e-5)
    x = torch.rand(16, 3, 32, 32) * 2 - 1
    assert torch.allclose(d(x, e), d(x, 7.0 * e), atol=1e-5)


def _nyquist_share(g: torch.Tensor) -> float:
    """Energy of ``g`` (B, C, S, S) at the three Nyquist bins, relative to white noise's share (1.0)."""
    f = torch.fft.fft2(g - g.mean((2, 3), keepdim=True)).abs().pow(2)
    n = g.size(-1) // 2
    return float((f[..., n, n] + f[..., 0, n] + f[..., n, 0]).sum() / f.sum()) * g.size(-1) ** 2 / 3


def test_blurred_downsampling_stops_d_pushing_g_towards_checkerboards():
    """The cause of the shipped GAN's checkerboard: a strided 4x4 conv's gradient with respect to its input
    (what G is trained along) piles up at the Nyquist frequency; blurred down-sampling removes that."""
    from textgen.core.functional import blur_downsample

    torch.manual_seed(0)
    x, e = torch.rand(16, 3, 32, 32) * 2 - 1, torch.randn(16, 256)
    shares = {}
    for down in ("strided", "blur"):
        torch.manual_seed(0)
        D = Discriminator(GANConfig(image_size=32, d_channels=8, downsample=down))
        for b in D.blocks:
            b.gamma.data.fill_(1.0)                        # the residual path open, as after training
        xx = x.clone().requires_grad_(True)
        D(xx, e).sum().backward()
        shares[down] = _nyquist_share(xx.grad)
    assert shares["strided"] > 1.2 and shares["blur"] < 0.6, shares
    # the low-pass itself: a checkerboard vanishes, a constant stays
    board = (torch.arange(8)[:, None] + torch.arange(8)[None]).remainder(2).float().expand(1, 2, 8, 8) * 2 - 1
    assert blur_downsample(board)[..., 1:-1, 1:-1].abs().max() < 1e-6
    assert torch.allclose(blur_downsample(torch.full((1, 2, 8, 8), 3.0)), torch.full((1, 2, 4, 4), 3.0))


def test_resampling_switches_keep_shapes_and_old_configs_load_as_trained():
    from textgen.core.config import config_from_dict

    for up, down in (("bilinear", "blur"), ("nearest", "strided")):
        c = GANConfig(image_size=32, g_channels=4, d_channels=4, upsample=up, downsample=down)
        img = Generator(c)(torch.randn(2, c.noise_dim), torch.randn(2, c.text_dim))
        assert img.shape == (2, 3, 32, 32)
        assert Discriminator(c)(img, torch.randn(2, c.text_dim)).shape == (2,)
    old = config_from_dict(GANConfig, {"image_size": 32, "g_channels": 4})          # saved before the keys existed
    assert (old.upsample, old.downsample) == ("nearest", "strided")
    with pytest.raises(ConfigError, match="upsample"):
        GANConfig(upsample="cubic").validate()


def test_hostile_gan_configs_and_folders_are_refused_before_any_work(tmp_path, capsys, monkeypatch):
    import json
    import shutil

    from safetensors.torch import load_file, save_file

    from textgen.cli import main
    from textgen.core.checkpoint import CheckpointError
    from textgen.core.pretrained import resolve_model_path
    from textgen.gan.modeling import TextToImageGAN

    out = tmp_path / "run"
    assert main(["train-gan", "--config", "configs/gan/birds32_cpu.yaml", "--out", str(out), "model.noise_dim=1000000000"]) == 2
    assert "noise_dim=1e9" in capsys.readouterr().err and not (out / "text_encoder").exists()
    assert main(["train-gan", "--config", "configs/gan/birds32_cpu.yaml", "--out", str(out), "model.g_channels=1000000"]) == 2
    assert "max_parameters" in capsys.readouterr().err

    def damaged(name, edit_state=None, edit_config=None):
        folder = tmp_path / name
        shutil.copytree(resolve_model_path("birds-gan"), folder)
        state = load_file(str(folder / "model.safetensors"))
        if edit_state:
            edit_state(state)
            save_file(state, str(folder / "model.safetensors"))
        meta = json.loads((folder / "config.json").read_text())
        if edit_config:
            edit_config(meta)
        (folder / "config.json").write_text(json.dumps(meta))
        return folder

    first = lambda st, prefix: next(k for k in st if k.startswith(prefix))   # noqa: E731
    monkeypatch.setenv("TEXTGEN_NO_VERIFY", "1")      # as --no-verify: the structure is still checked
    with pytest.raises(CheckpointError, match="does not have"):
        TextToImageGAN.from_pretrained(damaged("extra", lambda st: st.update(stowaway=torch.zeros(3))), load_text_encoder=False)
    with pytest.raises(CheckpointError, match="EMA copy differ"):
        TextToImageGAN.from_pretrained(damaged("shape", lambda st: st.update({first(st, "generator."): torch.zeros(2, 2)})),
                        load_text_encoder=False)
    te = tmp_path / "te"
    shutil.copytree(resolve_model_path("birds-gan") / "text_encoder", te)
    meta = json.loads((te / "config.json").read_text())
    meta["config"]["vocab_size"] = 10_000_000_000
    (te / "config.json").write_text(json.dumps(meta))
    from textgen.gan.text_encoders import CaptionEncoder

    with pytest.raises(CheckpointError, match="describes a model of about"):
        CaptionEncoder.from_pretrained(te)
    with pytest.raises(CheckpointError, match="describes a GAN of up to about"):
        TextToImageGAN.from_pretrained(damaged("huge", edit_config=lambda m: m["config"]["gan"].update(g_channels=100000)),
                        load_text_encoder=False)
