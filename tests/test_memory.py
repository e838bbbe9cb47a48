"""A server's memory over re-ingests: once a new generation answers, nothing keeps
the one before alive, and the memory it held is given back to the operating system
(``kb.index.memory``; a server grew by an index at every re-ingest).

Real embedded Chroma, the real embedder, real re-ingests of a small folder. Whether
the memory really leaves the process (its resident size) is too noisy to assert:
``make bench`` measures it. Here the trim is replaced by a recorder.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kb.index import memory
from kb.models import Question
from kb.search.retrieve import CorpusIndex
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.web.api import create_api
from tests.conftest import SEEDS
from tests.test_cold_start import _folder

# How long a test waits for a background load or trim before it fails (never a timing assertion).
PATIENCE_SECONDS = 300.0
FIRST = ("001_016916c4e286d33c.txt", "004_84f0c51f48149d1b.txt")  # the first generation's articles
ADDED = "003_270c56ab60b0665d.txt"  # the article a re-ingest adds: the next generation
QUESTION = "What is omnichannel?"


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _holders(ref: weakref.ref[CorpusIndex]) -> str:
    """What still refers to the index ``ref`` points to, and what holds that, for the failure's message."""
    index = ref()
    if index is None:
        return "nothing"
    found = []
    for holder in gc.get_referrers(index):
        if isinstance(holder, dict) and any(str(key).startswith("@py_assert") for key in holder):
            continue  # the test's own frame: pytest's assertion keeps ``first()`` for its message
        owners = {type(owner).__name__ for owner in gc.get_referrers(holder)} - {"frame", "list"}
        found.append(f"{type(holder).__name__} in {sorted(owners)}: {repr(holder)[:120]}")
    return "; ".join(found)


@pytest.fixture()
def trims(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The trims asked for, by the name of the thread that asked (none is done)."""
    calls: list[str] = []

    def recorded() -> bool:
        calls.append(threading.current_thread().name)
        return True

    monkeypatch.setattr(memory, "trim", recorded)
    return calls


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Settings, KnowledgeBase, TestClient]]:
    """Two articles indexed, and the API serving them as ``kb serve`` does: warmed up,
    watching for each new generation."""
    settings = Settings(data_dir=tmp_path / "kb", seeds_dir=SEEDS, rate_limit=0)
    KnowledgeBase(settings).ingest(_folder(tmp_path, *FIRST))
    server = KnowledgeBase(settings)
    with TestClient(create_api(settings, kb=server)) as client:
        try:
            _wait_for(lambda: server.retriever._watching.is_set(), "the server did not warm up")
            yield settings, server, client
        finally:
            server.retriever.unwatch()


def _use(client: TestClient) -> None:
    """What readers do with a generation: questions (a follow-up, a streamed one), the
    example questions, the sources, one source, the health check."""
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Omnichannel is…"}]
    assert client.post("/api/ask", json={"question": "And its challenges?", "history": history}).status_code == 200
    assert client.post("/api/ask/stream", json={"question": QUESTION}).status_code == 200
    for path in ("/api/examples", "/api/sources", f"/api/sources/{FIRST[0]}", "/api/health"):
        assert client.get(path).status_code == 200, path


@pytest.mark.slow  # two ingests: 10 s or more; not in make test-fast
def test_nothing_keeps_the_generation_before_once_the_next_one_answers(
    tmp_path: Path, served: tuple[Settings, KnowledgeBase, TestClient]
) -> None:
    settings, server, client = served
    _use(client)
    first = weakref.ref(server.retriever.index())
    generation = server.retriever.loaded_generation

    # The blog's owner re-ingests (`kb ingest`, another process): the server's watch loads it.
    new = KnowledgeBase(settings).ingest(_folder(tmp_path, ADDED)).generation
    assert new != generation
    _wait_for(lambda: server.retriever.loaded_generation == new, "the new generation was not loaded")
    _use(client)
    gc.collect()
    assert first() is None, f"generation {generation}'s index is still held by: {_holders(first)}"


@pytest.mark.slow  # two ingests: 10 s or more; not in make test-fast
def test_the_memory_is_given_back_after_a_switch(tmp_path: Path, trims: list[str]) -> None:
    base = KnowledgeBase(Settings(data_dir=tmp_path / "kb", seeds_dir=SEEDS))
    base.ingest(_folder(tmp_path, *FIRST))
    base.ask(Question(QUESTION))
    assert trims == []  # the first load released nothing

    base.ingest(_folder(tmp_path, ADDED))  # loads the new generation on this thread
    assert trims == [threading.current_thread().name]


@pytest.mark.slow  # two ingests: 10 s or more; not in make test-fast
def test_an_index_a_question_still_reads_is_given_back_when_the_question_lets_go(
    tmp_path: Path, trims: list[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "kb", seeds_dir=SEEDS)
    KnowledgeBase(settings).ingest(_folder(tmp_path, *FIRST))
    server = KnowledgeBase(settings)
    in_flight = server.retriever.index()  # a question answered from it, not done yet

    new = KnowledgeBase(settings).ingest(_folder(tmp_path, ADDED)).generation
    server.retriever.refresh()  # the server's watch switches to it
    assert server.retriever.loaded_generation == new
    assert trims == []  # its memory is still in use

    del in_flight  # the question is answered
    _wait_for(lambda: trims, "no trim once the index was released")
    assert trims == ["kb-memory-trim"]  # not on the question's thread


def test_a_trim_where_the_c_library_has_one_says_what_it_did(caplog: pytest.LogCaptureFixture) -> None:
    if memory._malloc_trim() is None:
        pytest.skip("no malloc_trim in this C library (not glibc)")
    assert memory._malloc_trim() is memory._malloc_trim()  # looked up once
    with caplog.at_level("DEBUG", logger=memory.__name__):
        assert isinstance(memory.trim(), bool)
    assert "malloc_trim(0)" in caplog.text


def test_a_trim_where_the_c_library_has_none_does_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)  # macOS's or musl's
    with caplog.at_level("DEBUG", logger=memory.__name__):
        assert memory.trim() is False
    assert "no malloc_trim" in caplog.text
