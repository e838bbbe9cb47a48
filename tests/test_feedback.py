"""The feedback store: a real SQLite file in WAL mode, one transaction per rating."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from kb.web.feedback import FeedbackStore

ANSWER = {
    "question": "What is omnichannel?",
    "language": "en",
    "answer": "Here is what the sources say:\n- “…” [1]",
    "mode": "extractive",
    "citations": [{"id": 1, "source": "001.txt", "text": "¿Y si no lo somos?", "start": 0, "end": 18}],
}


def test_ratings_are_stored_with_question_answer_and_citations(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "data" / "feedback.sqlite3")
    assert store.all() == []
    store.add(ANSWER, liked=True)
    store.add({**ANSWER, "question": "¿Qué es?"}, liked=False)
    records = store.all()
    assert [(r.rating, r.question) for r in records] == [(1, "What is omnichannel?"), (-1, "¿Qué es?")]
    assert records[0].citations == ANSWER["citations"]
    assert records[0].answer == ANSWER["answer"] and records[0].mode == "extractive"
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    store.add(ANSWER, liked=True)
    with pytest.raises(TypeError):
        store.add({**ANSWER, "citations": [object()]}, liked=True)  # not JSON: refused before the insert
    with sqlite3.connect(store.path) as connection:
        connection.execute("CREATE TRIGGER boom BEFORE INSERT ON feedback BEGIN SELECT RAISE(ABORT, 'boom'); END")
    with pytest.raises(sqlite3.IntegrityError):
        store.add(ANSWER, liked=False)
    assert len(store.all()) == 1


def test_concurrent_ratings_are_all_kept(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    threads = [threading.Thread(target=store.add, args=(ANSWER, i % 2 == 0)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.all()) == 16
