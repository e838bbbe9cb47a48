"""Hybrid retrieval: dense (Chroma) and lexical (BM25), fused by reciprocal rank.

After fusion, a passage and its translation (from a document recorded as a
translation of another) take one slot: the one in the asker's language, with
the other as an alternative. Further passages from an already represented
document are discounted, so the top results cover more than one article.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from kb.embedding import Embedder
from kb.ingestion import aligned
from kb.language import words
from kb.lexical import BM25
from kb.models import Chunk, Hit
from kb.store import Store, StoredDocument

log = logging.getLogger(__name__)

RRF_K = 60
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
CANDIDATES = 50
SAME_DOCUMENT_DISCOUNT = 0.85


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

    @classmethod
    def build(cls, store: Store, generation: int) -> CorpusIndex:
        chunks, vectors = store.all_chunks(generation)
        documents = {d.source: d for d in store.documents(generation)}
        translations: dict[str, str] = {}
        for doc in documents.values():
            if doc.translation_of and doc.translation_of in documents:
                translations[doc.source] = doc.translation_of
                translations[doc.translation_of] = doc.source
        by_source: dict[str, list[int]] = {}
        for i, chunk in enumerate(chunks):
            by_source.setdefault(chunk.source, []).append(i)
        return cls(
            generation=generation,
            chunks=tuple(chunks),
            vectors=vectors,
            bm25=BM25([c.text for c in chunks]),
            row={c.id: i for i, c in enumerate(chunks)},
            documents=documents,
            translations=translations,
            shared_words=_shared_words(chunks),
            by_source={s: tuple(rows) for s, rows in by_source.items()},
        )

    def translation_of_chunk(self, chunk: Chunk) -> Chunk | None:
        other = self.translations.get(chunk.source)
        if other is None:
            return None
        mine = self.by_source[chunk.source]
        theirs = self.by_source[other]
        index = mine.index(self.row[chunk.id])
        match = aligned(self.vectors[list(mine)], self.vectors[list(theirs)], index)
        return self.chunks[theirs[match]]


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
    query_vector: np.ndarray
    best_dense: float
    lexical_terms: int


class Retriever:
    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self._index: CorpusIndex | None = None
        self._lock = threading.Lock()

    def index(self) -> CorpusIndex:
        """The in-memory index of the active generation, rebuilt when it changes."""
        active = self.store.require_active(self.embedder.name)
        current = self._index
        if current is not None and current.generation == active.generation:
            return current
        with self._lock:
            if self._index is None or self._index.generation != active.generation:
                log.info("loading generation %s", active.generation)
                self._index = CorpusIndex.build(self.store, active.generation)
            return self._index

    def search(self, query: str, top_k: int, language: str | None = None) -> Retrieval:
        index = self.index()
        vector = self.embedder.encode([query], is_query=True)[0]
        dense = self.store.dense_search(index.generation, vector.tolist(), max(CANDIDATES, top_k * 4))
        lexical = index.bm25.top(query, max(CANDIDATES, top_k * 4))

        fused: dict[int, float] = {}
        dense_score: dict[int, float] = {}
        lexical_score: dict[int, float] = {}
        for rank, (ident, score) in enumerate(dense):
            row = index.row.get(ident)
            if row is None:
                continue
            fused[row] = fused.get(row, 0.0) + DENSE_WEIGHT / (RRF_K + rank + 1)
            dense_score[row] = score
        for rank, (row, score) in enumerate(lexical):
            fused[row] = fused.get(row, 0.0) + LEXICAL_WEIGHT / (RRF_K + rank + 1)
            lexical_score[row] = score
        ranked = sorted(fused, key=lambda r: -fused[r])
        hits = self._select(index, ranked, fused, dense_score, lexical_score, top_k, language)
        best_dense = max(dense_score.values(), default=0.0)
        from kb.lexical import tokenize

        return Retrieval(tuple(hits), vector, best_dense, len(index.bm25.known(tokenize(query))))

    def _select(
        self,
        index: CorpusIndex,
        ranked: list[int],
        fused: dict[int, float],
        dense: dict[int, float],
        lexical: dict[int, float],
        top_k: int,
        language: str | None,
    ) -> list[Hit]:
        # Merge translations: one slot per passage, in the asker's language if possible.
        merged: list[tuple[int, float, tuple[Chunk, ...]]] = []
        taken: set[str] = set()
        for row in ranked:
            chunk = index.chunks[row]
            if chunk.id in taken:
                continue
            twin = index.translation_of_chunk(chunk)
            alternatives: tuple[Chunk, ...] = ()
            if twin is not None:
                taken.add(twin.id)
                if language is not None and twin.language == language and chunk.language != language:
                    alternatives = (chunk,)
                    chunk = twin
                    row = index.row[twin.id]
                else:
                    alternatives = (twin,)
            taken.add(chunk.id)
            score = (
                max(fused.get(row, 0.0), fused.get(index.row[alternatives[0].id], 0.0)) if alternatives else fused[row]
            )
            merged.append((row, score, alternatives))

        # Diversity: each further passage of a document already shown counts less.
        shown: dict[str, int] = {}
        rescored: list[tuple[float, int, tuple[Chunk, ...]]] = []
        for row, score, alternatives in merged:
            source = _family(index, index.chunks[row].source)
            rescored.append((score * SAME_DOCUMENT_DISCOUNT ** shown.get(source, 0), row, alternatives))
            shown[source] = shown.get(source, 0) + 1
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


def _family(index: CorpusIndex, source: str) -> str:
    other = index.translations.get(source)
    return min(source, other) if other else source
