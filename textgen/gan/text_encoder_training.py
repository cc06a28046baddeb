"""Contrastive pre-training of the caption encoder: ``textgen train-text-encoder --data DIR --out DIR``.

The GAN needs a sentence embedding that already knows which words describe which pixels. Following the
sentence-level DAMSM of AttnGAN (Xu et al. 2018) in its CLIP form (Radford et al. 2021), a bi-LSTM caption
encoder and a small CNN image encoder are trained together with the symmetric InfoNCE loss on the
image-caption pairs; afterwards the image CNN is thrown away and the caption encoder is frozen for the GAN.

A held-out slice of the images (``val_fraction``) measures what the encoder learned, as caption -> image
retrieval: for each held-out image one of its captions is embedded, and R@1 / R@5 count how often its own
image ranks first / in the top five among ``pool`` held-out images (chance: 1/pool and 5/pool).

Contrast alone under-weights the small parts: at 32 px the image CNN hardly sees a bill, so InfoNCE barely
asks the caption encoder to tell "a red bill" from "a blue bill" (:func:`attribute_probe` reads the stated
bill colour of grammar captions from the InfoNCE-only embedding 65% of the time, the wing colour 99%), and
an image CNN that averages its last 4x4 map cannot tell a red crown from a red breast, which is all the
DAMSM loss can then teach the generator (:func:`image_attribute_probe`: crowns 36%, legs 35%; 52% and 87%
with ``image_pool="flatten"``; benchmarks/RESULTS.md). ``recon_weight > 0`` adds a
sequence auto-encoder term (Dai & Le 2015, "Semi-supervised Sequence Learning"): a small GRU decoder, used
only in training and then thrown away, rebuilds the caption word by word from its embedding, so the
embedding must keep every stated attribute and which part it belongs to.

The image CNN is kept too (``<out>/image_encoder/``): the GAN can train its generator against it with
AttnGAN's sentence-level DAMSM loss (``train.damsm``). Evaluation never uses it (eval-gan has its own judges).

    enc, image_enc, report = train_caption_encoder(data, image_size=32, steps=1500, recon_weight=1.0,
                                                   image_pool="flatten")
    save_caption_encoder(enc, report, "runs/text_encoder", image_encoder=image_enc)   # text_encoder.path=...
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from textgen.core.trainer import check_finite
from textgen.birds.attributes import ATTRIBUTES, IGNORE, judge_labels
from textgen.birds.captions import changed_attribute, edit_caption
from textgen.core.runtime import progress
from textgen.gan.losses import info_nce
from textgen.gan.text_encoders import (CaptionEncoder, CaptionEncoderConfig, ImageEncoder, ImageEncoderConfig,
                                       strip_punctuation)
from textgen.tokenization import Tokenizer

__all__ = ["TextEncoderTrainingReport", "CaptionDecoder", "caption_tokenizer", "training_words", "misspell",
           "train_caption_encoder", "save_caption_encoder",
           "retrieval_at_k", "linear_probe", "attribute_probe", "image_attribute_probe", "IMAGE_ENCODER_DIR"]

REPORT_FILE = "training_report.json"
MAX_CAPTION_TOKENS = 80       # longer captions are cut (with a warning at generation); real CUB captions: 99.9% fit
IMAGE_ENCODER_DIR = "image_encoder"           # inside the caption encoder's folder


@dataclass
class TextEncoderTrainingReport:
    steps: int
    final_loss: float
    train_images: int
    val_images: int
    pool: int                     # candidates per retrieval query
    r_at_1: float                 # caption -> image retrieval on held-out images
    r_at_5: float
    recon_weight: float = 0.0     # weight of the caption reconstruction term (0: InfoNCE only)
    final_recon_loss: Optional[float] = None       # its per-token cross-entropy at the last step (nats)
    val_word_accuracy: Optional[float] = None      # held-out captions rebuilt from their embeddings, teacher-forced

    def summary(self) -> str:
        text = (f"InfoNCE {self.final_loss:.3f} after {self.steps} steps on {self.train_images:,} images; held-out "
                f"caption->image retrieval among {self.pool}: R@1 {self.r_at_1:.1%}, R@5 {self.r_at_5:.1%} "
                f"(chance {1 / self.pool:.1%} / {min(5, self.pool) / self.pool:.1%})")
        if self.recon_weight > 0:
            held_out = "not measured" if self.val_word_accuracy is None else f"{self.val_word_accuracy:.1%}"
            text += (f"; caption reconstruction (weight {self.recon_weight:g}): {self.final_recon_loss:.3f} nats/token, "
                     f"held-out next-word accuracy {held_out}")
        return text


class CaptionDecoder(torch.nn.Module):
    """The training-only half of the sequence auto-encoder: a GRU whose first state comes from the caption
    embedding (B, dim) and which predicts the caption's tokens one by one (teacher forcing)."""

    def __init__(self, vocab_size: int, dim: int, embed_size: int = 64, hidden_size: int = 256):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embed_size)
        self.init = torch.nn.Linear(dim, hidden_size)
        self.rnn = torch.nn.GRU(embed_size, hidden_size, batch_first=True)
        self.out = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, emb: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for ``input_ids`` (B, T) (the caption with EOS, PAD after), given ``emb`` (B, dim)."""

        bos = input_ids.new_full((input_ids.size(0), 1), Tokenizer.BOS_ID)
        shifted = torch.cat([bos, input_ids[:, :-1]], dim=1)                          # (B, T): BOS w1 ... wn
        h0 = torch.tanh(self.init(emb * emb.size(-1) ** 0.5))[None]                   # (1, B, H); emb is unit-norm
        out, _ = self.rnn(self.embedding(shifted), h0)                                # (B, T, H)
        return self.out(out)                                                         # (B, T, V)

    def loss(self, emb: torch.Tensor, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean per-token cross-entropy over real tokens, and the fraction of them predicted exactly."""

        logits = self(emb, input_ids)
        real = input_ids != Tokenizer.PAD_ID
        ce = torch.nn.functional.cross_entropy(logits[real], input_ids[real])
        return ce, (logits[real].argmax(-1) == input_ids[real]).float().mean()


