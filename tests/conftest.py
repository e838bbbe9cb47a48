"""Shared fixtures: a real index of the seeds, built once, in a temporary folder.

No test touches the project's own ``.kb``: every test's data dir is under
pytest's temporary folders.

Markers (``make test-fast`` runs ``-m "not server and not browser and not slow"``):
a test that uses the ``browser`` fixture is marked ``browser`` and ``server``, one
that uses ``fake``/``fresh_fake`` (the model server on loopback) ``server``. Any
other test that starts a server or a subprocess must be marked ``server`` by
hand (``pytestmark`` for a whole file); if it is not, it fails, naming what it
started, so that no server test lands in the fast set unnoticed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kb.service import KnowledgeBase
from kb.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DEVSET = ROOT / "eval" / "devset.jsonl"
ARTIFACTS = ROOT / "tests" / "artifacts"

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# -- markers: which tests start servers or subprocesses ------------------------------------------------
SERVER_FIXTURES = frozenset({"fake", "fresh_fake"})  # tests/fake_openai.py on loopback
BROWSER_FIXTURES = frozenset({"browser"})  # Chromium under Playwright (and always a served page)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if used & (SERVER_FIXTURES | BROWSER_FIXTURES) or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.server)


_running: list[pytest.Item] = []  # the test being set up, run or torn down (module fixtures included)
_started: dict[str, list[str]] = {}  # nodeid -> what it started without the ``server`` marker


def _unmarked_start(what: Callable[[], str]) -> None:
    item = _running[-1] if _running else None
    if item is not None and item.get_closest_marker("server") is None:
        _started.setdefault(item.nodeid, []).append(what())


def _watch_starts() -> Callable[[], None]:
    """Note every process started and every socket put to listen, by a test not marked ``server``."""
    popen_init, listen = subprocess.Popen.__init__, socket.socket.listen

    def watched_popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        _unmarked_start(lambda: f"a subprocess: {args!r}"[:200])
        popen_init(self, args, *rest, **kwargs)

    def watched_listen(self: socket.socket, *args: Any) -> None:
        _unmarked_start(lambda: f"a server listening on {self.getsockname()!r}")
        listen(self, *args)

    subprocess.Popen.__init__ = watched_popen  # type: ignore[method-assign]
    socket.socket.listen = watched_listen  # type: ignore[method-assign]

    def restore() -> None:
        subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]
        socket.socket.listen = listen  # type: ignore[method-assign]

    return restore


def pytest_configure(config: pytest.Config) -> None:
    config.add_cleanup(_watch_starts())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if call.when == "teardown" and item.nodeid in _started and report.passed:
        started = "\n  ".join(dict.fromkeys(_started.pop(item.nodeid)))
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} started, without the `server` marker:\n  {started}\n"
            "Mark it `@pytest.mark.server` (or `pytestmark = pytest.mark.server` for its file): "
            "`make test-fast` leaves server and subprocess tests out."
        )
    return report


@pytest.fixture(autouse=True)
def _chroma_closed_after(tmp_path: Path) -> Iterator[None]:
    """The embedded Chroma a test opened in its own folder is stopped after it: chromadb
    keeps every path's client open for the life of the process (about 28 files a data
    dir), and a whole run went past 1,024 open files, where ``select()`` fails."""
    yield
    from chromadb.api.shared_system_client import SharedSystemClient

    mine = [path for path in SharedSystemClient._identifier_to_system if Path(path).is_relative_to(tmp_path)]
    for path in mine:
        SharedSystemClient._identifier_to_system.pop(path).stop()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's KB_* settings or writes to ./.kb."""
    for key in list(os.environ):
        if key.startswith("KB_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "kb-data"))


@pytest.fixture(scope="session")
def seeded_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("seeded")
    settings = Settings(data_dir=data / "kb", seeds_dir=SEEDS)
    KnowledgeBase(settings).ingest(SEEDS)
    return settings


@pytest.fixture(scope="session")
def kb(seeded_settings: Settings) -> KnowledgeBase:
    base = KnowledgeBase(seeded_settings)
    base.warm_up()
    return base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright, one per test module (tests/browser.py)."""
    from tests.browser import chromium

    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def fake() -> Iterator[Any]:
    """The scripted OpenAI-compatible server on loopback (tests/fake_openai.py), one per test module."""
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture()
def fresh_fake(fake: Any) -> Iterator[None]:
    """A fresh script for each test (modules that use ``fake`` apply it to all their
    tests); fails the test if a responder's check failed inside the server."""
    fake.reset()
    yield
    assert not fake.errors, fake.errors


@pytest.fixture()
def seeds_copy(tmp_path: Path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def devset() -> list[dict]:
    return [json.loads(line) for line in DEVSET.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def artifacts() -> Iterator[Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield ARTIFACTS
