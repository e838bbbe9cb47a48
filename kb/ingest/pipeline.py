"""Ingest: load, clean, chunk, embed and index a folder, incrementally and atomically.

Unchanged documents (same content hash, same embedding model) are carried
over with their vectors; changed and new ones are embedded; removed ones are
left behind. The new generation becomes active in one write, so a failure
halfway leaves the previous index answering. The generation it replaces is
kept until the next ingest starts: a server that read it just before the
switch (questions, documents, a whole index load) finishes on it rather than
on a collection that vanished under it.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from kb.errors import IngestError, KBError
from kb.index.embed import Embedder, SparseVector
from kb.index.store import ActiveIndex, Store, StoredDocument, StoreUnavailableError, data_dir_error
from kb.index.translations import mark_translations
from kb.ingest.chunk import chunk_document
from kb.ingest.declared import declared_pairs
from kb.ingest.dedup import unique_documents
from kb.ingest.load import FileProblem, Loaded, Reading, load_folder
from kb.models import Document
from kb.settings import Settings
from kb.text.sentences import sentences_of

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
# Told what the ingest does next, when it takes a while and shows no bar ("carrying over 387 unchanged articles").
Step = Callable[[str], None]
# What a caller computes from a whole new generation before it becomes active
# (the service: the answerability calibration, kept with the generation).
BeforeActivate = Callable[[Store, Embedder, int], object]  # passages embedded, of all, and the current source
# Passages embedded at a time: the progress bar moves after each batch.
EMBED_BATCH = 32


@dataclass(frozen=True)
class IngestReport:
    generation: int
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    problems: tuple[FileProblem, ...]
    chunks: int
    seconds: float
    folder: str = ""
    previous_folder: str = ""  # the folder the index held before, if another
    previous_model: str = ""  # the embedding model that built the index before, if another
    # Of the added and updated, those an interrupted ingest had embedded already: carried over, not embedded again.
    resumed: tuple[str, ...] = ()

    @property
    def broken(self) -> tuple[FileProblem, ...]:
        """The articles that could not be read, for their owner to mend."""
        return tuple(p for p in self.problems if p.broken)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.removed)} removed",
        ]
        if self.problems:
            parts.append(f"{sum(p.files for p in self.problems)} skipped")
        if self.resumed:
            parts.append(f"{len(self.resumed)} of them embedded by the interrupted ingest before")
        passages = "passage" if self.chunks == 1 else "passages"
        summary = f"Indexed {self.chunks} {passages}: " + ", ".join(parts) + f" ({self.seconds:.1f} s)."
        if self.removed and self.previous_folder:
            summary += f" The index held {self.previous_folder}: what is not in {self.folder} was removed."
        if self.previous_model:
            summary += (
                f" The index was built with {self.previous_model}; it is now built with another model, and"
                " app servers still set to the old one refuse it until they are given the new one."
            )
        return summary


def ingest(
    folder: Path,
    settings: Settings,
    store: Store,
    embedder: Embedder,
    progress: Progress | None = None,
    before_activate: BeforeActivate | None = None,
    reading: Reading | None = None,
    step: Step | None = None,
) -> IngestReport:
    """Index ``folder`` as a new generation and switch to it; one ingest at a time per data dir.

    ``before_activate`` runs on the whole new generation just before it becomes active;
    ``reading`` is told of each file while the folder is read (``load_folder``); ``step``,
    of each step between the bars (carrying the unchanged articles over, finishing)."""
    with ingest_lock(settings.data_dir):
        return _ingest(folder, settings, store, embedder, progress, before_activate, reading, step or _silent)


def _silent(_: str) -> None:
    """A step no one is told of."""


@contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data dir's ingest lock, or refuse at once if another ingest holds it.

    Two ingests at the same time would each clean up the other's half-built
    generation. The lock is the kernel's, so a killed ingest never leaves it held.
    """
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(data_dir / "ingest.lock", "a+b")  # closed by the with below
    except OSError as exc:  # a read-only data dir
        raise data_dir_error(data_dir, exc) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestError(
                f"Another ingest is running on {data_dir}; wait for it to finish, then run this one again."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Plan:
    """What an ingest will do, decided before anything is written."""

    loaded: Loaded
    current: dict[str, Document]
    previous: dict[str, StoredDocument]
    active: ActiveIndex | None
    same_model: bool
    here: str
    elsewhere: str  # the folder the active index was built from, when another
    kept: tuple[str, ...]  # indexed articles whose file cannot be read now: their indexed version stays
    unchanged: tuple[str, ...]
    updated: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    # Unchanged articles whose public URL changed (sources.toml, KB_SITE_URL): carried
    # over with their vectors, under the new URL; reported as updated.
    relinked: tuple[str, ...] = ()
    # The translations the blog declares: each one's source, with the source it translates.
    declared: Mapping[str, str] = field(default_factory=dict)

    @property
    def idle(self) -> bool:
        """Nothing to embed or drop, every declared translation recorded: the active index holds this folder."""
        changed = self.added or self.updated or self.removed or self.relinked
        recorded = all(
            later in self.previous and self.previous[later].translation_of == earlier
            for later, earlier in self.declared.items()
        )
        return self.active is not None and self.same_model and not changed and recorded


def _ingest(
    folder: Path,
    settings: Settings,
    store: Store,
    embedder: Embedder,
    progress: Progress | None,
    before_activate: BeforeActivate | None = None,
    reading: Reading | None = None,
    step: Step = _silent,
) -> IngestReport:
    started = time.perf_counter()
    plan = _plan(folder, settings, store, embedder, reading)
    active = plan.active
    if plan.idle:
        assert active is not None
        # Nothing to index, but what earlier ingests left (the generation the
        # last one replaced, or one a killed ingest half-built) goes all the same.
        store.drop_inactive()
        if plan.elsewhere:
            store.activate(active.generation, active.embedding_model, active.dimension, plan.here)
        return _report(plan, active.generation, store.chunk_count(active.generation), started)

    # What an ingest that was stopped halfway (Ctrl-C, a kill, a failure) had embedded is not embedded again.
    unfinished = store.unfinished(embedder.name)
    store.drop_inactive(keep=unfinished)
    generation = store.new_generation(embedder.name)
    embedded: list[str] = []  # the articles this ingest has written whole
    try:
        if plan.unchanged:
            assert active is not None
            urls = {s: plan.current[s].url for s in plan.relinked}
            count = len(plan.unchanged)
            step(f"carrying over {count} unchanged {'article' if count == 1 else 'articles'}")
            store.copy_documents(plan.unchanged, active.generation, generation, urls)
        resumed = _resume(plan, settings, store, unfinished, generation, step) if unfinished is not None else ()
        embedded += resumed
        _embed(plan, settings, store, embedder, generation, progress, frozenset(resumed), embedded)
        chunks = _commit(plan, store, embedder, generation, before_activate, step)
    except BaseException:
        # A first ingest has no index to fall back on: saying one stays would mislead.
        stays = "the previous index stays active" if active else "there is no index yet"
        if embedded:
            # Kept for the next ingest to go on from (it is never active; the next ingest drops it).
            log.warning(
                "ingest stopped; %s. The %d %s embedded so far %s kept: run the ingest again to go on from there",
                stays,
                len(embedded),
                "article" if len(embedded) == 1 else "articles",
                "is" if len(embedded) == 1 else "are",
            )
        else:
            log.warning("ingest failed; %s", stays)
            store.drop_generation(generation)
        raise
    # The replaced generation stays readable until the next ingest (``drop_inactive`` above).
    return replace(_report(plan, generation, chunks, started), resumed=resumed)


def _resume(
    plan: Plan, settings: Settings, store: Store, unfinished: int, generation: int, step: Step = _silent
) -> tuple[str, ...]:
    """Carry into ``generation`` the articles to embed that the ``unfinished`` generation
    holds whole, the same text cut the same way; then drop it. Those carried."""
    wanted = {plan.current[s].content_hash: s for s in (*plan.updated, *plan.added)}
    chunking = chunking_of(settings)
    found: tuple[str, ...] = ()
    try:
        found = tuple(
            sorted(
                d.source
                for d in store.whole_documents(unfinished)
                if wanted.get(d.content_hash) == d.source and d.chunking == chunking
            )
        )
        if found:
            log.info("going on from an interrupted ingest: %d articles embedded already", len(found))
            articles = "article" if len(found) == 1 else "articles"
            step(f"going on from the interrupted ingest: {len(found)} {articles} embedded already")
            store.copy_documents(found, unfinished, generation, {s: plan.current[s].url for s in found})
    except StoreUnavailableError:
        raise
    except KBError as exc:
        # What a killed process left may be unreadable: it is only a head start, never needed.
        log.warning("what the interrupted ingest embedded cannot be read (%s); it is embedded again", exc)
        store.remove_documents(generation, found)
        found = ()
    store.drop_generation(unfinished)
    return found


def chunking_of(settings: Settings) -> str:
    """How passages are cut with ``settings``, as recorded with each document."""
    return f"{settings.chunk_max_chars}/{settings.chunk_min_chars}"


def _plan(folder: Path, settings: Settings, store: Store, embedder: Embedder, reading: Reading | None = None) -> Plan:
    """Load the folder and compare it with the active index: what is added, updated, unchanged, removed."""
    active = store.active()
    same_model = active is not None and active.embedding_model == embedder.name
    previous = {d.source: d for d in store.documents(active.generation)} if active and same_model else {}
    known = {d.content_hash: d.language for d in previous.values()}
    loaded = load_folder(folder, settings.max_file_bytes, settings.site_url, _told(reading, previous), known)
    # A post and the page built from it are one article: indexed once (under
    # the source already indexed, if it is one of them, so its links stay).
    documents, repeats = unique_documents(loaded.documents, indexed=frozenset(previous))
    loaded = Loaded(documents, loaded.problems + repeats)
    if not loaded.documents:
        details = "; ".join(f"{p.path}: {p.reason}" for p in loaded.problems) or "no .txt/.md/.html files"
        raise IngestError(f"Nothing to ingest in {folder} ({details}). The existing index is unchanged.")

    here = str(folder.resolve())
    current = {d.source: d for d in loaded.documents}
    elsewhere = active.folder if active is not None and active.folder and active.folder != here else ""
    # An indexed article whose file can no longer be read (saved in another
    # encoding, emptied, caught mid-write) keeps its indexed version until it
    # is mended: a bad save does not take the article out of the index. (Not
    # one of another folder's articles that happens to have the same name.)
    kept = [
        p.path
        for p in loaded.problems
        if (p.broken or p.empty) and p.path in previous and p.path not in current and not elsewhere
    ]
    if kept:
        loaded = Loaded(
            loaded.documents,
            tuple(
                replace(p, reason=f"{p.reason}; its indexed version is kept", broken=True) if p.path in kept else p
                for p in loaded.problems
            ),
        )
    # Unchanged: the same text, cut into passages the same way (an index that recorded no cut
    # is taken as cut the way the settings say now).
    chunking = chunking_of(settings)
    unchanged = [
        s
        for s, d in current.items()
        if s in previous and previous[s].content_hash == d.content_hash and previous[s].chunking in ("", chunking)
    ]
    relinked = [s for s in unchanged if previous[s].url != current[s].url]
    unchanged += kept
    return Plan(
        loaded=loaded,
        current=current,
        previous=previous,
        active=active,
        same_model=same_model,
        here=here,
        elsewhere=elsewhere,
        kept=tuple(kept),
        unchanged=tuple(unchanged),
        updated=tuple(s for s in current if s in previous and s not in unchanged),
        added=tuple(s for s in current if s not in previous),
        removed=tuple(s for s in previous if s not in current and s not in kept),
        relinked=tuple(relinked),
        declared=declared_pairs(loaded.documents),
    )


def _told(reading: Reading | None, previous: Mapping[str, StoredDocument]) -> Reading | None:
    """``reading``, but not told of an indexed article that cannot be read now: it may keep
    its indexed version, which is known once the whole folder is read (the report says it)."""
    if reading is None:
        return None

    def skipped(problem: FileProblem) -> None:
        if not ((problem.broken or problem.empty) and problem.path in previous):
            reading.skipped(problem)

    return replace(reading, skipped=skipped)


def _embed(
    plan: Plan,
    settings: Settings,
    store: Store,
    embedder: Embedder,
    generation: int,
    progress: Progress | None,
    resumed: frozenset[str] = frozenset(),
    written: list[str] | None = None,
) -> None:
    """Chunk and embed the added and updated articles into ``generation`` (but those
    ``resumed``), adding each to ``written`` once it is written whole."""
    to_embed = [plan.current[s] for s in (*plan.updated, *plan.added) if s not in resumed]
    chunking = chunking_of(settings)
    # Progress is counted in passages: one long post is most of the work, and
    # counted in documents its bar stood at 0/1 for minutes.
    chunked = [(doc, chunk_document(doc, settings.chunk_max_chars, settings.chunk_min_chars)) for doc in to_embed]
    total = sum(len(chunks) for _, chunks in chunked)
    done = 0
    if progress and chunked:
        progress(0, total, chunked[0][0].source)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparse") as pool:
        for doc, chunks in chunked:
            vectors: list[np.ndarray] = []
            sparse: list[SparseVector] | None = []  # None: the model has no sparse head
            sentences: list[np.ndarray] = []
            for start in range(0, len(chunks), EMBED_BATCH):
                batch = chunks[start : start + EMBED_BATCH]
                # The latent terms come from the model's second handle, on the second core.
                latent = pool.submit(embedder.sparse, [c.text for c in batch])
                vectors.append(embedder.encode([c.embedding_text() for c in batch], is_query=False))
                sentences += sentence_vectors(embedder, [c.text for c in batch])
                found = latent.result()
                sparse = None if found is None or sparse is None else [*sparse, *found]
                done += len(batch)
                if progress:
                    progress(done, total, doc.source)
            matrix = np.vstack(vectors) if vectors else np.zeros((0, embedder.dimension))
            store.add_document(generation, doc, chunks, matrix, sparse, sentences, chunking)
            if written is not None:
                written.append(doc.source)


def sentence_vectors(embedder: Embedder, texts: Sequence[str]) -> list[np.ndarray]:
    """Each text's sentences (``sentences_of``) embedded as queries, a matrix a
    text: an answer quotes the sentences closest to the question, which is
    embedded the same way (e5 matches two queries symmetrically, in any language)."""
    split = [sentences_of(text) for text in texts]
    flat = [sentence for group in split for sentence in group]
    matrix = embedder.encode(flat, is_query=True) if flat else np.zeros((0, embedder.dimension), dtype=np.float32)
    rows = np.cumsum([0, *(len(group) for group in split)])
    return [matrix[a:b] for a, b in pairwise(rows)]


def _commit(
    plan: Plan,
    store: Store,
    embedder: Embedder,
    generation: int,
    before_activate: BeforeActivate | None,
    step: Step = _silent,
) -> int:
    """Mark the translations and make ``generation`` the active index, in one write; its passage count."""
    step("linking translations" + (" and calibrating answerability" if before_activate is not None else ""))
    languages = {s: plan.previous[s].language for s in plan.kept}
    languages |= {d.source: d.language for d in plan.loaded.documents}
    # An article whose file cannot be read now keeps its indexed version, its translation included.
    links = {s: link for s in plan.kept if (link := plan.previous[s].translation_of)}
    mark_translations(store, generation, languages, links | dict(plan.declared))
    chunks = store.chunk_count(generation)
    if before_activate is not None:
        before_activate(store, embedder, generation)
    store.activate(generation, embedder.name, embedder.dimension, plan.here)
    return chunks


def _report(plan: Plan, generation: int, chunks: int, started: float) -> IngestReport:
    active = plan.active
    if plan.idle:
        return IngestReport(
            generation, (), (), plan.unchanged, (), plan.loaded.problems, chunks, time.perf_counter() - started
        )
    return IngestReport(
        generation=generation,
        added=plan.added,
        updated=plan.updated + plan.relinked,
        unchanged=tuple(s for s in plan.unchanged if s not in plan.relinked),
        removed=plan.removed,
        problems=plan.loaded.problems,
        chunks=chunks,
        seconds=time.perf_counter() - started,
        folder=plan.here,
        previous_folder=plan.elsewhere,
        previous_model=active.embedding_model if active is not None and not plan.same_model else "",
    )
