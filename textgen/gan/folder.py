"""The text-to-image GAN as a self-contained folder, and captioned sample grids.

A GAN folder (written atomically)::

    config.json          format, model_type "text-to-image-gan", the GANConfig and the text-encoder spec
    model.safetensors    generator.* (the trained G) and generator_ema.* (the EMA copy used for sampling)
    text_encoder/        the frozen text encoder with its tokenizer (a CaptionEncoder or sentence-VAE folder,
                         or a copy of a local Hugging Face model directory)
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import torch

from textgen.core.checkpoint import CheckpointError, describe_count, read_model_folder, write_model_folder
from textgen.core.config import ConfigError, config_from_dict, config_to_dict
from textgen.core.pretrained import resolve_model_path
from textgen.core.runtime import make_image_grid
from textgen.gan.configuration import GANConfig
from textgen.gan.modeling import Generator
from textgen.gan.text_encoders import CaptionEncoder, HFTextEncoder, VAETextEncoder

__all__ = ["MODEL_TYPE", "save_gan_folder", "load_gan_folder", "text_encoder_from_folder", "captioned_grid"]

MODEL_TYPE = "text-to-image-gan"


TEXT_ENCODER_KINDS = ("caption", "vae", "hf")


def save_gan_folder(folder: str | os.PathLike, config: GANConfig, G: Generator, G_ema: Generator, text_encoder,
                    spec, dtype: torch.dtype | None = None) -> Path:
    """Write G, EMA-G and the text encoder; ``dtype=torch.float16`` halves the weights (cast back on load)."""
    state = {**{f"generator.{k}": v for k, v in G.state_dict().items()},
             **{f"generator_ema.{k}": v for k, v in G_ema.state_dict().items()}}

    def write_text_encoder(tmp: Path) -> None:
        target = tmp / "text_encoder"
        if spec.kind == "caption":
            text_encoder.save_pretrained(target)
        elif spec.kind == "vae":
            text_encoder.encoder.model.save_pretrained(target)
        else:
            shutil.copytree(spec.path, target)

    return write_model_folder(folder, model_type=MODEL_TYPE,
                              config={"gan": config_to_dict(config), "text_encoder": {"kind": spec.kind}},
                              state_dict=state, dtype=dtype, extra_files=write_text_encoder)


def text_encoder_from_folder(folder: Path, kind: str, device: str | torch.device = "cpu"):
    if kind == "caption":
        return CaptionEncoder.from_pretrained(folder, device=device).requires_grad_(False)
    if kind == "vae":
        return VAETextEncoder(folder, device=str(device))
    return HFTextEncoder(folder, device=str(device))


def load_gan_folder(folder: str | os.PathLike, *, load_text_encoder: bool = True,
                    device: str | torch.device = "cpu") -> dict[str, Any]:
    """``{"config", "generator", "generator_ema" (state dicts), "text_encoder_kind", "text_encoder"}``."""

    path = resolve_model_path(folder)
    raw, state, _ = read_model_folder(path, model_type=MODEL_TYPE)
    try:
        config = config_from_dict(GANConfig, raw.get("gan", {}))
    except ConfigError as e:
        raise CheckpointError(f"{path / 'config.json'} does not describe a valid GAN: {e}") from None
    spec = raw.get("text_encoder") or {}
    kind = spec.get("kind", "caption") if isinstance(spec, dict) else None
    if kind not in TEXT_ENCODER_KINDS:
        raise CheckpointError(f"{path / 'config.json'}: text_encoder.kind is {json.dumps(kind)}, not one of "
                              f"{', '.join(TEXT_ENCODER_KINDS)}; restore the file or re-save the model")
    weights = path / "model.safetensors"
    extra = sorted(k for k in state if not k.startswith(("generator.", "generator_ema.")))
    if extra:
        raise CheckpointError(f"{weights} holds tensors a GAN folder does not have ({', '.join(extra[:3])}); "
                              "it mixes files of different models: re-save the model from its training run")
    g = {k[len("generator."):]: v for k, v in state.items() if k.startswith("generator.")}
    ema = {k[len("generator_ema."):]: v for k, v in state.items() if k.startswith("generator_ema.")}
    odd = next((k for k in sorted(set(g) | set(ema)) if k not in g or k not in ema or g[k].shape != ema[k].shape), None)
    if odd is not None:
        raise CheckpointError(f"{weights}: the generator and its EMA copy differ at {odd!r} (missing, or of another "
                              "shape); the file is damaged: restore it from a good checkpoint")
    held = sum(v.numel() for v in g.values())
    if config.approx_parameters() > 20 * held + 10_000_000:
        raise CheckpointError(f"{path / 'config.json'} describes a GAN of up to {describe_count(config.approx_parameters())} "
                              f"parameters, but its generator holds {held:,}; the config does not belong to these "
                              "weights (restore the folder's own config.json)")
    out = {
        "config": config,
        "generator": {k: v.float() for k, v in g.items()},
        "generator_ema": {k: v.float() for k, v in ema.items()},
        "text_encoder_kind": kind,
        "path": path,
    }
    if load_text_encoder:
        if not (path / "text_encoder").is_dir():
            raise CheckpointError(f"{path} has no text_encoder/ folder; the GAN cannot read captions without it. "
                                  "Re-save the model from its training run")
        out["text_encoder"] = text_encoder_from_folder(path / "text_encoder", kind, device)
    return out


def captioned_grid(images: torch.Tensor, captions: Sequence[str], per_row: int, pad: int = 2):
    """A PIL grid: one row per caption (``per_row`` images each, in [-1, 1]), the caption written under it."""
    from PIL import Image, ImageDraw, ImageFont

    rows = []
    font = ImageFont.load_default()
    for r, caption in enumerate(captions):
        chunk = images[r * per_row:(r + 1) * per_row]
        row = make_image_grid(chunk, nrow=per_row, padding=pad).convert("RGB")        # images in [-1, 1]
        text_h = 14
        canvas = Image.new("RGB", (row.width, row.height + text_h), "white")
        canvas.paste(row, (0, 0))
        draw = ImageDraw.Draw(canvas)
        text, base = caption, caption[:max(4, row.width // 3)]       # no glyph is under 3 px: never more fits
        while draw.textlength(text, font=font) > row.width - 4 and len(base) > 1:
            base = base[:-1]
            text = base.rstrip() + "..."
        draw.text((2, row.height + 1), text, fill="black", font=font)
        rows.append(canvas)
    width = max(r.width for r in rows)
    out = Image.new("RGB", (width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height
    return out
