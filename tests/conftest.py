"""Shared fixtures: a real index of the seeds, built once, in a temporary folder.

No test touches the project's own ``.kb``: every test's data dir is under
pytest's temporary folders.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kb.service import KnowledgeBase
from kb.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DEVSET = ROOT / "eval" / "devset.jsonl"
ARTIFACTS = ROOT / "tests" / "artifacts"

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's KB_* settings or writes to ./.kb."""
    for key in list(os.environ):
        if key.startswith("KB_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "kb-data"))


@pytest.fixture(scope="session")
def seeded_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("seeded")
    settings = Settings(data_dir=data / "kb", seeds_dir=SEEDS)
    KnowledgeBase(settings).ingest(SEEDS)
    return settings


@pytest.fixture(scope="session")
def kb(seeded_settings: Settings) -> KnowledgeBase:
    base = KnowledgeBase(seeded_settings)
    base.warm_up()
    return base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright, one per test module (tests/browser.py)."""
    from tests.browser import chromium

    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def fake() -> Iterator[Any]:
    """The scripted OpenAI-compatible server on loopback (tests/fake_openai.py), one per test module."""
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture()
def fresh_fake(fake: Any) -> Iterator[None]:
    """A fresh script for each test (modules that use ``fake`` apply it to all their
    tests); fails the test if a responder's check failed inside the server."""
    fake.reset()
    yield
    assert not fake.errors, fake.errors


@pytest.fixture()
def seeds_copy(tmp_path: Path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def devset() -> list[dict]:
    return [json.loads(line) for line in DEVSET.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def artifacts() -> Iterator[Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield ARTIFACTS
