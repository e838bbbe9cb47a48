"""Generative mode (issue 5): time to first token and omnikb's overhead, against the fake OpenAI
server of ``tests/fake_openai.py`` (the real protocol over a real loopback socket)."""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from bench.common import DEVSET, ROOT, Section, p50, p95
from kb import evaluation
from kb.settings import Settings

log = logging.getLogger(__name__)

MODEL_FIRST_TOKEN = 0.2
MODEL_TOKEN = 0.01
ANSWER = "An omnichannel strategy connects every channel [1], unlike a multichannel one [2]."
# A reply that starts in Spanish to an English question, and would go on for 200 words.
WRONG_START = "La gran diferencia es la integración de todos los canales [1]. " + (
    "Los canales están separados [2]. " * 40
)


def available() -> bool:
    return (ROOT / "tests" / "fake_openai.py").exists() and (ROOT / "kb" / "answer" / "generative.py").exists()


def run(settings: Settings, runs: int = 20) -> Section:
    section = Section("6. Generative mode: time to first token")
    if not available():
        section.add(
            "> **PLACEHOLDER** — the generative backend (`kb/answer/generative.py`) and its fake OpenAI server "
            "(`tests/fake_openai.py`) are not in this tree yet; this section is filled in once they are.",
            "",
        )
        return section
    try:
        return _run(settings, runs, section)
    except Exception as exc:  # another developer's part: report it, do not sink the whole run
        log.exception("generative benchmark failed")
        section.add(f"> **Not measured**: the generative benchmark failed ({type(exc).__name__}: {exc}).", "")
        return section


