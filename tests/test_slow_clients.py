"""Slow clients over raw sockets against a real ``python app.py serve`` on loopback.

The server runs with ``KB_REQUEST_TIMEOUT=2`` and ``KB_SEND_TIMEOUT=2`` (and no
index: none of these requests gets as far as answering). Each test plays one
kind of slow client and asserts that the server gives up on it: a 408 or 431 in
the contract's error shape and a closed connection, or a dropped connection for
a client that never reads. Without the limits of ``kb.web.slow_clients`` the server
waits for ever and the socket read below hits its own ``CLIENT_PATIENCE``
timeout, failing the test.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kb.web.slow_clients import MAX_HEAD_BYTES
from tests.browser import Server, request, running_server

pytestmark = [pytest.mark.slow, pytest.mark.server]

TIMEOUT = 2  # KB_REQUEST_TIMEOUT and KB_SEND_TIMEOUT of the server below
CLIENT_PATIENCE = 25.0  # how long a test waits for the server to give up before calling it a hang


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"KB_REQUEST_TIMEOUT": str(TIMEOUT), "KB_SEND_TIMEOUT": str(TIMEOUT), "KB_RATE_LIMIT": "0"}
    with running_server(tmp_path_factory.mktemp("slow-clients") / "kb", env=env) as srv:
        yield srv


def connect(server: Server, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", server.port))
    sock.settimeout(CLIENT_PATIENCE)
    return sock


def read_until_closed(sock: socket.socket) -> tuple[bytes, bool]:
    """Everything the server sends until it closes the connection, and whether it reset it.

    Fails (``socket.timeout``) if the server keeps the connection open for ``CLIENT_PATIENCE``.
    """
    data = b""
    try:
        while True:
            piece = sock.recv(65536)
            if not piece:
                return data, False
            data += piece
    except ConnectionResetError:
        return data, True
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {CLIENT_PATIENCE:.0f} s (got {len(data)} bytes)")
    finally:
        sock.close()


def parse(response: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, json.loads(body)


def assert_error(response: bytes, status: int, code: str) -> str:
    assert response, "the server closed the connection without a response"
    got, headers, payload = parse(response)
    assert got == status, response[:500]
    assert headers.get("content-type", "").startswith("application/json")
    assert headers.get("connection") == "close"
    assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message"}, payload
    assert payload["error"]["code"] == code
    message: str = payload["error"]["message"]
    assert message.strip()
    return message


def dribble(sock: socket.socket, data: bytes, interval: float = 0.25) -> None:
    """Send ``data`` a byte at a time until the server answers or closes (or the data runs out)."""
    for i in range(len(data)):
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            return
        try:
            sock.sendall(data[i : i + 1])
        except (BrokenPipeError, ConnectionResetError):
            return
        time.sleep(interval)


HEAD = b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


# -- the request head ------------------------------------------------------------------------------
def test_a_stalled_request_head_gets_408_and_is_closed(server: Server) -> None:
    sock = connect(server)
    sock.sendall(b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
    response, _ = read_until_closed(sock)
    message = assert_error(response, 408, "request_timeout")
    assert f"{TIMEOUT} s" in message


def test_a_head_dribbled_a_byte_at_a_time_is_cut_off(server: Server) -> None:
    """Each byte arrives well within any idle timeout; the head as a whole does not."""
    sock = connect(server)
    dribble(sock, HEAD + b"X-Padding: " + b"a" * 60 + b"\r\n\r\n")
    response, _ = read_until_closed(sock)
    assert_error(response, 408, "request_timeout")


def test_a_connection_that_sends_nothing_is_closed(server: Server) -> None:
    response, _ = read_until_closed(connect(server))
    assert response == b""


def test_a_head_over_the_limit_gets_431(server: Server) -> None:
    sock = connect(server)
    sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 1024) + b"\r\n")
    response, _ = read_until_closed(sock)
    assert_error(response, 431, "headers_too_large")


def big_head(size: int, many: bool = False) -> bytes:
    """A complete request head of about ``size`` bytes: one long header, or many 1 KiB ones."""
    start = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if many:
        lines = b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 1000) for n in range(size // 1024))
    else:
        lines = b"X-Big: " + b"a" * (size - len(start) - 12) + b"\r\n"
    return start + lines + b"\r\n"


@pytest.mark.parametrize("kib", [66, 80, 100])
@pytest.mark.parametrize("many", [False, True], ids=["one-header", "many-headers"])
@pytest.mark.parametrize("piece", [0, 4096, 40 * 1024], ids=["one-write", "4k-writes", "40k-writes"])
def test_a_whole_head_over_the_limit_gets_431_however_it_arrives(
    server: Server, kib: int, many: bool, piece: int
) -> None:
    """The head counts by its size, whether it arrives in one read (it was then served) or many."""
    head = big_head(kib * 1024, many)
    assert len(head) > MAX_HEAD_BYTES
    sock = connect(server)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for start in range(0, len(head), piece or len(head)):
            sock.sendall(head[start : start + (piece or len(head))])
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused before the rest was sent
    response, _ = read_until_closed(sock)
    assert_error(response, 431, "headers_too_large")


def test_a_head_just_under_the_limit_is_served(server: Server) -> None:
    for many in (False, True):
        sock = connect(server)
        sock.sendall(big_head(MAX_HEAD_BYTES - 2048, many).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        response, _ = read_until_closed(sock)
        status, _, payload = parse(response)
        assert status == 503 and payload["error"]["code"] == "index_missing", response[:300]


# -- the request body ------------------------------------------------------------------------------
def test_a_stalled_body_gets_408_in_the_error_shape(server: Server) -> None:
    sock = connect(server)
    sock.sendall(HEAD + b"Content-Length: 100\r\n\r\n" + b'{"question": ')
    response, _ = read_until_closed(sock)
    message = assert_error(response, 408, "request_timeout")
    assert "body" in message


def test_a_body_dribbled_a_byte_at_a_time_gets_408(server: Server) -> None:
    sock = connect(server)
    sock.sendall(HEAD + b"Content-Length: 136\r\n\r\n")
    dribble(sock, b'{"question": "' + b"x" * 120 + b'"}')
    response, _ = read_until_closed(sock)
    assert_error(response, 408, "request_timeout")


def test_a_stalled_streaming_request_body_gets_408(server: Server) -> None:
    sock = connect(server)
    sock.sendall(HEAD.replace(b"/api/ask", b"/api/ask/stream") + b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"que")
    response, _ = read_until_closed(sock)
    assert_error(response, 408, "request_timeout")


# -- reading the response --------------------------------------------------------------------------
def test_a_client_that_stops_reading_is_dropped(server: Server) -> None:
    """Pipelined requests for the widget script, never read: the buffers fill and the server gives up.

    A client that read would get every response; this one gets what fitted in the
    buffers when the server dropped it, far less.
    """
    one = b"GET /widget.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    sizing = connect(server)
    sizing.sendall(one.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    size, _ = read_until_closed(sizing)
    count = max(200, (12 * 1024 * 1024) // len(size))  # well past what loopback buffers hold
    sock = connect(server, receive_buffer=4096)
    sock.sendall(one * count)
    time.sleep(TIMEOUT + 3)  # not reading: the server's write buffer stays full past KB_SEND_TIMEOUT
    received, _ = read_until_closed(sock)
    assert len(received) < len(size) * count // 2, f"got {len(received)} of {len(size) * count} bytes"


# -- and nobody else noticed -----------------------------------------------------------------------
def test_a_keep_alive_client_that_pauses_between_requests_is_served(server: Server) -> None:
    """Pauses longer than KB_REQUEST_TIMEOUT *between* requests (under the keep-alive limit) are fine."""
    sock = connect(server)
    for pause in (0.0, TIMEOUT + 0.5):
        time.sleep(pause)
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            piece = sock.recv(4096)
            assert piece, "the server closed a healthy keep-alive connection"
            head += piece
        status, headers, _ = parse(head.split(b"\r\n\r\n")[0] + b"\r\n\r\n{}")
        assert status == 503  # no index here: the error shape, on a live connection
        rest = head.split(b"\r\n\r\n", 1)[1]
        while len(rest) < int(headers["content-length"]):
            rest += sock.recv(4096)
    sock.close()


def test_the_server_is_fine_afterwards(server: Server) -> None:
    status, _, payload = request(server.url + "/api/health")
    assert status == 503 and payload["error"]["code"] == "index_missing"
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


def test_settings_read_the_timeouts_from_the_environment(tmp_path: Path) -> None:
    from kb.settings import Settings

    settings = Settings.from_env({"KB_REQUEST_TIMEOUT": "2.5", "KB_SEND_TIMEOUT": "0", "KB_DATA_DIR": str(tmp_path)})
    assert (settings.request_timeout, settings.send_timeout) == (2.5, 0.0)
    assert (Settings().request_timeout, Settings().send_timeout) == (30.0, 60.0)
