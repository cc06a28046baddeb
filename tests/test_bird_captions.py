"""Caption grammar and parser: generated captions parse back to exactly what they state; real CUB coverage."""
import gzip
import json

import numpy as np
import pytest

from textgen.birds.captions import edit_caption, make_caption, make_captions, parse_caption
from textgen.birds.attributes import sample_attributes


def test_generated_captions_round_trip_through_the_parser():
    rng = np.random.default_rng(0)
    for _ in range(600):
        attrs = sample_attributes(rng)
        caption, stated = make_caption(attrs, rng)
        things = {k for k in stated if k not in ("bill_length", "bill_shape", "wing_pattern_color")}
        assert 2 <= len(things) <= 5, caption
        assert parse_caption(caption) == stated, caption
        assert all(getattr(attrs, k) == v for k, v in stated.items())


def test_an_edit_changes_exactly_one_stated_attribute_and_nothing_else():
    rng = np.random.default_rng(2)
    changed = set()
    for _ in range(500):
        caption, stated = make_caption(sample_attributes(rng), rng)
        edited = edit_caption(caption, rng)
        parsed = parse_caption(edited)
        diff = {k for k in stated.keys() | parsed.keys() if stated.get(k) != parsed.get(k)}
        assert len(diff) == 1, (caption, edited)
        changed |= diff
        before, after = caption.split(), edited.split()
        assert len(before) == len(after) and sum(a != b for a, b in zip(before, after)) == 1
    assert {"crown", "bill", "leg", "size", "bill_shape"} <= changed        # every kind of word gets edited


def test_an_edit_keeps_case_suffixes_and_punctuation():
    rng = np.random.default_rng(0)
    edits = {edit_caption("This bird has a Tan-colored breast.", rng) for _ in range(60)}
    assert len(edits) == 11                                                  # the 11 other colours
    assert all(e.startswith("This bird has a ") and e.endswith("-colored breast.") for e in edits)
    assert "This bird has a Tan-colored breast." not in edits
    assert edit_caption("a bird sitting on a branch", rng) is None           # nothing to change
    assert edit_caption("", rng) is None


def test_captions_vary_and_use_synonyms():
    rng = np.random.default_rng(1)
    attrs = sample_attributes(rng)
    caps = make_captions(attrs, rng, n=10)
    assert len(caps) == 10 and len(set(caps)) >= 8
    words = " ".join(make_caption(sample_attributes(rng), rng)[0] for _ in range(300)).split()
    for a, b in (("bill", "beak"), ("belly", "abdomen"), ("crown", "head"), ("breast", "chest")):
        assert a in words and b in words


@pytest.mark.parametrize("caption,expected", [
    ("this bird has a white chest with a long pointed white beak",
     {"breast": "white", "bill": "white", "bill_length": "long", "bill_shape": "pointed"}),
    ("this large bird has long bill, a white breast, belly & head and a black back & wings.",
     {"size": "large", "bill_length": "long", "breast": "white", "belly": "white", "crown": "white",
      "back": "black", "wing": "black"}),
    ("a small bird with gray wings and a tan-colored abdomen", {"size": "small", "wing": "grey", "belly": "buff"}),
    ("its wings are dark grey and the belly is white", {"wing": "grey", "belly": "white"}),
    ("this is a black bird with white wingbars", {"back": "black", "wing_pattern": "bars", "wing_pattern_color": "white"}),
    ("no colours here at all", {}),
])
def test_parser_on_free_text(caption, expected):
    assert parse_caption(caption) == expected


def test_parser_understands_most_real_cub_captions(cub_captions_path):
    n = understood = 0
    with gzip.open(cub_captions_path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 2000:
                break
            for caption in json.loads(line)["captions"]:
                n += 1
                understood += bool(parse_caption(caption))
    assert understood / n >= 0.85, f"{understood / n:.1%}"
