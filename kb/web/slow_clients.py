"""Slow clients: how long a client may take to send a request, or to read a response.

uvicorn (h11 and httptools alike) has no timeout while a request arrives: its
keep-alive timer covers only the idle time *between* requests, the first byte
of a request cancels it, and a fresh connection gets no timer at all; httptools
also accepts a request head of any size. A client that dribbles its headers or
its body, or never reads what it asked for, could hold a connection (and what
the app keeps for it) for ever. So:

- ``guarded_protocol(request_timeout, send_timeout)`` is uvicorn's HTTP protocol
  with three limits on each connection: the request head (request line and
  headers) must arrive within ``request_timeout`` seconds of the connection
  opening or of the head's first byte, or the client gets a 408 in the error
  shape and the connection is closed; a head over ``MAX_HEAD_BYTES`` gets a
  431 and the connection is closed; and a client that does not read while a
  response waits to be written (the write buffer stays over its high-water
  mark) for ``send_timeout`` seconds is disconnected, which the app sees as
  any other client disconnect (a streamed answer stops).
- ``BodyDeadline`` is ASGI middleware: once the head is in, the body must be
  complete within ``request_timeout`` seconds, or the request is answered 408
  through the app's own error handling (``HTTPException``), with
  ``Connection: close``.

Both timeouts come from ``Settings`` (``KB_REQUEST_TIMEOUT``,
``KB_SEND_TIMEOUT``); 0 turns one off.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any, cast

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.errors import error_bytes

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
KEEP_ALIVE_SECONDS = 5


def _seconds(value: float) -> str:
    return f"{value:g}"


def head_timeout_message(seconds: float) -> str:
    return (
        f"The request did not arrive within {_seconds(seconds)} s, so the server stopped waiting. "
        "Send the whole request at once and try again."
    )


def body_timeout_message(seconds: float) -> str:
    return (
        f"The request body did not arrive within {_seconds(seconds)} s, so the server stopped waiting. "
        "Send the whole body at once (it is at most 64 KiB) and try again."
    )


def head_too_large_message(limit: int) -> str:
    return f"The request line and headers are larger than {limit // 1024} KiB; send fewer or shorter headers."


def raw_error(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response in the contract's error shape, closing the connection."""
    body = error_bytes(code, message)
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


# -- the connection: request head and stalled readers ---------------------------------------------


