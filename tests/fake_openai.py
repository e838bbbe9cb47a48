"""A scripted OpenAI-compatible chat server on loopback, for tests and the bench.

It speaks the real protocol over a real socket: ``GET /v1/models`` (the
models in ``state.models``, 401 without ``state.api_key`` when one is set),
``POST /v1/chat/completions``,
non-streaming (one JSON object) and streaming (server-sent ``data: {chunk}``
lines in chunked transfer encoding, ending with ``data: [DONE]``). Each test
scripts the replies; every request body is recorded for assertions.

    with FakeOpenAI() as server:
        server.script(Reply("Omnichannel connects channels [1]."))
        settings = Settings(llm_base_url=server.base_url, llm_model="fake")

``bench_generation()`` measures time to first token and the overhead omnikb adds
around the model call, against this server.
"""

from __future__ import annotations

import json
import logging
import re
import select
import socket
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

MODEL = "fake-model"


@dataclass(frozen=True)
class Reply:
    """One scripted reply.

    ``text`` is split into ``chunks`` (default: word by word) when the client
    streams. ``status`` other than 200 sends an OpenAI-style error body, whose
    message is ``text`` (or "scripted failure").
    ``first_delay`` and ``delay`` (seconds) slow the first chunk and each later
    one; ``drop_after`` cuts the connection after that many chunks, without the
    final chunk or ``[DONE]``; ``raw`` replaces the body with these bytes.
    ``hold_after`` stops the stream after that many chunks until ``FakeOpenAI.release()``.
    A delay or a hold ends as soon as the client hangs up (``Exchange.hung_up``).
    """

    text: str = ""
    status: int = 200
    chunks: tuple[str, ...] | None = None
    first_delay: float = 0.0
    delay: float = 0.0
    drop_after: int | None = None
    raw: bytes | None = None
    finish_reason: str = "stop"
    hold_after: int | None = None

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        return re.findall(r"\s*\S+\s*?(?=\s|$)|\s+$", self.text) or [self.text]


Responder = Callable[[dict[str, Any]], Reply]


HOLD_LIMIT = 60.0  # seconds a held reply waits for ``release()`` before it goes on (and the test fails)


class ClientGone(ConnectionError):
    """The client closed the connection while the server was waiting to send."""


@dataclass
class Exchange:
    """A request as the server received it, and when (``time.perf_counter``).

    ``chunks_sent`` counts the stream's chunks written; ``hung_up`` says the client
    closed the connection before the reply was complete; ``released`` that a held
    reply went on because the test released it; ``done`` is set when the server is
    through with the request (wait for it before asserting ``hung_up``).
    """

    body: dict[str, Any]
    headers: dict[str, str]
    received: float
    first_byte: float | None = None
    finished: float | None = None
    chunks_sent: int = 0
    hung_up: bool = False
    released: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    def settled(self, timeout: float = 30.0) -> Exchange:
        """This exchange once the server is through with it (fails if it is not within ``timeout``)."""
        assert self.done.wait(timeout), f"the fake server is still replying after {timeout:g} s"
        return self

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    def content(self, role: str) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages if m.get("role") == role)


