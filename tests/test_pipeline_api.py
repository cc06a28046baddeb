"""The user API shared with sentence-transformers and diffusers: ``encode`` of SentenceEncoder and
SentenceVAEPipeline (one string, argument names, empty input, device), ``save_pretrained`` / ``.to()`` on every
pipeline, ``num_images_per_prompt``, and warnings logged once per line of the caller's code."""

import numpy as np
import pytest
import torch

from conftest import TINY_SENTENCES, tiny_gan_run
from textgen import SentenceEncoder
from textgen.pipelines import SentenceVAEPipeline, TextToImagePipeline


@pytest.fixture(scope="module")
def enc(model_dir):
    return SentenceEncoder.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def pipe(model_dir):
    return SentenceVAEPipeline.from_pretrained(model_dir, show_progress=False)


@pytest.fixture(scope="module")
def gan_dir(tmp_path_factory):
    from textgen.core.config import load_config
    from textgen.gan.configuration import GANRunConfig
    from textgen.gan.trainer import GANTrainer

    cfg, run = tiny_gan_run(tmp_path_factory.mktemp("gan"), "g", "train.steps=2", "train.sample_every=2",
                            "train.save_every=2")
    GANTrainer(load_config(GANRunConfig, cfg)).fit()
    return run / "last"


# ----------------------------------------------------------------------------- SentenceEncoder.encode

def test_one_string_gives_one_vector_equal_to_its_row_in_a_list(enc):
    X = enc.encode(TINY_SENTENCES)
    v = enc.encode(TINY_SENTENCES[0])
    assert isinstance(v, np.ndarray) and v.shape == (enc.dim,)
    assert np.allclose(v, X[0], atol=1e-6)
    both = enc.encode(TINY_SENTENCES[0], output="mean+logvar")
    assert both.shape == (2 * enc.dim,) and np.allclose(both[:enc.dim], v, atol=1e-6)
    vec, ok = enc.encode("", errors="null")                  # nothing to skip in one item: NaN and False
    assert vec.shape == (enc.dim,) and np.isnan(vec).all() and ok is False
    vec, ok = enc.encode(TINY_SENTENCES[0], errors="skip")
    assert np.allclose(vec, v, atol=1e-6) and ok is True


def test_sentence_transformers_argument_names(enc):
    X = enc.encode(TINY_SENTENCES[:4])
    unit = enc.encode(TINY_SENTENCES[:4], normalize_embeddings=True, show_progress_bar=False)
    assert np.allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)
    assert np.allclose(unit, X / np.linalg.norm(X, axis=1, keepdims=True), atol=1e-6)
    t = enc.encode(TINY_SENTENCES[:4], convert_to_tensor=True)
    assert isinstance(t, torch.Tensor) and torch.allclose(t, torch.from_numpy(X), atol=1e-6)
    assert isinstance(enc.encode(TINY_SENTENCES[:4], convert_to_numpy=False), torch.Tensor)
    assert isinstance(enc.encode(TINY_SENTENCES[:4], convert_to_numpy=True, convert_to_tensor=True), torch.Tensor)
    assert np.allclose(enc.encode(TINY_SENTENCES[:4], device="cpu"), X, atol=1e-6) and enc.device.type == "cpu"
    assert enc.encode(TINY_SENTENCES[0], convert_to_tensor=True).shape == (enc.dim,)


def test_empty_input_is_an_empty_result_in_both_entry_points(enc, pipe):
    assert enc.encode([]).shape == (0, enc.dim)
    assert enc.encode([], convert_to_tensor=True).shape == (0, enc.dim)
    out = pipe.encode([], return_logvar=True)
    assert out.mu.shape == (0, 8) and out.logvar.shape == (0, 8) and out.texts == [] and out.indices == []


# ----------------------------------------------------------------------------- SentenceVAEPipeline.encode

def test_pipeline_one_string_gives_one_dimensional_fields(pipe, enc):
    rows = pipe.encode(TINY_SENTENCES[:3], return_logvar=True)
    one = pipe.encode(TINY_SENTENCES[0], return_logvar=True)
    assert one.mu.shape == (8,) and one.logvar.shape == (8,) and one.texts == [TINY_SENTENCES[0]]
    assert torch.allclose(one.mu, rows.mu[0], atol=1e-6) and torch.allclose(one.logvar, rows.logvar[0], atol=1e-6)
    assert np.allclose(one.mu.numpy(), enc.encode(TINY_SENTENCES[0]), atol=1e-6)
    bad = pipe.encode("", errors="skip")                           # one string is never left out: NaN, ok False
    assert bad.mu.shape == (8,) and torch.isnan(bad.mu).all() and bad.ok.tolist() == [False]


