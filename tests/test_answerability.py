"""Answerability on a corpus about another subject: a cooking blog.

The off-topic probes include cooking questions ("How do I bake sourdough
bread at home?"); a blog about cooking must still answer its own subject.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kb.answerability import MIN_PROBES, off_topic
from kb.service import KnowledgeBase, validate_question
from kb.settings import Settings

COOKING = Path(__file__).resolve().parent / "corpora" / "cooking"


@pytest.fixture(scope="module")
def cooking(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    settings = Settings(data_dir=tmp_path_factory.mktemp("cooking") / "kb", seeds_dir=COOKING)
    base = KnowledgeBase(settings)
    base.ingest(COOKING)
    return base


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("How do I bake sourdough bread at home?", "sourdough.txt"),  # one of the probes, word for word
        ("How long should the bulk fermentation last?", "sourdough.txt"),
        ("¿Cuánto tiempo se cuece el arroz con leche?", "arroz_con_leche.txt"),
        ("Como se faz arroz doce?", "arroz_con_leche.txt"),
    ],
)
def test_a_cooking_blog_answers_questions_about_cooking(cooking: KnowledgeBase, question: str, source: str) -> None:
    answer = cooking.ask(validate_question(question))
    assert answer.answered, answer.answer
    assert answer.citations[0].chunk.source == source


@pytest.mark.parametrize(
    "question",
    ["Who wrote Don Quixote?", "What is omnichannel marketing?", "How do I fix a flat bicycle tyre?"],
)
def test_a_cooking_blog_still_refuses_other_subjects(cooking: KnowledgeBase, question: str) -> None:
    answer = cooking.ask(validate_question(question))
    assert not answer.answered and not answer.citations


def test_probes_nearer_the_corpus_headings_than_the_other_probes_are_left_out() -> None:
    probes = np.array([0.70, 0.72, 0.75, 0.76, 0.93, 0.86])
    # Headings score about 0.84: the midpoint with the probes' median (0.755) is ~0.80.
    assert sorted(off_topic(probes, np.array([0.82, 0.84, 0.86]))) == [0, 1, 2, 3]
    # Without headings every probe stays; however many go, MIN_PROBES stay.
    assert sorted(off_topic(probes, np.zeros(0))) == list(range(len(probes)))
    assert len(off_topic(probes, np.array([0.60]))) == MIN_PROBES
