"""``POST /api/ask/stream``: the answer as server-sent events while it is written.

Same request body and validation as ``POST /api/ask`` (a bad request gets the
same 4xx JSON error, before any event). Then ``200 text/event-stream``:

    event: token
    data: {"text": "Omnichannel connects "}

    event: answer
    data: {…the full contract object of docs/contract.md…}

``token`` events carry pieces of the answer as they are generated; ``answer``
comes last and is authoritative: when generation falls back (``fallback: true``),
the model says the sources do not cover the question, or a sentence citing only
passages that do not exist is dropped, pieces already sent are followed by a
blank line and the replacing text (a ``token`` event with ``"replaces": true``:
what streamed before it was provisional), and a client should show
``answer.answer`` in place of everything it streamed. No index yet is a 503
before any event, as for ``POST /api/ask``. An error once streaming has begun
arrives as ``event: error`` with the contract's error shape,
``{"error": {"code", "message"}}``, and ends the stream.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from kb.errors import KBError, error_body, shown_to_client
from kb.models import Answer, Correction, Question
from kb.service import KnowledgeBase
from kb.web.guard import charge_question
from kb.web.schemas import AskRequest, error_responses

log = logging.getLogger(__name__)

router = APIRouter()

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: Any) -> str:
    """One server-sent event; the data is one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_events(kb: KnowledgeBase, question: Question) -> Iterator[str]:
    """``token`` events, then ``answer``; or ``error`` if answering fails."""
    stream = kb.stream(question)
    try:
        for item in stream:
            if isinstance(item, Answer):
                yield sse("answer", item.to_dict())
            elif isinstance(item, Correction):
                # What streamed before was provisional: this replaces it (a client may strike it through).
                yield sse("token", {"text": str(item), "replaces": True})
            elif item:
                yield sse("token", {"text": item})
    except KBError as exc:
        yield sse("error", error_body(exc.code, shown_to_client(exc)))
    except Exception:
        log.exception("unexpected error while streaming an answer")
        yield sse("error", error_body("internal_error", "Something went wrong on the server; the log has the details."))
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()


@router.post(
    "/api/ask/stream",
    summary="Answer a question, streaming the text as server-sent events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "token… then answer (or error) events"},
        **error_responses(400, 403, 413, 422, 429, 503),
    },
)
def ask_stream(body: AskRequest, request: Request) -> StreamingResponse:
    kb: KnowledgeBase = request.app.state.kb
    question = body.to_question(request, kb.settings)
    charge_question(request, question.text)
    kb.retriever.index()  # no index yet: a 503 with the error shape, as /api/ask gives, before any event
    return StreamingResponse(answer_events(kb, question), media_type="text/event-stream", headers=SSE_HEADERS)
