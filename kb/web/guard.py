"""What lets a blog on another site talk to the API, and no more.

``install_guards(app, settings)`` adds to the API app:

- a CORS allow-list for ``/api/*``, and for the other paths ``install_guards`` is
  given (``GuardedPaths``: ``/v1`` when it is on, whose errors are OpenAI's shape and
  whose preflight allows ``Authorization``): the server's own origin (the request's
  ``Host``), ``localhost``/``127.0.0.1``/``[::1]`` on any port, and the origins
  in ``KB_ALLOWED_ORIGINS``; ``*`` only when the owner lists it. Preflights are
  answered here; a disallowed origin gets no ``Access-Control-Allow-Origin`` and
  its POSTs are refused with 403 before they cost any work;
- a per-client-address sliding-window rate limit on ``POST /api/ask``,
  ``POST /api/ask/stream`` and ``POST /v1/chat/completions`` (``KB_RATE_LIMIT`` questions a minute; 0 turns it
  off) answering 429 with ``Retry-After`` and the contract's error shape. A
  question counts once per ``QUESTION_CHARS_PER_COUNT`` characters begun (its
  embedding's cost grows with its length): 2,000 characters count as four;
- fair use of the CPU on the same routes: at most ``MAX_WAITING_PER_CLIENT``
  questions of one address waiting or being answered at once (more get a 429
  at once, before they cost any work; no cap either when the rate limit is
  off), and the work done for a request is
  counted as its address's (``kb.index.fair.serving``), so that the embedder
  serves the waiting addresses in turn;
- ``GET /widget.js``, the chat widget that one script tag puts on any page.

Both middlewares are plain ASGI, so streamed answers pass through untouched.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.errors import error_bytes
from kb.index.fair import serving
from kb.settings import Settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
WIDGET_PATH = STATIC_DIR / "widget.js"
WIDGET_CACHE_CONTROL = "public, max-age=300"
RATE_WINDOW_SECONDS = 60.0
RATE_LIMITED_PATHS = frozenset({"/api/ask", "/api/ask/stream", "/v1/chat/completions"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Content-Type, Accept, Last-Event-ID"
EXPOSE_HEADERS = "Retry-After"
PREFLIGHT_MAX_AGE = "600"
MAX_TRACKED_CLIENTS = 10_000
# A question counts against the rate limit once per this many characters begun.
QUESTION_CHARS_PER_COUNT = 500
# Questions of one address waiting or being answered at once; the next is refused (429).
MAX_WAITING_PER_CLIENT = 4
# What a question refused for the one before it says to wait: about one long question's embedding.
WAITING_RETRY_AFTER = 5
# Refused origins each get one warning, up to this many; then one line says the rest are not logged.
MAX_WARNED_ORIGINS = 50
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


# The body of an error response: (status, code, message) -> JSON bytes.
ErrorBody = Callable[[int, str, str], bytes]


def contract_error(status: int, code: str, message: str) -> bytes:
    """docs/contract.md's error object, as ``/api`` answers it."""
    return error_bytes(code, message)