class SlowClientGuard(asyncio.Protocol):
    """Mixed in before uvicorn's HTTP protocol class (see ``guarded_protocol``).

    It relies on what uvicorn's h11 and httptools protocols both have:
    ``transport``, ``loop``, ``cycle`` (the request in flight, ``None`` before the
    first) with ``response_complete``, and ``pause_writing``/``resume_writing``.
    """

    request_timeout: float = 0.0
    send_timeout: float = 0.0
    max_head_bytes: int = MAX_HEAD_BYTES

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any

    _head_timer: asyncio.TimerHandle | None = None
    _write_timer: asyncio.TimerHandle | None = None
    _head_bytes: int = 0
    _head_tail: bytes = b""  # the last bytes of the head so far, to find its end across reads

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(cast(asyncio.Transport, _DropWritesWhenClosing(cast(asyncio.Transport, transport))))
        self._head_bytes = 0
        self._head_tail = b""
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        waiting = self._waiting_for_head()
        before = getattr(self, "cycle", None)
        if waiting:
            # The head is measured up to its blank line, before the parser sees it: a whole head
            # over the limit in one read was parsed, and served, before it could be counted.
            end = self._head_end(data)
            self._head_bytes += len(data) if end is None else end
            if self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
                log.info("refused a request head over %d bytes from %s", self.max_head_bytes, self._peer())
                self._refuse(431, "Request Header Fields Too Large", "headers_too_large",
                             head_too_large_message(self.max_head_bytes))
                return
            self._arm_head_timer()
        super().data_received(data)
        if self.transport.get_protocol() is not self:  # upgraded (WebSocket): no longer ours
            self._cancel_head_timer()
            return
        if waiting and getattr(self, "cycle", None) is not before:  # a new request's head is complete
            self._cancel_head_timer()
            self._head_bytes = 0
            self._head_tail = b""

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_write_timer()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.send_timeout > 0 and self._write_timer is None:
            self._write_timer = self.loop.call_later(self.send_timeout, self._on_write_stalled)

    def resume_writing(self) -> None:
        self._cancel_write_timer()
        super().resume_writing()

    # -- internals --------------------------------------------------------------------------------
    def _head_end(self, data: bytes) -> int | None:
        """How many bytes of ``data`` belong to the head when its blank line is in them, else None.

        Only the first head of a read is measured: the head of a second request pipelined into
        the same read is not (a known limit; a browser does not pipeline)."""
        seen = self._head_tail + data
        found = seen.find(b"\r\n\r\n")
        if found < 0:
            self._head_tail = seen[-3:]
            return None
        return found + 4 - len(self._head_tail)

    def _waiting_for_head(self) -> bool:
        cycle = getattr(self, "cycle", None)
        return cycle is None or bool(cycle.response_complete)

    def _peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport is not None else None
        return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"

    def _arm_head_timer(self) -> None:
        if self.request_timeout > 0 and self._head_timer is None:
            self._head_timer = self.loop.call_later(self.request_timeout, self._on_head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_write_timer(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _on_head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._waiting_for_head():
            return
        if self._head_bytes == 0:  # an idle connection that never asked anything: just close it
            log.info("closed a connection from %s that sent nothing for %ss", self._peer(), self.request_timeout)
            self.transport.close()
            return
        log.info("request head from %s incomplete after %ss; closing", self._peer(), self.request_timeout)
        self._refuse(408, "Request Timeout", "request_timeout", head_timeout_message(self.request_timeout))

    def _refuse(self, status: int, reason: str, code: str, message: str) -> None:
        self._cancel_head_timer()
        self.transport.write(raw_error(status, reason, code, message))
        self.transport.close()
        # A client that does not read even this must not keep the socket: the write timer drops it.
        if self.send_timeout > 0 and self._write_timer is None and self.transport.get_write_buffer_size():
            self._write_timer = self.loop.call_later(self.send_timeout, self._on_write_stalled)

    def _on_write_stalled(self) -> None:
        self._write_timer = None
        log.info("dropped %s: it read nothing of the response for %ss", self._peer(), self.send_timeout)
        self.transport.abort()


class _DropWritesWhenClosing:
    """The connection's transport, except that a write once it is closing is dropped.

    When a stalled client is dropped, the response that was waiting for the write
    buffer to drain wakes up and writes: asyncio ignores a write to an aborted
    transport, uvloop raises. Either way the bytes have nowhere to go.
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def guarded_protocol(
    request_timeout: float, send_timeout: float, max_head_bytes: int = MAX_HEAD_BYTES
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol (httptools if installed, else h11) with the limits above."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    protocol = type(
        "Guarded" + AutoHTTPProtocol.__name__,
        (SlowClientGuard, AutoHTTPProtocol),
        {"request_timeout": request_timeout, "send_timeout": send_timeout, "max_head_bytes": max_head_bytes},
    )
    return cast(type[asyncio.Protocol], protocol)


# -- the request body ------------------------------------------------------------------------------


class BodyDeadline:
    """Answer 408 when a request body is not complete ``timeout`` seconds after the app got the request."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.timeout > 0 or math.isinf(self.timeout):  # 0 or nan: off
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.timeout
        complete = False
        responding = False

        async def receive_in_time() -> Message:
            nonlocal complete
            if complete:  # the body is in: later receives wait for a disconnect, as long as they like
                return await receive()
            message: Message | None = None
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                message = await receive()
            if message is None:
                complete = True
                client = scope.get("client")
                log.info("request body from %s incomplete after %ss", client[0] if client else "?", self.timeout)
                if responding:
                    return {"type": "http.disconnect"}
                raise HTTPException(408, body_timeout_message(self.timeout), headers={"Connection": "close"})
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def send_noting_start(message: Message) -> None:
            nonlocal responding
            if message["type"] == "http.response.start":
                responding = True
            await send(message)

        await self.app(scope, receive_in_time, send_noting_start)
