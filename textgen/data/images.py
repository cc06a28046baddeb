"""Image-caption data for the text-to-image GAN: an ``imagefolder`` with captions in ``metadata.jsonl``.

    data = ImageCaptionData.load("data/birds64", image_size=64)
    data.images            # uint8 (N, 3, S, S), in memory
    data.captions[i]       # the captions of image i (a list of str)
    data.attributes[i]     # its attributes, when the folder has them (synthetic birds)

Any folder written by ``textgen make-birds``, or any Hugging Face ``imagefolder`` whose ``metadata.jsonl``
rows have ``file_name`` and ``captions`` (a list) or ``text`` (one string), loads. Files are resolved inside
the folder only: a ``file_name`` that escapes it (``../x.png``, an absolute path) is refused. Images that
fail to decode are skipped and reported, up to ``max_bad`` of them; more than that is an error.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from textgen.core.logs import warn

__all__ = ["ImageCaptionData", "ImageDataError"]


class ImageDataError(ValueError):
    """An image-caption folder cannot be read; the message says what is wrong and where."""


@dataclass
class ImageCaptionData:
    images: "np.ndarray"                       # uint8 (N, 3, S, S)
    captions: list[list[str]]
    attributes: list[Optional[dict]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # files that failed to decode
    scene: list[Optional[dict]] = field(default_factory=list)   # {"background", "facing"} of synthetic birds

    def __len__(self) -> int:
        return len(self.captions)

    @property
    def has_scene(self) -> bool:
        """Every image has its background and facing (folders written by ``textgen make-birds``)."""
        return bool(self.scene) and all(s is not None for s in self.scene)

    def one_caption_each(self, idx, rng: np.random.Generator) -> list[str]:
        """One of the captions of each image in ``idx``, drawn with ``rng``."""
        return [self.captions[i][rng.integers(len(self.captions[i]))] for i in idx]

    def float_images(self, idx) -> "torch.Tensor":
        """Images ``idx`` as float (B, 3, S, S) in [-1, 1]."""
        import torch

        return torch.from_numpy(self.images[idx]).float() / 127.5 - 1.0

    @classmethod
    def load(cls, root: str | Path, image_size: int = 64, limit: Optional[int] = None,
             max_bad: int = 10) -> "ImageCaptionData":
        from PIL import Image, UnidentifiedImageError

        root = Path(root)
        meta = root / "metadata.jsonl"
        if not root.is_dir():
            raise ImageDataError(f"image folder {root} does not exist; create one with `textgen make-birds --out {root}`")
        if not meta.is_file():
            raise ImageDataError(f"{root} has no metadata.jsonl (expected at {meta}); it must list file_name and "
                                 "captions per image, as `textgen make-birds` writes")
        base = root.resolve()
        images, captions, attributes, files, skipped, scene = [], [], [], [], [], []
        with meta.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ImageDataError(f"{meta}:{lineno} is not valid JSON ({e.msg})") from None
                name = row.get("file_name")
                caps = row.get("captions", [row["text"]] if isinstance(row.get("text"), str) else None)
                if not isinstance(name, str) or not isinstance(caps, list) or not caps:
                    raise ImageDataError(f"{meta}:{lineno} needs 'file_name' and 'captions' (a non-empty list) or 'text'")
                path = (root / name).resolve()
                if base not in path.parents:
                    raise ImageDataError(f"{meta}:{lineno}: file_name {name!r} points outside {root}; refusing to read it")
                try:
                    with Image.open(path) as im:
                        im = im.convert("RGB")
                        if im.size != (image_size, image_size):
                            im = im.resize((image_size, image_size), Image.Resampling.BICUBIC)
                        arr = np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)
                except (OSError, UnidentifiedImageError, ValueError) as e:
                    skipped.append(f"{name} ({type(e).__name__}: {e})")
                    if len(skipped) > max_bad:
                        raise ImageDataError(f"more than {max_bad} images in {root} failed to decode, e.g. "
                                             f"{'; '.join(skipped[:3])}; fix the files or raise max_bad") from None
                    continue
                images.append(arr)
                captions.append([str(c) for c in caps])
                attributes.append(row.get("attributes"))
                scene.append({k: row[k] for k in ("background", "facing")} if "background" in row and "facing" in row
                             else None)
                files.append(name)
                if limit is not None and len(images) >= limit:
                    break
        if not images:
            raise ImageDataError(f"{root} holds no readable images")
        if skipped:
            warn(f"skipped {len(skipped)} image(s) of {root} that failed to decode: {'; '.join(skipped[:3])}",
                 key="undecodable-images")
        return cls(np.stack(images), captions, attributes, files, skipped, scene)
