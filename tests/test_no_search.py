"""What searches nothing (``kb health``, ``kb sources``, ``kb show``, their API routes before
the warm-up) reads the store: the in-memory index of a generation (vectors, BM25, latent
terms, hubness, outlines) took 5 to 8 s to build on a blog of 400 posts, just to count them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kb import cli
from kb.errors import IndexMissingError, SourceNotFoundError
from kb.index.store import Store
from kb.search.retrieve import CorpusIndex
from kb.service import KnowledgeBase
from kb.settings import Settings


@pytest.fixture()
def no_index_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building an in-memory index fails the test."""

    def build(*args: Any, **kwargs: Any) -> CorpusIndex:
        raise AssertionError("the in-memory index was built")

    monkeypatch.setattr(CorpusIndex, "build", build)


def test_health_sources_and_show_say_what_the_loaded_index_says_without_building_one(
    seeded_settings: Settings, kb: KnowledgeBase
) -> None:
    cold = KnowledgeBase(seeded_settings)
    assert cold.health() == kb.health()  # ``kb`` has its index loaded: the counts are the same
    assert cold.sources() == kb.sources()
    source = kb.sources()[0]["source"]
    assert cold.document(source) == kb.document(source)
    with pytest.raises(SourceNotFoundError):
        cold.document("no-such-post.md")
    assert cold.retriever.loaded_generation is None


def test_the_commands_that_search_nothing_build_no_index(
    seeded_settings: Settings, no_index_build: None, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(seeded_settings.data_dir)]
    store = Store(seeded_settings)
    active = store.active()
    assert active is not None
    documents, chunks = store.documents(active.generation), store.chunk_count(active.generation)

    assert cli.main([*data, "health"]) == 0
    assert capsys.readouterr().out.startswith(f"index: {len(documents)} documents, {chunks} passages (")
    assert cli.main([*data, "sources"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == [d.source for d in documents]
    assert cli.main([*data, "show", documents[0].source]) == 0
    shown = store.document(active.generation, documents[0].source)
    assert shown is not None and capsys.readouterr().out == shown.text


def test_health_without_an_index_is_still_an_error(tmp_path: Path, no_index_build: None) -> None:
    settings = Settings(data_dir=tmp_path / "kb")
    Store(settings)  # the data dir's Chroma, with no generation in it
    with pytest.raises(IndexMissingError):
        KnowledgeBase(settings).health()
    assert cli.main(["--data-dir", str(settings.data_dir), "health"]) == IndexMissingError.exit_code
