"""Answerability on a corpus about another subject: a cooking blog.

The off-topic probes include cooking questions ("How do I bake sourdough
bread at home?"); a blog about cooking must still answer its own subject.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kb.answer.coverage import MIN_PROBES, off_topic
from kb.question import validate_question
from kb.service import KnowledgeBase
from kb.settings import Settings

COOKING = Path(__file__).resolve().parent / "corpora" / "cooking"
GARDEN = Path(__file__).resolve().parent.parent / "eval" / "blogs" / "garden"


def _ingested(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> KnowledgeBase:
    settings = Settings(data_dir=tmp_path_factory.mktemp(folder.name) / "kb", seeds_dir=folder)
    base = KnowledgeBase(settings)
    base.ingest(folder)
    return base


@pytest.fixture(scope="module")
def cooking(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return _ingested(tmp_path_factory, COOKING)


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
    [
        "Who wrote Don Quixote?",
        "What is omnichannel marketing?",
        "How do I fix a flat bicycle tyre?",
        # Answered before the latent terms decided: their vectors score above every probe's.
        "How do I change the oil in my car?",
        "What's the weather going to be like tomorrow?",
        "كيف أفتح حساب توفير في البنك؟",
        "Is drinking four cups of coffee a day bad for my blood pressure?",
    ],
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


def test_a_question_of_a_word_or_two_the_sources_have_is_covered_whatever_its_vector_says() -> None:
    from kb.answer.coverage import Calibration

    bar = Calibration(off_topic_best=0.85, threshold=0.88)
    low = 0.70  # far under the bar: a vector of one word says little
    assert bar.covered(low, rare_terms=1, query_terms=1)  # "Worten?"
    assert bar.covered(low, rare_terms=2, query_terms=2)  # "Phone House?"
    assert not bar.covered(low, rare_terms=1, query_terms=2)  # one word of two is not the sources'
    assert not bar.covered(low, rare_terms=3, query_terms=3)  # longer: the usual signals decide
    assert not bar.covered(0.95, rare_terms=0, query_terms=0)  # "Why?": nothing to look for
    assert bar.covered(0.95, rare_terms=0)  # terms not counted: the vector decides, as before


@pytest.mark.parametrize("language", ["es", "pt", "ro", "fr", "ar"])
def test_a_name_the_articles_mention_asked_alone_is_answered_from_them(kb: KnowledgeBase, language: str) -> None:
    """ "Worten?" was refused in the languages whose bar is highest: one word's vector scores low."""
    answer = kb.ask(validate_question("Worten?", language=language))
    assert answer.answered and answer.citations
    assert any("Worten" in c.chunk.text for c in answer.citations)


# "Porquê?", "Warum?" and "Perché?" were answered: the index keeps them as
# terms (its stop-word list is shorter than the languages' function words).
@pytest.mark.parametrize("question", ["Why?", "How?", "¿Por qué?", "Et alors ?", "Porquê?", "Warum?", "Perché?"])
def test_a_question_of_function_words_alone_is_not_covered(kb: KnowledgeBase, question: str) -> None:
    assert not kb.ask(validate_question(question)).answered


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return _ingested(tmp_path_factory, GARDEN)


@pytest.mark.parametrize(
    ("question", "answerable"),
    [
        # In the blog's own Spanish, a question its latent terms do not match is refused,
        # however near its vector: "hora" (of watering) is not the pharmacy's.
        ("¿A qué hora abre la farmacia?", False),
        ("¿Va a llover este fin de semana?", False),
        ("¿Cuántas horas de sol necesita la albahaca?", True),
        # In another language, the vectors' agreement still lowers the bar.
        ("Por que as folhas do manjericão ficam amargas?", True),
    ],
)
def test_in_the_sources_language_the_latent_terms_have_their_full_say(
    garden: KnowledgeBase, question: str, answerable: bool
) -> None:
    answer = garden.ask(validate_question(question))
    assert answer.answered is answerable, answer.answer
    assert bool(answer.citations) is answerable