def _float_images(images_u8: torch.Tensor, image_size: int, device: torch.device) -> torch.Tensor:
    """uint8 (B, 3, L, L) -> float (B, 3, S, S) in [-1, 1], centre-cropped when stored larger (CUB)."""
    L = images_u8.size(-1)
    o = (L - image_size) // 2
    if L > image_size:
        images_u8 = images_u8[..., o:o + image_size, o:o + image_size]
    return images_u8.to(device).float() / 127.5 - 1.0


@torch.no_grad()
@torch.no_grad()
def _embed_texts(encoder, texts: list[str]) -> torch.Tensor:
    """``encoder.encode`` over ``texts`` in chunks of 512: (N, dim) float on the CPU."""
    return torch.cat([encoder.encode(texts[k:k + 512]).float().cpu() for k in range(0, len(texts), 512)])


@torch.no_grad()
def _embed_images(image_encoder, images_u8: torch.Tensor) -> torch.Tensor:
    """The image encoder (in eval mode) over uint8 images (N, 3, L, L) in chunks of 256: (N, dim) float on the CPU."""
    image_encoder.eval()
    size, device = image_encoder.config.image_size, next(image_encoder.parameters()).device
    return torch.cat([image_encoder(_float_images(images_u8[k:k + 256], size, device)).float().cpu()
                      for k in range(0, len(images_u8), 256)])


def retrieval_at_k(text_emb: torch.Tensor, image_emb: torch.Tensor, ks: tuple[int, ...] = (1, 5),
                   pool: int = 100) -> dict[int, float]:
    """Row i of ``text_emb`` matches row i of ``image_emb`` (both L2-normalised); queries are ranked against
    consecutive pools of ``pool`` images (the last partial pool is dropped unless it is the only one)."""
    n = text_emb.size(0)
    pool = min(pool, n)
    hits = {k: 0 for k in ks}
    count = 0
    for start in range(0, n - pool + 1, pool):
        t, v = text_emb[start:start + pool], image_emb[start:start + pool]
        sims = t @ v.t()                                                             # (P, P)
        rank = (sims > sims.diagonal()[:, None]).sum(1)                               # 0 = own image is first
        for k in ks:
            hits[k] += int((rank < k).sum())
        count += pool
    return {k: hits[k] / max(count, 1) for k in ks}


def caption_tokenizer(texts: list[str], kind: str = "word", vocab_size: int = 2000, min_freq: int = 2) -> Tokenizer:
    """The caption encoder's tokenizer, trained on its (punctuation-stripped) training captions: ``word`` (words
    seen ``min_freq`` times; any other word is ``<unk>``) or a subword kind (``unigram``, ``bpe``) of
    ``vocab_size`` pieces, which reads a misspelt or unseen word as pieces instead of ``<unk>``."""
    if kind == "word":
        return Tokenizer.train(texts, kind="word", min_freq=min_freq, lowercase=True, max_length=MAX_CAPTION_TOKENS)
    return Tokenizer.train(texts, kind=kind, vocab_size=vocab_size, lowercase=True, max_length=MAX_CAPTION_TOKENS)


