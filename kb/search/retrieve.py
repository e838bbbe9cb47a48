"""Hybrid retrieval: dense (Chroma), latent terms (the model's sparse head)
and lexical (BM25), fused as standardised scores.

The dense channel is centred per passage language: a question scores higher
against passages in its own language whatever they say, so each language's
mean similarity to the question is subtracted. A passage close to every
question on the corpus's topic (a hub: kb.search.hubs) loses a share of that
closeness, measured at load from the corpus alone. After fusion, a passage and its
translation (from a document recorded as a translation of another) take one
slot: the one in the asker's language, with the other as an alternative.
The pair scores the mean of its two readings. Further passages from an
already listed article lose a fixed amount, so the first results cover more
than one article. A question that asks for an amount ("how many", "what
percentage") lifts passages that state one.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from chromadb.errors import NotFoundError

from kb.index import memory
from kb.index.embed import Embedder, SparseVector, best_cosine, row_lengths, sparse_column
from kb.index.store import ActiveIndex, Store, StoredDocument
from kb.index.translations import alignment
from kb.ingest.chunk import opening_headings
from kb.models import Chunk, Hit
from kb.search.amounts import asks_for_quantity, states_quantity
from kb.search.hubs import hubness
from kb.search.lexical import BM25, tokenize, unvowelled, vowelled_share
from kb.search.names import Vocabulary
from kb.search.outline import Outline, outlines
from kb.text.language import FUNCTION_WORDS, readability, words

log = logging.getLogger(__name__)

# Threads for questions' sparse encodings: as many as the web server answers at once (anyio's 40).
SPARSE_THREADS = 40

# The channels' weights in the fused score (standardised scores; docs/quality.md,
# "What moved MRR@10"): words at a quarter, since they match within one language only.
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.25
SPARSE_WEIGHT = 1.0
# Passages each channel proposes before fusion (four times top_k if more).
CANDIDATES = 50
# Each further passage of an article already listed loses this much (in
# standard deviations of the fused score).
SAME_DOCUMENT_PENALTY = 0.6
# How often a search checks whether another process switched the active generation.
ACTIVE_CHECK_SECONDS = 1.0
# How much of each passage language's mean similarity to the question is taken off its passages' dense scores.
LANGUAGE_CENTRING = 1.0
# How much of each passage's hubness (kb.search.hubs) is taken off its dense score.
HUB_WEIGHT = 0.2
# An Arabic question with this many marks a letter or more is vowelled throughout (a
# learner's, a textbook's: about 0.75; the odd shadda of everyday writing, 0.02 to 0.06).
VOWELLED = 0.3
# A question that asks for an amount lifts passages stating one by this much.
QUANTITY_BOOST = 1.0
# A question that is one of the sources' headings word for word leads with the
# passage that heading opens, this far (in standard deviations) above the rest.
HEADING_LEAD = 1.0
# A follow-up's own words, scored alone, count this much beside the query that
# borrows the conversation's subject.
OWN_WEIGHT = 0.5
# A term more than this share of the passages have is the corpus's topic: it tells
# no sentence of a passage from another, so a quote's sentences are not chosen by
# it (docs/quality.md, "Quotes": the same 3 / 0 at 0.15, 0.25 and 0.35).
TOPIC_SHARE = 0.25


@dataclass(frozen=True)
class CorpusIndex:
    """Everything retrieval keeps in memory for one generation of the store."""

    generation: int
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray
    bm25: BM25
    row: dict[str, int]
    documents: dict[str, StoredDocument]
    translations: dict[str, str]
    shared_words: frozenset[str]
    by_source: dict[str, tuple[int, ...]] = field(default_factory=dict)
    language_means: dict[str, np.ndarray] = field(default_factory=dict)
    quantities: np.ndarray = field(default_factory=lambda: np.zeros(0))
    twins: dict[int, int] = field(default_factory=dict)
    # Each heading that opens passages (as index terms), with their rows.
    headed: dict[tuple[str, ...], tuple[int, ...]] = field(default_factory=dict)
    sparse: Any = None  # scipy CSR matrix of the passages' latent terms, if the model has them
    sparse_norms: np.ndarray = field(default_factory=lambda: np.zeros(0))  # each row's length, for cosines
    vocabulary: Vocabulary = field(default_factory=Vocabulary)  # the words of the passages and titles
    outlines: tuple[Outline, ...] = ()  # the lists the articles are built from
    # Each sentence of the passages (``sentences_of``), embedded as a query: what a quote is chosen by.
    sentence_vectors: Mapping[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    # Each passage's closeness to any question on the corpus's topic (kb.search.hubs), by row.
    hubness: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # The index terms of the corpus's topic ("omnic", "coffe"): more than TOPIC_SHARE of the passages have them.
    topic_terms: frozenset[str] = frozenset()

    @classmethod
    def build(cls, store: Store, generation: int) -> CorpusIndex:
        stored = store.passages(generation)
        chunks, vectors, sparse = stored.chunks, stored.vectors, stored.sparse
        matrix = sparse_matrix(sparse)
        documents = {d.source: d for d in store.documents(generation)}
        translations: dict[str, str] = {}
        for doc in documents.values():
            if doc.translation_of and doc.translation_of in documents:
                translations[doc.source] = doc.translation_of
                translations[doc.translation_of] = doc.source
        by_source: dict[str, list[int]] = {}
        for i, chunk in enumerate(chunks):
            by_source.setdefault(chunk.source, []).append(i)
        rows_of = {s: tuple(rows) for s, rows in by_source.items()}
        language_means = _language_means(chunks, vectors)
        families = [family(translations, c.source) for c in chunks]
        bm25 = BM25([c.text for c in chunks])
        return cls(
            generation=generation,
            chunks=tuple(chunks),
            vectors=vectors,
            bm25=bm25,
            row={c.id: i for i, c in enumerate(chunks)},
            documents=documents,
            translations=translations,
            shared_words=_shared_words(chunks),
            by_source=rows_of,
            language_means=language_means,
            sparse=matrix,
            sparse_norms=row_lengths(matrix),
            quantities=np.array([states_quantity(c.text) for c in chunks], dtype=np.float64),
            twins=_twins(vectors, translations, rows_of),
            headed=_headed(chunks),
            vocabulary=Vocabulary.of([*(c.text for c in chunks), *{c.title for c in chunks}]),
            outlines=outlines(chunks),
            sentence_vectors=stored.sentence_vectors(),
            hubness=hubness(chunks, vectors, families, language_means, stored.sentences),
            topic_terms=bm25.common(TOPIC_SHARE),
        )

    def written_in(self, language: str) -> bool:
        """Whether some passage is in ``language``."""
        return language in self.language_means

    def is_heading(self, text: str) -> bool:
        """Whether ``text`` is one of the sources' headings, word for word (as index terms)."""
        return tuple(tokenize(text)) in self.headed

    def translation_of_chunk(self, chunk: Chunk) -> Chunk | None:
        twin = self.twins.get(self.row[chunk.id])
        return None if twin is None else self.chunks[twin]


