"""CUB-style captions for synthetic birds, and a parser from free caption text back to attributes.

* :func:`make_caption` writes one caption stating 2-5 attributes of a :class:`BirdAttributes`, from many
  templates with the synonyms people use in the CUB captions of Reed et al. (2016): bill/beak,
  belly/abdomen, crown/head, breast/chest ... ; :func:`make_captions` writes the usual 10 per image.
* :func:`parse_caption` maps free text ("this bird has a white chest with a long pointed white beak") to
  the attributes it states (``{"breast": "white", "bill": "white", "bill_length": "long",
  "bill_shape": "pointed"}``), so images can be rendered for *real* captions.
* :func:`edit_caption` changes one attribute word of a caption ("a *blue* crown" for "a red crown"): the
  near-miss wrong captions that teach a matching-aware discriminator to check every part.

Both work on the vocabulary below; the parser knows more words than the grammar writes (``gray``,
``tan``, ``olive``, ``underbelly`` ...), because real captions use them.
"""
from __future__ import annotations

import re
from typing import Optional

import numpy as np

from textgen.birds.attributes import BirdAttributes, EYE_COLORS, LEG_COLORS


__all__ = ["make_caption", "make_captions", "parse_caption", "edit_caption", "changed_attribute", "PART_WORDS",
           "COLOR_WORDS"]

# ----------------------------------------------------------------------------- vocabulary

# words for a part -> the attribute holding its colour (the parser's view; the grammar uses the first few)
PART_WORDS: dict[str, str] = {
    "crown": "crown", "head": "crown", "cap": "crown", "nape": "crown",
    "back": "back", "body": "back", "upperparts": "back", "mantle": "back", "coverts": "back",
    "wing": "wing", "wings": "wing", "primaries": "wing", "secondaries": "wing", "wingspan": "wing",
    "tail": "tail", "tails": "tail", "retrices": "tail", "rectrices": "tail",
    "breast": "breast", "chest": "breast", "throat": "breast", "neck": "breast",
    "belly": "belly", "abdomen": "belly", "underbelly": "belly", "underside": "belly", "underparts": "belly",
    "stomach": "belly", "vent": "belly",
    "bill": "bill", "beak": "bill", "beaks": "bill", "bills": "bill",
    "leg": "leg", "legs": "leg", "feet": "leg", "foot": "leg", "tarsus": "leg", "tarsi": "leg", "talons": "leg",
    "eye": "eye", "eyes": "eye", "eyering": "eye", "iris": "eye",
}
_GRAMMAR_PART_WORDS = {
    "crown": ["crown", "head"], "back": ["back", "body"], "wing": ["wings"], "tail": ["tail", "tail feathers"],
    "breast": ["breast", "chest"], "belly": ["belly", "abdomen"], "bill": ["bill", "beak"],
    "leg": ["legs", "feet"], "eye": ["eyes"],
}
COLOR_WORDS: dict[str, str] = {
    "red": "red", "crimson": "red", "scarlet": "red", "maroon": "red",
    "orange": "orange", "rufous": "orange", "rust": "orange",
    "yellow": "yellow", "gold": "yellow", "golden": "yellow",
    "green": "green", "olive": "green",
    "blue": "blue", "teal": "blue",
    "purple": "purple", "violet": "purple",
    "pink": "pink",
    "brown": "brown", "chestnut": "brown",
    "buff": "buff", "tan": "buff", "beige": "buff", "cream": "buff",
    "grey": "grey", "gray": "grey", "silver": "grey",
    "black": "black",
    "white": "white",
}
SIZE_WORDS = {"small": "small", "tiny": "small", "little": "small", "medium": "medium", "medium-sized": "medium",
              "mid-sized": "medium", "large": "large", "big": "large", "huge": "large"}
BILL_LENGTH_WORDS = {"short": "short", "small": "short", "tiny": "short", "stubby": "short", "medium": "medium",
                     "medium-length": "medium", "long": "long", "large": "long", "elongated": "long"}
BILL_SHAPE_WORDS = {"pointed": "pointed", "pointy": "pointed", "sharp": "pointed", "thin": "pointed",
                    "cone": "cone", "cone-shaped": "cone", "conical": "cone", "thick": "cone", "stout": "cone",
                    "hooked": "hooked", "hook": "hooked", "curved": "curved", "curving": "curved",
                    "decurved": "curved", "down-curved": "curved"}
# words that may stand between a colour and its part noun ("white long beak", "black colored wings")
_SKIP = {"dark", "light", "bright", "pale", "deep", "vivid", "dull", "very", "mostly", "mainly", "bold", "brilliant",
         "and", "&", ",", "colored", "coloured", "feathered", "small", "large", "long", "short", "little", "tiny", "big"}

