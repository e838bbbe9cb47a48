"""Ingest with the real default embedder and a real embedded Chroma."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kb.errors import DataDirError, IndexMissingError, IngestError, ModelMismatchError
from kb.index.embed import get_embedder
from kb.index.store import Store
from kb.index.translations import is_translation
from kb.ingest.load import Reading, load_folder
from kb.ingest.pipeline import ingest, ingest_lock
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import ROOT, SEEDS


class CountingEmbedder:
    """The real embedder, counting how many passages it is asked to embed."""

    def __init__(self, inner):  # type: ignore[no-untyped-def]
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.embedded = 0

    def encode(self, texts, is_query=False):  # type: ignore[no-untyped-def]
        # Passages are embedded as passages; their sentences, kept for quotes, as queries.
        self.embedded += 0 if is_query else len(texts)
        return self.inner.encode(texts, is_query=is_query)

    def sparse(self, texts):  # type: ignore[no-untyped-def]
        return self.inner.sparse(texts)


class InterruptedAfter(CountingEmbedder):
    """The real embedder, interrupted (Ctrl-C) when asked for passages past the first ``passages``."""

    def __init__(self, inner, passages: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__(inner)
        self.passages = passages

    def encode(self, texts, is_query=False):  # type: ignore[no-untyped-def]
        if not is_query and self.embedded >= self.passages:
            raise KeyboardInterrupt
        return super().encode(texts, is_query)


@pytest.fixture()
def parts(tmp_path: Path) -> tuple[Settings, Store, CountingEmbedder]:
    settings = Settings(data_dir=tmp_path / "kb")
    return settings, Store(settings), CountingEmbedder(get_embedder(settings))


@pytest.mark.slow  # 20 s or more on a busy 2-core machine; not in make test-fast
def test_reingest_is_incremental_and_idempotent(seeds_copy: Path, parts) -> None:  # type: ignore[no-untyped-def]
    settings, store, embedder = parts
    first = ingest(seeds_copy, settings, store, embedder)
    assert len(first.added) == 5 and first.chunks > 20
    embedded_cold = embedder.embedded

    again = ingest(seeds_copy, settings, store, embedder)
    assert not again.changed and embedder.embedded == embedded_cold
    assert again.generation == first.generation

    changed = seeds_copy / "003_270c56ab60b0665d.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nUn paragraf nou despre Worten.", encoding="utf-8")
    (seeds_copy / "001_016916c4e286d33c.txt").unlink()
    third = ingest(seeds_copy, settings, store, embedder)
    assert third.updated == ("003_270c56ab60b0665d.txt",)
    assert third.removed == ("001_016916c4e286d33c.txt",)
    assert len(third.unchanged) == 3
    # Only the changed document was embedded again.
    assert 0 < embedder.embedded - embedded_cold < 15
    sources = [d.source for d in store.documents(third.generation)]
    assert "001_016916c4e286d33c.txt" not in sources
    doc = store.document(third.generation, "003_270c56ab60b0665d.txt")
    assert doc is not None and doc.text.endswith("Un paragraf nou despre Worten.")
    # Only the active generation and the one it replaced (kept for readers in flight) are left.
    assert store.generations() == [first.generation, third.generation]
    # A generation a killed ingest half-built goes with the next ingest, even one with nothing to index.
    stray = store.new_generation(embedder.name)
    fourth = ingest(seeds_copy, settings, store, embedder)
    assert not fourth.changed and stray not in store.generations()
    assert store.generations() == [third.generation]


@pytest.mark.slow  # 20 s or more on a busy 2-core machine; not in make test-fast
def test_progress_is_counted_in_passages(tmp_path: Path, parts, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Counted in documents, one long post kept the bar at 0/1 until it was done."""
    settings, store, embedder = parts
    monkeypatch.setattr("kb.ingest.pipeline.EMBED_BATCH", 8)
    folder = tmp_path / "blog"
    folder.mkdir()
    paragraphs = [f"Paragraph {i} about grinders and espresso, and how burr size changes it." for i in range(100)]
    (folder / "long.md").write_text("# A long post\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
    calls: list[tuple[int, int, str]] = []
    report = ingest(folder, settings, store, embedder, lambda done, total, source: calls.append((done, total, source)))
    assert calls[0] == (0, report.chunks, "long.md")  # the bar shows before the first passage is embedded
    assert len(calls) > 2 and calls[-1] == (report.chunks, report.chunks, "long.md")
    assert [done for done, _, _ in calls] == sorted({done for done, _, _ in calls})
    assert store.chunk_count(report.generation) == report.chunks
    assert report.summary().startswith(f"Indexed {report.chunks} passages:")


def test_reading_an_empty_store_writes_nothing(tmp_path: Path) -> None:
    """A read-only command on an empty Chroma (a server, or a colleague's by a
    mistyped URL) created the meta collection."""
    settings = Settings(data_dir=tmp_path / "kb")
    store = Store(settings)
    assert store.active() is None
    assert store._client.list_collections() == []


def test_no_index_under_a_mistyped_prefix_names_the_data_dir_and_the_prefix(seeded_settings: Settings) -> None:
    """A bare "No index yet: run `python ingest.py`" hid a typo in KB_COLLECTION_PREFIX, and
    following it embedded the whole corpus again under the wrong name."""
    settings = seeded_settings.replace(collection_prefix="omnikb-typo")
    with pytest.raises(IndexMissingError) as missing:
        KnowledgeBase(settings).retriever.index()
    assert str(missing.value) == (
        f"No index yet in the data dir {settings.data_dir.absolute()} under the collection prefix "
        "'omnikb-typo' (KB_COLLECTION_PREFIX): run `python ingest.py` (or `kb ingest`) first."
    )
    assert Store(seeded_settings).active() is not None  # the index is there, under its own prefix


def test_the_arabic_translation_is_recognised(kb: KnowledgeBase) -> None:
    index = kb.retriever.index()
    assert index.translations == {
        "004_84f0c51f48149d1b.txt": "000_9473cab8017bbeac.txt",
        "000_9473cab8017bbeac.txt": "004_84f0c51f48149d1b.txt",
    }


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_short_articles_that_line_up_by_chance_are_not_translations() -> None:
    """With five passages a side, a passage's best match lies near its expected
    place two times in three whatever it says: two unrelated short posts were
    paired, and one's passages were shown in place of the other's. A line-up
    counts only when chance would rarely give it."""
    rng = np.random.default_rng(7)
    for passages, paired in ((5, False), (6, False), (12, True), (19, True)):
        article = _unit_rows(rng.normal(size=(passages, 64)))
        lined_up = _unit_rows(article + 0.3 * rng.normal(size=article.shape))  # each passage's best match in place
        assert is_translation(article, lined_up) is paired, passages
    # Unrelated articles of the seeds' length are not paired either.
    assert not is_translation(_unit_rows(rng.normal(size=(18, 64))), _unit_rows(rng.normal(size=(19, 64))))


def test_an_index_built_by_another_model_is_refused(seeded_settings: Settings) -> None:
    store = Store(seeded_settings)
    with pytest.raises(ModelMismatchError, match=r"python ingest\.py"):
        store.require_active("st:some-other-model")


@pytest.mark.slow  # 20 s or more on a busy 2-core machine; not in make test-fast
def test_a_failed_ingest_leaves_the_previous_index_answering(seeds_copy: Path, parts) -> None:  # type: ignore[no-untyped-def]
    settings, store, embedder = parts
    first = ingest(seeds_copy, settings, store, embedder)

    class Exploding(CountingEmbedder):
        def encode(self, texts, is_query=False):  # type: ignore[no-untyped-def]
            raise RuntimeError("disk full")

    (seeds_copy / "new.txt").write_text("Nuevo\n\nUn artículo nuevo sobre canales.", encoding="utf-8")
    with pytest.raises(RuntimeError):
        ingest(seeds_copy, settings, store, Exploding(embedder.inner))
    active = store.active()
    assert active is not None and active.generation == first.generation
    assert store.generations() == [first.generation]
    assert len(store.documents(first.generation)) == 5


@pytest.mark.slow  # 20 s or more on a busy 2-core machine; not in make test-fast
def test_an_empty_folder_is_an_error_and_keeps_the_index(tmp_path: Path, seeds_copy: Path, parts) -> None:  # type: ignore[no-untyped-def]
    settings, store, embedder = parts
    ingest(seeds_copy, settings, store, embedder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match="unchanged"):
        ingest(empty, settings, store, embedder)
    assert store.active() is not None


@pytest.mark.server
def test_kb_ingest_reports_and_skips_bad_files_and_indexes_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    good = "Click and collect\n\nA customer buys online and picks the order up in the shop the same afternoon."
    (folder / "a-good.txt").write_text(good, encoding="utf-8")
    (folder / "b-copy.txt").write_text(good, encoding="utf-8")
    (folder / "c-empty.md").write_bytes(b"")
    (folder / "d-binary.txt").write_bytes(b"PK\x03\x04\x00\x00binary zip")
    (folder / "e-latin1.txt").write_bytes("Título\n\nCanais de comunicação e lojas.".encode("latin-1"))
    (folder / "f-huge.txt").write_text("Huge\n\n" + "word " * 1000, encoding="utf-8")
    (folder / "h-image.png").write_bytes(b"\x89PNG\r\n")
    data = tmp_path / "kb"
    result = subprocess.run(
        [sys.executable, "-m", "kb", "ingest", "--quiet", str(folder)],
        cwd=ROOT,
        env={**os.environ, "KB_DATA_DIR": str(data), "KB_MAX_FILE_BYTES": "2000", "ANONYMIZED_TELEMETRY": "False"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Two articles could not be read: the copy, the image, the empty file (never indexed,
    # so a placeholder) and the file over KB_MAX_FILE_BYTES are left out on purpose.
    assert result.returncode == 5, result.stderr
    assert "error: 2 files could not be read" in result.stderr
    skipped = dict(re.findall(r"^skipped (\S+): (.*)$", result.stderr, re.MULTILINE))
    assert sorted(skipped) == [
        "b-copy.txt",
        "c-empty.md",
        "d-binary.txt",
        "e-latin1.txt",
        "f-huge.txt",
        "h-image.png",
    ]
    assert "same text as a-good.txt" in skipped["b-copy.txt"]
    assert "empty" in skipped["c-empty.md"] and "binary" in skipped["d-binary.txt"]
    assert "UTF-8" in skipped["e-latin1.txt"] and "KB_MAX_FILE_BYTES" in skipped["f-huge.txt"]
    assert "Traceback" not in result.stderr and "1 added" in result.stderr
    store = Store(Settings(data_dir=data))
    active = store.active()
    assert active is not None
    assert [d.source for d in store.documents(active.generation)] == ["a-good.txt"]


def test_an_article_the_loader_chokes_on_is_skipped_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.ingest import load as loading

    (tmp_path / "a.txt").write_text("A\n\nAn article about channels.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("B\n\nAn article that trips a bug in cleaning.", encoding="utf-8")
    real_parse = loading.parse

    def parse(source: str, raw: bytes, *rest):  # type: ignore[no-untyped-def]
        if source == "b.txt":
            raise ValueError("a bug in the cleaner")
        return real_parse(source, raw, *rest)

    monkeypatch.setattr(loading, "parse", parse)
    loaded = loading.load_folder(tmp_path, 10_000)
    assert [d.source for d in loaded.documents] == ["a.txt"]
    assert [(p.path, "a bug in the cleaner" in p.reason) for p in loaded.problems] == [("b.txt", True)]


def test_a_file_that_cannot_be_read_is_skipped_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_text("A\n\nAn article about channels.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("B\n\nAn article on a failing disk.", encoding="utf-8")
    real_open = Path.open

    def failing_open(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "b.txt":
            raise OSError(5, "Input/output error")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", failing_open)
    loaded = load_folder(tmp_path, 10_000)
    assert [d.source for d in loaded.documents] == ["a.txt"]
    assert [(p.path, p.reason) for p in loaded.problems] == [("b.txt", "cannot read it (Input/output error)")]


def test_reading_a_folder_tells_each_file_as_it_goes_and_each_skipped_one_when_found(tmp_path: Path) -> None:
    """On a blog of 400 posts, reading the files took 30 s or more with nothing said, and the
    files left out (drafts, repeats, unreadable ones) were told only after the embedding."""
    (tmp_path / "a.md").write_text("# Bikes\n\nAn article about bicycles and their gears.\n", encoding="utf-8")
    (tmp_path / "b-draft.md").write_text("---\ndraft: true\n---\n# Later\n\nNot yet.\n", encoding="utf-8")
    (tmp_path / "c-empty.txt").write_bytes(b"")
    (tmp_path / "d.txt").write_text("Coffee\n\nHow a burr grinder changes an espresso.\n", encoding="utf-8")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    told: list[tuple[str, Any]] = []
    reading = Reading(
        read=lambda done, total, source: told.append(("read", (done, total, source))),
        skipped=lambda problem: told.append(("skipped", problem.path)),
    )
    loaded = load_folder(tmp_path, 10_000, reading=reading)
    assert told == [
        ("read", (0, 4, "a.md")),
        ("read", (1, 4, "b-draft.md")),
        ("skipped", "b-draft.md"),  # said before the next file is read
        ("read", (2, 4, "c-empty.txt")),
        ("skipped", "c-empty.txt"),
        ("read", (3, 4, "d.txt")),
        ("read", (4, 4, "d.txt")),
        ("skipped", "photo.png"),
    ]
    assert [p.path for p in loaded.problems] == [path for kind, path in told if kind == "skipped"]
    assert [d.source for d in loaded.documents] == ["a.md", "d.txt"]
    assert load_folder(tmp_path, 10_000) == loaded  # told or not, the same folder read


def test_a_second_ingest_at_the_same_time_is_refused_and_harms_nothing(seeded_settings: Settings) -> None:
    """Two ingests at once would each clean up the other's half-built generation."""
    before = Store(seeded_settings).generations()
    with ingest_lock(seeded_settings.data_dir):
        with pytest.raises(IngestError, match="Another ingest is running"):
            KnowledgeBase(seeded_settings).ingest(SEEDS)
    assert Store(seeded_settings).generations() == before
    with ingest_lock(seeded_settings.data_dir):  # released: it can be taken again
        pass


def test_a_draft_is_skipped_and_a_post_turned_back_into_a_draft_leaves_the_index(tmp_path: Path, parts) -> None:  # type: ignore[no-untyped-def]
    settings, store, embedder = parts
    folder = tmp_path / "posts"
    folder.mkdir()
    post = "---\ntitle: {title}\n{setting}---\n\n{body}\n"
    published = post.format(
        title="Click and collect", setting="draft: false\n", body="A customer buys online and picks the order up."
    )
    resign = "I am leaving my job at Northwind in June; I have not told my team yet."
    (folder / "a-published.md").write_text(published, encoding="utf-8")
    (folder / "b-resign.md").write_text(post.format(title="Why I leave", setting="", body=resign), encoding="utf-8")
    (folder / "c-toml.md").write_text("+++\ndraft = true\n+++\nNot published yet.\n", encoding="utf-8")
    (folder / "d-jekyll.md").write_text("---\npublished: false\n---\nNot published either.\n", encoding="utf-8")
    # Pelican and WordPress exports say it with a status; "hidden" is published, only not listed.
    (folder / "e-pelican.md").write_text("---\nStatus: draft\n---\nA draft too.\n", encoding="utf-8")
    (folder / "f-hidden.md").write_text("---\nstatus: hidden\n---\nA page the menu does not list.\n", encoding="utf-8")
    first = ingest(folder, settings, store, embedder)
    assert first.added == ("a-published.md", "b-resign.md", "f-hidden.md")
    assert [(p.path, p.reason) for p in first.problems] == [
        ("c-toml.md", "a draft (draft = true in its front matter)"),
        ("d-jekyll.md", "a draft (published: false in its front matter)"),
        ("e-pelican.md", "a draft (Status: draft in its front matter)"),
    ]

    draft = post.format(title="Why I leave", setting="draft: true\n", body=resign)
    (folder / "b-resign.md").write_text(draft, encoding="utf-8")
    second = ingest(folder, settings, store, embedder)
    assert second.removed == ("b-resign.md",)
    assert ("b-resign.md", "a draft (draft: true in its front matter)") in [(p.path, p.reason) for p in second.problems]
    assert [d.source for d in store.documents(second.generation)] == ["a-published.md", "f-hidden.md"]


def test_a_file_over_the_size_limit_is_left_out_on_purpose_not_broken(tmp_path: Path, parts) -> None:  # type: ignore[no-untyped-def]
    """A file over KB_MAX_FILE_BYTES, a limit set on purpose, made `kb ingest` exit 5 with
    "1 file could not be read … mend it"; it is skipped as a draft is."""
    settings, store, embedder = parts
    settings = settings.replace(max_file_bytes=2000)
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "big.md").write_text("# Big\n\n" + "Kettles boil water quickly and safely. " * 100, encoding="utf-8")
    small = "# Small\n\n" + "Teapots keep tea warm for a long time. " * 30
    (folder / "small.md").write_text(small, encoding="utf-8")
    (folder / "mugs.md").write_text("# Mugs\n\nA thick mug keeps coffee hot longer than a cup.\n", encoding="utf-8")
    first = ingest(folder, settings, store, embedder)
    assert first.added == ("mugs.md", "small.md") and first.broken == ()
    assert [(p.path, p.reason, p.broken) for p in first.problems] == [
        ("big.md", "3907 bytes is over the limit of 2000 (KB_MAX_FILE_BYTES)", False)
    ]
    # An indexed article that grows over the limit leaves the index, as one turned into a draft does.
    (folder / "small.md").write_text(small * 3, encoding="utf-8")
    second = ingest(folder, settings, store, embedder)
    assert second.removed == ("small.md",) and second.broken == ()
    assert sorted(p.path for p in second.problems) == ["big.md", "small.md"]


def test_a_section_page_of_front_matter_alone_is_left_out_not_broken(tmp_path: Path, parts) -> None:  # type: ignore[no-untyped-def]
    """Hugo gives every section an ``_index.md`` of front matter alone: the ingest
    of every Hugo blog ended "error: 1 file could not be read … mend it" (exit 5)."""
    settings, store, embedder = parts
    folder = tmp_path / "site"
    (folder / "posts").mkdir(parents=True)
    (folder / "posts" / "_index.md").write_text('---\ntitle: "Posts"\nmenu: main\n---\n', encoding="utf-8")
    post = "# Click and collect\n\nBuy online, pick up in the shop.\n"
    (folder / "posts" / "click.md").write_text(post, encoding="utf-8")
    report = ingest(folder, settings, store, embedder)
    assert report.added == ("posts/click.md",) and report.broken == ()
    assert [(p.path, p.broken) for p in report.problems] == [("posts/_index.md", False)]
    assert "not an article" in report.problems[0].reason


def test_only_the_same_folder_s_unreadable_article_keeps_its_indexed_version(tmp_path: Path, parts) -> None:  # type: ignore[no-untyped-def]
    """A broken file keeps the article indexed under its name; a broken file of
    the same name in another folder is not that article, and the old one goes."""
    settings, store, embedder = parts
    blog, other = tmp_path / "blog", tmp_path / "other"
    blog.mkdir()
    other.mkdir()
    (blog / "post.txt").write_text("Click and collect\n\nA customer buys online and picks it up.", encoding="utf-8")
    (blog / "more.txt").write_text("Returns\n\nA customer returns the order in any shop.", encoding="utf-8")
    ingest(blog, settings, store, embedder)
    (blog / "post.txt").write_bytes("Click and collect\n\nCafé".encode("latin-1"))
    same = ingest(blog, settings, store, embedder)
    assert same.unchanged == ("more.txt", "post.txt") and not same.removed
    assert [p.reason.endswith("its indexed version is kept") for p in same.broken] == [True]
    (other / "post.txt").write_bytes("Café".encode("latin-1"))
    (other / "new.txt").write_text("Stock\n\nOne stock for every channel.", encoding="utf-8")
    moved = ingest(other, settings, store, embedder)
    assert moved.removed == ("more.txt", "post.txt")
    assert [d.source for d in store.documents(moved.generation)] == ["new.txt"]


def test_a_link_to_an_article_that_is_gone_is_reported_and_a_linked_one_is_read(tmp_path: Path, parts) -> None:  # type: ignore[no-untyped-def]
    """A dangling link was left out without a word."""
    settings, store, embedder = parts
    folder = tmp_path / "posts"
    folder.mkdir()
    (tmp_path / "elsewhere.md").write_text("# Returns\n\nReturn the order in any shop.\n", encoding="utf-8")
    (folder / "linked.md").symlink_to(tmp_path / "elsewhere.md")
    (folder / "gone.md").symlink_to(tmp_path / "deleted.md")
    report = ingest(folder, settings, store, embedder)
    assert report.added == ("linked.md",)
    assert [(p.path, p.broken) for p in report.problems] == [("gone.md", True)]
    assert str(tmp_path / "deleted.md") in report.problems[0].reason


def test_a_source_is_found_by_its_name_in_either_unicode_form(tmp_path: Path) -> None:
    """macOS writes "café" decomposed (NFD); `kb show café-notes.md`, typed composed, found nothing."""
    import unicodedata

    from kb.service import KnowledgeBase

    folder = tmp_path / "posts"
    folder.mkdir()
    decomposed = unicodedata.normalize("NFD", "café-notes.md")
    (folder / decomposed).write_text("# Café notes\n\nA flat white has less foam.\n", encoding="utf-8")
    base = KnowledgeBase(Settings(data_dir=tmp_path / "kb"))
    base.ingest(folder)
    composed = unicodedata.normalize("NFC", "café-notes.md")
    assert composed != decomposed
    assert base.document(composed).text.endswith("A flat white has less foam.")


def test_an_empty_file_is_not_an_article_unless_it_was_one(tmp_path: Path, parts) -> None:  # type: ignore[no-untyped-def]
    """Hugo's empty ``_index.md`` made every ingest end "could not be read" (exit 5);
    an article emptied by mistake still keeps its indexed version, and is to be mended."""
    settings, store, embedder = parts
    folder = tmp_path / "blog"
    (folder / "posts").mkdir(parents=True)
    (folder / "_index.md").write_bytes(b"")
    post = folder / "posts" / "grind.md"
    post.write_text("# Grind size\n\nA finer grind slows the shot and raises extraction.", encoding="utf-8")
    (folder / "posts" / "milk.md").write_text("# Milk\n\nSteam milk to 60 degrees for a sweet latte.", encoding="utf-8")
    first = ingest(folder, settings, store, embedder)
    assert sorted(first.added) == ["posts/grind.md", "posts/milk.md"]
    assert [(p.path, p.reason) for p in first.problems] == [("_index.md", "the file is empty")]
    assert not first.broken
    post.write_bytes(b"")
    second = ingest(folder, settings, store, embedder)
    assert [p.path for p in second.broken] == ["posts/grind.md"]
    assert "its indexed version is kept" in second.broken[0].reason
    assert sorted(d.source for d in store.documents(second.generation)) == ["posts/grind.md", "posts/milk.md"]


def _vector_folders(settings: Settings) -> tuple[set[str], set[str]]:
    """The embedded Chroma's vector-index folders, and the segments its database still has."""
    path = settings.chroma_path
    with sqlite3.connect(f"{(path / 'chroma.sqlite3').as_uri()}?mode=ro", uri=True) as connection:
        segments = {str(row[0]) for row in connection.execute("SELECT id FROM segments")}
    folders = {p.name for p in path.iterdir() if p.is_dir() and re.fullmatch(r"[0-9a-f-]{36}", p.name)}
    return folders, segments


def test_re_ingests_leave_no_vector_index_folder_behind(tmp_path: Path, parts) -> None:  # type: ignore[no-untyped-def]
    """Chroma drops a collection from its database but not its folder: 22 re-ingests of a
    blog left 90 MB of folders no collection owned."""
    settings, store, embedder = parts
    folder = tmp_path / "blog"
    folder.mkdir()
    (folder / "grinders.md").write_text("# Grinders\n\nBurr grinders crush beans evenly.", encoding="utf-8")
    post = folder / "espresso.md"
    counts = []
    for edit in range(4):
        post.write_text(f"# Espresso\n\nPull a shot in {25 + edit} seconds at nine bars.", encoding="utf-8")
        ingest(folder, settings, store, embedder)
        folders, segments = _vector_folders(settings)
        assert folders and folders <= segments, folders - segments
        counts.append(len(folders))
    assert counts[-1] == counts[1], counts  # the active generation and the one it replaced, each time


def test_a_failed_first_ingest_says_there_is_no_index_yet(
    tmp_path: Path, parts, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """Interrupted, a first ingest said "the previous index stays active": there was none."""
    settings, store, embedder = parts

    class Exploding(CountingEmbedder):
        def encode(self, texts, is_query=False):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt

    folder = tmp_path / "blog"
    folder.mkdir()
    (folder / "grinders.md").write_text("# Grinders\n\nBurr grinders crush beans evenly.", encoding="utf-8")
    with caplog.at_level("WARNING", logger="kb.ingest.pipeline"), pytest.raises(KeyboardInterrupt):
        ingest(folder, settings, store, Exploding(embedder.inner))
    said = [r.getMessage() for r in caplog.records if r.name == "kb.ingest.pipeline"]
    assert said == ["ingest failed; there is no index yet"]
    assert store.active() is None and store.generations() == []


POSTS = (
    ("Grinders", "A burr grinder crushes the beans between two rings, evenly, at a low speed."),
    ("Kettles", "A gooseneck kettle pours a thin, steady stream over the grounds of a filter."),
    ("Scales", "Weigh the water as you pour: sixteen grams of water for each gram of coffee."),
    ("Storage", "Keep roasted beans in an airtight tin, away from light, and buy them whole."),
    ("Milk", "Steam the milk to sixty degrees; hotter, its sugars scorch and it tastes flat."),
)


def _posts(folder: Path, count: int) -> list[str]:
    """``count`` short posts on subjects of their own, in ``folder``; their names."""
    folder.mkdir(exist_ok=True)
    for i, (title, text) in enumerate(POSTS[:count]):
        (folder / f"post-{i}.md").write_text(f"# {title}\n\n{text}", encoding="utf-8")
    return [f"post-{i}.md" for i in range(count)]


def test_an_interrupted_ingest_goes_on_from_the_articles_it_embedded(
    tmp_path: Path, parts, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C an hour into a first ingest threw every passage embedded so far away."""
    settings, store, embedder = parts
    names = _posts(tmp_path / "blog", 5)
    with caplog.at_level("WARNING", logger="kb.ingest.pipeline"), pytest.raises(KeyboardInterrupt):
        ingest(tmp_path / "blog", settings, store, InterruptedAfter(embedder.inner, 3))
    said = [r.getMessage() for r in caplog.records if r.name == "kb.ingest.pipeline"]
    assert said == [
        "ingest stopped; there is no index yet. The 3 articles embedded so far are kept: "
        "run the ingest again to go on from there"
    ]
    assert store.active() is None and len(store.generations()) == 1

    report = ingest(tmp_path / "blog", settings, store, embedder)
    assert report.added == tuple(names) and report.resumed == tuple(names[:3])
    assert embedder.embedded == 2  # only the two posts it had not reached
    assert "3 of them embedded by the interrupted ingest before" in report.summary()
    assert store.generations() == [report.generation]
    assert sorted(d.source for d in store.documents(report.generation)) == names
    chunks, vectors = store.all_chunks(report.generation)
    fresh = embedder.inner.encode([c.embedding_text() for c in chunks], is_query=False)
    assert np.allclose(vectors, fresh, atol=1e-5)  # what was carried over is what embedding gives


def test_an_ingest_stopped_before_it_embedded_anything_leaves_nothing_to_go_on_from(
    tmp_path: Path, parts
) -> None:  # type: ignore[no-untyped-def]
    settings, store, embedder = parts
    names = _posts(tmp_path / "blog", 3)
    ingest(tmp_path / "blog", settings, store, embedder)
    (tmp_path / "blog" / names[0]).write_text("# Grinders\n\nA blade grinder chops beans.", encoding="utf-8")
    first = store.active()
    with pytest.raises(KeyboardInterrupt):
        ingest(tmp_path / "blog", settings, store, InterruptedAfter(embedder.inner, 0))
    assert store.active() == first and store.generations() == [first.generation]


def test_an_article_the_interrupted_ingest_embedded_before_it_was_edited_is_embedded_again(
    tmp_path: Path, parts
) -> None:  # type: ignore[no-untyped-def]
    settings, store, embedder = parts
    names = _posts(tmp_path / "blog", 4)
    with pytest.raises(KeyboardInterrupt):
        ingest(tmp_path / "blog", settings, store, InterruptedAfter(embedder.inner, 2))
    edited = tmp_path / "blog" / names[0]
    edited.write_text(edited.read_text(encoding="utf-8") + " Grind coarse for a press.", encoding="utf-8")
    report = ingest(tmp_path / "blog", settings, store, embedder)
    assert report.resumed == (names[1],)
    assert embedder.embedded == 3
    text = store.document(report.generation, names[0])
    assert text is not None and "Grind coarse for a press" in text.text


def test_passages_cut_another_way_are_cut_again(tmp_path: Path, parts) -> None:  # type: ignore[no-untyped-def]
    """KB_CHUNK_MAX_CHARS changed and re-ingested: every article was "unchanged", cut as before."""
    settings, store, embedder = parts
    folder = tmp_path / "blog"
    folder.mkdir()
    (folder / "coffee.md").write_text("# Coffee\n\n" + "\n\n".join(text for _, text in POSTS), encoding="utf-8")
    first = ingest(folder, settings, store, embedder)
    shorter = Settings(data_dir=settings.data_dir, chunk_max_chars=120, chunk_min_chars=0)
    again = ingest(folder, shorter, store, embedder)
    assert again.updated == ("coffee.md",) and again.chunks > first.chunks
    assert not ingest(folder, shorter, store, embedder).changed


def test_what_an_interrupted_ingest_left_unreadable_is_embedded_again(
    tmp_path: Path, parts, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """A head start that cannot be read is no reason to stop: the index is built all the same."""
    settings, store, embedder = parts
    names = _posts(tmp_path / "blog", 3)
    with pytest.raises(KeyboardInterrupt):
        ingest(tmp_path / "blog", settings, store, InterruptedAfter(embedder.inner, 2))

    def damaged(generation: int) -> list[object]:
        raise DataDirError("The index in the data dir is damaged (Error finding id)")

    monkeypatch.setattr(store, "whole_documents", damaged)
    with caplog.at_level("WARNING", logger="kb.ingest.pipeline"):
        report = ingest(tmp_path / "blog", settings, store, embedder)
    assert report.added == tuple(names) and report.resumed == () and embedder.embedded == 3
    assert any("cannot be read" in r.getMessage() for r in caplog.records)
    assert store.generations() == [report.generation]


def test_a_re_ingest_detects_the_language_of_changed_articles_only(
    tmp_path: Path, parts, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Detecting every unchanged article's language again took 7 of a one-line edit's 22 s on a big blog."""
    from kb.ingest import load

    settings, store, embedder = parts
    names = _posts(tmp_path / "blog", 4)
    first = ingest(tmp_path / "blog", settings, store, embedder)
    edited = tmp_path / "blog" / names[2]
    edited.write_text(edited.read_text(encoding="utf-8") + " Then grind them.", encoding="utf-8")
    detected: list[str] = []
    real = load.detect

    def spy(text: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        detected.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(load, "detect", spy)
    again = ingest(tmp_path / "blog", settings, store, embedder)
    assert again.updated == (names[2],) and len(detected) == 1 and "Then grind them." in detected[0]
    languages = {d.source: d.language for d in store.documents(again.generation)}
    assert languages == {d.source: d.language for d in store.documents(first.generation)}
