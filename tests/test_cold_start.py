"""A fast first answer (issue 26, item 8): the answerability calibration kept with
its index generation, the language detector built only for a question that needs
it (a short question whose function words are all one language's does not), a
new generation loaded before questions are answered from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kb.answer import coverage
from kb.answer.probes import OFF_TOPIC_PROBES
from kb.models import Question
from kb.search import retrieve
from kb.search.retrieve import CorpusIndex
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.conftest import ROOT, SEEDS

PROBES = {probe for listed in OFF_TOPIC_PROBES.values() for probe in listed}
# How long a test waits for a background load before it fails (never a timing assertion).
PATIENCE_SECONDS = 300.0


def _probe_encodes(monkeypatch: pytest.MonkeyPatch, base: KnowledgeBase) -> list[int]:
    """Count the embedder's calls that embed the answerability probes."""
    embedder = base.embedder
    original = embedder.encode
    calls: list[int] = []

    def counting(texts: Any, *args: Any, **kwargs: Any) -> Any:
        if PROBES.intersection(texts):
            calls.append(len(texts))
        return original(texts, *args, **kwargs)

    monkeypatch.setattr(embedder, "encode", counting)
    return calls


def test_the_calibration_kept_at_ingest_is_the_one_computed_from_the_index(seeded_settings: Settings) -> None:
    base = KnowledgeBase(seeded_settings)
    index = base.retriever.index()
    kept = coverage.stored(base.store, base.embedder, index.generation)
    assert kept is not None
    fresh = coverage.calibrate(base.embedder, index.vectors, index.sparse, [c.text for c in index.chunks])
    assert kept == fresh
    assert base.calibration() == fresh


def test_a_second_start_reads_the_calibration_and_embeds_no_probe(
    seeded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = KnowledgeBase(seeded_settings)
    calls = _probe_encodes(monkeypatch, base)
    calibration = base.calibration()
    assert calls == []
    assert calibration.by_language


def _folder(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(SEEDS / name, folder / name)
    return folder


def test_an_index_older_than_the_stored_calibration_gets_one_kept_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "kb", seeds_dir=SEEDS)
    writer = KnowledgeBase(settings)
    report = writer.ingest(_folder(tmp_path, "001_016916c4e286d33c.txt"))
    # As an index built before calibrations were kept: none in the store.
    writer.store.drop_calibration(report.generation)
    assert coverage.stored(writer.store, writer.embedder, report.generation) is None

    first = KnowledgeBase(settings)
    calls = _probe_encodes(monkeypatch, first)
    computed = first.calibration()
    assert calls, "computed on first use"
    assert coverage.stored(first.store, first.embedder, report.generation) == computed

    calls.clear()
    assert KnowledgeBase(settings).calibration() == computed
    assert calls == []


def test_a_dropped_generation_takes_its_calibration_with_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "kb", seeds_dir=SEEDS)
    base = KnowledgeBase(settings)
    first = base.ingest(_folder(tmp_path, "001_016916c4e286d33c.txt")).generation
    (tmp_path / "articles" / "001_016916c4e286d33c.txt").write_text("Una pregunta nueva\n\nOtro texto.\n", "utf-8")
    base.ingest(tmp_path / "articles")
    assert coverage.stored(base.store, base.embedder, first) is not None  # kept for readers in flight
    base.store.drop_inactive()
    assert coverage.stored(base.store, base.embedder, first) is None


