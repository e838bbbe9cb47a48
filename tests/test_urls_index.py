"""A post's URL is kept with its document in the index, and given with the sources and
every passage; a URL that changes alone is taken up without embedding the post again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kb.index.embed import get_embedder
from kb.index.store import Store
from kb.ingest.pipeline import ingest
from kb.models import Question
from kb.service import KnowledgeBase
from kb.settings import Settings

MUYCANAL = "http://www.muycanal.com/2015/09/29/negocio-omnicanal-multicanal"


def test_every_seed_that_states_its_url_has_it_in_the_sources_and_its_passages(kb: KnowledgeBase) -> None:
    urls = {item["source"]: item["url"] for item in kb.sources()}
    assert urls["002_8f573ef52dea0fed.txt"] == MUYCANAL
    assert {s for s, u in urls.items() if u is None} == {
        "000_9473cab8017bbeac.txt",
        "001_016916c4e286d33c.txt",
        "003_270c56ab60b0665d.txt",
        "004_84f0c51f48149d1b.txt",
    }
    answer = kb.ask(Question("How do I become omnichannel?")).to_dict()
    for passage in answer["passages"] + answer["citations"]:
        assert passage["url"] == urls[passage["source"]]
    assert MUYCANAL in [c["url"] for c in answer["citations"]]
    assert kb.document("002_8f573ef52dea0fed.txt").to_dict()["url"] == MUYCANAL


class Counting:
    """The real embedder, counting the passages it embeds."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dimension, self.embedded = inner, inner.name, inner.dimension, 0

    def encode(self, texts: list[str], is_query: bool = False) -> Any:
        self.embedded += len(texts)
        return self.inner.encode(texts, is_query=is_query)

    def sparse(self, texts: list[str]) -> Any:
        return self.inner.sparse(texts)


def test_a_url_that_changes_alone_is_taken_up_without_embedding_again(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "a.txt").write_text("Roasting coffee at home takes a pan, patience and a good nose.\n", encoding="utf-8")
    (folder / "b.txt").write_text("Green tea is steeped below boiling, for two minutes at most.\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "kb")
    store, embedder = Store(settings), Counting(get_embedder(settings))
    first = ingest(folder, settings, store, embedder)  # type: ignore[arg-type]
    assert {d.url for d in store.documents(first.generation)} == {None}
    embedded = embedder.embedded

    (folder / "sources.toml").write_text('"a.txt" = "https://blog.example.com/roasting/"\n', encoding="utf-8")
    second = ingest(folder, settings, store, embedder)  # type: ignore[arg-type]
    assert second.updated == ("a.txt",) and second.unchanged == ("b.txt",)
    assert embedder.embedded == embedded  # carried over, vectors and all
    urls = {d.source: d.url for d in store.documents(second.generation)}
    assert urls == {"a.txt": "https://blog.example.com/roasting/", "b.txt": None}
    chunks, _ = store.all_chunks(second.generation)
    assert {c.source: c.url for c in chunks} == urls

    third = ingest(folder, settings, store, embedder)  # type: ignore[arg-type]
    assert not third.changed
    (folder / "sources.toml").unlink()
    fourth = ingest(folder, settings, store, embedder)  # type: ignore[arg-type]
    assert fourth.updated == ("a.txt",) and embedder.embedded == embedded
    assert {d.url for d in store.documents(fourth.generation)} == {None}
