"""Outlines: the lists an article is built from, and the questions that ask for one.

An article that lists things ("three differences") gives each its own section:
under numbered headings ("1. Canal vs. client", "2. Consistență…"), or under
one heading that has no text of its own ("What are the challenges?", then
"Lack of infrastructure", "Working with partners"…). A question that asks for
so many things ("What are the three differences…?") is answered by such a list
of that length, one point per item, and not by the passages that share most of
its words: the items rarely repeat the question's words ("difference"), and
the passage that does (the article's introduction) only announces them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from kb.ingest.chunk import blocks
from kb.models import Chunk, Hit
from kb.search.lexical import STOPWORDS
from kb.text import lexicon
from kb.text.sentences import is_numbered

# A list has at least two items; a question asks for a count of at most this many
# ("the 25 best…" asks for a ranking, not for an article's outline).
MIN_ITEMS = 2
MAX_COUNT = 12
# A question asks for a list from three things up: "two" mostly names the pair
# it compares ("which of the two strategies…?").
MIN_COUNT = 3
# A list is the answer when one of its items is among the question's best
# passages, this many: the ones its answer would quote anyway.
ITEM_RANKS = 3
# Or when the article says it lists as many things as the question asks for,
# and both say of what: the words around the count ("three challenges" and
# "trei diferențe-cheie") must match this well, as questions (cosine).
# Measured on "the three differences" in 10 phrasings and 8 languages against
# "challenges", "benefits", "steps", "examples" in 6: a count of the same
# things scores 0.90 to 0.99, of other things 0.81 to 0.88.
PHRASE_MATCH = 0.89
# How many words on each side of a count say what is counted, function words
# left out ("three fundamental differences", "الاختلافات الأساسية الثلاثة": before it in Arabic).
PHRASE_WORDS = 2
_TOKEN = re.compile(r"[^\W_]+")

Encode = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Outline:
    """One list of an article: the row of each item's first passage, in order."""

    source: str
    items: tuple[int, ...]
    # The words the article says how many things it lists with, if it does,
    # in its title or just before the list ("we focus on three key differences"):
    announcement: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Section:
    heading: str
    first: int  # the row of its first passage
    parent: bool  # it opens with a heading of its own above its heading


def outlines(chunks: Sequence[Chunk]) -> tuple[Outline, ...]:
    """Every list of the articles: the runs of numbered sections, and the
    sections under one heading with no text of its own."""
    by_source: dict[str, list[int]] = {}
    for row, chunk in enumerate(chunks):
        by_source.setdefault(chunk.source, []).append(row)
    found: list[Outline] = []
    for source, rows in by_source.items():
        ordered = sorted(rows, key=lambda r: chunks[r].ordinal)
        sections = _sections(chunks, ordered)
        for items in _numbered_runs(sections) + _under_parents(sections):
            first = chunks[items[0]]
            before = ordered.index(items[0]) - 1
            # The list's lead: the article's title, the passage before it, and the headings it opens with.
            lead = [first.title, *([chunks[ordered[before]].text] if before >= 0 else []), *_opening(first)]
            stated = [phrase for text in lead for phrase in count_phrases(text, first.language, len(items))]
            found.append(Outline(source, items, tuple(stated)))
    return tuple(found)


def _opening(chunk: Chunk) -> list[str]:
    found = []
    for block in blocks(chunk.text):
        if block.kind != "heading":
            break
        found.append(chunk.text[block.start : block.end])
    return found


def _sections(chunks: Sequence[Chunk], rows: list[int]) -> list[_Section]:
    sections: list[_Section] = []
    previous = None
    for row in rows:
        chunk = chunks[row]
        if previous is not None and chunk.heading == previous:
            continue
        previous = chunk.heading
        sections.append(_Section(chunk.heading, row, parent=len(_opening(chunk)) >= 2))
    return sections


def _numbered_runs(sections: list[_Section]) -> list[tuple[int, ...]]:
    runs: list[tuple[int, ...]] = []
    current: list[int] = []
    for section in [*sections, None]:
        if section is not None and is_numbered(section.heading):
            current.append(section.first)
            continue
        if len(current) >= MIN_ITEMS:
            runs.append(tuple(current))
        current = []
    return runs


def _under_parents(sections: list[_Section]) -> list[tuple[int, ...]]:
    """The sections from one that opens under a heading of its own (its parent,
    with no text between them) up to the next such one."""
    starts = [i for i, section in enumerate(sections) if section.parent]
    groups = []
    for start, end in zip(starts, [*starts[1:], len(sections)], strict=False):
        items = tuple(section.first for section in sections[start:end])
        if len(items) >= MIN_ITEMS:
            groups.append(items)
    return groups


