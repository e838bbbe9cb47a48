"""``POST /v1/chat/completions`` and ``GET /v1/models``: the knowledge base as an OpenAI-compatible model.

Chat front ends that speak the OpenAI chat API (Open WebUI, LibreChat, LM Studio…)
reach omnikb as a model named ``omnikb`` (docs/integrations.md). The last user
message is the question and the earlier user and assistant messages its history,
as the chat reads a conversation: its last ``KB_MAX_HISTORY_TURNS`` turns, the
same rules as ``POST /api/ask`` (``validate_question``), the same rate limit
(``kb.web.guard``), the same answerability and refusals (``KnowledgeBase``).
System and developer messages are read past: the answer comes from the sources.

The answer's text carries ``[n]`` markers; the sources follow it as a numbered
list (title, file, and the post's URL when it is known), and as the structured
``citations`` of the contract on the message (on the last chunk's ``delta`` when
streamed), which clients may ignore. Streamed, pieces arrive as OpenAI's
``chat.completion.chunk`` events and end with ``data: [DONE]``.

Off unless ``KB_OPENAI_API=true``; with ``KB_OPENAI_API_KEY`` set, a request
without ``Authorization: Bearer <key>`` gets 401. A page in a browser may call it as it
calls ``/api``: the same ``KB_ALLOWED_ORIGINS`` allow-list and preflight (``kb.web.guard``,
``guarded_paths``), which lets the page send ``Authorization``. Errors are the contract's
``{"error": {"code", "message"}}`` with OpenAI's ``type`` and ``param`` beside
them, so an OpenAI client reads them as its own (docs/api.md).
"""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from kb.answer.links import citation_link
from kb.errors import KBError, error_body, shown_to_client
from kb.i18n.lookup import message
from kb.models import CORRECTION_SEPARATOR, Answer, Citation, Correction, Question
from kb.question import validate_question
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.text import language as lang
from kb.web.guard import ALLOW_HEADERS, GuardedPaths, charge_question
from kb.web.stream import SSE_HEADERS

log = logging.getLogger(__name__)

PREFIX = "/v1"
MODEL_ID = "omnikb"
COMPLETIONS = PREFIX + "/chat/completions"
MODELS = PREFIX + "/models"
ROUTES = {COMPLETIONS: "POST", MODELS: "GET"}
MODEL = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "omnikb"}
# Roles a conversation may hold: system and developer messages are read past.
INSTRUCTION_ROLES = frozenset({"system", "developer"})
TURN_ROLES = frozenset({"user", "assistant"})
# The numbered sources this endpoint appends to an answer ("\n\nSources:\n1. …"), taken off
# again when a client sends the answer back as history: they are not what was said.
UNEXPECTED = "Something went wrong on the server; the log has the details."
# A history turn's field, as ``validate_question`` names it: ``history[1].content``.
_HISTORY_FIELD = re.compile(r"^history\[(\d+)\](\.\w+)?")
_SOURCES_BLOCK = re.compile(r"\n\n[^\n]{1,60}:\n1\. [^\n]* — [^\n]*(?:\n\d+\. [^\n]* — [^\n]*)*\s*\Z")


