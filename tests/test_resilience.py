"""Faults: an ingest killed or failing halfway, questions during a re-ingest, a server killed after ratings.

Everything is real: ``kb ingest`` and ``python app.py serve`` run as subprocesses
on a copy of the seeded index, the clients talk HTTP over loopback, and the
feedback file is read back with ``sqlite3`` after the server was SIGKILLed.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kb.index.embed import get_embedder
from kb.index.store import ActiveIndex, Store
from kb.ingest.pipeline import ingest
from kb.question import validate_question
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.browser import Server, request, running_server
from tests.conftest import ROOT, SEEDS

pytestmark = [pytest.mark.slow, pytest.mark.server]

QUESTIONS = (
    "How does omnichannel differ from multichannel?",
    "¿Qué es una estrategia multicanal?",
    "Ce este marketingul omnichannel?",
    "ما هو الفرق بين التسويق متعدد القنوات والتسويق الشامل؟",
    "How do I bake sourdough bread at home?",  # not covered
)
NEW_ARTICLE = (
    "The Kwintara loyalty card\n\n"
    "The Kwintara loyalty card keeps one balance of points for the shop, the mobile app and the call centre. "
    "Points earned online can be spent at the till on the same day, and the card number doubles as the login "
    "on the website.\n\n"
    "Kwintara was started by a chain of garden centres that wanted their regular customers to be recognised in "
    "every channel. A customer who reserves seedlings in the app collects them in the shop without queuing."
)
NEW_QUESTION = "What does the Kwintara loyalty card do?"
PROGRESS = re.compile(r"embedding:[^|]*\|[^|]*\|\s*(\d+)/(\d+) \[")  # the embedding bar's, not the reading one's
PROCESS_TIMEOUT = 300.0


# -- helpers ----------------------------------------------------------------------
def copy_index(seeded: Settings, tmp_path: Path) -> Settings:
    """A private copy of the seeded index (the session's own is shared with other tests)."""
    settings = Settings(data_dir=tmp_path / "kb", seeds_dir=SEEDS)
    shutil.copytree(seeded.chroma_path, settings.chroma_path)
    return settings


def without_timings(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def ask_all(settings: Settings, questions: tuple[str, ...] = QUESTIONS) -> list[dict[str, Any]]:
    """Each question's whole answer (but timings) from a fresh in-process knowledge base."""
    base = KnowledgeBase(settings)
    return [without_timings(base.ask(validate_question(q, settings=settings)).to_dict()) for q in questions]


def articles(folder: Path, count: int, paragraphs: int = 3) -> None:
    """``count`` distinct generated articles, a few passages each."""
    topics = ("returns", "delivery", "loyalty", "stock", "payments", "reviews", "pricing", "support")
    for i in range(count):
        topic = topics[i % len(topics)]
        body = "\n\n".join(
            f"Part {p + 1} of note {i} on {topic}. A shop that sells in {p + 2} channels keeps one record of "
            f"{topic} per customer, so that a question asked in the app on day {i * 7 + p} is answered the same way "
            f"in the shop, by phone and by e-mail. Staff in store {i}-{p} see the same history as the call centre, "
            f"and the customer never has to repeat the {topic} details twice."
            for p in range(paragraphs)
        )
        (folder / f"zz-note-{i:02d}.txt").write_text(f"Note {i} on {topic}\n\n{body}\n", encoding="utf-8")


def folder_with(tmp_path: Path, name: str, extra: dict[str, str] | None = None) -> Path:
    folder = tmp_path / name
    shutil.copytree(SEEDS, folder)
    for file_name, text in (extra or {}).items():
        (folder / file_name).write_text(text, encoding="utf-8")
    return folder


def kb_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update({"KB_DATA_DIR": str(settings.data_dir), "ANONYMIZED_TELEMETRY": "False", "PYTHONUNBUFFERED": "1"})
    return env


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Ingest:
    """``kb ingest FOLDER`` in the background; its stderr (the progress bar) is collected as it comes."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kb", "ingest", str(folder)],
            cwd=ROOT,
            env=kb_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # Ctrl-C as at a terminal: a run started in the background (CI) ignores SIGINT, and its children with it.
            preexec_fn=_default_sigint,
        )
        self.stderr = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for chunk in iter(lambda: self.process.stderr.read1(4096), b""):  # type: ignore[union-attr]
            self.stderr += chunk.decode("utf-8", errors="replace")

    def documents_embedded(self) -> tuple[int, int]:
        found = PROGRESS.findall(self.stderr)
        return (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"`kb ingest` ended ({self.process.returncode}) before {what}:\n{self.stderr[-3000:]}")
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"`kb ingest` never reached {what}:\n{self.stderr[-3000:]}")
            time.sleep(0.1)

    def finish(self) -> int:
        code = self.process.wait(timeout=PROCESS_TIMEOUT)
        self._reader.join(timeout=10)
        return code


def ingest_halfway(seeded: Settings, tmp_path: Path) -> tuple[Settings, ActiveIndex, Ingest]:
    """``kb ingest`` of the seeds and 16 more articles (8 of them repeats) on a copy of the
    seeded index, caught halfway: past the five seeds carried over, some new articles written
    whole, not all (the stop comes after the first few; the rest only make sure it is mid-way)."""
    settings = copy_index(seeded, tmp_path)
    old = Store(settings).active()
    assert old is not None
    bigger = folder_with(tmp_path, "bigger")
    articles(bigger, 16, paragraphs=8)  # about 8 passages each: the stop lands well before the end
    job = Ingest(settings, bigger)
    watcher = Store(settings)

    def halfway() -> bool:
        done, total = job.documents_embedded()
        building = [g for g in watcher.generations() if g > old.generation]
        # The new generation is in the store, partly filled, and not active.
        return 0 < done < total and bool(building) and len(watcher.whole_documents(building[0])) > 6

    job.wait_until(halfway, "halfway")
    return settings, old, job


# -- an ingest killed or failing halfway ---------------------------------------------
@pytest.fixture(scope="module")
def before(seeded_settings: Settings) -> list[dict[str, Any]]:
    """The seeded index's answers (every copy of it answers the same)."""
    return ask_all(seeded_settings)


def test_a_killed_ingest_leaves_the_previous_index_answering(
    seeded_settings: Settings, before: list[dict[str, Any]], tmp_path: Path
) -> None:
    settings, old, job = ingest_halfway(seeded_settings, tmp_path)
    job.process.send_signal(signal.SIGKILL)
    assert job.finish() == -signal.SIGKILL
    done, total = job.documents_embedded()
    assert 0 < done < total, job.stderr

    store = Store(settings)
    assert store.active() == old
    orphans = [g for g in store.generations() if g != old.generation]
    assert orphans, "the kill left no half-built generation: it did not happen mid-way"
    assert ask_all(settings) == before

    # The next ingest succeeds and cleans the half-built generation up.
    report = KnowledgeBase(settings).ingest(folder_with(tmp_path, "smaller", {"kwintara.txt": NEW_ARTICLE}))
    assert (report.added, len(report.unchanged)) == (("kwintara.txt",), 5)
    store = Store(settings)
    active = store.active()
    assert active is not None and active.generation == report.generation != old.generation
    # Left: the new generation and the one it replaced (kept for readers in flight), not the half-built one.
    assert store.generations() == [old.generation, active.generation]
    assert "kwintara.txt" in [d.source for d in store.documents(active.generation)]


def test_an_ingest_stopped_with_ctrl_c_goes_on_from_where_it_stopped(
    seeded_settings: Settings, before: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Ctrl-C 22% into an hour's first ingest of a big blog lost every passage embedded."""
    settings, old, job = ingest_halfway(seeded_settings, tmp_path)
    job.process.send_signal(signal.SIGINT)
    assert job.finish() == 130, job.stderr
    # On a line of its own, not run into the progress bar's.
    assert re.search(
        r"[\r\n]WARNING kb\.ingest\.pipeline: ingest stopped; the previous index stays active\. The \d+ "
        r"articles embedded so far are kept: run the ingest again to go on from there",
        job.stderr,
    ), job.stderr
    store = Store(settings)
    assert store.active() == old and ask_all(settings) == before
    (unfinished,) = (g for g in store.generations() if g != old.generation)
    seeds = {d.source for d in store.documents(old.generation)}
    whole = {d.source for d in store.whole_documents(unfinished)} - seeds

    # Run again (as a reader would, in a new process: this one watched the generation being written).
    again = Ingest(settings, tmp_path / "bigger")
    assert again.finish() == 0, again.stderr
    assert f", 5 unchanged, 0 removed, 8 skipped, {len(whole)} of them embedded by the interrupted" in again.stderr
    # Only the passages of the articles it had not finished are embedded.
    store = Store(settings)
    active = store.active()
    assert active is not None and store.generations() == [old.generation, active.generation]
    passages = {d.source: d.passages or 0 for d in store.documents(active.generation)}
    unfinished_passages = sum(n for source, n in passages.items() if source not in whole | seeds)
    assert again.documents_embedded()[1] == unfinished_passages


def test_an_ingest_failing_halfway_leaves_the_previous_index_answering(
    seeded_settings: Settings, before: list[dict[str, Any]], tmp_path: Path
) -> None:
    settings = copy_index(seeded_settings, tmp_path)
    store = Store(settings)
    old = store.active()
    assert old is not None
    folder = folder_with(
        tmp_path,
        "poisoned",
        {
            "a-first.txt": NEW_ARTICLE,
            "b-poison.txt": "Poison\n\nThis article makes the embedder fail: POISON.",
            "c-last.txt": "Last\n\nAn article that is never reached.",
        },
    )
    real = get_embedder(settings)
    seen_when_failing: list[tuple[int, ...]] = []

    class PoisonedEmbedder:
        name = real.name
        dimension = real.dimension

        def encode(self, texts: list[str], is_query: bool = False) -> Any:
            if any("POISON" in t for t in texts):
                building = [g for g in store.generations() if g != old.generation]
                seen_when_failing.append(tuple(len(store.documents(g)) for g in building))
                raise RuntimeError("the embedding engine failed")
            return real.encode(texts, is_query=is_query)

        def sparse(self, texts: list[str]) -> Any:
            return real.sparse(texts)

    with pytest.raises(RuntimeError, match="engine failed"):
        ingest(folder, settings, store, PoisonedEmbedder())  # type: ignore[arg-type]
    # It failed mid-way: a new generation held the five seeds and the first new article.
    assert seen_when_failing == [(6,)]
    assert store.active() == old
    assert ask_all(settings) == before
    # What it had embedded is kept, never active, and the next ingest goes on from it.
    (unfinished,) = (g for g in store.generations() if g != old.generation)
    (folder / "b-poison.txt").unlink()
    report = ingest(folder, settings, store, real)
    assert report.resumed == ("a-first.txt",) and report.added == ("a-first.txt", "c-last.txt")
    assert unfinished not in store.generations()


# -- questions while another process re-ingests ------------------------------------
def check_contract(answer: Any) -> None:
    assert isinstance(answer, dict), answer
    for key in ("question", "language", "answered", "mode", "answer", "citations", "passages", "timings_ms"):
        assert key in answer, answer
    assert answer["answer"].strip()
    passages = {(p["source"], p["start"], p["end"]) for p in answer["passages"]}
    assert all((c["source"], c["start"], c["end"]) in passages for c in answer["citations"]), answer
    assert [c["id"] for c in answer["citations"]] == list(range(1, len(answer["citations"]) + 1))


def http_answer(server: Server, question: str) -> tuple[int, Any]:
    status, _, body = request(server.url + "/api/ask", "POST", {"question": question}, timeout=120)
    return status, body


@pytest.fixture(scope="module")
def served(seeded_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Server]]:
    """A real server on a private copy of the seeded index (the last test of this module kills it)."""
    settings = copy_index(seeded_settings, tmp_path_factory.mktemp("served"))
    with running_server(settings.data_dir, env={"KB_RATE_LIMIT": "0"}) as server:
        yield settings, server


def test_questions_during_a_reingest_by_another_process_are_answered(
    served: tuple[Settings, Server], tmp_path: Path
) -> None:
    settings, server = served
    questions = (*QUESTIONS, NEW_QUESTION)
    before = {}
    for question in questions:
        status, body = http_answer(server, question)
        assert status == 200, body
        before[question] = without_timings(body)
    assert all(c["source"] != "kwintara.txt" for c in before[NEW_QUESTION]["citations"])
    seeds = sorted(p.name for p in SEEDS.iterdir())
    documents = {s: request(f"{server.url}/api/sources/{s}")[2] for s in seeds}

    answers: list[tuple[str, int, Any]] = []
    reads: list[tuple[str, int, Any]] = []
    chats: list[dict[str, Any]] = []
    stop = threading.Event()

    def asker(offset: int) -> None:
        for i in itertools.count(offset):
            if stop.is_set():
                return
            question = questions[i % len(questions)]
            answers.append((question, *http_answer(server, question)))

    def reader() -> None:
        for i in itertools.count():
            if stop.is_set():
                return
            source = seeds[i % len(seeds)]
            status, _, body = request(f"{server.url}/api/sources/{source}")
            reads.append((source, status, body))

    def chatter() -> None:
        while not stop.is_set():
            chats.append(ChatClient(server).call("respond", [QUESTIONS[len(chats) % 2], None, None]))

    threads = [threading.Thread(target=asker, args=(k,)) for k in range(2)]
    threads += [threading.Thread(target=reader), threading.Thread(target=chatter)]
    for thread in threads:
        thread.start()
    try:
        job = Ingest(settings, folder_with(tmp_path, "changed", {"kwintara.txt": NEW_ARTICLE}))
        code = job.finish()
        # Keep asking until the server has seen the switch (it checks at most once a second).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            q == NEW_QUESTION and s == 200 and b["citations"] and b["citations"][0]["source"] == "kwintara.txt"
            for q, s, b in list(answers)
        ):
            time.sleep(0.2)
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert code == 0, job.stderr
    assert "1 added" in job.stderr

    after = {}
    for question in questions:
        status, body = http_answer(server, question)
        assert status == 200, body
        after[question] = without_timings(body)
    assert after[NEW_QUESTION]["citations"][0]["source"] == "kwintara.txt"

    assert len(answers) >= 2 * len(questions), "too few questions were asked during the re-ingest"
    failures = [(q, s, b) for q, s, b in answers if s != 200]
    assert not failures, f"{failures[:3]}\n{server.log()[-3000:]}"
    for question, _, body in answers:
        check_contract(body)
        # Every answer is the whole old index's or the whole new one's, never a mix.
        assert without_timings(body) in (before[question], after[question]), question
    assert any(without_timings(b) == after[q] != before[q] for q, _, b in answers)
    # The cleaned documents (which passages' offsets index into) stayed readable throughout.
    assert reads and [(s, c) for s, c, _ in reads if c != 200] == [], server.log()[-3000:]
    assert all(body == documents[source] for source, _, body in reads)
    # So did the chat: every answer was rendered, none became an error message.
    assert chats and all(c["success"] for c in chats), chats[:1]
    assert not [c for c in chats if "kb-error" in json.dumps(c["output"])], server.log()[-3000:]


# -- ratings acknowledged, then the server killed ----------------------------------
class ChatClient:
    """The chat page's own protocol (Gradio's queue, SSE v3) over plain HTTP: one browser tab."""

    def __init__(self, server: Server) -> None:
        self.url = server.url
        self.session = uuid.uuid4().hex[:12]
        self.http = httpx.Client(timeout=120)
        config = self.http.get(self.url + "/config").json()
        self.fn = {d["api_name"]: d for d in config["dependencies"]}

    def call(self, api_name: str, data: list[Any], event_data: Any = None) -> dict[str, Any]:
        """Send one event and wait for its ``process_completed`` message (the acknowledgement)."""
        dependency = self.fn[api_name]
        joined = self.http.post(
            self.url + "/gradio_api/queue/join",
            json={
                "data": data,
                "event_data": event_data,
                "fn_index": dependency["id"],
                "trigger_id": dependency["targets"][0][0],
                "session_hash": self.session,
            },
        )
        assert joined.status_code == 200, joined.text
        event = joined.json()["event_id"]
        with self.http.stream("GET", self.url + "/gradio_api/queue/data", params={"session_hash": self.session}) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") == event and message.get("msg") == "process_completed":
                    result: dict[str, Any] = message
                    return result
        pytest.fail(f"no acknowledgement for {api_name}")


def test_acknowledged_ratings_survive_killing_the_server(served: tuple[Settings, Server]) -> None:
    settings, server = served
    ratings = ["Like", "Dislike"] * 6
    chat = ChatClient(server)
    answered = chat.call("respond", [QUESTIONS[0], None, None])
    assert answered["success"], answered
    assert not settings.feedback_path.exists()  # no rating yet
    for liked in ratings:
        # Message 1 is the answer to the first question; each rating is acknowledged before the next.
        done = chat.call("rate", [None, None], {"index": 1, "value": "", "liked": liked})
        assert done["success"], done
    server.process.send_signal(signal.SIGKILL)
    assert server.process.wait(timeout=30) == -signal.SIGKILL

    with sqlite3.connect(settings.feedback_path) as connection:
        rows = connection.execute("SELECT rating, question FROM feedback ORDER BY id").fetchall()
    # One row per answer, holding the last rating acknowledged (a changed mind replaces it).
    assert rows == [(1 if ratings[-1] == "Like" else -1, QUESTIONS[0])]
