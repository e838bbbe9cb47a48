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
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from kb.chunking import chunk_document
from kb.dedup import unique_documents
from kb.embedding import Embedder, SparseVector
from kb.errors import IngestError
from kb.loading import FileProblem, Loaded, load_folder
from kb.settings import Settings
from kb.store import Store

log = logging.getLogger(__name__)

# A document is a translation of another when its passages line up with the
# other's in order: most passages' best match sits where the translation of
# that passage should be. Articles on the same topic score high on cosine
# similarity too (a small model ranks every on-topic passage ~0.9), but their
# best matches are scattered.
# Short articles line up by chance: with five passages a side, a passage's best
# match lies near its expected place two times in three whatever it says. So the
# alignment must also be one chance would give less often than this, in both
# directions (a one-sided binomial test).
TRANSLATION_ALIGNMENT = 0.7
MIN_ALIGNED_PASSAGES = 5
ALIGNMENT_BY_CHANCE = 1e-3
ALIGNMENT_WINDOW = 1.5  # passages either side of where order predicts

Progress = Callable[[int, int, str], None]  # passages embedded, of all, and the current source
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
) -> IngestReport:
    """Index ``folder`` as a new generation and switch to it; one ingest at a time per data dir."""
    with ingest_lock(settings.data_dir):
        return _ingest(folder, settings, store, embedder, progress)


@contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data dir's ingest lock, or refuse at once if another ingest holds it.

    Two ingests at the same time would each clean up the other's half-built
    generation. The lock is the kernel's, so a killed ingest never leaves it held.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "ingest.lock", "a+b") as handle:
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


def _ingest(
    folder: Path,
    settings: Settings,
    store: Store,
    embedder: Embedder,
    progress: Progress | None,
) -> IngestReport:
    started = time.perf_counter()
    loaded = load_folder(folder, settings.max_file_bytes)
    active = store.active()
    same_model = active is not None and active.embedding_model == embedder.name
    previous = {d.source: d for d in store.documents(active.generation)} if active and same_model else {}
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

    unchanged = [s for s, d in current.items() if s in previous and previous[s].content_hash == d.content_hash]
    unchanged += kept
    updated = [s for s in current if s in previous and s not in unchanged]
    added = [s for s in current if s not in previous]
    removed = [s for s in previous if s not in current and s not in kept]
    if active is not None and same_model and not (added or updated or removed):
        # Nothing to index, but what earlier ingests left (the generation the
        # last one replaced, or one a killed ingest half-built) goes all the same.
        store.drop_inactive()
        if elsewhere:
            store.activate(active.generation, active.embedding_model, active.dimension, here)
        return IngestReport(
            active.generation,
            (),
            (),
            tuple(unchanged),
            (),
            loaded.problems,
            store.chunk_count(active.generation),
            time.perf_counter() - started,
        )

    store.drop_inactive()
    generation = store.new_generation(embedder.name)
    try:
        total_chunks = 0
        to_embed = [current[s] for s in (*updated, *added)]
        for source in unchanged:
            assert active is not None
            store.copy_document(source, active.generation, generation)
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
                for start in range(0, len(chunks), EMBED_BATCH):
                    batch = chunks[start : start + EMBED_BATCH]
                    # The latent terms come from the model's second handle, on the second core.
                    latent = pool.submit(embedder.sparse, [c.text for c in batch])
                    vectors.append(embedder.encode([c.embedding_text() for c in batch], is_query=False))
                    found = latent.result()
                    sparse = None if found is None or sparse is None else [*sparse, *found]
                    done += len(batch)
                    if progress:
                        progress(done, total, doc.source)
                matrix = np.vstack(vectors) if vectors else np.zeros((0, embedder.dimension))
                store.add_document(generation, doc, chunks, matrix, sparse)
        languages = {s: previous[s].language for s in kept} | {d.source: d.language for d in loaded.documents}
        _mark_translations(store, generation, languages)
        total_chunks = store.chunk_count(generation)
        store.activate(generation, embedder.name, embedder.dimension, here)
    except BaseException:
        log.warning("ingest failed; the previous index stays active")
        store.drop_generation(generation)
        raise
    # The replaced generation stays readable until the next ingest (``drop_inactive`` above).
    return IngestReport(
        generation=generation,
        added=tuple(added),
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        removed=tuple(removed),
        problems=loaded.problems,
        chunks=total_chunks,
        seconds=time.perf_counter() - started,
        folder=here,
        previous_folder=elsewhere,
        previous_model=active.embedding_model if active is not None and not same_model else "",
    )


def _mark_translations(store: Store, generation: int, language: dict[str, str]) -> None:
    """Record which documents translate another (the later one points to the
    earlier); ``language``: each document's language, by source."""
    chunks, vectors = store.all_chunks(generation)
    by_source: dict[str, np.ndarray] = {}
    for source in {c.source for c in chunks}:
        rows = [i for i, c in enumerate(chunks) if c.source == source]
        by_source[source] = vectors[rows]
    ordered = sorted(by_source)
    for i, later in enumerate(ordered):
        for earlier in ordered[:i]:
            if language.get(later) == language.get(earlier):
                continue
            if is_translation(by_source[later], by_source[earlier], f"{later} ~ {earlier}"):
                store.set_translation(generation, later, earlier)
                break


def is_translation(a: np.ndarray, b: np.ndarray, pair: str = "") -> bool:
    """Whether articles with passage vectors ``a`` and ``b`` translate each other."""
    score, chance = translation_evidence(a, b)
    log.info("translation score %s: %.3f (by chance: %.2g)", pair, score, chance)
    return score >= TRANSLATION_ALIGNMENT and chance <= ALIGNMENT_BY_CHANCE


def translation_evidence(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The share of passages whose best match on the other side is where order
    predicts, and the probability of lining up that well by chance (the larger
    of the two directions')."""
    if min(len(a), len(b)) < MIN_ALIGNED_PASSAGES or max(len(a), len(b)) > 1.5 * min(len(a), len(b)):
        return 0.0, 1.0
    sims = a @ b.T
    (share_ab, chance_ab), (share_ba, chance_ba) = _diagonal(sims), _diagonal(sims.T)
    return (share_ab + share_ba) / 2, max(chance_ab, chance_ba)


def _diagonal(sims: np.ndarray) -> tuple[float, float]:
    """The share of rows whose best column is near the diagonal, and the chance
    of at least that many if each row's best column were random."""
    rows, cols = sims.shape
    expected = np.arange(rows) * (cols - 1) / max(1, rows - 1)
    near = np.abs(np.arange(cols)[None, :] - expected[:, None]) <= ALIGNMENT_WINDOW
    hits = int(np.sum(near[np.arange(rows), sims.argmax(axis=1)]))
    return hits / rows, _binomial_tail(hits, rows, float(near.mean()))


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))
