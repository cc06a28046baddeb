"""Procedural birds: deterministic renders with the stated colours where each part is drawn."""
import numpy as np
import pytest

from textgen.birds.attributes import PALETTE, PARTS, BirdAttributes, sample_attributes
from textgen.birds.render import render_bird


def _render(seed, size=128, **fixed):
    attrs = sample_attributes(np.random.default_rng(seed), **fixed)
    img, layout = render_bird(attrs, size=size, rng=np.random.default_rng(seed + 1000))
    return attrs, np.asarray(img).astype(int), layout


def test_render_is_deterministic_for_a_seed():
    a1, x1, _ = _render(3)
    a2, x2, _ = _render(3)
    assert a1 == a2 and np.array_equal(x1, x2)
    _, x3, _ = _render(4)
    assert not np.array_equal(x1, x3)


@pytest.mark.parametrize("seed", range(12))
def test_each_part_has_its_colour_where_it_is_drawn(seed):
    attrs, pixels, layout = _render(seed, wing_pattern="solid", bill_length="long", bill_shape="cone")
    for part in PARTS:
        x, y = layout.centers[part]
        want = np.array(PALETTE[getattr(attrs, part)])
        assert np.abs(pixels[y, x] - want).max() <= 45, (part, getattr(attrs, part), pixels[y, x])


def test_facing_mirrors_the_bird():
    attrs = sample_attributes(np.random.default_rng(0))
    _, right = render_bird(attrs, 64, np.random.default_rng(1), facing="right", background="sky")
    _, left = render_bird(attrs, 64, np.random.default_rng(1), facing="left", background="sky")
    assert right.centers["bill"][0] > right.centers["tail"][0] and left.centers["bill"][0] < left.centers["tail"][0]


@pytest.mark.parametrize("facing", ["right", "left"])
def test_the_whole_bill_is_in_the_picture(facing):
    # A large bird with a long bill once lost its tip past the frame (36% of all birds lost some of it), so
    # the length and shape its captions state were not drawn. The tip now stays inside, in the bill's colour.
    size = 128
    for seed in range(8):
        attrs = sample_attributes(np.random.default_rng(seed), size="large", bill_length="long", bill_shape="cone")
        img, layout = render_bird(attrs, size=size, rng=np.random.default_rng(seed), facing=facing)
        (x, y), (bx, by) = layout.bill_tip, layout.centers["bill"]      # the tip; a point 30% along the bill
        assert 0 <= x < size and 0 <= y < size
        near_tip = np.asarray(img).astype(int)[round(by + 0.6 * (y - by)), round(bx + 0.6 * (x - bx))]  # 72% along
        assert np.abs(near_tip - np.array(PALETTE[attrs.bill])).max() <= 45, (seed, near_tip, attrs.bill)
    for seed in range(200):                                                         # every size, length and shape
        attrs = sample_attributes(np.random.default_rng(seed))
        _, layout = render_bird(attrs, size=32, rng=np.random.default_rng(seed), facing=facing)
        assert 0 <= layout.bill_tip[0] < 32, (seed, attrs.size, attrs.bill_length, layout.bill_tip)


def test_resolutions_and_bad_values():
    attrs = sample_attributes(np.random.default_rng(0))
    for size in (32, 64, 256):
        img, layout = render_bird(attrs, size=size, rng=np.random.default_rng(0))
        assert img.size == (size, size) and img.mode == "RGB"
    for size in (16, 512):
        with pytest.raises(ValueError, match="between 32 and 256"):
            render_bird(attrs, size=size)
    with pytest.raises(ValueError, match="breast='teal' is not allowed"):
        BirdAttributes(**{**attrs.to_dict(), "breast": "teal"})
    with pytest.raises(ValueError, match="unknown attribute"):
        sample_attributes(np.random.default_rng(0), beak="red")


def test_sampling_respects_fixed_attributes_and_varies_the_rest():
    seen = {sample_attributes(np.random.default_rng(s), breast="red", size="large") for s in range(30)}
    assert all(a.breast == "red" and a.size == "large" for a in seen)
    assert len({a.back for a in seen}) > 5


