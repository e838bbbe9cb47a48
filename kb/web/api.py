"""The JSON API of docs/contract.md: ``/api/ask``, ``/api/health``, ``/api/sources``, ``/api/examples``.

Every error leaves as ``{"error": {"code", "message"}}`` with the status the
contract names; the messages are the ones the CLI prints, except a fault of the
server's, whose message (naming its paths and addresses) goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.errors import InputError, KBError, error_body, shown_to_client
from kb.i18n.lookup import WIDGET, widget_strings
from kb.question import validate_language
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.web import openai_compat, stream
from kb.web.field_errors import ASK_FIELDS, MAX_EXAMPLES, describe_invalid, shown
from kb.web.guard import charge_question, install_guards
from kb.web.paths import API_ROOT, CanonicalApiPath
from kb.web.schemas import AnswerResponse, AskRequest, error_responses
from kb.web.slow_clients import BodyDeadline

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
# The chat's own routes carry the browser's signed copy of the conversation
# (at most 1 MB, about 1.5 MB once Gradio has encoded it: MAX_COPY_BYTES).
CHAT_BODY_BYTES = 2 * 1024 * 1024
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Example questions a client asks for by default (at most: MAX_EXAMPLES).
EXAMPLES = 3


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


# -- routes -------------------------------------------------------------------
router = APIRouter(prefix="/api")


def _kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


ASK_ERRORS = error_responses(400, 403, 413, 422, 429, 503)


@router.post(
    "/ask",
    summary="Answer a question with cited passages",
    response_model=None,
    responses={200: {"model": AnswerResponse, "description": "The answer object"}, **ASK_ERRORS},
)
def ask(body: AskRequest, request: Request) -> dict[str, Any]:
    kb = _kb(request)
    question = body.to_question(request, kb.settings)
    charge_question(request, question.text)
    return kb.ask(question).to_dict()


@router.get("/health", summary="Index status", responses=error_responses(503))
def health(request: Request) -> dict[str, Any]:
    report = _kb(request).health()
    # A request must fit the body's cap as well as the history's: 20 turns of 8,000 characters do not.
    report.setdefault("limits", {})["body_bytes"] = MAX_BODY_BYTES
    return report


@router.get("/sources", summary="The indexed documents", responses=error_responses(503))
def sources(request: Request) -> list[dict[str, Any]]:
    return _kb(request).sources()


@router.get(
    "/sources/{source:path}",
    summary="One cleaned document; passage offsets index into `text`",
    responses=error_responses(404, 503),
)
def source(source: str, request: Request) -> dict[str, Any]:
    return _kb(request).document(source).to_dict()


@router.get(
    "/examples",
    summary="Questions the articles ask themselves, to suggest what to ask",
    responses=error_responses(422, 503),
)
def examples(request: Request, language: str | None = None, limit: int = EXAMPLES) -> dict[str, Any]:
    """The articles' question headings, a few from each article in turn; for a reader of
    ``language``, those in their language first, then those in their script."""
    if not 1 <= limit <= MAX_EXAMPLES:
        raise InputError(f"`limit` must be a whole number from 1 to {MAX_EXAMPLES}.")
    reader = validate_language(language)
    return {"examples": _kb(request).example_questions(limit, reader)}


@router.get(
    "/widget/strings/{language}",
    summary="The chat widget's labels in a language, by name",
    responses=error_responses(404),
)
def widget_labels(language: str) -> JSONResponse:
    strings = widget_strings(language)
    if strings is None:
        known = ", ".join(sorted(WIDGET))
        raise HTTPException(404, f"No widget labels for {language[:20]!r} here; here: {known}.")
    # The labels change only with an upgrade: a day's caching spares the blog's readers a request per page.
    # They are as public as widget.js, which any page may load: a page whose origin may not ask
    # questions still reads them, and says that it cannot reach the assistant in its own language.
    return JSONResponse(
        {"language": language.strip().casefold(), "strings": dict(strings)},
        headers={"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"},
    )


def _answer_head_requests(api: APIRouter) -> None:
    """Every read answers HEAD as well, as a web server's pages do: monitors and
    ``curl -I`` check /api/health so (HEAD is left out of the API's schema)."""
    for route in list(api.routes):
        if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
            path = route.path.removeprefix(api.prefix)
            name = f"{route.name}_head"
            api.add_api_route(path, route.endpoint, methods=["HEAD"], include_in_schema=False, name=name)


_answer_head_requests(router)


# -- errors -------------------------------------------------------------------
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "headers_too_large",
}
_NOT_JSON = 'The request body is not valid JSON. Send an object such as {"question": "…"}.'


