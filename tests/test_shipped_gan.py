"""The shipped default `birds-gan`: it loads by name, stays small, and its colours follow the caption."""
from pathlib import Path

import pytest
import torch

from textgen.gan.pipeline import TextToImagePipeline

SHIPPED = Path(__file__).resolve().parents[1] / "textgen" / "pretrained" / "birds-gan"


def _body_colour(pipe, caption: str) -> torch.Tensor:
    x = pipe([caption], num_images_per_caption=16, generator=torch.Generator().manual_seed(0)).tensors
    body = x[:, :, 8 * x.size(-1) // 32: 24 * x.size(-1) // 32, 6 * x.size(-1) // 32: 26 * x.size(-1) // 32]
    return body.mean((0, 2, 3))                                                      # (3,) mean RGB in [-1, 1]


def test_shipped_gan_loads_by_name_and_is_small():
    assert (SHIPPED / "config.json").is_file(), "birds-gan is not built: python scripts/build_pretrained.py --model birds-gan"
    size = sum(f.stat().st_size for f in SHIPPED.rglob("*") if f.is_file()) / 2**20
    assert size < 15
    pipe = TextToImagePipeline.from_pretrained("birds-gan")
    out = pipe(["a red bird with black wings"], num_images_per_caption=2, generator=torch.Generator().manual_seed(0))
    assert len(out.images) == 2 and out.images[0].size == (pipe.image_size, pipe.image_size)


RED, BLUE, YELLOW = torch.tensor([1.0, -0.5, -0.5]), torch.tensor([-0.5, -0.5, 1.0]), torch.tensor([0.5, 0.5, -1.0])


@pytest.mark.parametrize("a, b, direction", [
    ("a red bird with red wings and a red back", "a blue bird with blue wings and a blue back", RED),
    ("a blue bird with blue wings and a blue back", "a red bird with red wings and a red back", BLUE),
    ("a yellow bird with yellow wings and a yellow breast", "a blue bird with blue wings and a blue back", YELLOW),
])
def test_shipped_gan_colours_follow_the_caption(a, b, direction):
    """Same noise, two captions: the birds' bodies are clearly redder / bluer / yellower where the caption says
    so. ``direction`` reads a colour off mean RGB in [-1, 1] (red = R - (G + B) / 2 ...); a margin of 0.3 is
    about 38 levels of 255."""
    pipe = TextToImagePipeline.from_pretrained("birds-gan")
    ca, cb = _body_colour(pipe, a), _body_colour(pipe, b)
    assert float((ca - cb) @ direction) > 0.3, (a, ca.tolist(), b, cb.tolist())
