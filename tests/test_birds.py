"""Procedural birds: deterministic renders with the stated colours where each part is drawn."""
import numpy as np
import pytest

from textgen.data.birds import PALETTE, PARTS, BirdAttributes, render_bird, sample_attributes


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
