"""Plain prose paragraphs from a MediaWiki XML dump (``.xml`` or ``.xml.bz2``), stdlib only.

:func:`iter_wiki_paragraphs` streams a dump and yields the running-text paragraphs of its articles;
:func:`strip_wiki_markup` turns one article's wikitext into such paragraphs. Precision beats recall:
anything that still looks like markup, lists, tables or fragments is dropped rather than repaired.
"""
from __future__ import annotations

import bz2
import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

__all__ = ["iter_wiki_paragraphs", "strip_wiki_markup"]

MIN_CHARS = 40
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_REF = re.compile(r"<ref\b[^>]*/>|<ref\b[^>]*>.*?(?:</ref\s*>|$)", re.S | re.I)
_DROP_TAGS = "math|chem|ce|gallery|timeline|imagemap|source|syntaxhighlight|pre|score|hiero|graph|table|references"
_DROPPED = re.compile(rf"<({_DROP_TAGS})\b[^>]*?(?:/>|>.*?(?:</\1\s*>|$))", re.S | re.I)
_TAG = re.compile(r"<(?:(br)\b[^<>]*|/?[a-zA-Z][^<>]*)>", re.I)    # <br> becomes a space, other tags vanish
_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")                   # innermost internal link
_DROP_LINK = re.compile(r"(?i:\s*:?\s*(file|image|media|category)\s*:)|[a-z]{2,3}(-[a-z]+)*:[^|]*$")
_EXT_LINK = re.compile(r"\[(?:(?:https?|ftp):)?//[^\s\]]+\s*([^\]]*)\]")
_BARE_URL = re.compile(r"(?:https?|ftp)://\S+")
_QUOTES = re.compile(r"'{2,}")
_MAGIC = re.compile(r"__[A-Z]+__")
_ONLY_HOLES = re.compile(r"^[\x00\s]+$", re.M)
_HEADING = re.compile(r"^=+.*=+$")
_LEFTOVER = re.compile(r"\{\{|\}\}|\[\[|\]\]|[|=<>\x00]|[,;]\s*[,;]|\(\s")
_EMPTY_PARENS = re.compile(r"\(\s*[,;:]?\s*\)")
_HOLE_PARENS = re.compile(r"\s*\([^()]*\x00[^()]*\)")    # "Name (IPA; born 1900) was" -> "Name was"
HOLE = "\x00"                                        # where something unrenderable sat inside a sentence
_SILENT = re.compile(r"(cite|citation|sfn|harv|efn|refn|rp$|cn$|fact$|clarify|when$|who$|which$|by whom|dubious"
                     r"|vague|page needed|verif|failed verification|dead link|flagicon|#tag:ref)")
_TEXT_ARG = {"lang": -1, "transl": -1, "nowrap": 0, "small": 0, "smaller": 0, "sc": 0, "vanchor": 0, "nihongo": 0}
_NUMBER = re.compile(r"[-+]?[\d.,]+|to|and|or|-|–|x|by")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)])")


def _render_template(body: str) -> str:
    """What an inline template leaves in the prose: nothing, its text argument, or a hole marker."""
    name, *args = [a.strip() for a in _strip_templates(body).split("|")]
    name, args = name.lower(), [a for a in args if "=" not in a]
    if _SILENT.match(name):
        return ""
    if name == "convert" and args:                   # {{convert|5|to|10|km}} -> 5 to 10 km
        n = next((i for i, a in enumerate(args) if not _NUMBER.fullmatch(a)), len(args) - 1)
        return " ".join(args[:n + 1])
    if name in _TEXT_ARG and args:
        return args[_TEXT_ARG[name]] if len(args) > _TEXT_ARG[name] else args[-1]
    return HOLE