def _run(script: str, settings: Settings) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(settings.data_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


_ASK = """
    import sys
    from pathlib import Path
    from kb.models import Question
    from kb.service import KnowledgeBase
    from kb.settings import Settings
    from kb.text import language

    base = KnowledgeBase(Settings(data_dir=Path(sys.argv[1])))
    answer = base.ask(Question({question!r}))
    print(answer.language, int(language._built is not None))
"""


@pytest.mark.server  # a new Python process
def test_a_question_in_a_script_that_tells_its_language_builds_no_detector(seeded_settings: Settings) -> None:
    # The detector is built on the first question that needs it, in a new process (as `kb ask` is).
    assert _run(_ASK.format(question="Τι είναι η πολυκαναλική στρατηγική;"), seeded_settings) == "el 0"
    # A short question whose function words are all one language's: told by them alone.
    assert _run(_ASK.format(question="What is omnichannel?"), seeded_settings) == "en 0"
    assert _run(_ASK.format(question="Was ist Omnichannel?"), seeded_settings) == "de 0"
    # Nothing but topic words: the detector tells it.
    assert _run(_ASK.format(question="Omnichannel marketing strategy"), seeded_settings) == "en 1"


def _blocking_builds(monkeypatch: pytest.MonkeyPatch, hold: threading.Event | None = None) -> list[tuple[int, str]]:
    """Record each index build's generation and thread; a build of a generation after
    the first waits for ``hold``."""
    build = CorpusIndex.build.__func__  # type: ignore[attr-defined]
    builds: list[tuple[int, str]] = []

    def recorded(cls: type[CorpusIndex], store: Any, generation: int) -> CorpusIndex:
        builds.append((generation, threading.current_thread().name))
        if hold is not None and len(builds) > 1:
            hold.wait(PATIENCE_SECONDS)
        return build(cls, store, generation)  # type: ignore[no-any-return]

    monkeypatch.setattr(CorpusIndex, "build", classmethod(recorded))
    return builds


def _wait_for(condition: Any) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "not loaded in the background"
        time.sleep(0.05)


def _serving(tmp_path: Path) -> tuple[Settings, KnowledgeBase, CorpusIndex]:
    """One article indexed, and a server that has loaded it."""
    settings = Settings(data_dir=tmp_path / "kb", seeds_dir=SEEDS)
    KnowledgeBase(settings).ingest(_folder(tmp_path, "001_016916c4e286d33c.txt"))
    server = KnowledgeBase(settings)
    return settings, server, server.retriever.index()


def _reingest(tmp_path: Path, settings: Settings) -> int:
    """Another process (the `kb ingest` of the blog's owner) adds an article: the new generation."""
    return KnowledgeBase(settings).ingest(_folder(tmp_path, "003_270c56ab60b0665d.txt")).generation


@pytest.mark.slow  # two or three ingests: 12 s or more; not in make test-fast
def test_the_first_question_after_an_ingest_is_answered_from_the_new_generation_without_loading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, server, old = _serving(tmp_path)
    builds = _blocking_builds(monkeypatch)
    server.retriever.watch(every=0.05)
    try:
        new = _reingest(tmp_path, settings)
        assert new != old.generation
        _wait_for(lambda: server.retriever.loaded_generation == new)
    finally:
        server.retriever.unwatch()

    request = server.prepare(Question("Care sunt diferențele fundamentale dintre multi-canal și omnichannel?"))
    assert {hit.chunk.source for hit in request.hits} & {"003_270c56ab60b0665d.txt"}
    assert builds == [(new, "kb-index-watch")]
    # Its calibration was loaded with it, before the question.
    assert new in server._calibrations


@pytest.mark.slow  # two or three ingests: 12 s or more; not in make test-fast
def test_a_new_generation_is_built_aside_while_the_old_one_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, server, old = _serving(tmp_path)
    monkeypatch.setattr(retrieve, "ACTIVE_CHECK_SECONDS", 0.0)
    hold = threading.Event()
    builds = _blocking_builds(monkeypatch, hold)
    builds.append((old.generation, "before"))

    new = _reingest(tmp_path, settings)
    try:
        # The new generation is seen, and built on another thread: the old one answers meanwhile.
        assert server.retriever.index() is old
        assert server.retriever.index() is old
        assert [b for b in builds[1:]] == [(new, "kb-index-load")]
    finally:
        hold.set()
    _wait_for(lambda: server.retriever.loaded_generation == new)
    assert server.retriever.index().generation == new
    assert np.array_equal(server.retriever.index().vectors, CorpusIndex.build(server.store, new).vectors)


@pytest.mark.slow  # two or three ingests: 12 s or more; not in make test-fast
def test_a_load_in_the_background_that_a_newer_one_overtook_does_not_switch_back(tmp_path: Path) -> None:
    settings, server, _ = _serving(tmp_path)
    store = server.retriever.store
    second = _reingest(tmp_path, settings)
    overtaken = store.require_active(server.embedder.name)
    # A third ingest, loaded (by a question that waits for it) before the second's
    # load in the background gets its turn.
    third = KnowledgeBase(settings).ingest(_folder(tmp_path, "002_8f573ef52dea0fed.txt")).generation
    assert server.retriever.index(fresh=True).generation == third != second
    server.retriever._load_pending(overtaken)
    assert server.retriever.loaded_generation == third