@dataclass(frozen=True)
class GuardedPaths:
    """Paths the CORS allow-list and the rate limit's answers cover: which ones, the request
    headers a preflight lets a page send, and the shape their errors take."""

    covers: Callable[[str], bool]
    allow_headers: str = ALLOW_HEADERS
    error: ErrorBody = contract_error

    def response(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        body = self.error(status, code, message)
        return Response(body, status_code=status, media_type="application/json", headers=headers)


API_PATHS = GuardedPaths(covers=lambda path: path.startswith("/api/"))


def install_guards(app: FastAPI, settings: Settings, also: Iterable[GuardedPaths] = ()) -> None:
    """Add the CORS allow-list, the rate limit and the ``/widget.js`` route to ``app``; the
    allow-list covers ``/api/*`` and the paths of ``also``."""
    policy = OriginPolicy(settings.allowed_origins)
    limiter = RateLimiter(settings.rate_limit, RATE_WINDOW_SECONDS)
    families = (API_PATHS, *also)
    app.state.rate_limiter = limiter  # the chat's questions count against it too (charge_question)
    # The last middleware added runs first: CORS wraps the limiter, so a 429 still
    # carries the CORS headers the widget needs to read it.
    app.add_middleware(RateLimitMiddleware, limiter=limiter, families=families)
    app.add_middleware(CORSGuardMiddleware, policy=policy, families=families)
    app.add_api_route("/widget.js", _widget_route, methods=["GET", "HEAD"], include_in_schema=False)
    log.info(
        "guards: extra allowed origins %s, %s questions a minute per client",
        list(policy.extra) or "none",
        settings.rate_limit or "unlimited",
    )


# -- origins --------------------------------------------------------------------


class MalformedHeaderError(ValueError):
    """A request header the guards must read is not what its name says (``Origin: http://[::1``)."""

    def __init__(self, header: str, value: str, example: str) -> None:
        shown = ascii(value[:100])[1:-1] + ("…" if len(value) > 100 else "")
        super().__init__(f"The {header} header '{shown}' is malformed; send one such as {example}.")
        self.code = f"bad_{header.lower()}"


def normalise_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case with default ports dropped; None if not an origin."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:  # e.g. "http://[::1": Invalid IPv6 URL
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return None
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _host_and_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    """Host and port of a ``Host`` header's value; ``MalformedHeaderError`` if it has none."""
    try:
        parts = urlsplit(f"//{netloc.strip()}")
    except ValueError:  # e.g. "[x": Invalid IPv6 URL
        raise MalformedHeaderError("Host", netloc, "kb.example.org or kb.example.org:8000") from None
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return host, port if port is not None else _DEFAULT_PORTS.get(scheme)


class OriginPolicy:
    """Which ``Origin`` values may call the API from a browser."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        entries = [entry.strip() for entry in allowed if entry.strip()]
        self.wildcard = "*" in entries
        self.allow_null = "null" in entries
        extra: set[str] = set()
        for entry in entries:
            if entry in ("*", "null"):
                continue
            normalised = normalise_origin(entry)
            if normalised is None:
                log.warning("KB_ALLOWED_ORIGINS: %r is not an origin like https://blog.example.com; ignored", entry)
            else:
                extra.add(normalised)
        self.extra = frozenset(extra)

    def allows(self, origin: str, host_header: str | None) -> bool:
        """Whether ``origin`` may call; ``MalformedHeaderError`` if it, or the ``Host`` it is
        compared with, cannot be read."""
        if origin == "null":
            return self.allow_null or self.wildcard
        normalised = normalise_origin(origin)
        if normalised is None:
            raise MalformedHeaderError("Origin", origin, "https://blog.example.com (a scheme, a host, maybe a port)")
        if self.wildcard:
            return True
        if normalised in self.extra:
            return True
        parts = urlsplit(normalised)
        scheme = parts.scheme
        host, port = _host_and_port(parts.netloc, scheme)
        if host in LOCAL_HOSTS:
            return True
        if host_header:
            own_host, own_port = _host_and_port(host_header, scheme)
            return (host, port) == (own_host, own_port)
        return False

    def header_value(self, origin: str) -> str:
        """The ``Access-Control-Allow-Origin`` value for an allowed origin."""
        return "*" if self.wildcard else origin


def _json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return API_PATHS.response(status, code, message, headers)


def _family(families: Iterable[GuardedPaths], path: str) -> GuardedPaths | None:
    return next((family for family in families if family.covers(path)), None)


class CORSGuardMiddleware:
    """CORS for ``/api/*`` (and the ``families`` of paths given) against an allow-list; other
    paths pass through untouched."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy, families: Iterable[GuardedPaths] = (API_PATHS,)) -> None:
        self.app = app
        self.policy = policy
        self.families = tuple(families)
        self._warned: set[str] = set()
        self._warned_lock = threading.Lock()

    def _refused(self, origin: str, what: str) -> None:
        """Say once per origin, at WARNING, that it was refused and which setting allows it: the
        visitor's widget only says it cannot reach the assistant. A flood of made-up origins
        gets ``MAX_WARNED_ORIGINS`` lines and one more, not a line per request."""
        shown, what = ascii(origin[:200])[1:-1], ascii(what[:200])[1:-1]
        with self._warned_lock:
            new = origin not in self._warned
            first = new and len(self._warned) < MAX_WARNED_ORIGINS
            if first:
                self._warned.add(origin)
            elif new and len(self._warned) == MAX_WARNED_ORIGINS:
                self._warned.add("")  # the line below, once
                log.warning("more origins were refused; they are not logged (see KB_ALLOWED_ORIGINS)")
        if first:
            log.warning(
                "refused %s from origin %s: not in KB_ALLOWED_ORIGINS; add it there to let its pages "
                "use the widget (said once per origin)",
                what,
                shown,
            )
        else:
            log.info("refused %s from origin %s", what, shown)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        family = _family(self.families, str(scope.get("path", ""))) if scope["type"] == "http" else None
        if family is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        method = scope["method"]
        try:
            allowed = origin is not None and self.policy.allows(origin, headers.get("host"))
        except MalformedHeaderError as exc:
            log.info("refused %s %s: %s", method, ascii(scope["path"][:100]), exc)
            await family.response(400, exc.code, str(exc), {"Vary": "Origin"})(scope, receive, send)
            return
        if origin is not None and method == "OPTIONS" and "access-control-request-method" in headers:
            response = self._preflight(origin, allowed, headers, family)
            await response(scope, receive, send)
            return
        if origin is not None and not allowed and method not in ("GET", "HEAD"):
            self._refused(origin, f"{method} {scope['path']}")
            response = family.response(
                403,
                "origin_not_allowed",
                f"This server does not accept questions from {origin}. Its owner can allow it with KB_ALLOWED_ORIGINS.",
                {"Vary": "Origin"},
            )
            await response(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.add_vary_header("Origin")  # also without one: a cache must not mix the two
                if allowed and origin is not None:
                    out["Access-Control-Allow-Origin"] = self.policy.header_value(origin)
                    out["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _preflight(self, origin: str, allowed: bool, headers: Headers, family: GuardedPaths) -> Response:
        if not allowed:
            self._refused(origin, "a preflight")
            return family.response(
                403,
                "origin_not_allowed",
                f"Cross-origin requests from {origin} are not allowed; set KB_ALLOWED_ORIGINS to allow it.",
                {"Vary": "Origin"},
            )
        requested = headers.get("access-control-request-method", "").upper()
        if requested not in ("GET", "POST", "HEAD", "OPTIONS"):
            return family.response(400, "method_not_allowed", f"{requested or 'That method'} is not allowed here.")
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": self.policy.header_value(origin),
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": family.allow_headers,
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                "Vary": "Origin",
            },
        )


# -- rate limit -----------------------------------------------------------------


class RateLimiter:
    """At most ``limit`` hits per client in any ``window`` seconds (a sliding window)."""

    def __init__(self, limit: int, window: float = RATE_WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def hit(self, client: str, cost: int = 1) -> tuple[bool, int]:
        """Record a hit that counts ``cost`` times; ``(allowed, retry_after_seconds)`` (0 when
        allowed). A hit is allowed while the client has room for one more: a costly one
        may take it past the limit, and its next hits wait until the window is below it."""
        if not self.enabled:
            return True, 0
        now = self.clock()
        with self._lock:
            hits = self._hits.get(client)
            if hits is None:
                if len(self._hits) >= MAX_TRACKED_CLIENTS:
                    self._prune(now)
                hits = self._hits[client] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                # The window is below the limit again once the hit this many from the oldest leaves it.
                leaving = hits[len(hits) - self.limit]
                return False, max(1, math.ceil(leaving + self.window - now))
            hits.extend([now] * max(1, cost))
            return True, 0

    def charge(self, client: str, extra: int) -> None:
        """Count ``extra`` more hits for the client's latest (a question found long once read)."""
        if not self.enabled or extra <= 0:
            return
        now = self.clock()
        with self._lock:
            self._hits.setdefault(client, deque()).extend([now] * extra)

    def forget_last(self, client: str) -> None:
        """Undo the latest hit (the request turned out not to be a question, e.g. 404)."""
        with self._lock:
            hits = self._hits.get(client)
            if hits:
                hits.pop()

    def _prune(self, now: float) -> None:
        stale = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]
        for key in stale:
            del self._hits[key]


def question_cost(text: str) -> int:
    """How many questions ``text`` counts as against the rate limit: one per
    ``QUESTION_CHARS_PER_COUNT`` characters begun."""
    return max(1, math.ceil(len(text) / QUESTION_CHARS_PER_COUNT))


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def charge_question(request: Request, text: str) -> None:
    """Count a long question's further characters against its address (the middleware
    counted it once, before its body was read)."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.charge(client_address(request.scope), question_cost(text) - 1)


class ClientCounter:
    """How many requests of each client are under way."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, client: str, at_most: int) -> bool:
        """Count one more for ``client``, unless it has ``at_most`` already."""
        with self._lock:
            count = self._counts.get(client, 0)
            if count >= at_most:
                return False
            self._counts[client] = count + 1
            return True

    def leave(self, client: str) -> None:
        with self._lock:
            count = self._counts.get(client, 0) - 1
            if count > 0:
                self._counts[client] = count
            else:
                self._counts.pop(client, None)


class RateLimitMiddleware:
    """For questions: 429 with ``Retry-After`` once a client address asks too often, or has
    ``MAX_WAITING_PER_CLIENT`` questions under way; the work is done as the address's."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, families: Iterable[GuardedPaths] = (API_PATHS,)) -> None:
        self.app = app
        self.limiter = limiter
        self.families = tuple(families)
        self.under_way = ClientCounter()

    def _error(self, scope: Scope, status: int, code: str, message: str, headers: dict[str, str]) -> Response:
        """The error in the shape of the path's family (OpenAI's for ``/v1``)."""
        family = _family(self.families, str(scope.get("path", ""))) or API_PATHS
        return family.response(status, code, message, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or str(scope.get("path", "")).rstrip("/") not in RATE_LIMITED_PATHS
        ):
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        if not self.limiter.enabled:  # KB_RATE_LIMIT=0: no limit, no cap; the turns stay fair
            with serving(address):
                await self.app(scope, receive, send)
            return
        if not self.under_way.enter(address, MAX_WAITING_PER_CLIENT):
            log.info("refused a question from %s: %d of its questions are under way", address, MAX_WAITING_PER_CLIENT)
            response = self._error(
                scope,
                429,
                "rate_limited",
                f"You have {MAX_WAITING_PER_CLIENT} questions waiting for their answers. "
                f"Please wait for one of them (about {WAITING_RETRY_AFTER} s) and ask again.",
                {"Retry-After": str(WAITING_RETRY_AFTER)},
            )
            await response(scope, receive, send)
            return
        left = False

        def leave() -> None:
            nonlocal left
            if not left:
                left = True
                self.under_way.leave(address)

        async def send_then_leave(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                leave()  # before the client can see the answer and send its next question
            await send(message)

        try:
            with serving(address):
                await self._limited(scope, receive, send_then_leave, address)
        finally:
            leave()

    async def _limited(self, scope: Scope, receive: Receive, send: Send, address: str) -> None:
        allowed, retry_after = self.limiter.hit(address)
        if not allowed:
            log.info("rate limited %s for %ss", address, retry_after)
            per_minute = self.limiter.limit
            response = self._error(
                scope,
                429,
                "rate_limited",
                f"Too many questions: at most {per_minute} a minute (a long question counts once per "
                f"{QUESTION_CHARS_PER_COUNT} characters). Please wait {retry_after} s and ask again.",
                {"Retry-After": str(retry_after)},
            )
            await response(scope, receive, send)
            return

        async def send_and_refund(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (404, 405):
                self.limiter.forget_last(address)
            await send(message)

        await self.app(scope, receive, send_and_refund)


# -- the widget script ------------------------------------------------------------


async def _widget_route(request: Request) -> Response:
    try:
        body = WIDGET_PATH.read_bytes()
    except OSError:
        log.exception("cannot read %s", WIDGET_PATH)
        return _json_error(404, "not_found", "widget.js is missing from this installation; reinstall omnikb.")
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {
        "Cache-Control": WIDGET_CACHE_CONTROL,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        # Pages that isolate themselves (COEP) or pin it with integrity= + crossorigin may load it.
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)