def _strip_templates(text: str) -> str:
    """Render every properly nested ``{{...}}``; an unclosed one runs to the end and is dropped."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text.startswith("{{", i):
            if depth == 0:
                out.append(text[start:i])
                start = i
            depth, i = depth + 1, i + 2
        elif depth and text.startswith("}}", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                out.append(_render_template(text[start + 2:i - 2]))
                start = i
        else:
            i += 1
    return "".join(out) + ("" if depth else text[start:])


def _remove_tables(text: str) -> str:
    """Drop wiki tables ``{| ... |}`` line by line, nested tables included."""
    kept, depth = [], 0
    for line in text.split("\n"):
        s = line.strip()
        depth += s.startswith("{|")
        if depth == 0:
            kept.append(line)
        elif s.startswith("|}"):
            depth -= 1
            kept.append("")                          # a table ends a paragraph
    return "\n".join(kept)


def _link_text(match: re.Match) -> str:
    inner = match.group(1)
    if _DROP_LINK.match(inner):                      # File:/Image:/Category:/language links vanish
        return ""
    return inner.rsplit("|", 1)[-1] if "|" in inner else inner


def _clean_inline(text: str) -> str:
    while True:                                      # innermost first, so links inside captions go too
        text, n = _LINK.subn(_link_text, text)
        if not n:
            break
    text = _BARE_URL.sub("", _EXT_LINK.sub(r"\1", _HOLE_PARENS.sub("", text)))
    text = html.unescape(_QUOTES.sub("", text))
    text = " ".join(_EMPTY_PARENS.sub("", text).split())
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def _is_prose(par: str) -> bool:
    return (len(par) >= MIN_CHARS and not _LEFTOVER.search(par) and par[-1] in ".!?\"'”’)"
            and (par[0].isupper() or par[0].isdigit() or par[0] in "\"'“‘")
            and not par.endswith(("e.g.", "i.e.")))


def strip_wiki_markup(text: str) -> list[str]:
    """One article's wikitext -> its prose paragraphs, markup removed, whitespace collapsed."""
    text = _DROPPED.sub(HOLE, _REF.sub("", _COMMENT.sub("", text)))
    text = _MAGIC.sub("", _TAG.sub(lambda m: " " if m.group(1) else "", _remove_tables(_strip_templates(text))))
    text = _ONLY_HOLES.sub("", text)                  # a line of block templates only is a paragraph break
    paragraphs, current = [], []
    for line in text.split("\n") + [""]:
        s = line.strip()
        if s and not _HEADING.match(s) and s[0] not in "*#:;|!":
            current.append(s)
            continue
        if current:                                  # blank or dropped line: the paragraph ends
            paragraphs.append(_clean_inline(" ".join(current)))
            current = []
    return [p for p in paragraphs if _is_prose(p)]


def _pages(path: Path) -> Iterator[str]:
    """The wikitext of every article page: namespace 0, not a redirect."""
    local = lambda tag: tag.rsplit("}", 1)[-1]      # noqa: E731 - namespace-agnostic tag names
    try:
        with open(path, "rb") as raw, (bz2.BZ2File(raw) if raw.peek(3)[:3] == b"BZh" else raw) as stream:
            context = ET.iterparse(stream, events=("start", "end"))
            _, root = next(context)
            for event, elem in context:
                if event == "end" and local(elem.tag) == "page":
                    fields = {local(c.tag): c.text or "" for c in elem.iter()}
                    text = fields.get("text", "")
                    if fields.get("ns", "0").strip() == "0" and "redirect" not in fields \
                            and not text.lstrip()[:9].upper() == "#REDIRECT":
                        yield text
                    root.clear()                     # the page is done: keep memory flat
    except ET.ParseError as e:
        raise ValueError(f"wiki dump {path} is not valid XML: {str(e)[:60]}") from None
    except (OSError, EOFError) as e:
        raise ValueError(f"wiki dump {path} is unreadable or corrupt: {str(e)[:60]}") from None


def iter_wiki_paragraphs(path: str | Path) -> Iterator[str]:
    """Stream the prose paragraphs of the articles (ns 0, no redirects) in a ``.xml`` or ``.xml.bz2`` dump.

    Raises ``ValueError`` naming the file if it is missing (at once) or corrupt (while iterating)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"wiki dump {path} does not exist or is not a file")
    return (p for text in _pages(path) for p in strip_wiki_markup(text))