@dataclass
class _State:
    replies: deque[Reply | Responder] = field(default_factory=deque)
    default: Reply | Responder | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # ``GET /v1/models``: the models listed, the key it wants (None: any), how often it was asked.
    models: list[str] = field(default_factory=lambda: [MODEL])
    api_key: str | None = None
    model_lists: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake openai: " + format, *args)

    def do_GET(self) -> None:
        state = self.server.state
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        with state.lock:
            state.model_lists += 1
        if state.api_key is not None and self.headers.get("Authorization") != f"Bearer {state.api_key}":
            self._send_json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
            return
        listed = [{"id": name, "object": "model", "created": 0, "owned_by": "fake"} for name in state.models]
        self._send_json(200, {"object": "list", "data": listed})

    def do_POST(self) -> None:
        state = self.server.state
        received = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send_json(400, {"error": {"message": "bad json", "type": "invalid_request_error"}})
            return
        exchange = Exchange(body=body, headers=dict(self.headers.items()), received=received)
        with state.lock:
            state.exchanges.append(exchange)
            scripted = state.replies.popleft() if state.replies else state.default
        if scripted is None:
            state.errors.append("unscripted request")
            self._send_json(500, {"error": {"message": "the test scripted no reply", "type": "server_error"}})
            return
        try:
            reply = scripted(body) if callable(scripted) else scripted
        except AssertionError as exc:  # a responder's check failed: record it, answer 500
            state.errors.append(f"assertion in responder: {exc}")
            self._send_json(500, {"error": {"message": str(exc), "type": "server_error"}})
            return
        try:
            self._reply(reply, exchange, stream=bool(body.get("stream")))
        except (BrokenPipeError, ConnectionResetError, ClientGone):
            log.debug("fake openai: client went away")
            exchange.hung_up = True
            self.close_connection = True
        finally:
            exchange.finished = time.perf_counter()
            exchange.done.set()

    # -- replies ------------------------------------------------------------
    def _sleep(self, seconds: float, until: threading.Event | None = None) -> bool:
        """Wait ``seconds``, or until ``until`` is set (then True) or the server stops;
        ``ClientGone`` as soon as the client closes the connection."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not self.server.state.stopping.is_set():
            if until is not None and until.is_set():
                return True
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.02))
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                raise ClientGone("the client closed the connection")
            if readable:  # bytes from the client (not a hang-up): just wait
                self.server.state.stopping.wait(min(left, 0.02))
        return until is not None and until.is_set()

    def _send_json(self, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _reply(self, reply: Reply, exchange: Exchange, stream: bool) -> None:
        self._sleep(reply.first_delay)
        exchange.first_byte = time.perf_counter()
        if reply.status != 200:
            failure = reply.text or "scripted failure"
            self._send_json(reply.status, {"error": {"message": failure, "type": "server_error"}})
            return
        if reply.raw is not None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream" if stream else "application/json")
            self.send_header("Content-Length", str(len(reply.raw)))
            self.end_headers()
            self.wfile.write(reply.raw)
            return
        model = str(exchange.body.get("model") or MODEL)
        if not stream:
            self._send_json(200, completion(reply.text, model, reply.finish_reason))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = reply.pieces()
        for i, piece in enumerate(pieces):
            if reply.drop_after is not None and i >= reply.drop_after:
                self._drop()
                return
            if i:
                self._sleep(reply.delay)
            if reply.hold_after is not None and i == reply.hold_after:
                exchange.released = self._sleep(HOLD_LIMIT, until=self.server.state.release)
                if not exchange.released:
                    self.server.state.errors.append(f"the reply held after {i} chunks was not released")
            self._chunk(chunk(piece, model, role=i == 0))
            exchange.chunks_sent += 1
        if reply.drop_after is not None and reply.drop_after <= len(pieces):
            self._drop()
            return
        self._chunk(chunk("", model, finish_reason=reply.finish_reason))
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _chunk(self, data: dict[str, Any]) -> None:
        self._write_chunk(b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n")

    def _write_chunk(self, payload: bytes) -> None:
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Cut the connection mid-body, as a crashed server would."""
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(2)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # a client hung up: expected in tests
            log.debug("fake openai: connection from %s closed", client_address)
            return
        super().handle_error(request, client_address)


