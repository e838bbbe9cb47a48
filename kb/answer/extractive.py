"""The default answerer: it quotes the sources verbatim.

An answer is a few points, each a quote of one to three sentences with its
marker, drawn from the best passages of the retrieved articles, best first. A
question is often answered by several articles at once ("what is the
difference?"), so the points are not limited to one article; a passage and
its translation are one point citing both (the citation's ``alternatives``).
A point's sentences are those closest to the question: in the terms they
share, then in meaning (their vectors, kept in the index, against the
question's). It has no model to wait for, so its stream yields the whole text
at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import pairwise

import numpy as np

from kb.answer.base import POINT_MARGIN, AnswerRequest, quoted, read
from kb.answer.citations import MARKER, cite
from kb.answer.said import leave_out_said, was_said
from kb.models import Answer, Hit
from kb.text.sentences import ASKS, LABEL_CHARS, SENTENCE_STOP, Sentences

# The points of an answer: the best passages, at most this many, each scoring
# above the average candidate and within POINT_MARGIN (kb.answer.base) of the first.
MAX_POINTS = 4
# A point quotes at most this many sentences, in at most this many characters:
# the quotes a reader reads before the last point stay within about 900.
SENTENCES_PER_PASSAGE = 3
MAX_QUOTE_CHARS = 300
# An answer of fewer points shares out what MAX_POINTS would quote, each point
# taking at most this many times a point's share (and its sentences with it):
# a single point may say why, not only what (docs/quality.md, "Quotes").
MAX_SHARE = 2
# An answer asked for in short ("In short?") is the gist: the best this many points, a sentence each
# (the best statement of what each would quote).
BRIEF_POINTS = 2
# How a line break inside a quote is shown: a quote is one line of the answer.
LINE_BREAK = " — "

# How close each of the given sentences is to the question in meaning; None when unknown.
Closeness = Callable[[Sequence[str]], "np.ndarray | None"]


def cited_hits(hits: Sequence[Hit], asks_amount: bool = False, listed: int = 0) -> list[int]:
    """Indexes of the passages the answer quotes, one point each: the first few
    retrieved, from every article, best first.

    A question that asks for an amount (``asks_amount``: "how much", "what increase") is
    answered first from the first of those passages that states one, if the
    best passage states none. The ``listed`` first hits, the items of a list
    the question asks for, are each a point, and the best other passages fill
    the points left (one at least: the question may ask about the list, "when
    was the article with the three differences published?").
    """
    if listed:
        others = [i + listed for i in cited_hits(hits[listed:], asks_amount)]
        return [*range(listed), *others[: max(1, MAX_POINTS - listed)]]
    if not hits:
        return []
    first = _answer_type_match(hits[:MAX_POINTS], asks_amount)
    rest = [i for i, hit in enumerate(hits[:MAX_POINTS]) if i != first and _answers(hit, hits[first])]
    return [first, *rest]


def _answers(hit: Hit, first: Hit) -> bool:
    """Whether ``hit`` is a point beside ``first``: it scores above the average
    candidate (scores are standardised), and not far below the first."""
    return hit.score > 0 and hit.score >= first.score - POINT_MARGIN


def _answer_type_match(hits: Sequence[Hit], asks_amount: bool) -> int:
    """The first passage that gives the kind of answer the question asks for (0 if
    the best one does, or none does)."""
    if not asks_amount or read(hits[0]).states_amount:
        return 0
    # Only a passage that scores above the average candidate (scores are
    # standardised) is an answer at all: stating some amount does not make
    # a museum's opening hours the answer to "How many hours should I sleep?".
    return next((i for i, hit in enumerate(hits) if hit.score > 0 and read(hit).states_amount), 0)


def best_sentences(
    hit: Hit,
    terms: frozenset[str],
    limit: int = SENTENCES_PER_PASSAGE,
    closeness: Closeness | None = None,
    budget: int = MAX_QUOTE_CHARS,
    said: frozenset[str] = frozenset(),
    gist: bool = False,
) -> str:
    """``hit``'s sentences that best answer a question of index ``terms``
    (without the corpus's topic terms), as ``_best_sentences`` chooses them."""
    return _best_sentences(read(hit).whole, terms, limit, budget, closeness, said, gist=gist)


def point_size(points: int) -> tuple[int, int]:
    """The sentences and characters each of ``points`` quotes may take."""
    share = min(MAX_SHARE, max(1.0, MAX_POINTS / max(points, 1)))
    return int(SENTENCES_PER_PASSAGE * share), int(MAX_QUOTE_CHARS * share)


def closeness_of(request: AnswerRequest) -> Closeness | None:
    """How close sentences are to the request's question, by the vectors the
    index keeps of them; None for a sentence the index does not know."""
    query = request.query_vector
    known = request.sentence_vectors
    if query is None or not known:
        return None

    def closeness(sentences: Sequence[str]) -> np.ndarray | None:
        rows = [known.get(sentence) for sentence in sentences]
        if not rows or any(row is None for row in rows):
            return None
        return np.vstack([row for row in rows if row is not None]) @ query

    return closeness


def item_quote(
    hit: Hit,
    terms: frozenset[str],
    closeness: Closeness | None = None,
    limit: int = SENTENCES_PER_PASSAGE,
    budget: int = MAX_QUOTE_CHARS,
    said: frozenset[str] = frozenset(),
) -> str:
    """A list item's point: its heading, the item's name ("Canal vs. client",
    without its number), then its first sentence and its best others, within
    ``budget`` characters: an item's opening says what it is ("Strategia
    Multichannel se concentrează asupra…"), where its sentence closest to the
    question ("…mediile sociale și email-urile") may be a detail of it."""
    passage = read(hit)
    if passage.item is None:
        return _best_sentences(passage.whole, terms, limit, budget, closeness, said)
    rest = _best_sentences(
        passage.item, terms, limit, budget - len(passage.label) - len(LINE_BREAK), closeness, said, opening=True
    )
    return passage.label + LINE_BREAK + rest


def _best_sentences(
    passage: Sentences,
    terms: frozenset[str],
    limit: int,
    budget: int,
    closeness: Closeness | None = None,
    said: frozenset[str] = frozenset(),
    opening: bool = False,
    gist: bool = False,
) -> str:
    """The passage's sentences that share most ``terms`` with the question (its
    terms but the corpus's own topic terms), in their order, within
    ``MAX_QUOTE_CHARS``; among those that share as many,
    the closest to the question in meaning (``closeness``), else the earlier.
    The passage's own questions come after its statements: "¿Cuál es la
    diferencia…?" shares every term with "What's the difference…?" and
    answers nothing.

    Sentences are taken best first while they fit, so the budget never cuts
    the best one for an earlier, weaker one; adjacent sentences read as one
    stretch of text, gaps are marked with "…", and a line that ends without a
    stop (a heading) is set off from the next by " — ". A question in another language
    than the passage shares few terms with it: then its meaning chooses (without
    vectors, the paragraph's opening sentences come first).
    A list's item is read under its lead-in: a quoted item keeps its list's
    short lead-in before it ("No: … Restos de plantas enfermas…"), which
    is itself quoted only with its items. Sentences ``said`` already (the
    answer before a follow-up quoted them) are left out, while another is left.
    Words are quoted as written; only the article's own reference marks
    ("[17]") are shown as "[…]", so that every ``[n]`` is this answer's.
    ``gist``: of the sentences so chosen, the first that states something
    (ends with a stop; no question or list's lead-in) alone, for an answer in short.
    """
    text, spans, sentences, shown = passage.text, passage.spans, passage.sentences, passage.shown
    # A line that ends without a sentence's stop (a heading, a list item) is set
    # off from the next one, so "Omnicanal" and "Una estrategia…" do not read as one.
    lines = [
        i + 1 < len(spans) and "\n" in text[spans[i][1] : spans[i + 1][0]] and not SENTENCE_STOP.search(sentences[i])
        for i in range(len(spans))
    ]
    if not sentences:
        return _clip(" ".join(text.split()), budget)
    # A list's items are quoted without their bullets (``shown``): the answer's points are the list.
    labels = _list_labels(text, spans, sentences, shown)
    lead_ins = set(labels.values())
    # Among equals, the sentence closest to the question in meaning (a question in
    # another language shares no terms with any), else the earlier one (a
    # paragraph's topic sentence); bare headings (short lines without a stop)
    # last when there is more to say: a short sentence ("La integración es la
    # gran diferencia.") is no heading. Cosines lie within [-1, 1], so the
    # heading's 10 outweighs any of them.
    near = closeness(sentences) if closeness is not None else None
    order = -near if near is not None else np.arange(len(sentences), dtype=np.float64)
    # What the answer before a follow-up quoted is not quoted again, while something new is left.
    fresh = [i for i in range(len(sentences)) if not was_said(shown[i], said)]
    news = any(not passage.bare_shown[i] and not ASKS.search(shown[i]) for i in fresh)
    ranked = sorted(
        fresh if said and news else range(len(sentences)),
        key=lambda i: (
            # ``opening``: the first sentence first (a list item's, which says what the item is).
            not (opening and i == 0),
            len(sentences) > 1 and bool(ASKS.search(sentences[i])),
            -len(terms & passage.terms[i]),
            float(order[i]) + (10 if (passage.bare[i] or i in lead_ins) and len(sentences) > 1 else 0),
        ),
    )
    chosen: list[int] = []
    used = 0
    for i in ranked[:limit]:
        if i in chosen:
            continue
        # A sentence that opens by pointing back at the one before ("Aquí es donde entra
        # en juego…", "Principalmente se…") is read with it.
        unit = [i]
        while unit[0] > 0 and passage.leans[unit[0]] and not passage.bare[unit[0] - 1]:
            # Back to a sentence that stands on its own (a heading is for the rule below).
            unit.insert(0, unit[0] - 1)
        unit = [j for j in unit if j not in chosen]
        cost = sum(len(shown[j]) + 3 for j in unit)
        if len(unit) > 1 and not chosen:
            # The best sentence is read with what it points back at, which takes no room from the rest.
            budget += cost - len(shown[i]) - 3
        elif len(unit) > 1 and used + cost > budget:
            # It may be the answer ("Así, ser omnicanal sigue siendo el reto…"): alone, then.
            unit, cost = [i], len(shown[i]) + 3
        if chosen and used + cost > budget:
            continue
        chosen.extend(unit)
        used += cost
    # A numbered list's steps are read from the first: "4. Pour the liquid…" says nothing
    # to a reader who was not given steps 1 to 3.
    chosen = _from_the_first_step(chosen, _steps(passage), shown, budget)
    if gist:
        stated = sorted(i for i in chosen if SENTENCE_STOP.search(shown[i]) and not ASKS.search(shown[i]))
        return _clip(shown[next((i for i in stated if i not in lead_ins), chosen[0])], budget)
    used = sum(len(shown[i]) + 3 for i in chosen)
    # Each quoted item under its lead-in, and a sentence that opens a section under its
    # heading, where they fit: "Sí:" and "No:" tell two lists apart, "Multicanal —"
    # says what "Esta es una estrategia…" is.
    headed = {
        i: i - 1 for i in chosen if i > 0 and lines[i - 1] and passage.bare[i - 1] and shown[i - 1] == sentences[i - 1]
    }
    for label in sorted({labels[i] for i in chosen if i in labels} | set(headed.values())):
        if label not in chosen and used + len(shown[label]) + 3 <= budget:
            chosen.append(label)
            used += len(shown[label]) + 3
    chosen.sort()
    quote = shown[chosen[0]]
    for previous, i in pairwise(chosen):
        if i != previous + 1:
            quote += " … "
        else:
            # A new item of a list, or a list's lead-in, starts a line too, set off as one
            # (its bullet is left out).
            quote += LINE_BREAK if lines[previous] or shown[i] != sentences[i] or i in lead_ins else " "
        quote += shown[i]
    return _clip(quote, budget)


def _steps(passage: Sentences) -> dict[int, int]:
    """For each sentence of a numbered list's step ("1. Take a frame…", and the
    sentences that follow it on its line), the first sentence of the list's first step."""
    text, spans = passage.text, passage.spans
    steps: dict[int, int] = {}
    first: int | None = None
    for i in range(len(passage.sentences)):
        if i == 0 or "\n" in text[spans[i - 1][1] : spans[i][0]]:
            # A line opens: a step (a numbered heading opens a section, not a step), or the list is over.
            step = passage.numbered[i] and not passage.bare[i]
            first = (i if first is None else first) if step else None
        if first is not None:
            steps[i] = first
    return steps


def _from_the_first_step(chosen: list[int], steps: dict[int, int], shown: Sequence[str], budget: int) -> list[int]:
    """``chosen`` with every step of a list from the list's first to its last chosen one
    (a recipe's step 5 left out between 4 and 6 spoils it), where they fit ``budget``:
    with what else was chosen, or else alone."""
    for i in sorted(chosen):
        if i not in steps:
            continue
        last = max(j for j in chosen if steps.get(j) == steps[i])
        run = list(range(steps[i], last + 1))
        if set(run) <= set(chosen):
            continue
        for candidate in (sorted(set(chosen) | set(run)), run):
            if sum(len(shown[j]) + 3 for j in candidate) <= budget:
                return _from_the_first_step(candidate, steps, shown, budget)
    return chosen


def _list_labels(
    text: str, spans: Sequence[tuple[int, int]], sentences: Sequence[str], shown: Sequence[str]
) -> dict[int, int]:
    """For each sentence of a list's item, the short lead-in line its list opens
    with ("No:"), where it has one."""
    labels: dict[int, int] = {}
    label: int | None = None
    item = False
    for i, sentence in enumerate(sentences):
        starts_line = i == 0 or "\n" in text[spans[i - 1][1] : spans[i][0]]
        if starts_line:
            item = shown[i] != sentence
            if not item:
                label = i if len(sentence) < LABEL_CHARS and sentence.rstrip().endswith(":") else None
        if item and label is not None:
            labels[i] = label
    return labels


def _clip(quote: str, budget: int = MAX_QUOTE_CHARS) -> str:
    # An article's own reference marks ("[17]") would read as this answer's
    # citations: they are elided the way an editor marks a cut, "[…]".
    quote = MARKER.sub("[…]", quote)
    if len(quote) <= budget:
        return quote
    cut = quote.rfind(" ", 0, budget)
    return quote[: cut if cut > 0 else budget] + " …"


class ExtractiveAnswerer:
    """Quotes the best sentences of the best passages, each with its marker."""

    mode = "extractive"

    def compose(self, request: AnswerRequest) -> Answer:
        request = leave_out_said(request)
        points, indexes = self._points(request) if request.covered and request.hits else ([], [])
        citations = cite(request.hits, indexes)
        return quoted(request, self.mode, points, citations)

    @staticmethod
    def _points(request: AnswerRequest) -> tuple[list[str], list[int]]:
        """The answer's points, each a quote with its marker, and the hits they quote."""
        said = request.said
        # The corpus's topic terms ("omnic" on the seeds) are in most sentences: they choose none.
        terms = request.terms - request.topic_terms
        indexes = cited_hits(request.hits, request.asks_amount, request.listed)
        closeness = closeness_of(request)
        limit, budget = point_size(len(indexes))
        if request.brief:
            indexes = indexes[:BRIEF_POINTS]
        points = []
        for number, index in enumerate(indexes, start=1):
            # Markers are this answer's own: the quote is never renumbered.
            hit = request.hits[index]
            quote = (
                item_quote(hit, terms, closeness, limit, budget, said)
                if index < request.listed
                else best_sentences(hit, terms, limit, closeness, budget, said, gist=request.brief)
            )
            points.append(f"- “{quote}” [{number}]")
        return points, indexes

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        answer = self.compose(request)
        yield answer.answer
        yield answer