def training_words(texts: list[str], min_freq: int = 2) -> list[str]:
    """The lowercase words seen at least ``min_freq`` times in ``texts``, sorted: what the encoder has learnt to
    read. A caption word outside them is warned about (:meth:`CaptionEncoder.unfamiliar_words`)."""
    counts = Counter(w for t in texts for w in t.lower().split())
    return sorted(w for w, n in counts.items() if n >= min_freq)


def misspell(caption: str, rng: np.random.Generator, rate: float) -> str:
    """``caption`` with each word of 4+ letters misspelt with probability ``rate`` by one random edit (drop,
    double, swap two neighbours or replace a letter), the typos users make ("yelow", "balck", "wigns").
    Training the caption encoder on such captions, over subword pieces, teaches it that "balck" means black."""
    if rate <= 0:
        return caption
    words = caption.split()
    for i, w in enumerate(words):
        if len(w) < 4 or not w.isalpha() or rng.random() >= rate:
            continue
        j = int(rng.integers(1, len(w) - 1))                                         # keep the first letter
        op = int(rng.integers(4))
        if op == 0:
            w = w[:j] + w[j + 1:]
        elif op == 1:
            w = w[:j] + w[j] + w[j:]
        elif op == 2:
            w = w[:j] + w[j + 1] + w[j] + w[j + 2:] if j + 1 < len(w) else w[:j - 1] + w[j] + w[j - 1]
        else:
            w = w[:j] + "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(26))] + w[j + 1:]
        words[i] = w
    return " ".join(words)