def test_where_the_model_has_latent_terms_their_cosine_decides() -> None:
    from kb.answer.coverage import DENSE_LEAD, SPARSE_SHARE_WITH_DENSE, Calibration

    bar = Calibration(off_topic_best=0.80, threshold=0.83, sparse_bar=0.21)
    high, low = 0.95, 0.70  # dense scores far above and far under the probes'
    assert bar.covered(low, rare_terms=0, query_terms=5, sparse_cosine=0.22)
    # Above the old dense bar, with shared rare terms: not enough now.
    assert not bar.covered(0.84, rare_terms=4, query_terms=5, sparse_cosine=0.20)
    # Far above the probes densely, a smaller share of the cosine does...
    share = SPARSE_SHARE_WITH_DENSE * 0.21
    assert bar.covered(0.80 + DENSE_LEAD, rare_terms=0, query_terms=5, sparse_cosine=share)
    assert not bar.covered(0.80 + DENSE_LEAD, rare_terms=0, query_terms=5, sparse_cosine=share - 0.01)
    # ...but only across languages: in the sources' own language the latent terms match as well as they can.
    assert not bar.covered(0.80 + DENSE_LEAD, rare_terms=0, query_terms=5, sparse_cosine=share, across_languages=False)
    # ...unless the dense score is lifted by a subject borrowed from the conversation.
    assert not bar.covered(high, rare_terms=0, query_terms=5, sparse_cosine=share, borrowed=True)
    # A word or two the sources have is covered whatever the cosine; without a sparse head the vector decides.
    assert bar.covered(low, rare_terms=1, query_terms=1, sparse_cosine=0.0)
    assert bar.covered(high, rare_terms=0, query_terms=5, sparse_cosine=None)
    assert Calibration(0.80, 0.83).covered(high, rare_terms=0, query_terms=5, sparse_cosine=0.0)


def test_a_follow_up_must_match_some_of_the_sources_latent_terms_alone() -> None:
    from kb.answer.coverage import FOLLOW_UP_SHARE, Calibration

    bar = Calibration(off_topic_best=0.80, threshold=0.83, sparse_bar=0.20)
    assert bar.partly_covered(FOLLOW_UP_SHARE * 0.20)
    assert not bar.partly_covered(FOLLOW_UP_SHARE * 0.20 - 0.01)
    assert Calibration(0.80, 0.83).partly_covered(0.0)  # no sparse head: nothing to say
    assert bar.partly_covered(None)


def test_a_change_of_subject_mid_conversation_borrows_no_coverage(kb: KnowledgeBase) -> None:
    """ "Tell me a joke" after "¿Qué es omnicanal?" is asked as "Tell me a joke omnicanal":
    the borrowed word matched the sources' latent terms well enough to quote them."""
    history = [{"role": "user", "content": "¿Qué es omnicanal?"}]
    for question in ("Tell me a joke", "¿Qué es omnicanal?"):
        answer = kb.ask(validate_question(question, history))
        assert answer.answered is (question != "Tell me a joke"), question


def test_a_follow_up_is_measured_against_the_probes_this_corpus_is_not_about(
    cooking: KnowledgeBase, kb: KnowledgeBase
) -> None:
    """A follow-up that borrows the conversation's subject must score above the
    off-topic probes borrowing it too; on a cooking blog the bread probe is not
    off-topic, so it is not one of them. The probes are kept with the calibration."""
    from kb.answer.coverage import Calibration

    kept = cooking.calibration()
    assert kept.probes_in("en") and not any("bread" in probe for probe in kept.probes_in("en"))
    assert any("bread" in probe for probe in kb.calibration().probes_in("en"))
    assert Calibration.from_json(kept.to_json()) == kept


def test_a_follow_up_on_another_subject_is_refused_on_a_blog_too(garden: KnowledgeBase) -> None:
    history = [{"role": "user", "content": "¿Cómo cultivo tomates en una maceta?"}]
    off = garden.ask(validate_question("¿Y cómo cambio el aceite del coche?", history))
    assert off.standalone_query != off.question and not off.answered
    assert garden.ask(validate_question("¿Y cada cuánto los riego?", history)).answered


def test_a_borrowed_subject_s_bar_is_measured_as_the_coverage_bar_is() -> None:
    """The latent terms' cosine where the model has them, else the dense score."""
    from kb.answer.coverage import Calibration
    from kb.models import Chunk, Hit
    from kb.search.followup import borrowed_words
    from kb.search.retrieve import Retrieval

    text = "Omnichannel joins every channel."
    hit = Hit(Chunk("a#0", "a", "a", "en", "", text, 0, len(text), 0), 0.9)
    found = Retrieval((hit,), best_dense=0.90, lexical_terms=0, query_terms=4, sparse_cosine=0.30)
    for bar, measure in ((Calibration(0.80, 0.83, sparse_bar=0.21), 0.30), (Calibration(0.80, 0.83), 0.90)):
        for borrowed_bar, covered in ((None, True), (measure - 0.01, True), (measure + 0.01, False)):
            assert bar.covers(found, True, True, False, borrowed_bar=borrowed_bar) is covered, (bar, borrowed_bar)
    assert borrowed_words("And its challenges? omnichannel strategy", "And its challenges?") == "omnichannel strategy"
    # A model's rewrite: the words the follow-up did not say.
    assert borrowed_words("What are the challenges of omnichannel?", "And its challenges?") == (
        "What are the of omnichannel"
    )
