"""CUB-200-2011 with the captions of Reed et al. (2016), for users who have the dataset.

Expected layout (``root`` is the folder holding ``CUB_200_2011/``; captions may sit beside it)::

    root/CUB_200_2011/images.txt, image_class_labels.txt, train_test_split.txt, bounding_boxes.txt, images/
    root/text_c10/<class>/<image>.txt   (or root/text/...)  ten captions per image, one per line
    root/train/filenames.pickle, root/test/filenames.pickle   (StackGAN's split; optional)
    root/trainvalclasses.txt, root/testclasses.txt             (Reed et al.'s class split; optional)

The text-to-image split is by class: 150 training and 50 test classes. It is read from StackGAN's
``filenames.pickle`` (through a restricted unpickler that accepts only lists, strings and ints, so a
malicious pickle cannot run code) or from Reed et al.'s class lists. Each image is cropped to a square of
1.5 x max(bbox width, height) around its bounding box centre (StackGAN's preprocessing) and resized to
``load_size`` (76/64 of the model size by default, for random 64 px crops and flips during training).
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Optional

import numpy as np

from textgen.data.images import ImageCaptionData, ImageDataError

__all__ = ["load_cub", "read_filenames_pickle"]

_REQUIRED = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt")


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain data only: any global (class, function) in the stream is refused."""

    def find_class(self, module: str, name: str):
        raise ImageDataError(f"refusing to unpickle {module}.{name}: filenames.pickle must hold a list of strings")


def read_filenames_pickle(path: Path) -> list[str]:
    try:
        data = _RestrictedUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except ImageDataError:
        raise
    except Exception as e:  # noqa: BLE001 - any malformed pickle
        raise ImageDataError(f"{path} is not a readable StackGAN filenames.pickle ({e})") from None
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise ImageDataError(f"{path} must hold a list of image names (strings), got {type(data).__name__}")
    return data


def _read_table(path: Path, n_fields: int) -> dict[int, list[str]]:
    out = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) < n_fields:
            raise ImageDataError(f"{path}:{lineno} has {len(parts)} fields, expected {n_fields}")
        out[int(parts[0])] = parts[1:]
    return out


def load_cub(root: str | Path, split: str = "train", image_size: int = 64, load_size: Optional[int] = None,
             limit: Optional[int] = None, max_bad: int = 10) -> ImageCaptionData:
    """Images (cropped around their birds), captions and class ids of one split of CUB-200-2011."""
    from PIL import Image, UnidentifiedImageError

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    cub = root / "CUB_200_2011" if (root / "CUB_200_2011").is_dir() else root
    missing = [str(cub / f) for f in _REQUIRED if not (cub / f).is_file()]
    if not (cub / "images").is_dir():
        missing.append(str(cub / "images") + "/")
    if missing:
        raise ImageDataError("the CUB-200-2011 folder is incomplete; missing: " + ", ".join(missing) +
                             ". Download CUB_200_2011 from Caltech and pass the folder that holds it")
    text_dir = next((d for d in (root / "text_c10", root / "text", cub / "text_c10", cub / "text") if d.is_dir()), None)
    if text_dir is None:
        raise ImageDataError(f"no captions found: expected Reed et al.'s text_c10/ (or text/) in {root} or {cub}")

    images = {k: v[0] for k, v in _read_table(cub / "images.txt", 2).items()}          # id -> class/name.jpg
    boxes = {k: [float(x) for x in v[:4]] for k, v in _read_table(cub / "bounding_boxes.txt", 5).items()}
    labels = {k: int(v[0]) for k, v in _read_table(cub / "image_class_labels.txt", 2).items()}

    pickle_path = root / split / "filenames.pickle"
    class_file = root / ("trainvalclasses.txt" if split == "train" else "testclasses.txt")
    if pickle_path.is_file():
        wanted = {name.removesuffix(".jpg") for name in read_filenames_pickle(pickle_path)}
        keep = [i for i, rel in images.items() if rel.removesuffix(".jpg") in wanted]
    elif class_file.is_file():
        classes = {line.strip() for line in class_file.read_text(encoding="utf-8").splitlines() if line.strip()}
        keep = [i for i, rel in images.items() if rel.split("/")[0] in classes]
    else:
        raise ImageDataError(f"no text-to-image split found: expected {pickle_path} (StackGAN) or {class_file} "
                             "(Reed et al.); the split is by class, 150 train / 50 test")
    load_size = load_size or int(round(image_size * 76 / 64))
    base = cub.resolve()
    out_images, captions, attributes, files, skipped = [], [], [], [], []
    for i in sorted(keep):
        rel = images[i]
        path = (cub / "images" / rel).resolve()
        if base not in path.parents:
            raise ImageDataError(f"images.txt names {rel!r}, which points outside {cub}; refusing to read it")
        cap_file = text_dir / (rel.removesuffix(".jpg") + ".txt")
        if not cap_file.is_file():
            raise ImageDataError(f"captions for {rel} are missing: expected {cap_file}")
        caps = [c.strip() for c in cap_file.read_text(encoding="utf-8", errors="replace").splitlines() if c.strip()]
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                x, y, w, h = boxes[i]
                r = int(max(w, h) * 0.75)                                           # half of 1.5 x max side
                cx, cy = int(x + w / 2), int(y + h / 2)
                box = (max(cx - r, 0), max(cy - r, 0), min(cx + r, im.width), min(cy + r, im.height))
                im = im.crop(box).resize((load_size, load_size), Image.Resampling.BICUBIC)
                arr = np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)
        except (OSError, UnidentifiedImageError, ValueError) as e:
            skipped.append(f"{rel} ({type(e).__name__})")
            if len(skipped) > max_bad:
                raise ImageDataError(f"more than {max_bad} CUB images failed to decode, e.g. {'; '.join(skipped[:3])}") from None
            continue
        out_images.append(arr)
        captions.append(caps)
        attributes.append({"class_id": labels[i]})
        files.append(rel)
        if limit is not None and len(out_images) >= limit:
            break
    if not out_images:
        raise ImageDataError(f"no images of the {split} split could be read from {cub}")
    return ImageCaptionData(np.stack(out_images), captions, attributes, files, skipped)
