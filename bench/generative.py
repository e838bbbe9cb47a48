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
# An answer of three sentences, as a model writes it: what a retry that succeeds streams.
LONGER_ANSWER = (
    "An omnichannel strategy connects every channel so the customer sees one brand [1]. "
    "A multichannel strategy uses several channels that work independently of each other [2]. "
    "Omnichannel retail therefore needs shared stock, data and customer history across its channels [3]."
)
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
    """Time to the final answer after a wrong-language start: the model stopped within its
    first sentence, then either the quotes at once (``KB_LLM_LANGUAGE_RETRY`` off), or a second
    try with the stronger instruction that succeeds, or that goes wrong again (then the quotes)."""
    from kb.answer.generative import GenerativeAnswerer
    from kb.models import Answer

    wrong = fake.Reply(WRONG_START, first_delay=MODEL_FIRST_TOKEN, delay=MODEL_TOKEN)
    right = fake.Reply(LONGER_ANSWER, first_delay=MODEL_FIRST_TOKEN, delay=MODEL_TOKEN)
    whole = len(fake.Reply(WRONG_START).pieces())
    cases = {  # name: (retry on, the replies scripted for one question, the mode expected)
        "at once": (False, (wrong,), "extractive"),
        "retry succeeds": (True, (wrong, right), "generative"),
        "retry fails": (True, (wrong, wrong), "extractive"),
        "no wrong start": (False, (right,), "generative"),
    }
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    requests: dict[str, int] = {}
    sent: list[int] = []
    with fake.FakeOpenAI() as server:
        request = fake.sample_request()
        for name, (retry, replies, mode) in cases.items():
            settings = Settings(llm_base_url=server.base_url, llm_model=fake.MODEL, llm_language_retry=retry)
            answerer = GenerativeAnswerer(settings)
            for n in range(runs + 1):  # the first run warms up: imports, connection pool
                before = len(server.exchanges)
                server.script(*replies)
                started = time.perf_counter()
                final: Any = None
                for item in answerer.stream(request):
                    if isinstance(item, Answer):
                        final = item
                took = time.perf_counter() - started
                assert final is not None and final.mode == mode, f"{name}: {final and final.reason}"
                calls = [c.settled() for c in server.exchanges[before:]]
                requests[name] = len(calls)
                if n:
                    seconds[name].append(took)
                    if name == "at once":
                        sent.append(calls[0].chunks_sent)
    ms = {name: p50(values) * 1000 for name, values in seconds.items()}
    full = MODEL_FIRST_TOKEN + MODEL_TOKEN * (whole - 1)
    section.add(
        "",
        f"**Fail fast, then retry or not** (`KB_LLM_LANGUAGE_RETRY`): a reply that starts in Spanish to an "
        f"English question ({whole} tokens, {MODEL_FIRST_TOKEN * 1000:.0f} ms to the first, "
        f"{MODEL_TOKEN * 1000:.0f} ms each after) is stopped after {p50([float(n) for n in sent]):.0f} tokens, "
        f"against {full * 1000:.0f} ms for the model's whole reply; the answer in English is "
        f"{len(right.pieces())} tokens. Time to the final answer, p50 of {runs}:",
        "",
    )
    section.table(
        ["after a wrong-language start", "requests", "final answer p50 ms", "÷ an answer with no wrong start"],
        [
            [
                "fall back to quotes at once (retry off)",
                requests["at once"],
                f"{ms['at once']:.0f}",
                f"{ms['at once'] / ms['no wrong start']:.2f}×",
            ],
            [
                "retry with the stronger instruction, which succeeds",
                requests["retry succeeds"],
                f"{ms['retry succeeds']:.0f}",
                f"{ms['retry succeeds'] / ms['no wrong start']:.2f}×",
            ],
            [
                "retry, which goes wrong again, then quotes",
                requests["retry fails"],
                f"{ms['retry fails']:.0f}",
                f"{ms['retry fails'] / ms['no wrong start']:.2f}×",
            ],
            ["(an answer with no wrong start)", requests["no wrong start"], f"{ms['no wrong start']:.0f}", "1.00×"],
        ],
    )
    section.add(
        "",
        f"A retry that succeeds gives the generated answer in "
        f"{ms['retry succeeds'] / ms['no wrong start']:.2f}× the time of one with no wrong start (one more "
        f"first token and the wasted first sentence); one that goes wrong again gives the quotes in "
        f"{ms['retry fails'] / ms['no wrong start']:.2f}× it ({ms['retry fails'] / ms['at once']:.1f}× the "
        "quotes at once), since each try is stopped within its first sentence. So `KB_LLM_LANGUAGE_RETRY` is "
        "on by default: a retry that fails costs the reader about the time of any generated answer, and one "
        "that succeeds gives a generated answer in their language rather than quotes, "
        f"{ms['retry succeeds'] / ms['no wrong start'] - 1:.0%} later than one with no wrong start.",
        "",
    )
    section.figures["fallback after wrong start p50 ms"] = ms["at once"]
    section.figures["retry succeeds p50 ms"] = ms["retry succeeds"]
    section.figures["retry fails p50 ms"] = ms["retry fails"]


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
