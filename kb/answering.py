"""Answering behind one interface; the default quotes the sources verbatim.

An ``Answerer`` turns retrieved passages into an ``Answer``. ``stream`` yields
pieces of text as they are ready and ends with the full ``Answer``; the
extractive answerer has no model to wait for, so it yields its text at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kb.citations import renumber
from kb.i18n import message
from kb.lexical import tokenize
from kb.models import Answer, Citation, Hit, Question
from kb.text import sentence_spans

MAX_CITED = 3
SENTENCES_PER_PASSAGE = 2
MAX_QUOTE_CHARS = 420


@dataclass(frozen=True)
class AnswerRequest:
    question: Question
    language: str
    query: str
    hits: tuple[Hit, ...]
    covered: bool
    timings_ms: dict[str, float] = field(default_factory=dict)


class Answerer(Protocol):
    mode: str

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]: ...


def answer_once(answerer: Answerer, request: AnswerRequest) -> Answer:
    final: Answer | None = None
    for item in answerer.stream(request):
        if isinstance(item, Answer):
            final = item
    assert final is not None, "an answerer's stream ends with the Answer"
    return final


def not_covered(request: AnswerRequest, mode: str) -> Answer:
    return Answer(
        question=request.question.text,
        language=request.language,
        answered=False,
        mode=mode,
        answer=message("not_covered", request.language),
        citations=(),
        passages=request.hits,
        timings_ms=dict(request.timings_ms),
        standalone_query=request.query,
    )


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


def cited_hits(hits: Sequence[Hit]) -> list[int]:
    """Indexes of the passages worth citing: the best one, and the other
    passages of its article among the first few.

    Passages from other articles are ranked too noisily by a small model to be
    cited on rank alone (measured: adding them lowers citation precision);
    they stay listed under ``passages``.
    """
    if not hits:
        return []
    family = _family(hits[0])
    return [i for i, hit in enumerate(hits[:MAX_CITED]) if i == 0 or _family(hit) & family]


def _family(hit: Hit) -> set[str]:
    return {hit.chunk.source, *(alt.source for alt in hit.alternatives)}


def best_sentences(hit: Hit, query: str, limit: int = SENTENCES_PER_PASSAGE) -> str:
    """The passage's sentences that share most terms with the question, in order."""
    text = hit.chunk.text
    spans = sentence_spans(text)
    if not spans:
        return text.strip()
    terms = set(tokenize(query))
    scored = []
    for position, (start, end) in enumerate(spans):
        overlap = len(terms & set(tokenize(text[start:end])))
        length = end - start
        # Prefer overlap; among equals, earlier sentences (a paragraph's topic
        # sentence); skip bare headings when there is more to say.
        scored.append((overlap, -position - (10 if length < 40 and len(spans) > 1 else 0), start, end))
    chosen = sorted(sorted(scored, reverse=True)[:limit], key=lambda s: s[2])
    quote = " … ".join(" ".join(text[s:e].split()) for _, _, s, e in chosen)
    if len(quote) > MAX_QUOTE_CHARS:
        cut = quote.rfind(" ", 0, MAX_QUOTE_CHARS)
        quote = quote[: cut if cut > 0 else MAX_QUOTE_CHARS] + " …"
    return quote


class ExtractiveAnswerer:
    """Quotes the best sentences of the best passages, each with its marker."""

    mode = "extractive"

    def compose(self, request: AnswerRequest) -> Answer:
        if not request.covered or not request.hits:
            return not_covered(request, self.mode)
        lines = [message("lead_in", request.language)]
        for index in cited_hits(request.hits):
            quote = best_sentences(request.hits[index], request.query)
            lines.append(f"- “{quote}” [{index + 1}]")
        text, citations = renumber("\n".join(lines), request.hits)
        return answered(request, self.mode, text, citations)

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        answer = self.compose(request)
        yield answer.answer
        yield answer
