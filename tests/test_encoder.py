"""SentenceEncoder: embeddings in input order, output kinds, bad input, datasets map function."""
import numpy as np
import pytest
import torch

from conftest import TINY_SENTENCES
from textgen import SentenceEncoder
from textgen.pipelines import SentenceVAEPipeline


@pytest.fixture(scope="module")
def enc(model_dir):
    return SentenceEncoder.from_pretrained(model_dir)


def test_means_equal_the_pipeline_and_keep_the_input_order(enc, model_dir):
    X = enc.encode(TINY_SENTENCES, batch_size=3, progress_bar=False)           # length-sorted batches inside
    assert isinstance(X, np.ndarray) and X.shape == (len(TINY_SENTENCES), enc.dim) and X.dtype == np.float32
    ref = SentenceVAEPipeline.from_pretrained(model_dir, show_progress=False).encode(TINY_SENTENCES).mu.numpy()
    assert np.allclose(X, ref, atol=1e-5)
    one_by_one = np.stack([enc.encode([s])[0] for s in TINY_SENTENCES])
    assert np.allclose(X, one_by_one, atol=1e-5)


def test_output_kinds_normalize_and_tensors(enc):
    both = enc.encode(TINY_SENTENCES[:4], output="mean+logvar")
    assert both.shape == (4, 2 * enc.dim)
    assert np.allclose(both[:, :enc.dim], enc.encode(TINY_SENTENCES[:4]), atol=1e-6)
    g = torch.Generator().manual_seed(0)
    s1 = enc.encode(TINY_SENTENCES[:4], output="sample", generator=g)
    assert s1.shape == (4, enc.dim) and not np.allclose(s1, both[:, :enc.dim])
    unit = enc.encode(TINY_SENTENCES[:4], normalize=True, return_tensors="pt")                # the former names
    assert isinstance(unit, torch.Tensor) and torch.allclose(unit.norm(dim=1), torch.ones(4))
    assert torch.equal(unit, enc.encode(TINY_SENTENCES[:4], normalize_embeddings=True, convert_to_tensor=True))
    with pytest.raises(TypeError, match="unexpected keyword argument 'normalise'"):
        enc.encode(["a"], normalise=True)
    with pytest.raises(ValueError, match="output must be"):
        enc.encode(["a"], output="max")


def test_bad_input(enc):
    assert enc.encode([]).shape == (0, enc.dim)
    with pytest.raises(TypeError, match="sentence 1 is a int"):
        enc.encode(["fine", 3])
    with pytest.raises(ValueError, match="sentence 0 is empty"):
        enc.encode("")                                                          # one string: one item
    with pytest.raises(ValueError, match="errors must be"):
        enc.encode(["a"], errors="ignore")


BAD = ["", "   ", "zzz qqq", "...", 3, b"bytes"]          # empty, blank, no known word, nothing left, not text


def test_bad_items_are_never_one_shared_vector_and_the_policy_says_what_happens(enc):
    items = [TINY_SENTENCES[0], *BAD, TINY_SENTENCES[1]]
    good = enc.encode([TINY_SENTENCES[0], TINY_SENTENCES[1]])
    # raise (the default) names the first bad item by index, quoting it
    with pytest.raises(ValueError, match=r"sentence 1 is empty \(''\).*errors='skip'.*errors='null'"):
        enc.encode(items)
    with pytest.raises(ValueError, match=r"sentence 0 \('zzz qqq'\) has only words outside the model's vocabulary"):
        enc.encode(["zzz qqq"])
    # null: a NaN row and a mask
    X, ok = enc.encode(items, errors="null")
    assert X.shape == (len(items), enc.dim) and ok.tolist() == [True] + [False] * len(BAD) + [True]
    assert np.isnan(X[~ok]).all() and np.allclose(X[ok], good, atol=1e-6)
    # skip: the kept rows and their input indices
    X, kept = enc.encode(items, errors="skip", normalize=True)
    assert kept.tolist() == [0, len(items) - 1] and np.allclose(np.linalg.norm(X, axis=1), 1, atol=1e-6)
    # a huge bad item is quoted by its first 60 characters only
    with pytest.raises(ValueError) as e:
        enc.encode(["zzqx " * 20000])
    assert "..." in str(e.value) and len(str(e.value)) < 500