def _describe(errors: list[Any]) -> tuple[int, str, str]:
    """Status, code and a readable message for pydantic's validation errors of a request."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "malformed_json", _NOT_JSON
    return 422, "invalid_request", describe_invalid(errors, ASK_FIELDS, "See /docs for the request format.")


def _unparsable(cause: BaseException | None) -> str:
    """A message for a body FastAPI could not parse (its own message says only that)."""
    if isinstance(cause, RecursionError):
        return (
            "The request body is nested too deeply to read. "
            'Send an object such as {"question": "…"}; nothing in a request is nested more than three levels.'
        )
    if isinstance(cause, UnicodeDecodeError):
        return (
            f"The request body is not valid UTF-8 (byte {cause.start} cannot be decoded). "
            "Send the JSON encoded as UTF-8."
        )
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "The request body has a number too long to read; `top_k` is a whole number from 1 to 20."
    return _NOT_JSON


_FASTAPI_PARSE_ERROR = "There was an error parsing the body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KBError)
    async def _kb_error(request: Request, exc: KBError) -> JSONResponse:
        return error_response(exc.http_status, exc.code, shown_to_client(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _describe(list(exc.errors()))
        return error_response(status, code, message)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _FASTAPI_PARSE_ERROR:
            return error_response(400, "malformed_json", _unparsable(exc.__cause__))
        code = _HTTP_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(500, "internal_error", "Something went wrong on the server; the log has the details.")


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` on the API's routes, and over ``chat_bytes`` on
    every other (the chat's queue, upload and run routes), with a 413 in the error shape, before
    the body is read.

    A declared ``Content-Length`` over the limit is refused at once. A chunked body is counted
    as it arrives: once over, the 413 is sent from here and the route reads a disconnect (so it
    stops, whatever framework it is), and whatever it would answer is dropped.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, chat_bytes: int = CHAT_BODY_BYTES, prefix: str = "/"
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.chat_bytes = chat_bytes
        self.prefix = prefix

    @staticmethod
    def _message(limit: int) -> str:
        return f"The request body is larger than {limit // 1024} KiB; send a shorter question and history."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes if scope["path"].startswith(API_ROOT) else self.chat_bytes
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            log.info("refused a body of %s bytes to %s", int(length), shown(scope["path"], 100))
            await error_response(413, "payload_too_large", self._message(limit))(scope, receive, send)
            return
        received = 0
        started = False
        refused = False

        async def limited() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    log.info("refused a chunked body over %d bytes to %s", limit, shown(scope["path"], 100))
                    if started:  # too late for a 413: end the request as if the client had gone
                        return {"type": "http.disconnect"}
                    await error_response(413, "payload_too_large", self._message(limit))(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited, send_unless_refused)


class NativeErrors:
    """A ``BaseException`` that is not an ``Exception`` (a native library's panic: pyo3's
    ``PanicException``) passes Starlette's handlers by, and its client got a plain-text 500:
    it gets the error shape. Ctrl-C, exits and cancellation go on as they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except (Exception, KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError):
            raise
        except BaseException:
            log.error("native error on %s", scope.get("path"), exc_info=True)
            if not started:
                message = "Something went wrong on the server; the log has the details."
                await error_response(500, "internal_error", message)(scope, receive, send)


