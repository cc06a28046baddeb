"""The shipped default sentence VAE (``en-lstm-vae``) on text as users type it: cased, punctuated, contracted,
emoji, misspelled; loaded by name, offline."""
import logging
import warnings

import pytest

from textgen.core.logs import reset_warned
from textgen.core.pretrained import DEFAULT_VAE, resolve_model_path
from textgen.vae.pipeline import SentenceVAEPipeline

TYPED = ["I don't want to be with you.", "Wow!!! That was AMAZING 😀", "naïve café, 5 apples & a crème brûlée?",
         "teh movie was realy boring", "This small bird has a blue crown and a white belly."]


@pytest.fixture(scope="module")
def pipe():
    return SentenceVAEPipeline.from_pretrained(DEFAULT_VAE, show_progress=False)


def test_the_default_is_small_fp16_and_byte_level(pipe):
    folder = resolve_model_path(DEFAULT_VAE)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
    assert size <= 25, f"{DEFAULT_VAE} is {size:.1f} MB; the package budget is 25 MB"
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert {str(f.get_slice(k).get_dtype()) for k in f.keys()} == {"F16"}
    assert pipe.tokenizer.byte_level and 8000 <= pipe.tokenizer.vocab_size <= 16000


def test_typed_text_round_trips_through_the_tokenizer_without_unk(pipe):
    tok = pipe.tokenizer
    for text in TYPED:
        ids = tok.encode(text)
        assert tok.unk_id not in ids
        assert tok.decode(ids) == text                      # case, punctuation, contractions and emoji kept
        assert tok.unknown_words(text) == []


def test_transformers_loads_the_shipped_tokenizer_with_the_same_ids(pipe):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(resolve_model_path(DEFAULT_VAE)))
    for text in TYPED:
        assert hf(text)["input_ids"] == pipe.tokenizer.encode(text)


def test_typed_sentences_go_in_as_typed_and_come_back_as_english(pipe, caplog, monkeypatch):
    reset_warned()
    monkeypatch.setattr(logging.getLogger("textgen"), "propagate", True)   # the CLI's handler turns it off
    caplog.set_level(logging.WARNING, logger="textgen")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = pipe.reconstruct(TYPED)
    assert caplog.records == []                             # no unknown-word or truncation warnings
    assert out.inputs == TYPED and out.unknown_words == []
    for sent in out.sentences:
        assert "<unk>" not in sent and " n't" not in sent and sent.strip() == sent and sent


def test_the_slides_pair_gives_a_gradual_path_between_exact_endpoints(pipe):
    out = pipe.interpolate("I want to talk to you.", "She didn't want to be with him.", steps=8)
    assert out.sentences[0] == "I want to talk to you." and out.sentences[-1] == "She didn't want to be with him."
    assert len(out.sentences) >= 4                          # distinct points: the path moves
    assert all(s[0].isupper() and s[-1] in ".!?" for s in out.sentences)


def test_bird_captions_keep_their_colour_words(pipe):
    caption = "This small bird has a blue crown and a white belly."
    assert pipe.reconstruct([caption]).sentences == [caption]
    path = pipe.interpolate(caption, "A large black bird with a long orange beak.", steps=7).sentences
    colours = {"blue", "white", "black", "orange", "gray", "grey", "red", "yellow", "brown", "green"}
    assert all(colours & set(s.lower().replace(".", "").split()) for s in path)