_GRAMMAR_COLOR = {"grey": ["grey", "gray"], "buff": ["buff", "tan"]}
_SIZE_PHRASE = {"small": ["small", "tiny", "little"], "medium": ["medium-sized", "medium"], "large": ["large", "big"]}
_BILL_LEN_PHRASE = {"short": ["short"], "medium": ["medium-length", "medium"], "long": ["long"]}
_BILL_SHAPE_PHRASE = {"pointed": ["pointed", "pointy", "sharp"], "cone": ["cone-shaped", "conical", "thick"],
                      "hooked": ["hooked"], "curved": ["curved", "down-curved"]}


# ----------------------------------------------------------------------------- grammar

def _color(rng: np.random.Generator, name: str) -> str:
    options = _GRAMMAR_COLOR.get(name, [name])
    return options[int(rng.integers(len(options)))]


def _choice(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _phrase(rng: np.random.Generator, attrs: BirdAttributes, key: str) -> str:
    """A noun phrase stating one attribute (or a group: bill shape/length, wing pattern)."""
    if key == "bill":
        words = []
        if rng.random() < 0.6:
            words.append(_choice(rng, _BILL_LEN_PHRASE[attrs.bill_length]))
        if rng.random() < 0.6:
            words.append(_choice(rng, _BILL_SHAPE_PHRASE[attrs.bill_shape]))
        words += [_color(rng, attrs.bill), _choice(rng, _GRAMMAR_PART_WORDS["bill"])]
        return " ".join(words)
    if key == "wing_pattern":
        c = _color(rng, attrs.wing_pattern_color)
        return {"bars": _choice(rng, [f"{c} wingbars", f"{c} bars on its wings"]),
                "spotted": _choice(rng, [f"{c} spots on its wings", f"{c}-spotted wings"]),
                "tipped": _choice(rng, [f"{c}-tipped wings", f"wings tipped in {c}"])}[attrs.wing_pattern]
    return f"{_color(rng, getattr(attrs, key))} {_choice(rng, _GRAMMAR_PART_WORDS[key])}"


_SINGULAR = {"crown", "head", "back", "body", "tail", "breast", "chest", "belly", "abdomen", "bill", "beak"}


def _with_article(phrase: str) -> str:
    """'a'/'an' before a singular noun phrase ("an orange bill"), nothing before a plural one ("black wings")."""
    if phrase.split()[-1] not in _SINGULAR:
        return phrase
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def make_caption(attrs: BirdAttributes, rng: np.random.Generator) -> tuple[str, dict[str, str]]:
    """One caption stating 2-5 attributes; returns ``(caption, the attributes it states)``."""
    keys = ["crown", "back", "wing", "tail", "breast", "belly", "bill", "leg", "eye"]
    if attrs.wing_pattern != "solid":
        keys.append("wing_pattern")
    n = int(rng.integers(2, 6))
    use_size = rng.random() < 0.35
    chosen = [keys[i] for i in rng.choice(len(keys), size=min(n - int(use_size), len(keys)), replace=False)]
    stated: dict[str, str] = {}
    for k in chosen:
        if k == "wing_pattern":
            stated["wing_pattern"], stated["wing_pattern_color"] = attrs.wing_pattern, attrs.wing_pattern_color
        else:
            stated[k] = getattr(attrs, k)
    if use_size:
        stated["size"] = attrs.size
    phrases = [_phrase(rng, attrs, k) for k in chosen]
    # bill phrases may state length and shape too: record what the words actually say
    for p in phrases:
        words = set(p.split())
        for w in words:
            if p.endswith(("bill", "beak")) and w in BILL_LENGTH_WORDS and w in sum(_BILL_LEN_PHRASE.values(), []):
                stated["bill_length"] = BILL_LENGTH_WORDS[w]
            if p.endswith(("bill", "beak")) and w in sum(_BILL_SHAPE_PHRASE.values(), []):
                stated["bill_shape"] = BILL_SHAPE_WORDS[w]
    size = _choice(rng, _SIZE_PHRASE[attrs.size]) + " " if use_size else ""
    template = int(rng.integers(5))
    if template == 0:
        text = f"this {size}bird has {_join([_with_article(p) for p in phrases])}."
    elif template == 1:
        text = f"a {size}bird with {_join(phrases)}."
    elif template == 2 and "back" in chosen and len(chosen) > 1:
        rest = [p for k, p in zip(chosen, phrases) if k != "back"]
        text = f"this {size}bird is mostly {_color(rng, attrs.back)} with {_join(rest)}."
    elif template == 3:
        text = f"this is a {size}bird with {_join(phrases)}."
    else:
        text = f"the {size}bird has {_join(phrases)}."
    return text, stated


def make_captions(attrs: BirdAttributes, rng: np.random.Generator, n: int = 10) -> list[str]:
    return [make_caption(attrs, rng)[0] for _ in range(n)]


# ----------------------------------------------------------------------------- parser

_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)*|&|,|\.|;")