# -- the app ------------------------------------------------------------------
def _warm_up(kb: KnowledgeBase) -> None:
    if kb.model_server is not None:
        # Said once at startup: otherwise a wrong key or model shows only as a
        # warning per answer, each falling back to quotes.
        server = kb.model_server.status()
        if server.state == "ok":
            log.info("model server ready (model %s)", server.model)
        else:
            log.warning(
                "model server %s (model %s): %s; answers fall back to quotes", server.state, server.model, server.detail
            )
    try:
        kb.warm_up()
        kb.example_questions()  # chosen now: the chat page and the widget ask for them at every load
        kb.watch()  # each new generation loads in the background, before it answers
        log.info("knowledge base ready")
    except KBError as exc:  # no index yet: requests will say so
        log.warning("not warmed up: %s", exc)


def create_api(settings: Settings, kb: KnowledgeBase | None = None) -> FastAPI:
    """The JSON API; the knowledge base warms up in the background at startup."""
    if kb is None:
        kb = KnowledgeBase(settings)
    base = kb

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=_warm_up, args=(base,), name="kb-warm-up", daemon=True).start()
        yield

    app = FastAPI(
        title="omnikb",
        description="A multilingual knowledge base that answers with verbatim, cited passages (see CONTRACT.md).",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.kb = kb
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(NativeErrors)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)  # every route: the chat, mounted on it, too
    app.add_middleware(BodyDeadline, timeout=settings.request_timeout)
    # Guards (CORS allowlist, rate limiting) are installed here, after the size limit.
    install_guards(app, settings, openai_compat.guarded_paths(settings))  # /v1 as /api
    app.include_router(router)
    app.include_router(stream.router)
    openai_compat.install(app, settings)  # /v1, when KB_OPENAI_API is on
    _add_api_not_found(app)  # keep last: it answers every /api/ path no route above took
    # Added last, so it runs first: the guards and the routes see `//api/ask` as `/api/ask`.
    app.add_middleware(CanonicalApiPath, schema=app.openapi)
    return app


class _AnyCaseRoute(APIRoute):
    """A route whose path matches in any case and with any method: the catch-all takes ``/API/health``,
    and ``TRACE`` or ``PROPFIND /api/health``, from the chat's mount (it answered ``{"detail": …}``)."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.path_regex = re.compile(self.path_regex.pattern, re.IGNORECASE)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        return (Match.FULL, child) if match == Match.PARTIAL else (match, child)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)  # the endpoint itself says which methods the path takes


def _add_api_not_found(app: FastAPI) -> None:
    """Unknown ``/api/…`` paths, and ``/api`` itself, in any case, get the error shape (the
    chat, mounted at ``/``, would answer them with its own ``{"detail": …}``)."""

    def _not_found(request: Request) -> None:
        path = shown(request.url.path, 100)
        allowed = [m for m in METHODS if m != request.method and _routed(request.scope, m, catch_all)]
        if allowed:
            raise HTTPException(
                405,
                f"{path} does not accept {request.method}; use {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        meant = _meant(request, catch_all)
        hint = f" Paths are case-sensitive: did you mean {shown(meant, 100)}?" if meant else ""
        raise HTTPException(404, f"No API endpoint {request.method} {path}.{hint} See /docs for the endpoints.")

    for path in (API_ROOT, API_ROOT + "/{rest:path}"):
        app.router.add_api_route(
            path, _not_found, methods=list(METHODS), include_in_schema=False, route_class_override=_AnyCaseRoute
        )
    catch_all = tuple(app.router.routes[-2:])


def _meant(request: Request, catch_all: tuple[BaseRoute, ...]) -> str | None:
    """The endpoint a wrong-case path (``/API/health``, ``/api/Health``) means, if any."""
    path = str(request.scope["path"])
    for candidate in (API_ROOT + path[len(API_ROOT) :], path.lower()):
        if candidate != path and any(_routed({**request.scope, "path": candidate}, m, catch_all) for m in METHODS):
            return candidate
    return None


def _routed(scope: Scope, method: str, catch_all: tuple[BaseRoute, ...]) -> bool:
    """Whether a route before ``catch_all`` (the ones that can take an /api/ path) takes ``scope`` with ``method``."""
    scope = {**scope, "method": method}
    for route in scope["app"].router.routes:
        if any(route is last for last in catch_all):
            return False
        if route.matches(scope)[0] == Match.FULL:
            return True
    return False
