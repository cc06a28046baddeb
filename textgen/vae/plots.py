"""Pictures of the latent space: a 2-D PCA map of posterior means, and an interpolation path over it.

    textgen plot-latent --model en-lstm-vae --data data/english/test.jsonl --color source --out latent.png
    textgen plot-latent --model runs/vae/ptb_lstm/best --compare runs/vae/ptb_ae/best --out vae_vs_ae.png
    textgen plot-latent --model en-lstm-vae --path "I want to talk to you." "She didn't want to be with him."

Each panel projects the posterior means E[z|x] of a corpus onto their first two principal components and
colours them by sentence length (or by a label column of the corpus). Drawn beside a plain auto-encoder
(``--compare``), the map shows what the VAE's KL term buys (Bowman et al. 2016, sec. 4): the VAE's codes
fill a compact, continuous region around the prior's mean, while the auto-encoder's scatter over a
larger, uneven region with empty space between them, where decoding is unreliable.

matplotlib is an optional extra (``pip install "textgen[plot]"``) and is imported only here, only when a
plot is drawn.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

__all__ = ["PCA", "LatentMap", "latent_map", "plot_latent_maps", "plot_interpolation_path"]


@dataclass
class PCA:
    """Principal components of a set of codes (fitted by SVD of the centred matrix)."""

    mean: np.ndarray          # (Z,)
    components: np.ndarray    # (2, Z), rows are unit vectors
    explained: np.ndarray     # (2,) fraction of the total variance along each component

    @classmethod
    def fit(cls, x: np.ndarray, k: int = 2) -> "PCA":
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"PCA needs at least two codes of shape (N, Z), got {x.shape}")
        mean = x.mean(0)
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        var = s**2
        k = min(k, vt.shape[0])
        comps = vt[:k]
        # fix each component's sign (largest |loading| positive) so maps are reproducible across runs
        signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(1)])
        comps = comps * signs[:, None]
        return cls(mean=mean, components=comps, explained=var[:k] / max(var.sum(), 1e-12))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) @ self.components.T        # (N, 2)


@dataclass
class LatentMap:
    """One model's codes on a corpus, projected to 2-D."""

    name: str
    mode: str
    mu: np.ndarray            # (N, Z) posterior means
    xy: np.ndarray            # (N, 2) their PCA projection
    pca: PCA
    color: np.ndarray         # (N,) sentence lengths or label values
    color_label: str


def latent_map(pipe, texts: Sequence[str], name: str, color: Optional[Sequence] = None,
               color_label: str = "sentence length (tokens)", batch_size: int = 256,
               labels: Optional[Sequence[str]] = None) -> LatentMap:
    """Encode ``texts`` with a :class:`~textgen.pipelines.SentenceVAEPipeline` (a conditional VAE under each
    sentence's ``labels``) and fit the PCA map."""
    from textgen.core.logs import silenced

    with silenced():                                   # a corpus has rare words; the map needs no report
        enc = pipe.encode(list(texts), batch_size=batch_size, labels=labels)
    mu = enc.mu.numpy()
    pca = PCA.fit(mu)
    values = np.asarray([len(t.split()) for t in enc.texts] if color is None else color)
    return LatentMap(name=name, mode=pipe.model.config.mode, mu=mu, xy=pca.transform(mu), pca=pca,
                     color=values, color_label=color_label)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('plotting needs matplotlib: pip install "textgen[plot]" (or pip install matplotlib)') from None
    return plt


def _scatter(ax, m: LatentMap, fig):
    if np.issubdtype(m.color.dtype, np.number):
        sc = ax.scatter(m.xy[:, 0], m.xy[:, 1], c=m.color, s=4, cmap="viridis", alpha=0.7, linewidths=0)
        fig.colorbar(sc, ax=ax, label=m.color_label, shrink=0.8)
    else:  # categorical labels
        for label in sorted(set(m.color.tolist()))[:20]:
            sel = m.color == label
            ax.scatter(m.xy[sel, 0], m.xy[sel, 1], s=4, alpha=0.7, linewidths=0, label=str(label))
        ax.legend(title=m.color_label, fontsize=6, markerscale=3, loc="best")
    ax.set_title(f"{m.name} ({m.mode})\nPCA of posterior means, N = {len(m.xy):,}", fontsize=9)
    ax.set_xlabel(f"PC1 ({m.pca.explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({m.pca.explained[1]:.0%} of variance)")
    ax.set_aspect("equal", adjustable="datalim")


def plot_latent_maps(maps: Sequence[LatentMap], out: str | Path, title: Optional[str] = None) -> Path:
    """One panel per model, side by side; saved as PNG (or any format matplotlib knows from the suffix)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(maps), figsize=(5.5 * len(maps), 5), squeeze=False)
    for ax, m in zip(axes[0], maps):
        _scatter(ax, m, fig)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, plt, out)


def plot_interpolation_path(m: LatentMap, path: np.ndarray, sentences: Sequence[str], out: str | Path,
                            method: str = "slerp") -> Path:
    """The decoded points of an interpolation drawn over the PCA map, each labelled with its sentence."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 7))
    ax.scatter(m.xy[:, 0], m.xy[:, 1], c="0.8", s=3, linewidths=0, label="corpus codes")
    pxy = m.pca.transform(path)
    ax.plot(pxy[:, 0], pxy[:, 1], "-o", color="tab:red", ms=4, lw=1.2, label=f"{method} path")
    sentences = list(sentences)
    start = 0
    for i in range(len(sentences)):                  # one label per run of equal sentences: "0-2: ..."
        if i + 1 < len(sentences) and sentences[i + 1] == sentences[i]:
            continue
        s = sentences[i]
        short = s if len(s) <= 48 else s[:45] + "..."
        span = f"{start}" if start == i else f"{start}-{i}"
        x, y = pxy[(start + i) // 2]
        ax.annotate(f"{span}: {short}", (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
        start = i + 1
    ax.set_title(f"{m.name}: interpolation over the PCA map of posterior means", fontsize=9)
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _save(fig, plt, out)


def _save(fig, plt, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=130)
    plt.close(fig)
    tmp.replace(out)  # atomic: a half-written picture never replaces a good one
    return out
