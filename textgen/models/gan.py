"""Text-conditioned GAN: a caption embedding in, a bird image out.

The method is Reed et al. (2016), "Generative Adversarial Text to Image Synthesis" (ICML): a generator
G(z, e) and a *matching-aware* discriminator D(x, e) that must tell real images with the right caption from
fakes and from real images with a wrong caption (GAN-CLS), with G also trained on interpolated caption
embeddings (GAN-INT). The architecture and the second loss follow DF-GAN (Tao et al. 2022, "DF-GAN: A
Simple and Effective Baseline for Text-to-Image Synthesis", CVPR): G's upsampling blocks fuse the text
through per-channel affine transforms predicted from the sentence embedding, D joins the sentence at 4x4,
and training uses the hinge loss with the matching-aware zero-centred gradient penalty (MA-GP).
Conditioning augmentation (Zhang et al. 2017, StackGAN) is a switch.

Sections, top-down: the config; small blocks (affine fusion, G and D residual blocks, conditioning
augmentation, minibatch standard deviation); the generator; the discriminator; the losses; sampling helpers
(truncated noise, EMA).
Shapes use (B, C, H, W) images in [-1, 1] and (B, E) sentence embeddings.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from textgen.config import check

__all__ = [
    "GANConfig", "unit_scale", "info_code", "with_info_code", "Generator", "Discriminator", "PosteriorEncoder",
    "ConditioningAugmentation", "MinibatchStd",
    "d_loss_reed", "g_loss_reed", "d_loss_dfgan", "g_loss_dfgan", "ma_gradient_penalty", "info_loss",
    "reconstruction_loss", "latent_regression_loss",
    "truncated_noise", "ema_update",
]


# ----------------------------------------------------------------------------- config

@dataclass
class GANConfig:
    """Every hyper-parameter of the generator and the discriminator."""

    image_size: int = 64              # 32, 64, 128 or 256
    noise_dim: int = 100
    text_dim: int = 256               # size of the sentence embeddings the text encoder gives
    cond_dim: int = 128               # what G and D see of the text (after projection or CA)
    g_channels: int = 32              # G width: 8 * g_channels at 4x4, halving towards the output
    d_channels: int = 32              # D width: d_channels at full size, doubling towards 4x4
    cond_aug: bool = False            # StackGAN conditioning augmentation (adds a KL term to G's loss)
    loss: Literal["reed", "dfgan"] = "dfgan"
    minibatch_std: int = 0            # D: group size of the minibatch standard-deviation feature (ProGAN; 0 = off)
    upsample: Literal["nearest", "bilinear"] = "nearest"   # G's x2 up-sampling (see GBlock)
    info_codes: int = 0               # InfoGAN categorical code of this many values, read from the noise (0 = off)
    info_input: Literal["features", "layout"] = "features"   # what Q reads the code from (see Discriminator)

    def validate(self) -> None:
        check(self.image_size in (32, 64, 128, 256), "image_size", f"must be 32, 64, 128 or 256, got {self.image_size}")
        for key in ("noise_dim", "text_dim", "cond_dim", "g_channels", "d_channels"):
            value = getattr(self, key)
            check(value >= 1, key, f"must be >= 1, got {value}")
        check(self.minibatch_std >= 0, "minibatch_std", f"must be >= 0 (0 turns it off), got {self.minibatch_std}")
        check(self.upsample in ("nearest", "bilinear"), "upsample", f"must be 'nearest' or 'bilinear', got {self.upsample!r}")
        check(self.info_input in ("features", "layout"), "info_input", f"must be 'features' or 'layout', got {self.info_input!r}")
        check(self.info_codes == 0 or 2 <= self.info_codes <= self.noise_dim, "info_codes",
              f"must be 0 (off) or between 2 and noise_dim ({self.noise_dim}), got {self.info_codes}")

    @property
    def num_blocks(self) -> int:
        """Up-sampling blocks of G (and down-sampling blocks of D): from 4x4 to image_size."""
        return int(math.log2(self.image_size // 4))


def unit_scale(e: Tensor) -> Tensor:
    """Sentence embeddings rescaled to norm sqrt(E), i.e. components of about unit size.

    Text encoders differ in scale (the caption encoder's outputs are unit vectors, whose components are
    ~1/sqrt(E) = 0.06 for E = 256; a VAE's posterior means are larger). Fed as they are, unit vectors give a
    text condition ~30x weaker than the N(0, I) noise it is concatenated with, and the generator learns to
    ignore the caption; rescaling puts text and noise on the same footing for every encoder.
    """
    return F.normalize(e.float(), dim=-1).to(e.dtype) * math.sqrt(e.size(-1))


def info_code(z: Tensor, k: int) -> Tensor:
    """The InfoGAN categorical code carried by the noise: argmax of its first k components, (B,) in [0, k).

    The k components are i.i.d. and symmetric (plain or truncated N(0, 1)), so each value has probability
    1/k: the code is a uniform categorical variable that needs no argument of its own, and every caller
    that draws noise (the pipeline, the trainer, eval-gan) draws the code with it."""
    return z[:, :k].argmax(dim=1)


def with_info_code(z: Tensor, code: int, k: int) -> Tensor:
    """The same noise with its code set to ``code``: z's largest of the first k components swapped into
    slot ``code``. Every other component stays as drawn, so images for different codes differ only by the code."""
    if not 0 <= code < k:
        raise ValueError(f"code must be in [0, {k}), got {code}")
    z, rows = z.clone(), torch.arange(z.size(0), device=z.device)
    top = info_code(z, k)
    z[rows, top], z[rows, code] = z[rows, code], z[rows, top]
    return z


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) for (B, D) parameters: summed over D, averaged over B (nats)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1).mean()


def _widths(base: int, n: int) -> list[int]:
    """Channel widths from 4x4 (index 0) up to full size (index n): 8b, 8b, 8b, 4b, 2b, 1b, ... (at least b)."""
    mult = [8, 8, 8, 4, 2, 1, 1]
    return [base * mult[min(i, len(mult) - 1)] for i in range(n + 1)]


# ----------------------------------------------------------------------------- small blocks

class ConditioningAugmentation(nn.Module):
    """StackGAN (Zhang et al. 2017): c ~ N(mu(e), diag(sigma(e)^2)), with KL(N(mu, sigma) || N(0, I)) as a regulariser."""

    def __init__(self, text_dim: int, cond_dim: int):
        super().__init__()
        self.fc = nn.Linear(text_dim, 2 * cond_dim)

    def forward(self, e: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = F.leaky_relu(self.fc(e), 0.2).chunk(2, dim=-1)                  # (B, C) each
        c = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return c, gaussian_kl(mu, logvar)


class Affine(nn.Module):
    """DF-GAN's text-conditioned affine transform: x * (1 + gamma(c)) + beta(c), per channel."""

    def __init__(self, cond_dim: int, channels: int):
        super().__init__()
        self.gamma = nn.Sequential(nn.Linear(cond_dim, channels), nn.ReLU(inplace=True), nn.Linear(channels, channels))
        self.beta = nn.Sequential(nn.Linear(cond_dim, channels), nn.ReLU(inplace=True), nn.Linear(channels, channels))
        for head in (self.gamma[-1], self.beta[-1]):      # start as the identity transform
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        return x * (1 + self.gamma(c))[:, :, None, None] + self.beta(c)[:, :, None, None]


class GBlock(nn.Module):
    """Up-sample x2, then two (affine fusion -> LeakyReLU -> 3x3 conv) stages, plus a learned shortcut.

    ``upsample="nearest"`` (DF-GAN) copies each pixel into a 2x2 block; three such blocks turn every cell of
    G's 4x4 start into an 8x8 square that the 3x3 convs must then hide. ``"bilinear"`` interpolates instead,
    so a smooth area (a sky) needs no work from the convs to stay smooth (the checkerboard and blocking
    artifacts of Odena et al. 2016, "Deconvolution and Checkerboard Artifacts", Distill).
    """

    def __init__(self, c_in: int, c_out: int, cond_dim: int, upsample: str = "nearest"):
        super().__init__()
        self.upsample = upsample
        self.fuse1, self.conv1 = Affine(cond_dim, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.fuse2, self.conv2 = Affine(cond_dim, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2, mode=self.upsample)                     # (B, Cin, 2H, 2W)
        h = self.conv1(F.leaky_relu(self.fuse1(x, c), 0.2))
        h = self.conv2(F.leaky_relu(self.fuse2(h, c), 0.2))
        return self.shortcut(x) + h                                                  # (B, Cout, 2H, 2W)


class DBlock(nn.Module):
    """Residual down-sampling block: two 3x3 convs (the second strided) plus an average-pooled shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.gamma = nn.Parameter(torch.zeros(1))                                    # DF-GAN: residual starts at 0

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)), 0.2))           # (B, Cout, H/2, W/2)
        return F.avg_pool2d(self.shortcut(x), 2) + self.gamma * h


def down_trunk(config: GANConfig) -> tuple[nn.Conv2d, nn.ModuleList, list[int]]:
    """D's convolutional trunk (also E's, with its own weights): a 3x3 conv to ``d_channels``, then DBlocks
    down to 4x4. Returns ``(from_rgb, blocks, widths)``, widths from full size to 4x4."""
    widths = list(reversed(_widths(config.d_channels, config.num_blocks)))          # SxS ... 4x4
    from_rgb = nn.Conv2d(3, widths[0], 3, padding=1)                                 # first: the seed's init order
    return from_rgb, nn.ModuleList(DBlock(widths[i], widths[i + 1]) for i in range(config.num_blocks)), widths


class MinibatchStd(nn.Module):
    """ProGAN's minibatch standard deviation (Karras et al. 2018, Sec. 3): one extra feature map holding how
    much the images of a group of ``group`` differ from each other, so that D can see a batch that lacks
    variety (every fake on the same background) and G is pushed to restore it.

    Group members are strided through the batch (image i is with i + B/g, i + 2B/g, ...), as in StyleGAN2;
    ``group`` shrinks to the largest divisor of B that is no larger, so any batch works.
    """

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, h: Tensor) -> Tensor:
        B, C, H, W = h.shape
        g = max(d for d in range(1, min(self.group, B) + 1) if B % d == 0)
        y = h.float().view(g, B // g, C, H, W)                                      # (g, B/g, C, H, W)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))       # (B/g,)
        s = std.repeat(g).view(B, 1, 1, 1).expand(B, 1, H, W)                        # (B, 1, H, W); image i: group i % (B/g)
        return torch.cat([h, s.to(h.dtype)], dim=1)                                  # (B, C + 1, H, W)


# ----------------------------------------------------------------------------- generator

class Generator(nn.Module):
    """G(z, e): noise (B, noise_dim) and sentence embeddings (B, text_dim) -> images (B, 3, S, S) in [-1, 1]."""

    def __init__(self, config: GANConfig):
        super().__init__()
        config.validate()
        self.config = c = config
        widths = _widths(c.g_channels, c.num_blocks)                                 # 4x4 ... SxS
        self.text = ConditioningAugmentation(c.text_dim, c.cond_dim) if c.cond_aug else nn.Linear(c.text_dim, c.cond_dim)
        noise = c.noise_dim + c.info_codes                                           # z, and its code one-hot
        cond = noise + c.cond_dim                                                    # blocks see [z, c] (DF-GAN)
        self.fc = nn.Linear(noise, widths[0] * 16)
        self.blocks = nn.ModuleList(GBlock(widths[i], widths[i + 1], cond, c.upsample) for i in range(c.num_blocks))
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(widths[-1], 3, 3, padding=1), nn.Tanh())
        self.widths = widths

    def condition(self, e: Tensor) -> tuple[Tensor, Tensor]:
        """The text condition (B, cond_dim) and its CA KL term (0 without conditioning augmentation)."""
        e = unit_scale(e)
        if self.config.cond_aug:
            return self.text(e)
        return self.text(e), e.new_zeros(())

    def forward(self, z: Tensor, e: Tensor, return_kl: bool = False):
        c, kl = self.condition(e)                                                    # (B, C)
        if self.config.info_codes:                                                   # InfoGAN: the code, one-hot
            k = self.config.info_codes
            z = torch.cat([z, F.one_hot(info_code(z, k), k).to(z.dtype)], dim=1)     # (B, Z + K)
        cz = torch.cat([z, c], dim=1)                                                # (B, Z [+ K] + C)
        x = self.fc(z).view(z.size(0), self.widths[0], 4, 4)                         # (B, 8g, 4, 4)
        for block in self.blocks:
            x = block(x, cz)
        img = self.to_rgb(x)                                                         # (B, 3, S, S)
        return (img, kl) if return_kl else img


# ----------------------------------------------------------------------------- discriminator

class Discriminator(nn.Module):
    """D(x, e): a matching-aware logit (B,) for image x (B, 3, S, S) and sentence embedding e (B, text_dim).

    ``features(x)`` is computed once per image batch and scored against several captions with ``logit``.
    With ``info_codes``, ``code_logits(x, features)`` is InfoGAN's Q head: which code G drew the image with.
    ``info_input="features"`` reads it from D's trunk (InfoGAN), which also sees details a person would not
    notice, so G may hide the code there; ``"layout"`` reads only the image's 4x4 grid of mean colours, so G
    can only make the code readable through the picture's overall layout: the scene behind the bird, since
    the caption already fixes the bird's colours.
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        config.validate()
        self.config = c = config
        self.from_rgb, self.blocks, widths = down_trunk(c)                           # SxS ... 4x4
        self.mbstd = MinibatchStd(c.minibatch_std) if c.minibatch_std else nn.Identity()
        self.text = nn.Linear(c.text_dim, c.cond_dim)
        top = widths[-1]
        feat = top + int(c.minibatch_std > 0)                                        # channels of features(x)
        self.joint = nn.Sequential(                                                  # sentence joined at 4x4
            nn.Conv2d(feat + c.cond_dim, top * 2, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(top * 2, 1, 4),
        )
        if c.info_codes:                                                             # InfoGAN's Q
            width = 3 * 16 if c.info_input == "layout" else feat * 16
            self.q = nn.Sequential(nn.Flatten(), nn.Linear(width, 128), nn.LeakyReLU(0.2), nn.Linear(128, c.info_codes))

    def features(self, x: Tensor) -> Tensor:
        h = self.from_rgb(x)
        for block in self.blocks:
            h = block(h)
        return self.mbstd(h)                                                         # (B, 8d [+ 1], 4, 4)

    def logit(self, h: Tensor, e: Tensor) -> Tensor:
        t = self.text(unit_scale(e))[:, :, None, None].expand(-1, -1, 4, 4)          # (B, C, 4, 4)
        return self.joint(torch.cat([h, t], dim=1)).view(-1)                         # (B,)

    def code_logits(self, x: Tensor, h: Tensor) -> Tensor:
        """InfoGAN's Q(code | image) for images x and their ``features(x)`` h: logits (B, info_codes)."""
        if self.config.info_input == "layout":
            return self.q(F.adaptive_avg_pool2d(x.float(), 4))                       # from (B, 3, 4, 4) colours
        return self.q(h)

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        return self.logit(self.features(x), e)


# ----------------------------------------------------------------------------- posterior encoder (cVAE-GAN)

class PosteriorEncoder(nn.Module):
    """E(x): the posterior q(z | x) = N(mu, diag(exp(logvar))) over G's noise for a real image (B, 3, S, S).

    The cVAE-GAN half of BicycleGAN (Zhu et al. 2017, "Toward Multimodal Image-to-Image Translation",
    NeurIPS; after Larsen et al. 2016's VAE/GAN): G must rebuild each real image from its caption and the
    noise E read from it, so every scene of the data (sky, foliage, branch; facing; unstated colours) has a
    region of the noise that G draws it for, and mode dropping costs reconstruction loss. The KL term keeps
    q(z | x) near G's N(0, I) prior, so plain noise still lands on those regions at sampling time. E is only
    used in training (it lives in the run's training state, like D); D's trunk shape, its own weights.
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        config.validate()
        self.from_rgb, self.blocks, widths = down_trunk(config)                      # SxS ... 4x4
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(widths[-1] * 16, 2 * config.noise_dim))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.from_rgb(x)
        for block in self.blocks:
            h = block(h)                                                             # (B, 8d, 4, 4) at the end
        mu, logvar = self.head(h).float().chunk(2, dim=1)                            # (B, Z) each
        return mu, logvar.clamp(-10, 10)


# ----------------------------------------------------------------------------- losses

def reconstruction_loss(G: nn.Module, E: PosteriorEncoder, real: Tensor, e: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """cVAE-GAN's terms (Zhu et al. 2017, Eq. 2-3; Kingma & Welling 2014's reparameterisation):
    ``(l1, kl, z)`` with l1 = mean |G(z, e) - x| for z ~ q(z | x) and kl = KL(q(z | x) || N(0, I)), summed over
    the noise's components and averaged over the batch (nats per image). ``z`` is the sampled noise (B, Z)."""
    mu, logvar = E(real)                                                             # (B, Z) each
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    rec = G(z, e)                                                                    # (B, 3, S, S)
    l1 = (rec.float() - real.float()).abs().mean()
    return l1, gaussian_kl(mu, logvar), z


def info_loss(d: Discriminator, fake: Tensor, h_fake: Tensor, z: Tensor) -> Tensor:
    """InfoGAN's variational lower bound on I(code; G(z, e)) (Chen et al. 2016, "InfoGAN: Interpretable
    Representation Learning by Information Maximizing Generative Adversarial Nets", NeurIPS, Eq. 5), up to the
    code's constant entropy: the cross-entropy of Q's guess of the code from the fakes (B, 3, S, S) or D's
    features of them (``h_fake``; see ``GANConfig.info_input``).
    Both G and Q minimise it: G makes the code visible in the image, Q learns to read it.

    A categorical factor of the data that no caption states (the background: sky, foliage or branch) is
    what a GAN drops when every noise is free to give the same image; with the code, G needs k images that
    Q can tell apart and D still takes for real, and the data's own discrete factor is the cheapest way."""
    return F.cross_entropy(d.code_logits(fake, h_fake).float(), info_code(z, d.config.info_codes))


def latent_regression_loss(E: PosteriorEncoder, fake: Tensor, z: Tensor) -> Tensor:
    """cLR-GAN's latent regression (Zhu et al. 2017, Eq. 4): |mu_E(G(z, e)) - z|_1 for fakes (B, 3, S, S) from
    prior noise z (B, Z), summed over the noise's components like the KL term and averaged over the batch.
    E's weights are held fixed here (BicycleGAN updates only G with this term), so G alone must make what E
    reads from a fake match the noise that drew it: a prior noise in the region where E puts sky renders must
    come out as a sky. Components E does not use (mu about 0 whatever the image) add a constant, no gradient;
    a mean over them would dilute the few it uses by Z (BicycleGAN's noise has 8 components, ours 100)."""
    frozen = {name: p.detach() for name, p in E.named_parameters()}
    mu, _ = torch.func.functional_call(E, frozen, (fake,))
    return (mu - z.float()).abs().sum(1).mean()


def d_loss_reed(d_real_right: Tensor, d_real_wrong: Tensor, d_fake_right: Tensor) -> Tensor:
    """GAN-CLS (Reed et al. 2016, Alg. 1): log D(real, right) + (log(1 - D(real, wrong)) + log(1 - D(fake, right))) / 2."""
    bce = F.binary_cross_entropy_with_logits
    return (bce(d_real_right, torch.ones_like(d_real_right))
            + 0.5 * (bce(d_real_wrong, torch.zeros_like(d_real_wrong)) + bce(d_fake_right, torch.zeros_like(d_fake_right))))


def g_loss_reed(d_fake_right: Tensor, d_fake_interp: Optional[Tensor] = None) -> Tensor:
    """Non-saturating G loss on fakes for the right captions, plus GAN-INT: fakes for interpolated embeddings."""
    bce = F.binary_cross_entropy_with_logits
    loss = bce(d_fake_right, torch.ones_like(d_fake_right))
    if d_fake_interp is not None:
        loss = loss + bce(d_fake_interp, torch.ones_like(d_fake_interp))
    return loss


def ma_gradient_penalty(d: Discriminator, real: Tensor, e: Tensor, k: float = 2.0, p: float = 6.0,
                        scaled_text: bool = False) -> Tensor:
    """DF-GAN's matching-aware zero-centred gradient penalty on (real image, right caption):
    k * E[ ||(grad_x D, grad_e D)||_2 ^ p ], with the gradient taken w.r.t. both the image and the sentence.

    ``scaled_text`` takes the sentence gradient w.r.t. ``unit_scale(e)``, the vector D reads (components of
    about 1, like the pixels), instead of w.r.t. ``e`` as given. For unit-norm embeddings (the caption
    encoder) the latter is sqrt(E) = 16 times larger, so with p = 6 it penalises reacting to the caption
    16^6 times harder than DF-GAN's unnormalised sentence vectors are penalised: D stays nearly blind to the
    caption (a real image scores about as high with a random caption as with its own; RESULTS)."""
    real = real.detach().requires_grad_(True)
    e = (unit_scale(e.detach()) if scaled_text else e.detach()).requires_grad_(True)   # D rescales again: a no-op
    out = d(real, e)
    gx, ge = torch.autograd.grad(out.sum(), (real, e), create_graph=True)
    norm = torch.sqrt(gx.flatten(1).pow(2).sum(1) + ge.pow(2).sum(1))               # (B,)
    return k * norm.pow(p).mean()


def d_loss_dfgan(d_real_right: Tensor, d_real_wrong: Tensor, d_fake_right: Tensor) -> Tensor:
    """Hinge loss with mismatched pairs (DF-GAN): relu(1 - D(real, right)) + (relu(1 + D(real, wrong)) + relu(1 + D(fake, right))) / 2."""
    return (F.relu(1 - d_real_right).mean()
            + 0.5 * (F.relu(1 + d_real_wrong).mean() + F.relu(1 + d_fake_right).mean()))


def g_loss_dfgan(d_fake_right: Tensor) -> Tensor:
    return -d_fake_right.mean()


# ----------------------------------------------------------------------------- sampling helpers

def truncated_noise(n: int, dim: int, truncation: float = 1.0, generator: Optional[torch.Generator] = None,
                    device: str | torch.device = "cpu") -> Tensor:
    """N(0, I) noise with every |value| above ``truncation`` resampled (the truncation trick of BigGAN,
    Brock et al. 2019): lower truncation trades diversity for fidelity. ``truncation >= 4`` is plain noise."""
    if not truncation > 0:
        raise ValueError(f"truncation must be > 0, got {truncation}")
    z = torch.randn(n, dim, generator=generator)
    if truncation < 4:
        for _ in range(100):
            bad = z.abs() > truncation
            if not bool(bad.any()):
                break
            z[bad] = torch.randn(int(bad.sum()), generator=generator)
        z = z.clamp(-truncation, truncation)
    return z.to(device)


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float = 0.999) -> None:
    """ema <- decay * ema + (1 - decay) * model, parameter by parameter; buffers are copied."""
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm.detach(), 1.0 - decay)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)
