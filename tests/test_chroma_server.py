"""The store against a real Chroma server (``chroma run``) instead of the embedded folder.

One server on a free loopback port for the module: the seeds are ingested
through ``HttpClient`` and every dev question must get the same passages, in
the same order, and the same answered flag as from the embedded store.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kb.service import KnowledgeBase, validate_question
from kb.settings import Settings
from kb.store import Store
from tests.chroma_server import ChromaServer, chroma_server
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "db") as running:
        yield running


@pytest.fixture(scope="module")
def remote_settings(server: ChromaServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("remote-kb")
    # A token is sent as a header; a server without auth ignores it.
    return Settings(data_dir=data / "kb", seeds_dir=SEEDS, chroma_url=server.url, chroma_token="bench-token")


@pytest.fixture(scope="module")
def remote_kb(remote_settings: Settings) -> KnowledgeBase:
    base = KnowledgeBase(remote_settings)
    report = base.ingest(SEEDS)
    assert len(report.added) == 5 and report.chunks > 20
    base.warm_up()
    return base


def _signature(base: KnowledgeBase, item: dict[str, Any]) -> tuple[bool, list[str]]:
    history = [{"role": "user", "content": h} for h in item.get("history", [])]
    answer = base.ask(validate_question(item["question"], history, 10, None, base.settings))
    return answer.answered, [hit.chunk.id for hit in answer.passages]


def test_the_server_answers_the_dev_questions_like_the_embedded_store(
    remote_kb: KnowledgeBase,
    kb: KnowledgeBase,
    devset: list[dict[str, Any]],
) -> None:
    # Nothing was written to the local folder: the index lives in the server.
    assert not remote_kb.settings.chroma_path.exists()
    assert remote_kb.health()["chunks"] == kb.health()["chunks"]
    assert remote_kb.retriever.index().translations == kb.retriever.index().translations
    for item in devset:
        assert _signature(remote_kb, item) == _signature(kb, item), item["id"]


def test_reingest_through_the_server_is_incremental(
    remote_kb: KnowledgeBase, remote_settings: Settings, tmp_path: Path
) -> None:
    unchanged = remote_kb.ingest(SEEDS)
    assert not unchanged.changed and len(unchanged.unchanged) == 5

    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    changed = seeds / "003_270c56ab60b0665d.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nUn paragraf nou despre Worten.", encoding="utf-8")
    (seeds / "001_016916c4e286d33c.txt").unlink()
    report = remote_kb.ingest(seeds)
    assert report.updated == ("003_270c56ab60b0665d.txt",)
    assert report.removed == ("001_016916c4e286d33c.txt",)

    # A second app server sharing the Chroma sees the new generation and rebuilds its lexical index.
    other = KnowledgeBase(remote_settings)
    index = other.retriever.index()
    assert index.generation == report.generation
    assert "001_016916c4e286d33c.txt" not in index.documents
    assert len(index.bm25) == len(index.chunks) == report.chunks
    answer = other.ask(validate_question("Worten", None, 5, "ro", remote_settings))
    assert any(hit.chunk.source == "003_270c56ab60b0665d.txt" for hit in answer.passages)
    # The replaced generation stays readable until the next ingest, for readers in flight.
    assert Store(remote_settings).generations() == [unchanged.generation, report.generation]
