"""The CUB-200-2011 loader on a tiny fake tree written here, with real caption text from ../shared/data."""
import gzip
import json
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from textgen.data.cub import load_cub
from textgen.data.images import ImageDataError

CLASSES = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross", "004.Groove_billed_Ani"]


@pytest.fixture()
def cub_tree(tmp_path, cub_captions_path):
    with gzip.open(cub_captions_path, "rt", encoding="utf-8") as f:
        real = [json.loads(next(f))["captions"] for _ in range(8)]
    cub = tmp_path / "CUB_200_2011"
    images, labels, split, boxes = [], [], [], []
    rng = np.random.default_rng(0)
    k = 0
    for c, cls in enumerate(CLASSES):
        (cub / "images" / cls).mkdir(parents=True)
        (tmp_path / "text_c10" / cls).mkdir(parents=True)
        for j in range(2):
            k += 1
            name = f"{cls}/{cls.split('.')[1]}_{j:04d}_{k}.jpg"
            Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(cub / "images" / name)
            (tmp_path / "text_c10" / name.replace(".jpg", ".txt")).write_text("\n".join(real[k - 1]) + "\n")
            images.append(f"{k} {name}")
            labels.append(f"{k} {c + 1}")
            split.append(f"{k} {j}")
            boxes.append(f"{k} 5.0 4.0 20.0 16.0")
    for fname, rows in (("images.txt", images), ("image_class_labels.txt", labels),
                        ("train_test_split.txt", split), ("bounding_boxes.txt", boxes)):
        (cub / fname).write_text("\n".join(rows) + "\n")
    (tmp_path / "trainvalclasses.txt").write_text("\n".join(CLASSES[:3]) + "\n")
    (tmp_path / "testclasses.txt").write_text(CLASSES[3] + "\n")
    return tmp_path, real


def test_class_split_crop_and_captions(cub_tree):
    root, real = cub_tree
    train = load_cub(root, "train", image_size=32)
    test = load_cub(root, "test", image_size=32)
    assert len(train) == 6 and len(test) == 2                      # split by class: 3 train classes, 1 test
    assert train.images.shape == (6, 3, 38, 38)                     # 32 * 76/64, for random crops
    assert train.captions[0] == [c.strip() for c in real[0]] and len(train.captions[0]) == 10
    assert {a["class_id"] for a in test.attributes} == {4}


def test_stackgan_pickle_split_and_a_malicious_pickle(cub_tree):
    root, _ = cub_tree
    (root / "train").mkdir()
    names = [line.split()[1].removesuffix(".jpg") for line in (root / "CUB_200_2011" / "images.txt").read_text().splitlines()]
    (root / "train" / "filenames.pickle").write_bytes(pickle.dumps(names[:3], protocol=2))
    assert len(load_cub(root, "train", image_size=32)) == 3

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (root / "train" / "filenames.pickle").write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(ImageDataError, match="refusing to unpickle"):
        load_cub(root, "train")


def test_missing_files_are_named(cub_tree):
    root, _ = cub_tree
    (root / "CUB_200_2011" / "bounding_boxes.txt").unlink()
    with pytest.raises(ImageDataError, match=r"missing: .*CUB_200_2011/bounding_boxes.txt"):
        load_cub(root)


def test_gan_trains_on_the_cub_tree_with_random_crops_and_flips(cub_tree, tmp_path):
    from textgen.core.config import load_config
    from textgen.gan.configuration import GANRunConfig
    from textgen.gan.trainer import GANTrainer

    root, _ = cub_tree
    cfg = load_config(GANRunConfig, None, [
        "data.format=cub", f"data.path={root}", "data.flip=true", "data.batch_size=4", "model.image_size=32",
        "model.g_channels=4", "model.d_channels=4", "text_encoder.pretrain_steps=2", "text_encoder.vocab_min_freq=1",
        "train.steps=2", "train.samples_per_caption=1", "runtime.device=cpu", "runtime.progress=false",
        f"out_dir={tmp_path / 'run'}"])
    trainer = GANTrainer(cfg)
    real = trainer._batch(np.random.default_rng(0))[0]
    assert real.shape == (4, 3, 32, 32)
    trainer.fit()
    assert (tmp_path / "run" / "last" / "model.safetensors").is_file()
