"""A section that runs over two passages is one answer: the blog's second passage
of a section does not push its first, the one under the heading, out of the answer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.question import validate_question
from kb.service import KnowledgeBase
from kb.settings import Settings

PANELA = Path(__file__).resolve().parent.parent / "eval" / "blogs" / "panela"
# The salt cod post's section "Quanto tempo se demolha o bacalhau?" runs over two passages:
# the rule (24, 36 or 48 hours) under the heading, then the last steps.
RULE = "conte 24 horas para postas finas"


@pytest.fixture(scope="module")
def panela(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    folder = tmp_path_factory.mktemp("panela") / "blog"
    shutil.copytree(PANELA, folder)
    base = KnowledgeBase(Settings(data_dir=folder.parent / "kb", seeds_dir=folder))
    base.ingest(folder)
    return base


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    ["How long should I soak salt cod?", "¿Cuánto tiempo hay que dejar el bacalao en remojo?"],
)
def test_a_section_s_passage_under_its_heading_is_cited_beside_its_continuation(
    panela: KnowledgeBase, question: str
) -> None:
    """Asked in English, the section's steps came first and its rule, under the heading,
    lost the same-article penalty: the answer quoted the duck rice and the bifanas instead."""
    answer = panela.ask(validate_question(question))
    assert answer.answered
    cited = [c.chunk for c in answer.citations]
    assert any(RULE in chunk.text for chunk in cited), [c.text[:60] for c in cited]
