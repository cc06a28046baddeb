"""Procedural synthetic birds for the text-to-image GAN, offline and deterministic:

* ``attributes.py`` -- the attribute space (:class:`BirdAttributes`, colours, sizes, bills, wing patterns);
* ``render.py``     -- :func:`render_bird` draws one side-on, anti-aliased, at 32-256 px;
* ``captions.py``   -- CUB-style caption grammar, the parser from free text back to attributes, one-word edits;
* ``dataset.py``    -- :func:`make_birds_dataset` writes an image folder with grammar or real CUB captions.

    rng = np.random.default_rng(0)
    attrs = sample_attributes(rng)
    image, layout = render_bird(attrs, size=64, rng=rng)   # PIL image + where each part was drawn
"""
from __future__ import annotations

from textgen.birds.attributes import BirdAttributes, sample_attributes
from textgen.birds.captions import edit_caption, make_caption, make_captions, parse_caption
from textgen.birds.dataset import CUB_HELDOUT_CLASSES, make_birds_dataset
from textgen.birds.render import BirdLayout, render_bird, render_birds

__all__ = ["BirdAttributes", "sample_attributes", "render_bird", "render_birds", "BirdLayout", "make_caption",
           "make_captions", "parse_caption", "edit_caption", "make_birds_dataset", "CUB_HELDOUT_CLASSES"]
