"""Answering behind one interface, and the builders every answerer shares.

An ``Answerer`` turns retrieved passages into an ``Answer``. ``stream`` yields
pieces of text as they are ready and ends with the full ``Answer``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from kb.i18n.lookup import listing, message
from kb.models import Answer, Citation, Hit, Question

if TYPE_CHECKING:
    import numpy as np

    from kb.answer.support import SupportCalibration
    from kb.text.sentences import Quotable


# A passage is a point beside the best one when it scores within this many standard
# deviations (of the fused score) of it: the smallest margin whose points find the gold
# as often as four points always, on the held-out sets and the blogs, with 3.2 to 3.9
# citations an answer (docs/quality.md, "Answers from several articles").
POINT_MARGIN = 3.5


@dataclass(frozen=True)
class AnswerRequest:
    question: Question
    language: str
    query: str
    hits: tuple[Hit, ...]
    covered: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    # Names the question mentions and the sources do not: the reply says so.
    # ``missing`` on a question that is not covered, ``unmentioned`` on one
    # that is (a name told by its capital alone, "Does Zara …?"): the answer
    # then says which names the sources leave out before quoting the rest.
    missing: tuple[str, ...] = ()
    unmentioned: tuple[str, ...] = ()
    # The first ``listed`` hits are the items of a list the question asks for
    # ("the three differences"), in the article's order: one point each.
    listed: int = 0
    # A follow-up that asks for more ("Tell me more"): searched twice as deep, its
    # answer leaves out what the answers before it quoted, ``said`` (``kb.answer.said``).
    more: bool = False
    said: frozenset[str] = frozenset()
    # A follow-up that asks for it in short ("In short?"): its answer is the gist,
    # a sentence from each of the best few passages.
    brief: bool = False
    # Greetings or thanks alone ("Obrigada!"): nothing is asked, so nothing is quoted.
    courtesy: bool = False
    # The index's bar for a generated sentence's support (``kb.answer.support``), for answerers that check it.
    support: SupportCalibration | None = None
    # The query's vector and the index's sentences' vectors (both as queries):
    # a quote's sentences are chosen by their closeness to the question too.
    query_vector: np.ndarray | None = field(default=None, compare=False, repr=False)
    sentence_vectors: Mapping[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    # The corpus's topic terms: shared with the question, they tell no sentence from another.
    topic_terms: frozenset[str] = frozenset()
    # The query's index terms, and whether it asks for an amount ("how much"): the quotes answer these.
    terms: frozenset[str] = frozenset()
    asks_amount: bool = False


class Answerer(Protocol):
    mode: str

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]: ...


def read(hit: Hit) -> Quotable:
    """``hit``'s passage as read for quoting (``kb.search.quotable.readied``)."""
    if hit.quotable is None:
        raise ValueError(f"passage {hit.chunk.id} was not read for quoting (kb.search.quotable.readied)")
    return hit.quotable


def answer_once(answerer: Answerer, request: AnswerRequest) -> Answer:
    final: Answer | None = None
    for item in answerer.stream(request):
        if isinstance(item, Answer):
            final = item
    assert final is not None, "an answerer's stream ends with the Answer"
    return final


def not_covered(request: AnswerRequest, mode: str) -> Answer:
    return quoted(request, mode, (), ())


def quoted(request: AnswerRequest, mode: str, points: Sequence[str], citations: tuple[Citation, ...]) -> Answer:
    """The answer of quoted ``points`` (one a line, citing ``citations``) after
    its lead-in; without points, the reply that says why nothing is quoted."""
    refusal = None if points else _refusal(request)
    opening = _opening(request, refusal)
    return Answer(
        question=request.question.text,
        language=request.language,
        answered=bool(points),
        mode=mode,
        answer="\n".join([opening, *points]),
        citations=citations if points else (),
        passages=request.hits,
        timings_ms=dict(request.timings_ms),
        standalone_query=request.query,
    )


def _refusal(request: AnswerRequest) -> str:
    """Why nothing is quoted: nothing asked ("Thanks!"), nothing more to say ("Tell me
    more" once the answers have quoted all that the sources say on it), or nothing found."""
    if request.courtesy:
        return "courtesy"
    return "nothing_more" if request.more and request.covered else "not_covered"


def lead_in(request: AnswerRequest) -> str:
    """The answer's opening words: what the sources say, and which names they leave out."""
    return _opening(request, None)


def _opening(request: AnswerRequest, refusal: str | None) -> str:
    """The system's own words, in the question's language: the answer's lead-in
    (which names the sources leave out, then what they say), or, where nothing
    is quoted, the ``refusal`` (the names the sources never mention, if any)."""
    language = request.language
    if refusal is None and request.unmentioned:
        return message("partly_covered", language).format(names=listing(request.unmentioned, language))
    if refusal is None:
        return message("lead_in", language)
    if request.missing:
        return message("not_mentioned", language).format(names=listing(request.missing, language))
    return message(refusal, language)


def answered(request: AnswerRequest, mode: str, text: str, citations: tuple[Citation, ...]) -> Answer:
    """The answer to a covered question, citing exactly ``citations``."""
    return Answer(
        question=request.question.text,
        language=request.language,
        answered=True,
        mode=mode,
        answer=text,
        citations=citations,
        passages=request.hits,
        timings_ms=dict(request.timings_ms),
        standalone_query=request.query,
    )
