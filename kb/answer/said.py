"""What a conversation has already quoted, for a follow-up that asks for more.

"Tell me more" after "How do I become omnichannel?" asks for what the answer
did not say: 002's steps, quoted word for word a second time, tell the reader
nothing. Such a follow-up (``AnswerRequest.more``) is searched twice as deep;
its answer leaves out the passages the conversation's answers quoted whole,
and the sentences they quoted. A follow-up that names what
it asks ("And how is the stock problem solved?") is answered in full, even by
what was quoted before.
"""

from __future__ import annotations

from dataclasses import replace

from kb.answer.base import POINT_MARGIN, AnswerRequest, read
from kb.answer.links import quoted_segments
from kb.models import Hit, Question
from kb.text.sentences import ASKS


def leave_out_said(request: AnswerRequest) -> AnswerRequest:
    """``request`` with ``said`` set and its passages cut to the question's
    ``top_k``: those none of whose sentences was quoted first, then those
    quoted in part (what the answer left out of them, it judged less to the
    point), each in their order; none quoted whole. Only passages that would
    have been a point beside the best one (``POINT_MARGIN``) say more of the
    same: "Conta mais" after the cataplana's recipe went on to the duck's.
    None left: the sources say nothing more on it."""
    if not request.more:
        return request
    said = said_before(request.question)
    quoted = [[was_said(s, said) for s in _statements(hit)] for hit in request.hits]
    untouched = tuple(hit for hit, marks in zip(request.hits, quoted, strict=True) if not any(marks))
    partly = tuple(hit for hit, marks in zip(request.hits, quoted, strict=True) if any(marks) and not all(marks))
    best = max((hit.score for hit in request.hits), default=0.0)
    more = tuple(hit for hit in untouched + partly if hit.score >= best - POINT_MARGIN)
    return replace(request, said=said, hits=more[: request.question.top_k])


def said_before(question: Question) -> frozenset[str]:
    """What the conversation's answers quoted, as their quotes' pieces
    (whitespace made single): the reader has read them all. "Tell me more"
    after "And the challenges?" after "What is an omnichannel strategy?"
    quoted the first answer's benefits again, and "Why?" after "Tell me more"
    what "Tell me more" had just said. Nothing for a client that sends the
    user's turns alone."""
    return frozenset(
        " ".join(piece.split())
        for turn in question.history
        if turn.role == "assistant"
        for piece in quoted_segments(turn.content)
    )


def was_said(sentence: str, said: frozenset[str]) -> bool:
    text = " ".join(sentence.split())
    return bool(text) and any(text in piece for piece in said)


def _statements(hit: Hit) -> list[str]:
    """``hit``'s sentences as quoted (without a list's bullets), headings and questions aside."""
    passage = read(hit).whole
    return [s for s, bare in zip(passage.shown, passage.bare_shown, strict=True) if not bare and not ASKS.search(s)]


def all_said(hit: Hit, said: frozenset[str]) -> bool:
    """Whether every sentence of ``hit`` was quoted before (headings and
    questions aside): it has nothing new to say."""
    return bool(said) and all(was_said(s, said) for s in _statements(hit))