def test_pipeline_takes_sentence_transformers_arguments(pipe):
    ref = pipe.encode(TINY_SENTENCES[:4], return_logvar=True)
    assert isinstance(ref.mu, torch.Tensor)                        # tensors by default, as decode() takes
    unit = pipe.encode(TINY_SENTENCES[:4], return_logvar=True, normalize_embeddings=True)
    assert torch.allclose(unit.mu.norm(dim=1), torch.ones(4), atol=1e-6)
    assert torch.allclose(unit.mu, ref.mu / ref.mu.norm(dim=1, keepdim=True), atol=1e-6)
    assert torch.equal(unit.logvar, ref.logvar)
    arr = pipe.encode(TINY_SENTENCES[:4], return_logvar=True, convert_to_numpy=True, device="cpu",
                      show_progress_bar=False)
    assert isinstance(arr.mu, np.ndarray) and isinstance(arr.logvar, np.ndarray) and isinstance(arr.ok, np.ndarray)
    assert np.allclose(arr.mu, ref.mu.numpy(), atol=1e-6)
    both = pipe.encode(TINY_SENTENCES[:4], convert_to_numpy=True, convert_to_tensor=True)
    assert isinstance(both.mu, torch.Tensor)


# ----------------------------------------------------------------------------- save_pretrained and .to()

def test_sentence_encoder_and_pipeline_save_what_from_pretrained_loads(enc, pipe, tmp_path):
    X = enc.encode(TINY_SENTENCES)
    assert enc.to("cpu") is enc and enc.to(torch.device("cpu")) is enc
    enc.save_pretrained(tmp_path / "enc")
    assert np.array_equal(SentenceEncoder.from_pretrained(tmp_path / "enc").encode(TINY_SENTENCES), X)
    assert pipe.to("cpu") is pipe and pipe.device.type == "cpu"
    pipe.save_pretrained(tmp_path / "pipe")
    again = SentenceVAEPipeline.from_pretrained(tmp_path / "pipe", show_progress=False)
    assert torch.equal(again.encode(TINY_SENTENCES).mu, pipe.encode(TINY_SENTENCES).mu)
    def sample(p):
        return p.sample(3, generator=torch.Generator().manual_seed(0)).sentences

    assert sample(again) == sample(pipe)


def test_gan_pipeline_saves_moves_and_takes_num_images_per_prompt(gan_dir, tmp_path):
    pipe = TextToImagePipeline.from_pretrained(gan_dir)
    caps = ["a red bird with black wings", "a blue bird"]

    def draw(p, *args, **kwargs):
        return p(caps, *args, generator=torch.Generator().manual_seed(0), **kwargs)

    out = draw(pipe, num_images_per_prompt=3)
    assert out.tensors.shape[0] == 6 and out.captions[3] == caps[1]
    assert torch.equal(draw(pipe, num_images_per_caption=3).tensors, out.tensors)     # the alias
    assert torch.equal(draw(pipe, 3).tensors, out.tensors)                             # positionally
    assert draw(pipe).tensors.shape[0] == 8                                            # 4 by default
    with pytest.raises(TypeError, match="num_images_per_prompt or num_images_per_caption"):
        draw(pipe, num_images_per_prompt=3, num_images_per_caption=3)
    with pytest.raises(ValueError, match="num_images_per_prompt must be an integer >= 1"):
        draw(pipe, num_images_per_prompt=0)
    chunks = list(pipe.stream(caps, num_images_per_prompt=3, generator=torch.Generator().manual_seed(0), batch_size=4))
    assert torch.equal(torch.cat([c.tensors for c in chunks]), out.tensors)
    assert pipe.to("cpu") is pipe and pipe.device.type == "cpu"
    pipe.save_pretrained(tmp_path / "gan")
    assert torch.equal(draw(TextToImagePipeline.from_pretrained(tmp_path / "gan"), 3).tensors, out.tensors)


def test_gan_pipeline_loads_the_shipped_birds_gan_by_default():
    default, named = TextToImagePipeline.from_pretrained(), TextToImagePipeline.from_pretrained("birds-gan")
    a = default(["a red bird"], 1, generator=torch.Generator().manual_seed(0)).tensors
    assert torch.equal(a, named(["a red bird"], 1, generator=torch.Generator().manual_seed(0)).tensors)


# ----------------------------------------------------------------------------- warnings: once per caller's line

def test_encode_warns_once_per_line_of_the_callers_code(enc, said):
    long = " ".join(TINY_SENTENCES[:3])                            # 18 words > max_length 12
    for _ in range(3):
        enc.encode([long])                                         # one line: one warning
    enc.encode([long, long])                                       # another line: another (with another count)
    truncated = [r for r in said.records if "truncated" in r.getMessage()]
    assert len(truncated) == 2 and all(r.pathname == __file__ for r in truncated)
    assert truncated[1].getMessage().startswith("2 sentence(s) longer than the model's maximum of 12 tokens")
    assert truncated[0].lineno == truncated[1].lineno - 1


def test_gan_caption_notes_are_logged_once_per_line_of_the_callers_code(gan_dir, said):
    pipe = TextToImagePipeline.from_pretrained(gan_dir)
    for _ in range(2):
        pipe(["a red zzyzx bird"], 1)
    notes = [r for r in said.records if "never saw in training" in r.getMessage()]
    assert len(notes) == 1 and notes[0].pathname == __file__ and "'zzyzx'" in notes[0].getMessage()
    assert pipe.caption_notes(["a red zzyzx bird"]) == [notes[0].getMessage()]