def _normalize_word(w: str) -> str:
    """``tan-colored`` -> ``tan``."""
    for suffix in ("-colored", "-coloured"):
        if w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def parse_caption(text: str) -> dict[str, str]:
    """The attributes a free-text caption states (colour per part, size, bill length/shape, wing pattern)."""
    tokens = _TOKEN.findall(text.lower())
    out: dict[str, str] = {}

    def set_once(key: str, value: str) -> None:
        out.setdefault(key, value)

    # 1. modifiers + colour(s) + part noun, and coordinated parts after it: "white breast, belly & head"
    i = 0
    while i < len(tokens):
        w = _normalize_word(tokens[i])
        color = COLOR_WORDS.get(w)
        if w.endswith(("-tipped", "-spotted", "-barred")) and COLOR_WORDS.get(w.split("-")[0]):
            pattern = {"tipped": "tipped", "spotted": "spotted", "barred": "bars"}[w.split("-")[-1]]
            set_once("wing_pattern", pattern)
            set_once("wing_pattern_color", COLOR_WORDS[w.split("-")[0]])
            i += 1
            continue
        if color is None:
            i += 1
            continue
        # look ahead over modifiers and bill adjectives to the noun; a later colour takes the noun instead
        # ("black and white wings" -> white), and bill adjectives may also come before the colour
        j, bill_len, bill_shape = i + 1, None, None
        for t in tokens[max(0, i - 2):i]:
            if t in BILL_SHAPE_WORDS:
                bill_shape = BILL_SHAPE_WORDS[t]
            elif t in BILL_LENGTH_WORDS:
                bill_len = BILL_LENGTH_WORDS[t]
        while j < len(tokens):
            t = _normalize_word(tokens[j])
            if t in COLOR_WORDS:
                break
            if t in ("and", "&", ",") and (j + 1 >= len(tokens) or _normalize_word(tokens[j + 1]) not in COLOR_WORDS):
                break                                        # "grey and the belly": the colour ends here
            if t in BILL_SHAPE_WORDS and t != "thin":
                bill_shape = BILL_SHAPE_WORDS[t]
            elif t in BILL_LENGTH_WORDS:
                bill_len = BILL_LENGTH_WORDS[t]
            elif t not in _SKIP:
                break
            j += 1
        if j < len(tokens) and _normalize_word(tokens[j]) in COLOR_WORDS:
            i += 1
            continue
        if j < len(tokens):
            noun = tokens[j]
            if noun in ("wingbars", "wingbar", "bars", "stripes") or (noun == "spots" and {"wing", "wings"} & set(tokens[j:j + 4])):
                set_once("wing_pattern", "spotted" if noun == "spots" else "bars")
                set_once("wing_pattern_color", color)
            elif noun in PART_WORDS:
                part = PART_WORDS[noun]
                if _colour_fits(part, color):
                    set_once(part, color)
                if part == "bill":
                    if bill_len:
                        set_once("bill_length", bill_len)
                    if bill_shape:
                        set_once("bill_shape", bill_shape)
                # coordinated parts: ", belly & head" / "and crown" (not "..., wings tipped in pink")
                k = j + 1
                while (k + 1 < len(tokens) and tokens[k] in (",", "&", "and") and tokens[k + 1] in PART_WORDS
                       and (k + 2 >= len(tokens) or tokens[k + 2] in (",", "&", "and", ".", ";"))):
                    if _colour_fits(PART_WORDS[tokens[k + 1]], color):
                        set_once(PART_WORDS[tokens[k + 1]], color)
                    k += 2
            elif noun == "bird" and tokens[i - 1 if i else 0] in ("a", "an", "is", "small", "large", "medium", "little"):
                set_once("back", color)                                  # "a white bird ..." / "is a black bird"
        i += 1

    # 2. part noun + is/are + colour: "its wings are dark grey", "the belly is white"
    for m in re.finditer(r"\b([a-z]+) (?:is|are) (?:(?:mostly|mainly|very|dark|light|bright|pale|all) )*([a-z]+)",
                         text.lower()):
        part, color = PART_WORDS.get(m.group(1)), COLOR_WORDS.get(m.group(2))
        if part and color and _colour_fits(part, color):
            set_once(part, color)
    # wing patterns stated after the noun: "wings tipped in pink", "wings spotted with white"
    for m in re.finditer(r"\bwings? (tipped|spotted|barred) (?:in|with) ([a-z]+)", text.lower()):
        if COLOR_WORDS.get(m.group(2)):
            set_once("wing_pattern", {"barred": "bars"}.get(m.group(1), m.group(1)))
            set_once("wing_pattern_color", COLOR_WORDS[m.group(2)])
    # 3. "this bird is mostly/all/entirely <colour>"
    m = re.search(r"\bbird is (?:mostly |mainly |all |entirely |completely )?([a-z]+)", text.lower())
    if m and COLOR_WORDS.get(m.group(1)):
        set_once("back", COLOR_WORDS[m.group(1)])
    # 4. size of the bird; wing patterns without a colour
    for t in tokens:
        if t in SIZE_WORDS:
            nxt = tokens[tokens.index(t) + 1] if tokens.index(t) + 1 < len(tokens) else ""
            if nxt in ("bird", "sized", "-sized") or t.endswith("-sized"):
                set_once("size", SIZE_WORDS[t])
    for a, b in zip(tokens, tokens[1:]):
        if a in SIZE_WORDS and b in ("bird", "birds", "songbird", "seabird"):
            set_once("size", SIZE_WORDS[a])
    for j, t in enumerate(tokens):
        if t in ("bill", "beak"):                     # "a long pointed beak", "short, thick black bill"
            for a in reversed(tokens[max(0, j - 4):j]):
                a = _normalize_word(a)
                if a in BILL_SHAPE_WORDS:
                    set_once("bill_shape", BILL_SHAPE_WORDS[a])
                elif a in BILL_LENGTH_WORDS:
                    set_once("bill_length", BILL_LENGTH_WORDS[a])
                elif not (a in COLOR_WORDS or a in _SKIP):
                    break
        elif t.endswith(("-beaked", "-billed")):      # "long-beaked", "short-billed", "hook-billed"
            a = t.rsplit("-", 1)[0]
            if a in BILL_LENGTH_WORDS:
                set_once("bill_length", BILL_LENGTH_WORDS[a])
            elif a in BILL_SHAPE_WORDS:
                set_once("bill_shape", BILL_SHAPE_WORDS[a])
    if "wingbars" in tokens or "wingbar" in tokens:
        set_once("wing_pattern", "bars")
    if "spotted" in tokens and any(t in ("wing", "wings") for t in tokens):
        set_once("wing_pattern", "spotted")
    return out


