"""Wikitext -> prose paragraphs: each cleaning rule on handmade snippets, a tiny bz2 dump, and the real gensim dump."""
import bz2
import importlib.util
from pathlib import Path

import pytest

from textgen.data.wikimarkup import iter_wiki_paragraphs, strip_wiki_markup

PROSE = "The quick brown fox jumps over the lazy dog near the river bank."


def one(text: str) -> str:
    out = strip_wiki_markup(text)
    assert len(out) == 1, out
    return out[0]


def test_nested_templates_are_removed_whole():
    text = "{{Infobox animal\n| name = Fox\n| image = {{nested|a|{{deeper}}}}\n| size = big }}\n" + PROSE
    assert strip_wiki_markup(text) == [PROSE]


def test_links_keep_their_visible_text():
    text = "The [[Vulpes vulpes|red fox]] lives in [[Europe]] and [[wikt:den|dens]] across the northern hemisphere."
    assert one(text) == "The red fox lives in Europe and dens across the northern hemisphere."


def test_file_links_with_nested_links_in_captions_vanish():
    text = ("The fox is a small omnivore.[[File:Fox.jpg|thumb|upright|A fox in [[London]], [[England|UK]]]] "
            "It hunts at night.[[Image:Den.png|200px|Its [[den]]]][[Category:Mammals]][[de:Rotfuchs]]")
    assert one(text) == "The fox is a small omnivore. It hunts at night."


def test_refs_comments_and_tags():
    text = ("Foxes<ref name=a>{{cite book|title=Foxes}}</ref> are <!-- hidden\nnote --> common<ref name=a/> "
            "in <i>cities</i>, and H<sub>2</sub>O is<br />their drink in <span style=\"x\">every</span> season.")
    assert one(text) == "Foxes are common in cities, and H2O is their drink in every season."


def test_external_links_quotes_entities_and_magic_words():
    text = ("__NOTOC__'''Foxes''' are ''very'' [http://example.com clever] animals, see http://example.org/x "
            "for pages&nbsp;1&ndash;9 &amp; more.")
    assert one(text) == "Foxes are very clever animals, see for pages 1–9 & more."


def test_tables_headings_lists_and_indents_are_dropped():
    text = ("== Habitat ==\n" + PROSE + "\n{|class=wikitable\n|-\n! Name !! Size\n|-\n| Fox || small\n"
            "{|\n| nested table row\n|}\n|}\n* a list item that is long enough to be a sentence.\n"
            "# a numbered item that is long enough to be a sentence.\n: an indented line long enough to pass.\n"
            "; term : definition that is long enough to pass the filter.\n=== Diet ===\nFoxes eat mice, "
            "berries and insects all year round.")
    assert strip_wiki_markup(text) == [PROSE, "Foxes eat mice, berries and insects all year round."]


def test_lines_join_into_paragraphs_and_short_or_broken_ones_are_dropped():
    text = (PROSE + "\nIt is a second line of the same paragraph.\n\nToo short.\n\n"
            "A paragraph with left over | pipe markup in the middle of it.\n\n"
            "An unclosed [[link stays in the text and the paragraph goes.")
    assert strip_wiki_markup(text) == [PROSE + " It is a second line of the same paragraph."]


def test_inline_templates_render_or_take_their_sentence_with_them():
    assert one("The river is {{convert|5|to|10|km}} long and {{nowrap|very wide}} at its mouth.{{cn}}") == \
        "The river is 5 to 10 km long and very wide at its mouth."
    assert one("Paris ({{IPA-fr|paʁi}}; {{lang|fr|Paris}}) is the capital and largest city of France.") == \
        "Paris is the capital and largest city of France."
    assert strip_wiki_markup("The area is {{unknown template|x}} square miles, the survey found.") == []
    assert strip_wiki_markup("where <math>x^2</math> is the square of the length of the side.") == []


def _dump(pages: list[tuple[str, int, str, bool]]) -> str:
    redirect = '<redirect title="X" />'
    body = "".join(
        f"<page><title>{t}</title><ns>{ns}</ns>{redirect if red else ''}"
        f"<revision><text xml:space=\"preserve\">{text}</text></revision></page>"
        for t, ns, text, red in pages)
    return f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/"><siteinfo/>{body}</mediawiki>'


def test_a_tiny_bz2_dump_yields_only_article_prose(tmp_path):
    path = tmp_path / "dump.xml.bz2"
    path.write_bytes(bz2.compress(_dump([
        ("Fox", 0, "{{Infobox|a=b}}\n'''Foxes''' are small &amp;amp; clever [[canid]]s of the northern woods.\n\n"
                   "== See also ==\n* [[Wolf]]", False),
        ("Foxes", 0, "#REDIRECT [[Fox]] which is a redirect page and not an article.", True),
        ("Talk:Fox", 1, "This talk page discussion should never reach the prose corpus.", False),
    ]).encode()))
    assert list(iter_wiki_paragraphs(path)) == ["Foxes are small & clever canids of the northern woods."]
    plain = tmp_path / "dump.xml"
    plain.write_bytes(bz2.decompress(path.read_bytes()))
    assert list(iter_wiki_paragraphs(plain)) == ["Foxes are small & clever canids of the northern woods."]


def test_missing_or_corrupt_files_raise_a_one_line_value_error(tmp_path):
    with pytest.raises(ValueError, match="nope.xml.bz2"):
        iter_wiki_paragraphs(tmp_path / "nope.xml.bz2")
    bad = tmp_path / "bad.xml.bz2"
    bad.write_bytes(bz2.compress(_dump([("Fox", 0, PROSE, False)]).encode())[:-20])
    with pytest.raises(ValueError, match="bad.xml.bz2") as e:
        list(iter_wiki_paragraphs(bad))
    junk = tmp_path / "junk.xml"
    junk.write_text("<mediawiki><page>" + "x" * 500)
    with pytest.raises(ValueError, match="junk.xml") as f:
        list(iter_wiki_paragraphs(junk))
    for err in (e.value, f.value):
        assert "\n" not in str(err) and "x" * 61 not in str(err)


def _gensim_dump() -> Path | None:
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0], "test", "test_data",
                "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    return path if path.is_file() else None


@pytest.mark.skipif(_gensim_dump() is None, reason="needs an installed gensim with its test data")
def test_the_real_gensim_dump_gives_clean_prose():
    pars = list(iter_wiki_paragraphs(_gensim_dump()))
    assert len(pars) > 3000
    assert any(p.startswith("Anarchism is a political philosophy") for p in pars)
    for p in pars:
        assert len(p) >= 40 and "\n" not in p
        assert not any(s in p for s in ("{{", "}}", "[[", "]]", "|", "=", "<", ">", "thumb|", "&nbsp;", "''")), p