def test_make_birds_writes_an_imagefolder_that_datasets_loads(tmp_path):
    import json

    import datasets

    from textgen.cli import main
    from textgen.birds.captions import parse_caption

    assert main(["make-birds", "--out", str(tmp_path / "b"), "-n", "6", "--size", "32", "--quiet"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "b" / "metadata.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(len(r["captions"]) == 10 for r in rows)
    for r in rows:  # every caption states only true attributes of its image
        for caption in r["captions"]:
            assert all(r["attributes"][k] == v for k, v in parse_caption(caption).items()), caption
    ds = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "b"), split="train")
    assert len(ds) == 6 and ds[0]["image"].size == (32, 32) and len(ds[0]["captions"]) == 10

    # image i depends on (seed, i) only: a longer run starts with the same images
    main(["make-birds", "--out", str(tmp_path / "c"), "-n", "8", "--size", "32", "--quiet"])
    for i in range(6):
        a = (tmp_path / "b" / "images" / f"{i:06d}.png").read_bytes()
        assert a == (tmp_path / "c" / "images" / f"{i:06d}.png").read_bytes()


def test_make_birds_from_real_captions(tmp_path):
    import json

    from textgen.birds.dataset import make_birds_dataset

    src = tmp_path / "cub.jsonl"
    src.write_text(json.dumps({"image": "x", "class_id": 1, "split": "train", "captions": [
        "this bird has a white chest with a long pointed white beak", "nothing to see"]}) + "\n")
    summary = make_birds_dataset(tmp_path / "r", n=10, size=32, captions_from=src, show_progress=False)
    assert summary["images"] == 1                                      # the caption without attributes is skipped
    row = json.loads((tmp_path / "r" / "metadata.jsonl").read_text())
    assert row["attributes"]["breast"] == "white" and row["attributes"]["bill_length"] == "long"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_birds_dataset(tmp_path / "x", n=1, captions_from=tmp_path / "missing.jsonl")


def test_real_caption_birds_keep_held_out_classes_apart_and_mix_in_grammar_birds(tmp_path):
    import json

    from textgen.birds.dataset import CUB_HELDOUT_CLASSES, make_birds_dataset, real_captions

    assert len(CUB_HELDOUT_CLASSES) == 30 == len(set(CUB_HELDOUT_CLASSES))
    held, kept = CUB_HELDOUT_CLASSES[0], 3
    src = tmp_path / "cub.jsonl"
    src.write_text("".join(json.dumps({"image": f"i{k}", "class_id": c, "captions": [f"a bird with a {colour} belly"]}) + "\n"
                           for k, (c, colour) in enumerate([(held, "red"), (kept, "blue"), (kept, "white")])))
    assert [c for c, _ in real_captions(src, classes="heldout")] == ["a bird with a red belly"]
    assert [c for c, _ in real_captions(src, classes="train")] == ["a bird with a blue belly", "a bird with a white belly"]
    summary = make_birds_dataset(tmp_path / "m", n=10, size=32, captions_from=src, classes="train", grammar_birds=3,
                                 show_progress=False)
    assert (summary["real_caption_images"], summary["grammar_images"], summary["images"]) == (2, 3, 5)
    rows = [json.loads(line) for line in (tmp_path / "m" / "metadata.jsonl").read_text().splitlines()]
    assert [r["attributes"]["belly"] for r in rows[:2]] == ["blue", "white"]
    assert [len(r["captions"]) for r in rows] == [1, 1, 10, 10, 10]
    assert not any("red belly" in c for r in rows[:2] for c in r["captions"])
    with pytest.raises(ValueError, match="classes must be one of"):
        real_captions(src, classes="test")


def test_caption_files_that_are_not_cub_jsonl_are_named_with_the_line(tmp_path):
    import gzip
    from textgen.birds.dataset import real_captions

    txt = tmp_path / "captions.txt"
    txt.write_text("a red bird with black wings\n")
    with pytest.raises(ValueError, match=r"captions.txt, line 1, is not JSON .*'a red bird with black wings'.*JSONL"):
        real_captions(txt)
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes('{"captions": ["a caf\xe9 bird"]}\n'.encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.jsonl is not UTF-8"):
        real_captions(bad)
    fake_gz = tmp_path / "plain.jsonl.gz"
    fake_gz.write_text('{"captions": []}\n')
    with pytest.raises(ValueError, match="plain.jsonl.gz cannot be read as gzip"):
        real_captions(fake_gz)
    arr = tmp_path / "list.jsonl"
    arr.write_text('["a red bird"]\n')
    with pytest.raises(ValueError, match="line 1: expected an object with a 'captions' list"):
        real_captions(arr)
    with gzip.open(tmp_path / "ok.jsonl.gz", "wt") as f:
        f.write('{"class_id": 3, "captions": ["a bird with a red belly"]}\n')
    assert real_captions(tmp_path / "ok.jsonl.gz") == [("a bird with a red belly", {"belly": "red"})]