def _colour_fits(part: str, color: str) -> bool:
    """Eyes and legs take fewer colours than the other parts (see ``textgen.birds.render``)."""

    return color in {"eye": EYE_COLORS, "leg": LEG_COLORS}.get(part, (color,))


def stated_subset(stated: dict[str, str], parsed: dict[str, str]) -> Optional[dict[str, tuple[str, str]]]:
    """Attributes where the parse disagrees with what was stated: ``{key: (stated, parsed)}`` (None if none)."""
    diff = {k: (v, parsed.get(k, "")) for k, v in stated.items() if parsed.get(k) != v}
    return diff or None


# ----------------------------------------------------------------------------- edits

# the words an edit may change: (word -> value, value -> the word written for it); a word found in several
# tables ("small": a size or a bill length) belongs to the first
_EDIT_TABLES = (
    (COLOR_WORDS, {c: c for c in dict.fromkeys(COLOR_WORDS.values())}),
    (SIZE_WORDS, {v: words[0] for v, words in _SIZE_PHRASE.items()}),
    (BILL_LENGTH_WORDS, {v: words[0] for v, words in _BILL_LEN_PHRASE.items()}),
    (BILL_SHAPE_WORDS, {v: words[0] for v, words in _BILL_SHAPE_PHRASE.items()}),
)
_TOKEN_ANY_CASE = re.compile(_TOKEN.pattern, re.IGNORECASE)


def edit_caption(text: str, rng: np.random.Generator) -> Optional[str]:
    """``text`` with one attribute word (a colour, size, bill length or bill shape) replaced by a word for a
    *different* value of the same kind, everything else kept: "a small bird with a red crown" -> "a small
    bird with a blue crown". None when the caption has no such word.

    Such near-misses are the wrong captions a matching-aware discriminator (Reed et al. 2016) needs to
    learn to check a crown or a bill: a random caption of another image differs in most parts, so rejecting
    it never requires looking at the small ones.
    """
    spots = []                                                      # (start, end, value, value -> word)
    for m in _TOKEN_ANY_CASE.finditer(text):
        word = _normalize_word(m.group().lower())                  # "Tan-colored" -> "tan" (the suffix stays)
        for table, writes in _EDIT_TABLES:
            if word in table:
                spots.append((m.start(), m.start() + len(word), table[word], writes))
                break
    if not spots:
        return None
    start, end, value, writes = spots[int(rng.integers(len(spots)))]
    others = [v for v in writes if v != value]
    return text[:start] + writes[others[int(rng.integers(len(others)))]] + text[end:]


def changed_attribute(before: str, after: str) -> str:
    """The attribute (as :func:`parse_caption` names it) that differs between two captions, e.g. a caption and
    its :func:`edit_caption`; the first in sorted order when several do, ``"none"`` when none does."""
    a, b = parse_caption(before), parse_caption(after)
    return next(iter(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))), "none")
