"""A real Chroma server (``chroma run``, from the chromadb package) on a free loopback port.

    with chroma_server(tmp_path / "chroma") as server:
        settings = Settings(chroma_url=server.url)

The server is started as a subprocess bound to 127.0.0.1, waited for until its
heartbeat answers, and stopped (terminate, then kill) when the block ends.
Tests and the benchmark share it.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

from tests.loopback import serving

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class ChromaServer:
    url: str
    port: int
    path: Path
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        """Resident memory of the server process (0 if it cannot be read)."""
        return rss_of(self.process.pid)


def rss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def chroma_executable() -> str:
    """The ``chroma`` CLI of the running interpreter's environment."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.exists():
        return str(beside)
    found = shutil.which("chroma")
    if found is None:
        raise RuntimeError("The `chroma` command is missing: pip install chromadb")
    return found


def _heartbeat(url: str) -> bool:
    for path in ("/api/v2/heartbeat", "/api/v1/heartbeat"):
        try:
            with urllib.request.urlopen(url + path, timeout=1.0) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            continue
    return False


@contextlib.contextmanager
def chroma_server(path: Path, port: int | None = None, timeout: float = STARTUP_TIMEOUT) -> Iterator[ChromaServer]:
    """Run ``chroma run --path PATH --host 127.0.0.1 --port PORT`` for the duration of the block."""
    path.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://{HOST}:{port}"
    log_path = path.parent / f"chroma-{port}.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [chroma_executable(), "run", "--path", str(path), "--host", HOST, "--port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not _heartbeat(url):
            if process.poll() is not None:
                raise RuntimeError(
                    f"`chroma run` exited with {process.returncode}: {log_path.read_text(errors='replace')[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"`chroma run` did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.1)
        log.info("chroma server pid %s on %s", process.pid, url)
        yield ChromaServer(url=url, port=port, path=path, process=process)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)


@dataclass
class SilentServer:
    """What ``silent_server`` yields: its address, and the connections it took."""

    url: str
    taken: list[socket.socket]


@contextlib.contextmanager
def silent_server() -> Iterator[SilentServer]:
    """A socket on loopback that accepts every connection and never answers (an overloaded
    server, a wedged proxy), until the block ends."""
    done = threading.Event()
    with socket.create_server((HOST, 0)) as listener:
        listener.settimeout(0.2)
        silent = SilentServer(url=f"http://{HOST}:{listener.getsockname()[1]}", taken=[])

        def accept() -> None:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    silent.taken.append(listener.accept()[0])

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield silent
        finally:
            done.set()
            thread.join(timeout=5)
            for connection in silent.taken:
                connection.close()


@dataclass
class TokenProxy:
    """What ``token_proxy`` yields: its address, and the token it lets through (settable)."""

    url: str
    token: str


@contextlib.contextmanager
def token_proxy(upstream: str, token: str, query_delay: float = 0.0) -> Iterator[TokenProxy]:
    """A bearer-token reverse proxy on loopback in front of the Chroma server at ``upstream``,
    as one is put in front of a Chroma server that has no auth of its own: a request with
    ``Authorization: Bearer TOKEN`` is passed on, any other is answered 401. ``query_delay``:
    seconds each vector search (``…/query``) is held before it is passed on (a slow server)."""
    target = urlparse(upstream)
    proxy = TokenProxy(url="", token=token)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.headers.get("Authorization") != f"Bearer {proxy.token}":
                self.reply(401, b'{"error":"Unauthorized","message":"bad token"}', "application/json")
                return
            if self.path.endswith("/query"):
                time.sleep(query_delay)
            connection = http.client.HTTPConnection(str(target.hostname), target.port, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                content_type = response.getheader("Content-Type") or "application/json"
                self.reply(response.status, response.read(), content_type)
            finally:
                connection.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        def reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("token proxy: " + format, *args)

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    proxy.url = f"http://{HOST}:{server.server_address[1]}"
    with serving(server):
        yield proxy
