"""The example questions the chat and the widget offer: the articles' own
question headings, those the blog is most about first, and only those it answers.

A heading's centrality is how close it is, embedded as a reader's question
(the index keeps every sentence's vector so: ``CorpusIndex.sentence_vectors``),
to what the blog says in its language on average (the mean of that language's
passages, as retrieval centres on). Measured on eval/blogs (docs/chat.md), it
put the Arabic bread blog's closing "ما الذي تعلمته؟" ("What did I learn?")
last of its eleven, and coffee's "Was it worth it?" last of its three; the
hubness of the section a heading opens ranked "What did I learn?" first (a
summary is close to everything), and how much better its own section answers a
heading than the rest do told the two kinds of heading apart no better.

Each article's questions are taken most central first, from each article in
turn; each round the most central first. A question far less central than the
blog's others (``OUTLIER`` deviations below their median) comes after all of
them: it is about the author or the post ("Was it worth it?"), not the blog.

An example is asked with no article in sight, so one that does not name its
article's subject comes after those that do: "How long does it keep?" and "A
que temperatura vão ao forno?" lean on the post they head ("Pastéis de nata"),
where "How long is the Ivy Pass walk?" names its post's. So does one that asks
what an example before it asks, of another thing (a blog of seed catalogues
asks "When should I sow …?" of every variety): what a question names of its
article's title aside, its words are its shape, and a shape is offered once
before any is offered again.

Asked as it is, an example must be answered, not refused: ``answered`` keeps,
of each language's questions in that order, the first ``PER_LANGUAGE`` that the
knowledge base covers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from kb.ingest.chunk import headings
from kb.search.lexical import tokenize
from kb.search.retrieve import CorpusIndex
from kb.text import language as lang

log = logging.getLogger(__name__)

# What ends a heading that is a question (the Arabic question mark too).
QUESTION_MARKS = ("?", "؟")
# A question this many median absolute deviations less central than the median of
# the blog's questions comes after all the others (3 is about two standard deviations).
OUTLIER = 3.0
# Covered questions kept of each language: the most the API asks for (kb.web.api's
# MAX_EXAMPLES), so any reader's first ten are among them.
PER_LANGUAGE = 10


@dataclass(frozen=True)
class Example:
    """A question heading, with its article and how central it is to the blog."""

    text: str
    language: str
    source: str
    centrality: float


def question_headings(index: CorpusIndex) -> list[tuple[str, str, str]]:
    """``(heading, language, source)`` of each heading that is a question, once (from the
    first article that asks it), in the articles' order."""
    found: dict[str, tuple[str, str, str]] = {}
    for chunk in index.chunks:
        for heading in headings(chunk.text):
            if heading.endswith(QUESTION_MARKS):
                found.setdefault(heading, (heading, chunk.language, chunk.source))
    return list(found.values())


def centralities(
    index: CorpusIndex, asked: Sequence[tuple[str, str, str]], encode: Callable[[list[str]], np.ndarray]
) -> list[float]:
    """Each heading's closeness, as a question, to the mean of its language's passages.
    ``encode`` embeds (as questions) only the headings an older index keeps no vector of."""
    missing = [text for text, _, _ in asked if text not in index.sentence_vectors]
    encoded = dict(zip(missing, encode(missing), strict=True)) if missing else {}
    found = []
    for text, language, _ in asked:
        vector = index.sentence_vectors.get(text)
        mean = index.language_means[language]
        found.append(float((encoded[text] if vector is None else vector) @ mean) / float(np.linalg.norm(mean)))
    return found


def ranked(index: CorpusIndex, encode: Callable[[list[str]], np.ndarray]) -> tuple[Example, ...]:
    """The question headings, from each article in turn, the most central first (module docstring)."""
    asked = question_headings(index)
    examples = [
        Example(text, language, source, centrality)
        for (text, language, source), centrality in zip(asked, centralities(index, asked, encode), strict=True)
    ]
    if not examples:
        return ()
    scores = np.array([e.centrality for e in examples])
    median = float(np.median(scores))
    floor = median - OUTLIER * float(np.median(np.abs(scores - median)))
    kept = [e for e in examples if e.centrality >= floor]
    apart = sorted((e for e in examples if e.centrality < floor), key=lambda e: -e.centrality)
    titles = {chunk.source: chunk.title for chunk in index.chunks}
    return varied([*in_turn(kept), *apart], titles)


def varied(examples: Sequence[Example], titles: dict[str, str]) -> tuple[Example, ...]:
    """``examples`` in their order, but those that name nothing of their article's title,
    or ask what an earlier one asks of another thing (the same words, its title's aside),
    after the rest (module docstring)."""
    first: list[Example] = []
    later: list[Example] = []
    shapes: set[frozenset[str]] = set()
    for example in examples:
        words, title = frozenset(tokenize(example.text)), frozenset(tokenize(titles.get(example.source, "")))
        shape = words - title
        if words & title and shape not in shapes:
            shapes.add(shape)
            first.append(example)
        else:
            later.append(example)
    return (*first, *later)


def in_turn(examples: Sequence[Example]) -> list[Example]:
    """Each article's most central question, then each one's next, and so on; each round the most central first."""
    queues: dict[str, list[Example]] = {}
    for example in sorted(examples, key=lambda e: -e.centrality):
        queues.setdefault(example.source, []).append(example)
    rounds: list[Example] = []
    for depth in range(max((len(q) for q in queues.values()), default=0)):
        rounds.extend(sorted((q[depth] for q in queues.values() if depth < len(q)), key=lambda e: -e.centrality))
    return rounds


def answered(examples: Sequence[Example], covered: Callable[[str], bool]) -> tuple[Example, ...]:
    """Of each language's examples, in order, the first ``PER_LANGUAGE`` that ``covered`` accepts
    (the knowledge base answers them when asked); those it refuses are logged and left out."""
    kept: list[Example] = []
    count: dict[str, int] = {}
    for example in examples:
        if count.get(example.language, 0) >= PER_LANGUAGE:
            continue
        if covered(example.text):
            kept.append(example)
            count[example.language] = count.get(example.language, 0) + 1
        else:
            log.info("example question left out, not covered when asked: %r", example.text)
    return tuple(kept)


def for_reader(examples: Sequence[Example], limit: int, reader: str | None = None) -> list[str]:
    """The first ``limit`` examples; for a ``reader``, those they read best
    first (their language, then their script), each kept in its order."""
    if reader is not None:
        examples = sorted(examples, key=lambda e: -lang.readability(e.language, reader))
    return [e.text for e in examples[:limit]]