@cache
def _counts(language: str) -> dict[str, int]:
    return {word.casefold(): value for word, value in lexicon.counts(language).items()}


def _count_at(
    tokens: list[str], language: str, least: int = MIN_ITEMS, wanted: int | None = None
) -> tuple[int, int] | None:
    counts = _counts(language)
    for at, word in enumerate(tokens):
        folded = word.casefold()
        value = int(folded) if folded.isdigit() and len(folded) <= 2 else counts.get(folded)
        if value is not None and least <= value <= MAX_COUNT and wanted in (None, value):
            return at, value
    return None


def asked_count(text: str, language: str) -> int | None:
    """How many things a question asks for, if it says ("the three
    differences", "3 steps"): a number written in figures or, in the
    question's language, in words."""
    found = _count_at(_TOKEN.findall(text), language, MIN_COUNT)
    return None if found is None else found[1]


def count_phrases(text: str, language: str, count: int | None = None) -> tuple[str, ...]:
    """What the first count ``text`` states (``count``, if given) counts:
    the count with the words just after it ("three fundamental differences"),
    and in a language that may name the things first, with those just before
    it ("الاختلافات الأساسية الثلاثة"); topic words only. () if it states none."""
    tokens = [token for token in _TOKEN.findall(text) if token.casefold() not in STOPWORDS]
    found = _count_at(tokens, language, wanted=count)
    if found is None:
        return ()
    at = found[0]
    sides = [tokens[at : at + PHRASE_WORDS + 1]]
    if lexicon.flag(language, "counted_noun_first"):
        sides.append(tokens[max(0, at - PHRASE_WORDS) : at + 1])
    return tuple(" ".join(side) for side in sides if len(side) > 1)


def answering_outline(
    count: int | None,
    phrases: Sequence[str],
    retrieved: Sequence[tuple[str, int | None]],
    found: Sequence[Outline],
    encode: Encode,
) -> Outline | None:
    """The list of ``count`` items that answers a question asking for so many
    things (``phrases``: its words around the count), given what it retrieved
    (each passage's article and row, best first): the list that one of the
    best passages is an item of, else a retrieved article's list that the
    article says has ``count`` items. Where both the question and the article
    say what is counted, it must be the same things: three challenges are not
    answered by three differences. ``None`` if the question asks for no count,
    or no list answers it."""
    if count is None:
        return None
    sized = [outline for outline in found if len(outline.items) == count]
    ranked = [o for _, row in retrieved[:ITEM_RANKS] for o in sized if row in o.items]
    sources = dict.fromkeys(source for source, _ in retrieved)
    announced = [o for source in sources for o in sized if o.source == source and o.announcement] if phrases else []
    # Each list once, best first: encoding what it counts is the costly step.
    for outline in dict.fromkeys([*ranked, *announced]):
        if not (outline.announcement and phrases) or _counts_alike(outline, phrases, encode):
            return outline
    return None


def _counts_alike(outline: Outline, phrases: Sequence[str], encode: Encode) -> bool:
    """Whether the article counts the same things as the question (``PHRASE_MATCH``)."""
    vectors = encode([*phrases, *outline.announcement])
    asked, said = vectors[: len(phrases)], vectors[len(phrases) :]
    return bool((said @ asked.T).max() >= PHRASE_MATCH)


def lead_with_outline(
    hits: Sequence[Hit],
    text: str,
    language: str,
    chunks: Sequence[Chunk],
    row: Mapping[str, int],
    found: Sequence[Outline],
    encode: Encode,
) -> tuple[tuple[Hit, ...], int]:
    """``hits`` led by the items of the list the question asks for, if a
    retrieved article has one, and how many items lead. Each item scores as its
    article's best passage: the list is that article's answer."""
    if not hits:
        return (), 0
    retrieved = [(hit.chunk.source, row.get(hit.chunk.id)) for hit in hits]
    count = asked_count(text, language)
    outline = answering_outline(count, count_phrases(text, language), retrieved, found, encode)
    if outline is None:
        return tuple(hits), 0
    by_id = {hit.chunk.id: hit for hit in hits}
    score = max(hit.score for hit in hits if hit.chunk.source == outline.source)
    items = []
    for item in outline.items:
        chunk = chunks[item]
        hit = by_id.get(chunk.id)
        items.append(Hit(chunk, score) if hit is None else replace(hit, score=score))
    listed = {hit.chunk.id for hit in items}
    rest = [hit for hit in hits if hit.chunk.id not in listed and not any(alt.id in listed for alt in hit.alternatives)]
    return (*items, *rest), len(items)