def test_pipeline_encode_takes_the_same_policy(model_dir, enc):
    pipe = SentenceVAEPipeline.from_pretrained(model_dir, show_progress=False)
    items = [TINY_SENTENCES[0], "", "zzz qqq", TINY_SENTENCES[2]]
    with pytest.raises(ValueError, match="sentence 1 is empty"):
        pipe.encode(items)
    null = pipe.encode(items, errors="null", return_logvar=True)
    assert null.ok.tolist() == [True, False, False, True] and torch.isnan(null.mu[1:3]).all()
    assert null.texts[1:3] == ["", ""] and null.logvar.shape == (4, enc.dim)
    skip = pipe.encode(items, errors="skip")
    assert skip.indices == [0, 3] and skip.mu.shape == (2, enc.dim) and len(skip.texts) == 2
    assert np.allclose(skip.mu.numpy(), enc.encode([items[0], items[3]]), atol=1e-6)


def test_attributes_and_to(enc):
    assert enc.dim == 8 and enc.device == torch.device("cpu") and enc.tokenizer.vocab_size > 10
    assert enc.to("cpu") is enc and "SentenceEncoder(" in repr(enc)


def test_datasets_map_adds_an_embedding_column(enc):
    import datasets

    ds = datasets.Dataset.from_dict({"text": TINY_SENTENCES, "label": list(range(len(TINY_SENTENCES)))})
    out = ds.map(enc.as_map_fn(column="text"), batched=True, batch_size=4)
    emb = np.asarray(out["embedding"], dtype=np.float32)
    assert emb.shape == (len(TINY_SENTENCES), enc.dim)
    assert np.allclose(emb, enc.encode(TINY_SENTENCES), atol=1e-5)


def test_datasets_map_with_two_worker_processes_and_the_error_policy(enc):
    import datasets

    texts = TINY_SENTENCES * 4 + ["", "zzz qqq"]
    ds = datasets.Dataset.from_dict({"text": texts, "label": list(range(len(texts)))})
    ref = enc.encode(TINY_SENTENCES * 4)
    out = ds.map(enc.as_map_fn(errors="null"), batched=True, batch_size=8, num_proc=2)
    emb = np.asarray(out["embedding"], dtype=np.float32)
    assert out["embedding_ok"] == [True] * 40 + [False, False] and np.isnan(emb[40:]).all()
    assert np.allclose(emb[:40], ref, atol=1e-5)
    kept = ds.map(enc.as_map_fn(errors="skip"), batched=True, batch_size=8, num_proc=2)
    assert kept["label"] == list(range(40)) and np.allclose(np.asarray(kept["embedding"]), ref, atol=1e-5)
    with pytest.raises(ValueError, match="is empty"):
        ds.map(enc.as_map_fn(), batched=True, batch_size=8)


def test_chunked_streaming_gives_the_same_embeddings_and_global_indices(enc):
    many = TINY_SENTENCES * 7                                                        # 70 sentences
    small = enc.encode(many, batch_size=1, progress_bar=False)                       # chunks of 32
    assert np.allclose(small, enc.encode(many, batch_size=256), atol=1e-5)
    bad = list(many)
    bad[40] = None
    with pytest.raises(TypeError, match="sentence 40 is a NoneType"):
        enc.encode(bad, batch_size=1)


def test_stray_control_bytes_become_spaces_in_bulk_encoding(enc):
    clean = enc.encode([TINY_SENTENCES[0]])
    dirty = enc.encode([TINY_SENTENCES[0].replace(" ", " \x97", 1)])                # a cp1252 dash, mis-decoded
    assert np.allclose(clean, dirty, atol=1e-6)
