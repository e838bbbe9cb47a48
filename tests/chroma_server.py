"""A real Chroma server (``chroma run``, from the chromadb package) on a free loopback port.

    with chroma_server(tmp_path / "chroma") as server:
        settings = Settings(chroma_url=server.url)

The server is started as a subprocess bound to 127.0.0.1, waited for until its
heartbeat answers, and stopped (terminate, then kill) when the block ends.
Tests and the benchmark share it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