def _twins(vectors: np.ndarray, translations: dict[str, str], by_source: dict[str, tuple[int, ...]]) -> dict[int, int]:
    """Each passage of a translated article, mapped to the row of the passage that translates it."""
    twins: dict[int, int] = {}
    for source, other in translations.items():
        mine, theirs = by_source.get(source, ()), by_source.get(other, ())
        if not mine or not theirs:
            continue
        for row, match in zip(mine, alignment(vectors[list(mine)], vectors[list(theirs)]), strict=True):
            twins[row] = theirs[match]
    return twins


def _headed(chunks: list[Chunk]) -> dict[tuple[str, ...], tuple[int, ...]]:
    rows: dict[tuple[str, ...], list[int]] = {}
    for row, chunk in enumerate(chunks):
        for heading in opening_headings(chunk):
            terms = tuple(tokenize(heading))
            if terms and row not in rows.get(terms, []):
                rows.setdefault(terms, []).append(row)
    return {terms: tuple(found) for terms, found in rows.items()}


def sparse_matrix(vectors: list[SparseVector | None]) -> Any:
    """A CSR matrix of the passages' sparse vectors, or None if any is missing."""
    if not vectors or any(v is None for v in vectors):
        return None
    from scipy.sparse import csr_matrix

    data, indices, indptr = [], [], [0]
    for vector in vectors:
        assert vector is not None
        ids, weights = vector
        indices.append(ids)
        data.append(weights)
        indptr.append(indptr[-1] + len(ids))
    width = int(max((int(ids.max()) for ids, _ in (v for v in vectors if v is not None) if len(ids)), default=0)) + 1
    return csr_matrix((np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=(len(vectors), width))


def _language_means(chunks: list[Chunk], vectors: np.ndarray) -> dict[str, np.ndarray]:
    rows: dict[str, list[int]] = {}
    for i, chunk in enumerate(chunks):
        rows.setdefault(chunk.language, []).append(i)
    return {language: vectors[r].mean(axis=0) for language, r in rows.items()}


def _shared_words(chunks: list[Chunk]) -> frozenset[str]:
    """Words found in documents of two or more languages: loanwords, names."""
    seen: dict[str, set[str]] = {}
    for chunk in chunks:
        for word in words(chunk.text):
            if len(word) >= 5:
                seen.setdefault(word.casefold(), set()).add(chunk.language)
    return frozenset(w for w, langs in seen.items() if len(langs) >= 2)


@dataclass(frozen=True)
class Retrieval:
    hits: tuple[Hit, ...]
    best_dense: float
    lexical_terms: int
    query_terms: int | None = None  # the query's index terms, known to the corpus or not
    # The best cosine of the query's latent terms with any passage's (None without a sparse head).
    sparse_cosine: float | None = None
    index: CorpusIndex | None = None  # the generation searched
    # A follow-up's own words, scored alone (without hits): whether they are
    # about the sources without the conversation's subject.
    own: Retrieval | None = None
    # The query's dense vector (as a query), for what follows to compare with it.
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Scored:
    """One query's scores over its candidate passages (rows), before selection."""

    fused: dict[int, float]
    dense: dict[int, float]
    lexical: dict[int, float]
    headed: frozenset[int]
    retrieval: Retrieval  # without hits: what the scores say of the question


class Retriever:
    def __init__(
        self, store: Store, embedder: Embedder, on_load: Callable[[CorpusIndex], object] | None = None
    ) -> None:
        """``on_load``: called with each generation's index once it is built and before
        questions are answered from it (to load what else it needs: its calibration)."""
        self.store = store
        self.embedder = embedder
        self.on_load = on_load
        # The index loaded, with the active record it was built from (one tuple,
        # swapped in one assignment): a generation of the same number on a Chroma
        # server whose storage was replaced is another index.
        self._loaded: tuple[ActiveIndex, CorpusIndex] | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()  # held while an index is built
        self._pending: ActiveIndex | None = None  # being built in the background
        self._pending_lock = threading.Lock()
        self._watching = threading.Event()
        self._stop = threading.Event()
        # A question's sparse encoding runs beside its dense one. The pool queues nothing: the
        # embedder's sparse head serves its callers in turns by client (kb.index.fair), which a
        # queue in front of it, first come first served, would undo.
        self._pool = ThreadPoolExecutor(max_workers=SPARSE_THREADS, thread_name_prefix="sparse")

    @property
    def loaded_generation(self) -> int | None:
        """The generation questions are answered from now (None before the first load)."""
        loaded = self._loaded
        return None if loaded is None else loaded[1].generation

    def index(self, fresh: bool = False) -> CorpusIndex:
        """The in-memory index of the active generation.

        Which generation is active is read from the store at most once per
        ``ACTIVE_CHECK_SECONDS`` (a round trip per question otherwise), so a
        re-ingest by another process is seen within that time. A new generation
        is built in the background while the loaded one keeps answering, and
        answers once it is built whole (``fresh``: build it now, and wait).
        """
        loaded = self._loaded
        now = time.monotonic()
        if loaded is not None and not fresh and now - self._checked_at < ACTIVE_CHECK_SECONDS:
            return loaded[1]
        active = self.store.require_active(self.embedder.name)
        self._checked_at = now
        if loaded is not None and loaded[0] == active:
            return loaded[1]
        if loaded is not None and not fresh and active.generation > loaded[0].generation:
            # A re-ingest: the loaded generation stays readable until the next one,
            # so it answers while the new one is built. (Another index of the same
            # number, a Chroma server's storage replaced, is built now.)
            self._load_in_background(active)
            return loaded[1]
        del loaded  # not held here while the load switches it out: its memory is freed there and then
        return self._load(active)

    def refresh(self) -> None:
        """Check the store now, and build a new active generation on this thread
        (the questions meanwhile are answered from the one loaded)."""
        active = self.store.require_active(self.embedder.name)
        loaded = self._loaded
        if loaded is None or loaded[0] != active:
            del loaded  # not held here while the load switches it out: its memory is freed there and then
            self._load(active)

    def watch(self, every: float = ACTIVE_CHECK_SECONDS) -> None:
        """Look for a new generation every ``every`` seconds in a background thread,
        and load it there: the first question after an ingest finds it ready."""
        with self._pending_lock:
            if self._watching.is_set():
                return
            self._watching.set()
            self._stop.clear()
        threading.Thread(target=self._watch, args=(every,), name="kb-index-watch", daemon=True).start()

    def unwatch(self) -> None:
        """Stop ``watch``."""
        self._stop.set()
        self._watching.clear()

    def _watch(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - no index yet, a store away: try again later
                log.debug("index watch: %s", exc)

    def _load(self, active: ActiveIndex, newer_only: bool = False) -> CorpusIndex:
        """Build ``active``'s index (unless another thread just did) and switch to it, whole.
        ``newer_only``: unless a generation as new is loaded already (a load in the
        background that a later ingest's load overtook must not switch back)."""
        with self._lock:
            loaded = self._loaded
            if loaded is not None and (
                loaded[0] == active or (newer_only and loaded[0].generation >= active.generation)
            ):
                return loaded[1]
            log.info("loading generation %s", active.generation)
            index = CorpusIndex.build(self.store, active.generation)
            if self.on_load is not None:
                self.on_load(index)
            self._loaded = (active, index)
            # Only a weak reference to the index switched out, so that its memory is freed once
            # no question in flight still reads it.
            released = None if loaded is None else (loaded[1].generation, weakref.ref(loaded[1]))
            del loaded
        if released is not None:
            # Freed, it would stay with the process (glibc keeps it): an index's worth at every re-ingest.
            memory.trim_once_released(released[1], f"generation {released[0]}'s index")
        return index

    def _load_in_background(self, active: ActiveIndex) -> None:
        with self._pending_lock:
            if self._pending == active:
                return
            self._pending = active
        threading.Thread(target=self._load_pending, args=(active,), name="kb-index-load", daemon=True).start()

    def _load_pending(self, active: ActiveIndex) -> None:
        try:
            self._load(active, newer_only=True)
        except Exception as exc:  # noqa: BLE001 - the loaded index keeps answering; the next check tries again
            log.warning("generation %s not loaded: %s", active.generation, exc)
        finally:
            with self._pending_lock:
                if self._pending == active:
                    self._pending = None

    def search(
        self,
        query: str,
        top_k: int,
        language: str | None = None,
        index: CorpusIndex | None = None,
        own: str | None = None,
    ) -> Retrieval:
        """The ``top_k`` best passages for ``query`` in ``index`` (the active generation by default).

        ``own``: for a follow-up whose ``query`` borrows the conversation's topic
        words, the words the reader typed. They are scored alone too, and count
        ``OWN_WEIGHT`` as much: the borrowed subject is in every passage of a
        focused blog, so alone it would rank the previous answer first again
        ("and what are its challenges?" after "what is omnichannel?").
        """
        index = index or self.index()
        try:
            return self._search(query, top_k, language, index, own)
        except NotFoundError:
            # A re-ingest switched generations since the last check: follow it.
            return self._search(query, top_k, language, self.index(fresh=True), own)

    def _search(self, query: str, top_k: int, language: str | None, index: CorpusIndex, own: str | None) -> Retrieval:
        scored = self._score(query, top_k, index)
        alone = self._score(own, top_k, index) if own is not None and own != query else None
        fused = dict(scored.fused)
        if alone is not None and alone.fused and fused:
            floor_query, floor_own = min(fused.values()), min(alone.fused.values())
            fused = {
                r: fused.get(r, floor_query) + OWN_WEIGHT * alone.fused.get(r, floor_own)
                for r in set(fused) | set(alone.fused)
            }
        ranked = sorted(fused, key=lambda r: -fused[r])
        hits = self._select(index, ranked, fused, scored.dense, scored.lexical, top_k, language, scored.headed)
        return replace(scored.retrieval, hits=tuple(hits), own=None if alone is None else alone.retrieval)

    def _score(self, query: str, top_k: int, index: CorpusIndex) -> Scored:
        """Every candidate passage's fused score for ``query``."""
        # In the caller's context: the embedder takes turns by the client it names (kb.index.fair).
        context = contextvars.copy_context()
        # An Arabic question vowelled throughout is read as the articles are written.
        plain = unvowelled(query) if vowelled_share(query) >= VOWELLED else query
        pending = self._pool.submit(context.run, self.embedder.sparse, [plain]) if index.sparse is not None else None
        vector = self.embedder.encode([plain], is_query=True)[0]
        query_sparse = pending.result() if pending is not None else None
        wanted = max(CANDIDATES, top_k * 4)
        dense = self.store.dense_search(index.generation, vector.tolist(), wanted)
        lexical = index.bm25.top(query, wanted)

        dense_score: dict[int, float] = {}
        for ident, score in dense:
            row = index.row.get(ident)
            if row is not None:
                dense_score[row] = score
        lexical_score = dict(lexical)
        found = set(dense_score) | set(lexical_score)
        if not found:
            return Scored({}, {}, {}, frozenset(), Retrieval((), 0.0, 0, index=index))
        # A translated passage is scored on both readings, so its twin joins the candidates.
        twins = [index.translation_of_chunk(index.chunks[r]) for r in found]
        candidates = sorted(found | {index.row[twin.id] for twin in twins if twin is not None})
        rows = np.array(candidates)
        # Every candidate gets both scores (the vectors are in memory).
        raw = index.vectors[rows] @ vector
        # Language centring: a question scores higher against passages in its
        # own language, whatever they say. Subtracting each passage language's
        # mean similarity to the question leaves what the passage adds.
        bias = {lang: float(mean @ vector) for lang, mean in index.language_means.items()}
        centred = raw - LANGUAGE_CENTRING * np.array([bias[index.chunks[r].language] for r in rows])
        if HUB_WEIGHT and index.hubness.size:
            # A passage near every question on the topic is taken down by that much.
            centred = centred - HUB_WEIGHT * index.hubness[rows]
        lex = np.array([lexical_score.get(r, 0.0) for r in rows])
        latent = _sparse_scores(index.sparse, rows, query_sparse[0] if query_sparse else None)
        fused_scores = _fuse(centred, lex, latent)
        if QUANTITY_BOOST and asks_for_quantity(query):
            # The question asks for an amount: passages that state one are likelier answers.
            fused_scores = fused_scores + QUANTITY_BOOST * index.quantities[rows]
        fused = {int(r): float(f) for r, f in zip(rows, fused_scores, strict=True)}
        # The question is a heading of the sources, word for word (as the example
        # questions the chat offers are): the passages it opens answer it.
        # (Stems can make one heading another language's: they keep their order.)
        headed = frozenset(r for r in index.headed.get(tuple(tokenize(query)), ()) if r in fused)
        if headed:
            lift = max(fused.values()) + HEADING_LEAD - min(fused[r] for r in headed)
            for r in headed:
                fused[r] += lift
        for r, d in zip(rows, raw, strict=True):
            dense_score[int(r)] = float(d)
        best_dense = max(dense_score.values(), default=0.0)
        # What the question asks about: its terms, without any language's
        # function words ("porquê", "warum"), which the index keeps.
        terms = tokenize(query, ignore=FUNCTION_WORDS)
        cosine = None
        if index.sparse is not None and query_sparse:
            cosine = best_cosine(index.sparse, index.sparse_norms, query_sparse[0])
        known = len(index.bm25.known(terms))
        summary = Retrieval((), best_dense, known, len(terms), index=index, sparse_cosine=cosine, vector=vector)
        return Scored(fused, dense_score, lexical_score, headed, summary)

    def _select(
        self,
        index: CorpusIndex,
        ranked: list[int],
        fused: dict[int, float],
        dense: dict[int, float],
        lexical: dict[int, float],
        top_k: int,
        language: str | None,
        headed: set[int] | frozenset[int] = frozenset(),
    ) -> list[Hit]:
        # Merge translations: one slot per passage, in the asker's language if
        # possible, else in their script (Portuguese reads better than Arabic to an
        # English reader, and Arabic better than Portuguese to a Persian one).
        merged: list[tuple[int, float, tuple[Chunk, ...]]] = []
        taken: set[str] = set()
        for row in ranked:
            chunk = index.chunks[row]
            if chunk.id in taken:
                continue
            twin = index.translation_of_chunk(chunk)
            if twin is not None and twin.id in taken:
                # Articles chunked differently map two passages to one twin,
                # already listed with the first: this one stands alone.
                twin = None
            alternatives: tuple[Chunk, ...] = ()
            taken.add(chunk.id)
            if twin is not None:
                taken.add(twin.id)
                if language is not None and readability(twin.language, language) > readability(
                    chunk.language, language
                ):
                    alternatives = (chunk,)
                    chunk = twin
                    row = index.row[twin.id]
                else:
                    alternatives = (twin,)
            twin_row = index.row[alternatives[0].id] if alternatives else None
            if row in headed or twin_row in headed:
                # One reading is headed by the question itself: that one counts.
                score = max(fused[r] for r in (row, twin_row) if r is not None and r in headed)
            elif twin_row is not None:
                # Two readings of the same content: their mean, not the better
                # one, so an article with a translation gets no second chance.
                # (Alignment need not be symmetric: a twin's twin may be unscored.)
                readings = [fused.get(row), fused.get(twin_row)]
                score = float(np.mean([r for r in readings if r is not None]))
            else:
                score = fused[row]
            merged.append((row, score, alternatives))

        # Diversity: each further passage of a document already shown counts less,
        # unless it goes on with the section of one shown (next to it, under the same
        # heading): the same answer, not a second opinion of the article ("Quanto tempo
        # se demolha o bacalhau? … 24 horas" after the same section's steps). Not in an
        # article with a translation: its two readings are cut apart differently.
        shown: dict[str, int] = {}
        listed: set[tuple[str, str, int]] = set()
        rescored: list[tuple[float, int, tuple[Chunk, ...]]] = []
        for row, score, alternatives in merged:
            chunk = index.chunks[row]
            source = family(index.translations, chunk.source)
            goes_on = chunk.source not in index.translations and any(
                (chunk.source, chunk.heading, chunk.ordinal + step) in listed for step in (-1, 1)
            )
            penalty = 0.0 if goes_on else SAME_DOCUMENT_PENALTY * shown.get(source, 0)
            rescored.append((score - penalty, row, alternatives))
            shown[source] = shown.get(source, 0) + 1
            listed.add((chunk.source, chunk.heading, chunk.ordinal))
        rescored.sort(key=lambda item: -item[0])
        return [
            Hit(
                chunk=index.chunks[row],
                score=score,
                dense=dense.get(row, 0.0),
                lexical=lexical.get(row, 0.0),
                alternatives=alternatives,
            )
            for score, row, alternatives in rescored[:top_k]
        ]


def _sparse_scores(matrix: Any, rows: np.ndarray, query: SparseVector | None) -> np.ndarray | None:
    if matrix is None or query is None:
        return None
    return np.asarray(matrix[rows] @ sparse_column(query, matrix.shape[1])).ravel()


def _fuse(dense: np.ndarray, lexical: np.ndarray, latent: np.ndarray | None) -> np.ndarray:
    """Combine the channels as standardised scores (each channel's z-score over
    the candidates), so a channel that is sure of one passage (a name, a
    number) can outweigh the others' small differences."""
    fused = DENSE_WEIGHT * _standardise(dense) + LEXICAL_WEIGHT * _standardise(lexical)
    if latent is not None:
        fused += SPARSE_WEIGHT * _standardise(latent)
    return fused


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - float(values.mean())) / spread if spread > 1e-9 else np.zeros_like(values)


def family(translations: Mapping[str, str], source: str) -> str:
    """One name for an article and its translation (the lesser of the two sources)."""
    other = translations.get(source)
    return min(source, other) if other else source