def is_v1_path(path: str) -> bool:
    """Whether ``path`` is this endpoint's to answer (the chat's guards let it by)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


class OpenAIError(Exception):
    """A request this endpoint refuses: its status, code, message and the field at fault."""

    def __init__(self, status: int, code: str, text: str, param: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.code = code
        self.param = param


def error_payload(status: int, code: str, text: str, param: str | None = None) -> dict[str, Any]:
    """The contract's error object, with OpenAI's ``type`` and ``param`` beside ``code`` and ``message``."""
    body = error_body(code, text)
    body["error"]["type"] = "server_error" if status >= 500 else "invalid_request_error"
    body["error"]["param"] = param
    return body


def error_bytes(status: int, code: str, text: str) -> bytes:
    """``error_payload`` as the UTF-8 JSON a raw response carries (the guards' refusals)."""
    return json.dumps(error_payload(status, code, text), ensure_ascii=False).encode("utf-8")


def guarded_paths(settings: Settings) -> list[GuardedPaths]:
    """What the guards cover here when the endpoint is on: its paths follow ``KB_ALLOWED_ORIGINS``
    as ``/api`` does, a page may send its key (``Authorization``), and a refusal is OpenAI's shape."""
    if not settings.openai_api:
        return []
    return [GuardedPaths(covers=is_v1_path, allow_headers=ALLOW_HEADERS + ", Authorization", error=error_bytes)]


def error_response(
    status: int, code: str, text: str, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_payload(status, code, text, param), status_code=status, headers=headers)


def _from_kb_error(exc: KBError) -> JSONResponse:
    return error_response(exc.http_status, exc.code, shown_to_client(exc))


# -- the request ----------------------------------------------------------------


@dataclass(frozen=True)
class ChatRequest:
    question: Question
    stream: bool


def _text(content: Any, where: str, role: str) -> str:
    """A message's content as text: a string, or a list of text parts (joined)."""
    if isinstance(content, str):
        return content
    if content is None and role == "assistant":  # an assistant turn that only called tools
        return ""
    if isinstance(content, list):
        parts: list[str] = []
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text" or not isinstance(part.get("text"), str):
                shown = f'a "{kind}" part' if isinstance(kind, str) else "not a text part"
                raise OpenAIError(
                    400,
                    "invalid_request",
                    f'`{where}[{j}]` is {shown[:60]}; omnikb reads text only: {{"type": "text", "text": "…"}}.',
                    f"{where}[{j}]",
                )
            parts.append(part["text"])
        return "\n".join(parts)
    raise OpenAIError(400, "invalid_request", f"`{where}` must be a string (or a list of text parts).", where)


def parse_request(raw: bytes, settings: Settings, accept_language: str | None) -> ChatRequest:
    """The checked question of a chat completion request, or ``OpenAIError``."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise OpenAIError(
            400, "malformed_json", 'The request body is not valid JSON. Send {"model": "omnikb", "messages": […]}.'
        ) from None
    if not isinstance(body, dict):
        raise OpenAIError(400, "invalid_request", 'The request body must be a JSON object: {"model", "messages"}.')
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        wrong = f'`model` must be a string: this server\'s model is "{MODEL_ID}".'
        raise OpenAIError(400, "invalid_request", wrong, "model")
    if model is None or not model.strip():
        needed = f'`model` is required: this server\'s model is "{MODEL_ID}".'
        raise OpenAIError(400, "invalid_request", needed, "model")
    if model.strip() != MODEL_ID:
        raise OpenAIError(
            404,
            "model_not_found",
            f'No model {model[:60]!a} here: this server\'s one model is "{MODEL_ID}" (GET {MODELS}).',
            "model",
        )
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise OpenAIError(400, "invalid_request", "`stream` must be true or false.", "stream")
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):
        raise OpenAIError(400, "invalid_request", "`n` must be 1: omnikb gives one answer to a question.", "n")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise OpenAIError(
            400,
            "invalid_request",
            '`messages` must be a non-empty list of {"role", "content"} objects, the last one the user\'s question.',
            "messages",
        )
    turns: list[dict[str, str]] = []
    positions: list[int] = []  # each turn's index in `messages`
    for i, item in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise OpenAIError(400, "invalid_request", f'`{where}` must be an object {{"role", "content"}}.', where)
        role = item.get("role")
        if role in INSTRUCTION_ROLES:
            _text(item.get("content"), f"{where}.content", str(role))
            continue
        if role not in TURN_ROLES:
            shown = ascii(role[:30]) if isinstance(role, str) else "missing"
            raise OpenAIError(
                400,
                "invalid_request",
                f'`{where}.role` is {shown}: omnikb reads "user" and "assistant" messages '
                '(and reads past "system" and "developer" ones); it calls no tools.',
                f"{where}.role",
            )
        content = _text(item.get("content"), f"{where}.content", role)
        if role == "assistant":
            content = _SOURCES_BLOCK.sub("", content)
        turns.append({"role": role, "content": content})
        positions.append(i)
    if not turns or turns[-1]["role"] != "user":
        raise OpenAIError(
            400,
            "invalid_request",
            'The last message must be the user\'s question (role "user").',
            "messages",
        )
    kept = slice(max(0, len(turns) - 1 - settings.max_history_turns), len(turns) - 1)
    question, history = turns[-1]["content"], turns[kept]
    try:
        checked = validate_question(question, history, None, None, settings)
    except KBError as exc:
        raise _in_messages(exc, positions[kept]) from None
    checked = replace(checked, reader_language=lang.preferred(accept_language))
    return ChatRequest(question=checked, stream=bool(stream))


def _in_messages(error: KBError, positions: list[int]) -> OpenAIError:
    """``validate_question``'s refusal, naming the caller's own field: the history turn
    ``history[1].content`` is ``messages[2].content`` when a system message came first."""
    text, param = shown_to_client(error), "messages"
    found = _HISTORY_FIELD.match(text)
    if found is not None and int(found.group(1)) < len(positions):
        param = f"messages[{positions[int(found.group(1))]}]{found.group(2) or ''}"
        text = f"`{param}`{text[found.end() :]}"
    return OpenAIError(400, error.code, text, param)


# -- the answer -----------------------------------------------------------------


def citation_dict(citation: Citation) -> dict[str, Any]:
    """The contract's citation (with its post's ``url``, or null)."""
    return citation.to_dict()


def sources_text(answer: Answer) -> str:
    """The numbered sources under an answer: ``1. Title — file — <url>``, the link opening the
    post at the quoted words where it can; empty without citations."""
    if not answer.citations:
        return ""
    lines = [message("sources", answer.language) + ":"]
    for citation in answer.citations:
        title = " ".join(citation.chunk.title.split()) or citation.chunk.source
        source = " ".join(citation.chunk.source.split())
        line = f"{citation.id}. {title} — {source}"
        url = citation_link(citation, answer.answer)
        if url:
            line += f" — <{url}>"
        lines.append(line)
    return CORRECTION_SEPARATOR + "\n".join(lines)


def _completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex


def completion(answer: Answer) -> dict[str, Any]:
    """The whole answer as one ``chat.completion``."""
    return {
        "id": _completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": answer.answer + sources_text(answer),
                    "refusal": None,
                    "citations": [citation_dict(c) for c in answer.citations],
                },
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
    }


def _data(payload: Any) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def completion_chunks(kb: KnowledgeBase, question: Question) -> Iterator[str]:
    """The answer as ``chat.completion.chunk`` events while it is written, then ``data: [DONE]``.

    A correction (a generated answer that fell back, say) cannot take back what a client has
    shown: it follows, labelled, as the terminal shows it. An error once streaming has begun is
    ``data: {"error": …}``, which OpenAI clients raise, and ends the stream."""
    ident, created = _completion_id(), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _data(
            {"id": ident, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID, "choices": [choice]}
        )

    stream = kb.stream(question)
    try:
        # The question's retrieval is done before the first byte, as /api/ask/stream does it: a
        # client that reads a chunk and goes leaves no retrieval under way, holding its address's turn.
        first = next(stream, None)
        yield chunk({"role": "assistant", "content": ""})
        for item in itertools.chain(() if first is None else (first,), stream):
            if isinstance(item, Answer):
                sources = sources_text(item)
                if sources:
                    yield chunk({"content": sources})
                yield chunk({"citations": [citation_dict(c) for c in item.citations]}, "stop")
            elif isinstance(item, Correction):
                label = message("corrected", item.language)
                yield chunk({"content": f"{CORRECTION_SEPARATOR}{label}\n\n{item[len(CORRECTION_SEPARATOR) :]}"})
            elif item:
                yield chunk({"content": str(item)})
        yield "data: [DONE]\n\n"
    except KBError as exc:
        yield _data(error_payload(exc.http_status, exc.code, shown_to_client(exc)))
    except Exception:
        log.exception("unexpected error while streaming a chat completion")
        yield _data(error_payload(500, "internal_error", UNEXPECTED))
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()


# -- the routes -----------------------------------------------------------------


def _authorised(request: Request, key: str | None) -> JSONResponse | None:
    """None when the request may go on; else the 401 a missing or wrong key gets."""
    if not key:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), key.encode()):
        return None
    text = (
        "Incorrect API key: send this server's key (KB_OPENAI_API_KEY) as the bearer token."
        if header
        else "No API key: send this server's key (KB_OPENAI_API_KEY) as `Authorization: Bearer <key>`."
    )
    return error_response(401, "invalid_api_key", text, headers={"WWW-Authenticate": "Bearer"})


def install(app: FastAPI, settings: Settings) -> None:
    """Add the ``/v1`` routes when ``KB_OPENAI_API`` is on; in any case, every other ``/v1`` path
    answers in the error shape (the chat, mounted at ``/``, would answer it with a page)."""
    if settings.openai_api:
        key = settings.openai_api_key

        async def chat_completions(request: Request) -> Any:
            refused = _authorised(request, key)
            if refused is not None:
                return refused
            kb: KnowledgeBase = request.app.state.kb
            try:
                parsed = parse_request(await request.body(), kb.settings, request.headers.get("accept-language"))
            except OpenAIError as exc:
                return error_response(exc.status, exc.code, str(exc), exc.param)
            charge_question(request, parsed.question.text)
            try:
                if not parsed.stream:
                    return completion(await run_in_threadpool(kb.ask, parsed.question))
                await run_in_threadpool(kb.retriever.index)  # no index yet: a 503 before any event
            except KBError as exc:
                return _from_kb_error(exc)
            return StreamingResponse(
                completion_chunks(kb, parsed.question), media_type="text/event-stream", headers=SSE_HEADERS
            )

        async def models(request: Request) -> Any:
            refused = _authorised(request, key)
            if refused is not None:
                return refused
            return {"object": "list", "data": [MODEL]}

        async def model(name: str, request: Request) -> Any:
            refused = _authorised(request, key)
            if refused is not None:
                return refused
            if name != MODEL_ID:
                text = f'No model {name[:60]!a} here: this server\'s one model is "{MODEL_ID}" (GET {MODELS}).'
                return error_response(404, "model_not_found", text, "model")
            return MODEL

        app.add_api_route(COMPLETIONS, chat_completions, methods=["POST"], summary="OpenAI-compatible chat answer")
        # Reads answer HEAD as /api's do (HEAD is left out of the schema).
        app.add_api_route(MODELS, models, methods=["GET"], summary="The one model: omnikb")
        app.add_api_route(MODELS, models, methods=["HEAD"], include_in_schema=False, name="models_head")
        app.add_api_route(MODELS + "/{name}", model, methods=["GET"], summary="A model by its id: omnikb")
        app.add_api_route(MODELS + "/{name}", model, methods=["HEAD"], include_in_schema=False, name="model_head")
        log.info("OpenAI-compatible API on %s%s", PREFIX, " (with a key)" if key else "")

    on = settings.openai_api

    async def elsewhere(request: Request) -> JSONResponse:
        path = request.url.path
        shown = ascii(path[:100])[1:-1]
        if not on:  # no OpenAI API here: the contract's error shape alone
            off = "The OpenAI-compatible API is off on this server; its owner turns it on with KB_OPENAI_API=true."
            return JSONResponse(error_body("not_found", off), status_code=404)
        allowed = ROUTES.get(path.rstrip("/"))
        if allowed == request.method:  # a trailing slash
            meant = path.rstrip("/")
            return error_response(404, "not_found", f"No endpoint {shown}; did you mean {meant}?")
        if allowed is not None:
            return error_response(
                405,
                "method_not_allowed",
                f"{shown} does not accept {request.method}; use {allowed}.",
                headers={"Allow": allowed},
            )
        return error_response(
            404, "not_found", f"No endpoint {request.method} {shown}; here: POST {COMPLETIONS}, GET {MODELS}."
        )

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    for path in (PREFIX, PREFIX + "/{rest:path}"):
        app.add_api_route(path, elsewhere, methods=methods, include_in_schema=False)