def train_caption_encoder(data, *, image_size: int, dim: int = 256, vocab_min_freq: int = 2, steps: int = 1500,
                          lr: float = 2e-3, batch_size: int = 64, seed: int = 0, val_fraction: float = 0.05,
                          pool: int = 100, device: str | torch.device = "cpu", show_progress: bool = True,
                          temperature: float = 0.07, tokenizer=None, rnn: str = "lstm", image_channels: int = 32,
                          recon_weight: float = 0.0, image_pool: str = "mean", image_depth: int = 1,
                          image_downsample: str = "strided", tokenizer_kind: str = "word", vocab_size: int = 2000,
                          typo_rate: float = 0.0):
    """Train a :class:`CaptionEncoder` and its :class:`ImageEncoder` with InfoNCE on ``data`` (an
    :class:`~textgen.data.images.ImageCaptionData`); returns ``(caption_encoder, image_encoder, report)``.

    ``recon_weight > 0`` adds ``recon_weight`` x the caption reconstruction cross-entropy of a training-only
    :class:`CaptionDecoder` to the loss, so the embedding keeps what the images are too small to show.
    ``tokenizer_kind`` / ``vocab_size`` choose the tokenizer (:func:`caption_tokenizer`); ``typo_rate > 0``
    misspells that share of the contrastive captions' long words (:func:`misspell`), the reconstruction
    target staying the correct caption."""

    if len(data) < 4:
        raise ValueError(f"contrastive training needs at least 4 images with captions, the data has {len(data)}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if not recon_weight >= 0:
        raise ValueError(f"recon_weight must be >= 0, got {recon_weight}")
    device = torch.device(device)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    order = rng.permutation(len(data))
    n_val = int(round(len(data) * val_fraction)) if len(data) >= 40 else 0
    val_idx, train_idx = order[:n_val], order[n_val:]

    texts = [strip_punctuation(c) for i in train_idx for c in data.captions[i]]
    if tokenizer is None:
        tokenizer = caption_tokenizer(texts, tokenizer_kind, vocab_size, vocab_min_freq)
    words = training_words(texts, vocab_min_freq) if tokenizer.kind != "word" else []
    text = CaptionEncoder(CaptionEncoderConfig(vocab_size=tokenizer.vocab_size, dim=dim, rnn=rnn, words=words),
                          tokenizer=tokenizer).to(device)
    image = ImageEncoder(ImageEncoderConfig(dim=dim, channels=image_channels, image_size=image_size,
                                            pool=image_pool, depth=image_depth, downsample=image_downsample)).to(device)
    decoder = CaptionDecoder(tokenizer.vocab_size, dim).to(device) if recon_weight > 0 else None
    params = [*text.parameters(), *image.parameters(), *(decoder.parameters() if decoder is not None else ())]
    opt = torch.optim.Adam(params, lr=lr)
    images = torch.from_numpy(data.images)                                           # (N, 3, L, L) uint8
    B = min(batch_size, len(train_idx))
    loss_value = recon_value = float("nan")
    bar = progress(range(steps), enabled=show_progress, desc="text encoder (InfoNCE)")
    for step in bar:
        idx = rng.choice(train_idx, B, replace=False)
        caps = [strip_punctuation(c) for c in data.one_caption_each(idx, rng)]
        batch = tokenizer.encode_batch(caps)
        ids = batch.input_ids.to(device)
        if typo_rate > 0:                                  # contrast on misspelt captions, rebuild the right ones
            noisy = tokenizer.encode_batch([misspell(c, rng, typo_rate) for c in caps])
            t = text(noisy.input_ids.to(device), noisy.lengths)                       # (B, dim)
        else:
            t = text(ids, batch.lengths)                                              # (B, dim)
        v = image(_float_images(images[torch.from_numpy(idx)], image_size, device))  # (B, dim)
        loss = info_nce(t, v, temperature)
        loss_value = check_finite(loss.item(), "the caption encoder's InfoNCE loss", step + 1,
                                  "Lower the learning rate (text_encoder.pretrain_lr) or check the captions and images")
        if decoder is not None:
            recon, _ = decoder.loss(t, ids)
            loss = loss + recon_weight * recon
            recon_value = recon.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.set_postfix(loss=f"{loss_value:.3f}", **({"recon": f"{recon_value:.3f}"} if decoder is not None else {}))
    text.eval()
    image.eval()

    r1 = r5 = float("nan")
    word_acc = None
    if n_val >= 2:
        with torch.no_grad():
            val_caps = data.one_caption_each(val_idx, rng)
            t = torch.cat([text.encode(val_caps[k:k + 256]) for k in range(0, n_val, 256)])
            v = torch.cat([image(_float_images(images[torch.from_numpy(val_idx[k:k + 256])], image_size, device))
                           for k in range(0, n_val, 256)])
            if decoder is not None:                        # the same held-out captions, rebuilt from t
                batch = tokenizer.encode_batch([strip_punctuation(c) for c in val_caps])
                word_acc = decoder.eval().loss(t, batch.input_ids.to(device))[1].item()
        r = retrieval_at_k(t, v, (1, 5), pool)
        r1, r5 = r[1], r[5]
    report = TextEncoderTrainingReport(steps=steps, final_loss=loss_value, train_images=len(train_idx),
                                       val_images=n_val, pool=min(pool, max(n_val, 1)), r_at_1=r1, r_at_5=r5,
                                       recon_weight=recon_weight,
                                       final_recon_loss=recon_value if decoder is not None else None,
                                       val_word_accuracy=word_acc)
    return text, image, report


def save_caption_encoder(encoder, report: TextEncoderTrainingReport, out, image_encoder=None) -> None:
    """The encoder folder (weights, config, tokenizer) with the training report and (when given) the image
    encoder beside it, in ``out/image_encoder``."""
    import dataclasses
    import json
    from pathlib import Path

    out = Path(out)
    encoder.save_pretrained(out)
    if image_encoder is not None:
        image_encoder.save_pretrained(out / IMAGE_ENCODER_DIR)
    (out / REPORT_FILE).write_text(json.dumps(dataclasses.asdict(report), indent=2) + "\n")


def linear_probe(x: torch.Tensor, y: torch.Tensor, *, train_fraction: float = 0.8, steps: int = 300,
                 seed: int = 0) -> tuple[float, float]:
    """Held-out accuracy of multinomial logistic regression (L-BFGS, a small L2 penalty) on standardised
    features ``x`` (N, D) for class indices ``y`` (N,), trained on the first ``train_fraction``; with the
    majority-class accuracy of the held-out part as its baseline."""
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    cut = int(len(y) * train_fraction)
    if cut < 1 or cut == len(y):
        raise ValueError(f"a probe needs examples on both sides of the split, got {len(y)}")
    x = (x - x[:cut].mean(0)) / x[:cut].std(0).clamp_min(1e-6)                      # (N, D)
    torch.manual_seed(seed)
    n_classes = int(y.max()) + 1
    head = torch.nn.Linear(x.size(1), n_classes)
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(x[:cut]), y[:cut]) + 1e-3 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        check_finite(float(opt.step(closure).detach()), "the linear probe's loss", steps,
                     "The features hold NaN or infinite values: check the encoder they come from")
    with torch.no_grad():
        acc = (head(x[cut:]).argmax(1) == y[cut:]).float().mean().item()
    return acc, torch.bincount(y[cut:], minlength=n_classes).max().item() / (len(y) - cut)


