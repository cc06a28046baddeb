"""The GAN's losses, one function each: add a loss here, then one line of it in ``gan_step``
(:mod:`textgen.gan.trainer`).

* the discriminator and generator losses of Reed et al. (2016, GAN-CLS / GAN-INT) and DF-GAN (Tao et al. 2022,
  hinge with mismatched pairs and the matching-aware gradient penalty);
* InfoNCE between caption and image embeddings (the caption encoder's pre-training, and AttnGAN's DAMSM);
* the cVAE-GAN / cLR-GAN terms of BicycleGAN (Zhu et al. 2017).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from textgen.core.functional import gaussian_kl
from textgen.gan.modeling import Discriminator, PosteriorEncoder

__all__ = ["d_loss_reed", "g_loss_reed", "d_loss_dfgan", "g_loss_dfgan", "ma_gradient_penalty", "info_nce",
           "reconstruction_loss", "latent_regression_loss"]


# ----------------------------------------------------------------------------- adversarial

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


def ma_gradient_penalty(d: Discriminator, real: Tensor, e: Tensor, k: float = 2.0, p: float = 6.0) -> Tensor:
    """DF-GAN's matching-aware zero-centred gradient penalty on (real image, right caption):
    k * E[ ||(grad_x D, grad_e D)||_2 ^ p ], with the gradient taken w.r.t. both the image and the sentence."""
    real = real.detach().requires_grad_(True)
    e = e.detach().requires_grad_(True)
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


# ----------------------------------------------------------------------------- contrastive (caption <-> image)

def info_nce(text: Tensor, image: Tensor, temperature: float = 0.07, extra_text: Optional[Tensor] = None) -> Tensor:
    """Symmetric InfoNCE (CLIP): row i of ``text`` matches row i of ``image``; both L2-normalised (B, D).

    ``extra_text`` (K, D) are further captions that match no image (hard negatives, as NegCLIP's edited
    captions, Yuksekgonul et al. 2023): each image must also rank its own caption above all of them."""
    logits = text @ image.t() / temperature                                          # (B, B)
    target = torch.arange(text.size(0), device=text.device)
    image_to_text = logits.t()
    if extra_text is not None and extra_text.size(0) > 0:
        image_to_text = torch.cat([image_to_text, image @ extra_text.t() / temperature], dim=1)   # (B, B + K)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(image_to_text, target))


# ----------------------------------------------------------------------------- cVAE-GAN / cLR-GAN (BicycleGAN)

def reconstruction_loss(G: nn.Module, E: PosteriorEncoder, real: Tensor, e: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """cVAE-GAN's terms (Zhu et al. 2017, Eq. 2-3; Kingma & Welling 2014's reparameterisation):
    ``(l1, kl, z)`` with l1 = mean |G(z, e) - x| for z ~ q(z | x) and kl = KL(q(z | x) || N(0, I)), summed over
    the noise's components and averaged over the batch (nats per image). ``z`` is the sampled noise (B, Z)."""
    mu, logvar = E(real)                                                             # (B, Z) each
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    rec = G(z, e)                                                                    # (B, 3, S, S)
    l1 = (rec.float() - real.float()).abs().mean()
    return l1, gaussian_kl(mu, logvar).sum(-1).mean(), z


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
