"""The API's request bodies and its answers, as docs/contract.md names them (and /openapi.json shows)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from kb.models import Question
from kb.question import validate_question
from kb.settings import Settings
from kb.text import language as lang


class HistoryTurn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: str = Field(description='"user" or "assistant"')
    content: str


class AskRequest(BaseModel):
    """The request of docs/contract.md; the rules are checked by ``validate_question``.

    An unknown field is refused (422 naming it) rather than ignored, so a typo such
    as ``topk`` does not pass silently.
    """

    model_config = ConfigDict(strict=True, extra="forbid")

    question: str = Field(description="1..2000 characters after trimming", examples=["What is omnichannel?"])
    history: list[HistoryTurn] | None = Field(default=None, description="earlier turns, oldest first, at most 20")
    top_k: int | None = Field(default=None, description="passages to retrieve, 1..20 (default 5)")
    language: str | None = Field(default=None, description="ISO 639-1 code overriding detection")

    def to_question(self, request: Request, settings: Settings) -> Question:
        """The checked question, in the reader's language (their browser's
        ``Accept-Language``) when it is too short to tell its own."""
        history = None if self.history is None else [turn.model_dump() for turn in self.history]
        question = validate_question(self.question, history, self.top_k, self.language, settings)
        return replace(question, reader_language=lang.preferred(request.headers.get("accept-language")))


# -- responses, as /openapi.json describes them --------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="What went wrong, for a program: `invalid_request`, `rate_limited`…")
    message: str = Field(description="What went wrong and what to do next, for a person")


class ErrorResponse(BaseModel):
    """docs/contract.md's one error object, whatever the status."""

    error: ErrorDetail


_ERRORS = {
    400: "The body is not JSON (`malformed_json`), or a header is malformed",
    403: "A page of an origin not in KB_ALLOWED_ORIGINS (`origin_not_allowed`)",
    404: "No such source, labels or endpoint (`not_found`)",
    413: "The body is over 64 KiB (`payload_too_large`)",
    422: "A rule of the request is broken (`invalid_request`); the message names the field",
    429: "Too many questions (`rate_limited`); `Retry-After` says how many seconds to wait",
    503: "No index yet (`index_missing`), or the index is unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``statuses``, each in the error shape. Declaring 422 (or
    ``default``, which every route gets) keeps FastAPI from declaring its own validation
    error (``{"detail": […]}``), which this API never answers."""
    declared: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorResponse, "description": _ERRORS[status]} for status in statuses
    }
    declared["default"] = {"model": ErrorResponse, "description": "Any other error, in the same shape"}
    return declared


class _Located(BaseModel):
    """Where a passage's text is: ``document[start:end]`` of the cleaned document ``source``."""

    source: str
    title: str
    language: str
    text: str
    start: int
    end: int


class Alternative(_Located):
    """The same passage in another language's version of the article."""

    chunk_id: str
    url: str | None


class Passage(_Located):
    """A retrieved passage: ``text`` is ``document[start:end]`` of the cleaned document ``source``."""

    id: int = Field(description="1..n: a citation's number, or a passage's rank")
    score: float
    chunk_id: str
    heading: str
    url: str | None = Field(description="the post's public address, or null")
    alternatives: list[Alternative]
    support: float | None = Field(
        default=None, description="a generated answer's citations only: 0..1, how well it is said"
    )


class AnswerResponse(BaseModel):
    """The answer object of docs/contract.md."""

    question: str
    language: str = Field(description="ISO 639-1 code of the question")
    answered: bool = Field(description="false when the sources do not cover the question")
    mode: str = Field(description='"extractive" or "generative"')
    answer: str = Field(description="the answer, with [n] markers referring to citations[].id")
    citations: list[Passage]
    passages: list[Passage] = Field(description="every retrieved passage, best first")
    timings_ms: dict[str, float]
    standalone_query: str
    fallback: bool
    notice: str | None = None