def _run(settings: Settings, runs: int, section: Section) -> Section:
    from kb.models import Answer
    from kb.question import validate_question
    from kb.service import KnowledgeBase

    # Imported by name: the fake server is the generative developer's test code, not part of bench's types.
    fake = importlib.import_module("tests.fake_openai")
    FakeOpenAI, Reply, bench_generation = fake.FakeOpenAI, fake.Reply, fake.bench_generation

    instant = bench_generation(runs=runs)
    paced = bench_generation(runs=max(5, runs // 2), first_token_delay=MODEL_FIRST_TOKEN, token_delay=MODEL_TOKEN)

    # The fake model answers in English, so English questions (others would rightly fall back).
    english = [i for i in evaluation.load_items(DEVSET) if i.lang == "en" and not i.history]
    items = (english * 12)[:12]
    first: list[float] = []
    total: list[float] = []
    retrieve: list[float] = []
    with FakeOpenAI() as server:
        server.always(Reply(ANSWER, first_delay=MODEL_FIRST_TOKEN, delay=MODEL_TOKEN))
        kb = KnowledgeBase(settings.replace(llm_base_url=server.base_url, llm_model="fake-model"))
        kb.warm_up()
        for n, item in enumerate([items[0], *items]):
            question = validate_question(item.question, None, None, None, kb.settings)
            started = time.perf_counter()
            got_first: float | None = None
            final: Any = None
            for piece in kb.stream(question):
                if isinstance(piece, Answer):
                    final = piece
                elif got_first is None and piece:
                    got_first = time.perf_counter()
            done = time.perf_counter()
            if n == 0:
                continue  # warm-up: connection pool, imports
            first.append((got_first or done) - started)
            total.append(done - started)
            if final is not None:
                retrieve.append(final.timings_ms.get("retrieve", 0.0) / 1000)

    section.add(
        "The real `GenerativeAnswerer` (LangChain `ChatOpenAI`, streaming) against `tests/fake_openai.py` on "
        "127.0.0.1. *Overhead* is omnikb's own time around the model call (prompt, client, parsing the "
        "stream, citations, checks) = total − the server's time answering.",
        "",
    )
    section.table(
        ["case", "runs", "first token p50 / p95 ms", "total p50 / p95 ms", "overhead p50 / p95 ms"],
        [
            [
                "answerer alone, instant model (3 fixed passages)",
                int(instant["runs"]),
                f"{instant['first_piece_ms_p50']:.1f} / {instant['first_piece_ms_p95']:.1f}",
                f"{instant['total_ms_p50']:.1f} / {instant['total_ms_p95']:.1f}",
                f"{instant['overhead_ms_p50']:.1f} / {instant['overhead_ms_p95']:.1f}",
            ],
            [
                f"answerer alone, model with {MODEL_FIRST_TOKEN * 1000:.0f} ms to first token, "
                f"{MODEL_TOKEN * 1000:.0f} ms per token",
                int(paced["runs"]),
                f"{paced['first_piece_ms_p50']:.1f} / {paced['first_piece_ms_p95']:.1f}",
                f"{paced['total_ms_p50']:.1f} / {paced['total_ms_p95']:.1f}",
                f"{paced['overhead_ms_p50']:.1f} / {paced['overhead_ms_p95']:.1f}",
            ],
            [
                "whole `stream` (retrieval on the five articles + that model), English dev questions",
                len(first),
                f"{p50(first) * 1000:.1f} / {p95(first) * 1000:.1f}",
                f"{p50(total) * 1000:.1f} / {p95(total) * 1000:.1f}",
                f"retrieval p50 {p50(retrieve) * 1000:.1f}",
            ],
        ],
    )
    section.figures["ttft p50 ms"] = p50(first) * 1000
    section.figures["overhead p50 ms"] = instant["overhead_ms_p50"]
    _fail_fast(section, fake, max(3, runs // 4))
    _support(section, kb)
    return section


def _fail_fast(section: Section, fake: Any, runs: int) -> None:
    """Time to the quoted answer after a wrong-language start: the model stopped within
    its first sentence, against waiting for its whole reply (what a retry would cost on top)."""
    from kb.answer.generative import GenerativeAnswerer
    from kb.models import Answer

    stopped: list[float] = []
    sent: list[int] = []
    whole = len(fake.Reply(WRONG_START).pieces())
    with fake.FakeOpenAI() as server:
        server.always(fake.Reply(WRONG_START, first_delay=MODEL_FIRST_TOKEN, delay=MODEL_TOKEN))
        answerer = GenerativeAnswerer(Settings(llm_base_url=server.base_url, llm_model=fake.MODEL))
        request = fake.sample_request()
        for _ in range(runs + 1):
            started = time.perf_counter()
            final: Any = None
            for item in answerer.stream(request):
                if isinstance(item, Answer):
                    final = item
            stopped.append(time.perf_counter() - started)
            assert final is not None and final.fallback, "the wrong-language start was not set aside"
            sent.append(server.exchanges[-1].settled().chunks_sent)
    stopped, sent = stopped[1:], sent[1:]
    full = MODEL_FIRST_TOKEN + MODEL_TOKEN * (whole - 1)
    section.add(
        "",
        f"**Fail fast**: a reply that starts in Spanish to an English question ({whole} tokens, "
        f"{MODEL_FIRST_TOKEN * 1000:.0f} ms to the first, {MODEL_TOKEN * 1000:.0f} ms each after) is stopped "
        f"after {p50([float(n) for n in sent]):.0f} tokens: the quoted answer comes "
        f"{p50(stopped) * 1000:.0f} ms (p50) after the question reached the answerer, against "
        f"{full * 1000:.0f} ms for the model's whole reply before the language could be judged at its end. "
        "A retry with a stronger language instruction would add another first token and whole answer "
        f"(≥ {full * 1000:.0f} ms here, 15-30 s on a laptop's CPU) for an answer that may fail again: "
        "omnikb falls back at once.",
        "",
    )
    section.figures["fallback after wrong start p50 ms"] = p50(stopped) * 1000


def _support(section: Section, kb: Any) -> None:
    """The support check's confusion table on ``bench/data/support_set.json`` (the seed index only)."""
    from bench.support import DROP_UNSUPPORTED, KEEP_SUPPORTED, evaluate, load_set

    index = kb.retriever.index()
    if not all(cid in index.row for cid in load_set()["passages"]):
        section.add("", "> Support check: not measured (the set's passages are the seeds'; this index is not).", "")
        return
    calibration = kb.support_calibration(index)
    result = evaluate(kb.embedder, index, calibration)
    section.add(
        "",
        f"**Support check** (`bench/data/support_set.json`: generated sentences in six languages against the "
        f"seed passages; threshold {calibration.threshold:.3f}, between {calibration.unsupported:.3f} for another "
        f"article's sentences and {calibration.supported:.3f} for a passage's own): kept "
        f"{result.keep_rate:.0%} of the supported sentences (bar {KEEP_SUPPORTED:.0%}), dropped "
        f"{result.drop_rate:.0%} of the others (bar {DROP_UNSUPPORTED:.0%}); {result.repointed} of "
        f"{result.wrong_marker} supported sentences citing the wrong passage pointed to the right one.",
        "",
        *result.table(),
        "",
    )
    section.figures["support kept %"] = result.keep_rate * 100
    section.figures["unsupported dropped %"] = result.drop_rate * 100