def completion(text: str, model: str = MODEL, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def chunk(text: str, model: str = MODEL, role: bool = False, finish_reason: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {"content": text} if text or not finish_reason else {}
    if role:
        delta["role"] = "assistant"
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


class FakeOpenAI:
    """The server: ``start()``/``stop()`` or a ``with`` block; a free loopback port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.state = _State()
        self._server = _Server((host, 0), _Handler)
        self._server.state = self.state
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def exchanges(self) -> list[Exchange]:
        return list(self.state.exchanges)

    @property
    def errors(self) -> list[str]:
        return list(self.state.errors)

    def script(self, *replies: Reply | Responder) -> FakeOpenAI:
        """Replies for the next requests, in order."""
        with self.state.lock:
            self.state.replies.extend(replies)
        return self

    def release(self) -> None:
        """Let held replies (``Reply(hold_after=n)``) go on."""
        self.state.release.set()

    def always(self, reply: Reply | Responder | None) -> FakeOpenAI:
        """The reply once the script is used up (``None``: a 500 saying so)."""
        self.state.default = reply
        return self

    def reset(self) -> None:
        with self.state.lock:
            self.state.replies.clear()
            self.state.default = None
            self.state.exchanges.clear()
            self.state.errors.clear()
            self.state.release.clear()
            self.state.models = [MODEL]
            self.state.api_key = None
            self.state.model_lists = 0

    def start(self) -> FakeOpenAI:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the bench hook -------------------------------------------------------------
def sample_request(question: str = "What is an omnichannel strategy?", language: str = "en") -> Any:
    """An ``AnswerRequest`` with three synthetic passages, for timing without an index."""
    from kb.answer.base import AnswerRequest
    from kb.models import Chunk, Hit, Question
    from kb.search.quotable import for_quoting

    texts = (
        "An omnichannel strategy connects every channel so the customer sees one brand.",
        "A multichannel strategy uses several channels that work independently of each other.",
        "Omnichannel retail needs shared stock, data and customer history across channels.",
    )
    hits = tuple(
        Hit(
            chunk=Chunk(
                id=f"doc{i}.txt#0",
                source=f"doc{i}.txt",
                title=f"Article {i}",
                language="en",
                heading="",
                text=text,
                start=0,
                end=len(text),
                ordinal=0,
            ),
            score=1.0 - i / 10,
        )
        for i, text in enumerate(texts)
    )
    quoting = for_quoting(question, hits)
    return AnswerRequest(
        question=Question(text=question, language=language),
        language=language,
        query=question,
        hits=quoting.hits,
        covered=True,
        terms=quoting.terms,
        asks_amount=quoting.asks_amount,
    )


@dataclass(frozen=True)
class StreamTiming:
    """One answer: milliseconds from ``stream()`` to each event, client and server side."""

    first_piece_ms: float  # time to first token the user sees
    total_ms: float  # stream() called -> final Answer
    server_ms: float  # request received -> last byte sent (the "model")
    before_ms: float  # stream() called -> request received (prompt, client, connect)
    after_ms: float  # last byte sent -> final Answer (parse, citations, checks)

    @property
    def overhead_ms(self) -> float:
        return self.total_ms - self.server_ms


def time_stream(answerer: Any, request: Any, server: FakeOpenAI) -> StreamTiming:
    """Run one ``answerer.stream(request)`` against ``server`` and time it."""
    from kb.models import Answer

    before = len(server.state.exchanges)
    started = time.perf_counter()
    first: float | None = None
    final: Answer | None = None
    for item in answerer.stream(request):
        if isinstance(item, Answer):
            final = item
        elif first is None and item:
            first = time.perf_counter()
    done = time.perf_counter()
    assert final is not None and final.mode == "generative", f"the answer fell back: {final and final.notice}"
    exchange = server.state.exchanges[before]
    finished = exchange.finished or done
    return StreamTiming(
        first_piece_ms=((first or done) - started) * 1000,
        total_ms=(done - started) * 1000,
        server_ms=(finished - exchange.received) * 1000,
        before_ms=(exchange.received - started) * 1000,
        after_ms=(done - finished) * 1000,
    )


def bench_generation(
    runs: int = 20,
    answer: str = "An omnichannel strategy connects every channel [1], unlike a multichannel one [2].",
    token_delay: float = 0.0,
    first_token_delay: float = 0.0,
) -> dict[str, float]:
    """Time-to-first-token and omnikb's overhead around the model call, in ms (medians and p95).

    Starts the fake server, builds the real ``GenerativeAnswerer`` (ChatOpenAI
    over HTTP on loopback), answers ``runs`` times, stops the server.
    """
    from kb.answer.generative import GenerativeAnswerer
    from kb.settings import Settings

    with FakeOpenAI() as server:
        settings = Settings(llm_base_url=server.base_url, llm_model=MODEL, llm_timeout=30.0)
        answerer = GenerativeAnswerer(settings)
        server.always(Reply(answer, delay=token_delay, first_delay=first_token_delay))
        request = sample_request()
        time_stream(answerer, request, server)  # warm up: imports, connection pool
        timings = [time_stream(answerer, request, server) for _ in range(runs)]
    return summarize(timings)


def summarize(timings: list[StreamTiming]) -> dict[str, float]:
    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    result: dict[str, float] = {"runs": float(len(timings))}
    for name in ("first_piece_ms", "total_ms", "server_ms", "before_ms", "after_ms", "overhead_ms"):
        values = [float(getattr(t, name)) for t in timings]
        result[f"{name}_p50"] = statistics.median(values)
        result[f"{name}_p95"] = p95(values)
    return result


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """``(event, data)`` pairs from server-sent event lines (for the API tests)."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)