def attribute_probe(encoder, captions: list[tuple[str, dict[str, str]]], *, train_fraction: float = 0.8,
                    steps: int = 300, seed: int = 0) -> dict[str, dict[str, float]]:
    """What a caption embedding carries: for each attribute, a :func:`linear_probe` trained on the embeddings
    of the captions that state it and scored on held-out ones.

    ``captions`` are ``(caption, stated attributes)`` pairs, e.g. :func:`textgen.gan.eval.common.grammar_captions`.
    Returns ``{attribute: {"accuracy", "majority", "n"}}`` (held-out accuracy, the majority-class baseline and
    the number of captions stating it). The generator reads the same embedding, so an attribute the probe
    cannot read is one the generator cannot be asked for.
    """
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    texts = [c for c, _ in captions]
    emb = _embed_texts(encoder, texts)                                               # (N, dim)
    out = {}
    for key in sorted({k for _, stated in captions for k in stated}):
        rows = [(i, stated[key]) for i, (_, stated) in enumerate(captions) if key in stated]
        classes = sorted({v for _, v in rows})
        if len(classes) < 2 or int(len(rows) * train_fraction) in (0, len(rows)):
            continue
        y = torch.tensor([classes.index(v) for _, v in rows])
        acc, majority = linear_probe(emb[torch.tensor([i for i, _ in rows])], y, train_fraction=train_fraction,
                                     steps=steps, seed=seed)
        out[key] = {"accuracy": acc, "majority": majority, "n": len(rows)}
    return out


@torch.no_grad()
def edit_ranking(text_encoder, image_encoder, data, *, n: int = 2000, seed: int = 1) -> dict[str, dict[str, float]]:
    """How often the encoder pair scores a real render's own caption above the same caption with one
    attribute word changed (:func:`~textgen.birds.captions.edit_caption`), by the attribute changed;
    ``"all"`` over every edit. Uses the first ``n`` images of ``data``.

    In-batch InfoNCE (the DAMSM loss) only asks an image to beat captions of *other* images, which the
    large parts settle; this asks what ``train.damsm_edited`` asks, so a part ranked near 50% here is a
    part that loss cannot teach."""

    n = min(n, len(data))
    rng = np.random.default_rng(seed)
    rows = []                                                                        # (image, caption, edit)
    for i in range(n):
        caption = data.captions[i][int(rng.integers(len(data.captions[i])))]
        new = edit_caption(caption, rng)
        if new is not None:
            rows.append((i, caption, new))
    if not rows:
        raise ValueError("no caption of the data has a colour, size or bill word to edit")
    v = _embed_images(image_encoder, torch.from_numpy(data.images)[torch.tensor([i for i, _, _ in rows])])  # (K, dim)
    own = _embed_texts(text_encoder, [c for _, c, _ in rows])                        # (K, dim)
    edited = _embed_texts(text_encoder, [e for _, _, e in rows])
    wins = ((v * own).sum(1) > (v * edited).sum(1)).numpy()
    changed = np.array([changed_attribute(c, e) for _, c, e in rows])
    out = {key: {"accuracy": float(wins[changed == key].mean()), "n": int((changed == key).sum())}
           for key in sorted(set(changed))}
    out["all"] = {"accuracy": float(wins.mean()), "n": len(rows)}
    return out


@torch.no_grad()
def image_attribute_probe(image_encoder, data, *, n: int = 6000, train_fraction: float = 0.8,
                          seed: int = 0) -> dict[str, dict[str, float]]:
    """What the caption encoder's image half sees: a :func:`linear_probe` per attribute on its embeddings of
    the first ``n`` real renders of ``data`` (an ImageCaptionData of synthetic birds, which know their
    attributes). AttnGAN's DAMSM loss (``train.damsm``) can only push the generator towards what this
    encoder sees, so a part it cannot read is a part that loss does not teach. An attribute is probed only
    on the renders that draw it (``judge_labels``: a solid wing has no pattern colour); ``n`` counts those."""

    n = min(n, len(data))
    if not data.attributes or any(a is None for a in data.attributes[:n]):
        raise ValueError("the image probe needs images with known attributes: a synthetic-birds folder (textgen make-birds)")
    emb = _embed_images(image_encoder, torch.from_numpy(data.images[:n]))            # (n, dim)
    out = {}
    for key, y in judge_labels(data.attributes[:n], ATTRIBUTES).items():           # {attribute: (n,) classes}
        drawn = y != IGNORE
        if int(drawn.sum() * train_fraction) in (0, int(drawn.sum())):              # too few renders draw it
            continue
        acc, majority = linear_probe(emb[drawn], y[drawn], train_fraction=train_fraction, seed=seed)
        out[key] = {"accuracy": acc, "majority": majority, "n": int(drawn.sum())}
    return out
