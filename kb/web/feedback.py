"""Thumbs up/down on answers, kept in a local SQLite file (WAL, one transaction per write)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    question TEXT NOT NULL,
    language TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    mode TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class FeedbackRecord:
    rating: int
    question: str
    language: str
    answer: str
    citations: list[dict[str, Any]]
    mode: str
    created: float = 0.0
    id: int | None = None


class FeedbackStore:
    """Stores ratings, one row per rated answer; safe to share between threads (one connection per write)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        self._lock = threading.Lock()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            # Each commit is synced to disk before ``add`` returns (SQLite's usual default, made explicit).
            connection.execute("PRAGMA synchronous=FULL")
            if not self._ready:
                with self._lock:
                    if not self._ready:
                        connection.execute("PRAGMA journal_mode=WAL")
                        connection.execute(SCHEMA)
                        connection.commit()
                        self._ready = True
            yield connection
        finally:
            connection.close()

    def add(self, answer: dict[str, Any], liked: bool) -> int:
        """Store a rating of ``answer`` (a contract answer object); returns its row id."""
        row = (
            time.time(),
            1 if liked else -1,
            str(answer.get("question", "")),
            str(answer.get("language", "")),
            str(answer.get("answer", "")),
            json.dumps(answer.get("citations", []), ensure_ascii=False),
            str(answer.get("mode", "")),
        )
        with self._connect() as connection, connection:  # commits, or rolls back on error
            cursor = connection.execute(
                "INSERT INTO feedback (created, rating, question, language, answer, citations, mode)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cursor.lastrowid or 0)

    def change(self, row: int, liked: bool) -> None:
        """A reader who changed their mind: the rating ``row`` (from ``add``) now says ``liked``."""
        with self._connect() as connection, connection:
            connection.execute(
                "UPDATE feedback SET rating = ?, created = ? WHERE id = ?", (1 if liked else -1, time.time(), row)
            )

    def remove(self, row: int) -> None:
        """A rating taken back."""
        with self._connect() as connection, connection:
            connection.execute("DELETE FROM feedback WHERE id = ?", (row,))

    def all(self) -> list[FeedbackRecord]:
        if not self.path.exists():
            return []
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, created, rating, question, language, answer, citations, mode FROM feedback ORDER BY id"
            ).fetchall()
        return [
            FeedbackRecord(
                id=r[0],
                created=r[1],
                rating=r[2],
                question=r[3],
                language=r[4],
                answer=r[5],
                citations=json.loads(r[6]),
                mode=r[7],
            )
            for r in rows
        ]
