"""Generative mode: time to first token and overhead against the fake OpenAI server (issue 5)."""

from __future__ import annotations

from bench.common import ROOT, Section


def available() -> bool:
    return (ROOT / "tests" / "fake_openai.py").exists() and (ROOT / "kb" / "generative.py").exists()


def run() -> Section:
    section = Section("5. Generative mode: time to first token")
    section.add(
        "> **PLACEHOLDER** — the generative backend (`kb/generative.py`) and its fake OpenAI server "
        "(`tests/fake_openai.py`) are not in this tree yet; this section is filled in once they are.",
        "",
    )
    return section
