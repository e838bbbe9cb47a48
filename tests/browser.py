"""Shared helpers for tests over real HTTP and in a real browser.

``running_server`` starts ``python app.py serve`` as a subprocess on a free
loopback port (with whatever extra environment a test needs), waits until
``/api/health`` answers, and stops it at the end. ``chromium`` launches
Debian's Chromium through Playwright (``playwright install`` cannot download
here); ``pytest.skip`` says how to install it when it is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("KB_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def request(
    url: str,
    method: str = "GET",
    body: Any = None,
    raw: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request: (status, headers, parsed JSON or text). Errors are returned, not raised."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, resp_headers, payload = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, resp_headers, payload = err.code, dict(err.headers), err.read()
    text = payload.decode("utf-8", errors="replace")
    try:
        return status, resp_headers, json.loads(text)
    except ValueError:
        return status, resp_headers, text


def _wait_until_up(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/api/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as err:  # 503 without an index: up all the same
            if err.code < 500 or err.code == 503:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not answer within {timeout:.0f}s:\n{server.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # uvicorn shuts down cleanly on Ctrl-C
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def running_server(
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = START_TIMEOUT,
    port: int | None = None,
) -> Iterator[Server]:
    """``python app.py serve --port N`` with ``KB_DATA_DIR=data_dir`` (plus ``env``), up and healthy.

    ``port``: a given one (a restarted server keeps its page's origin, and so its localStorage).

    ``/api/health`` may answer 503 (no index): the server is up and that is
    what such a test wants to see.
    """
    port = port or free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    environment.update(
        {
            "KB_DATA_DIR": str(data_dir),
            "ANONYMIZED_TELEMETRY": "False",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
        }
    )
    environment.update(env or {})
    log_path = Path(data_dir).parent / f"server-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            cwd=ROOT,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Server(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=log_path)
    try:
        _wait_until_up(server, timeout)
        yield server
    finally:
        _stop(process)


def chromium_available() -> bool:
    return CHROMIUM.exists() or shutil.which("chromium") is not None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright; yields the ``Browser``."""
    if not chromium_available():
        pytest.fail("Chromium is missing: apt-get install -y chromium (or `make browser`)")
    from playwright.sync_api import sync_playwright

    executable = str(CHROMIUM) if CHROMIUM.exists() else str(shutil.which("chromium"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def shown(answer: str) -> str:
    """An answer's text as the widget shows it: a paragraph a line, its "- " lines the items of a list."""
    return "".join(line.strip().removeprefix("- ") for line in answer.splitlines() if line.strip())


# How long a sent question may take to show in the chat page, and how often Ask is clicked for it.
QUESTION_SHOWN_MS = 15_000
CLICKS = 3


def ask_in_chat(page: Any, question: str, timeout_ms: int) -> Any:
    """Ask ``question`` on the chat page and wait for its finished answer (or error); returns that bubble.

    Gradio takes no click while the event before is still closing (a button's events run
    "once" at a time), even after its last update has landed: a click it dropped is made
    again until the question shows in the chat."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    done = page.locator("#kb-chat .kb-answer:not(.kb-streaming), #kb-chat .kb-error")
    asked = page.locator("#kb-chat .kb-question")
    before, questions = done.count(), asked.count()
    page.fill("#kb-question textarea", question)
    for _ in range(CLICKS):
        page.click("#kb-ask")
        try:
            asked.nth(questions).wait_for(timeout=QUESTION_SHOWN_MS)
            break
        except PlaywrightTimeoutError:
            continue
    done.nth(before).wait_for(timeout=timeout_ms)
    return done.nth(before)
