"""The API's request bodies, as docs/contract.md names them."""

from __future__ import annotations

from dataclasses import replace

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
