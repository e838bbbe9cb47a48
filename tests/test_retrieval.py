"""Retrieval principles beyond the dev set: translations pooled, amounts asked for."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import kb.search.retrieve as retrieval
from kb.question import validate_question
from kb.search.amounts import asks_for_quantity, states_quantity
from kb.service import KnowledgeBase


@pytest.mark.parametrize(
    "question",
    [
        "How many customers stay with omnichannel brands?",
        "Quantos clientes a mais ficam?",
        "¿Qué porcentaje de clientes vuelve?",
        "Care este rata de retenție?",
        "Combien de clients restent fidèles ?",
        "Wie viel Prozent der Kunden bleiben?",
        "Quanti clienti restano?",
        "كم نسبة العملاء الذين يبقون؟",
        # The size of a change is an amount too.
        "Qual foi o crescimento das vendas online?",
        "¿De cuánto es el incremento de ventas?",
        "What growth in revenue do brands see?",
        "Quelle hausse des ventes observe-t-on ?",
        "Wie groß ist der Anstieg der Umsätze?",
        "ما هي الزيادة في المبيعات؟",
    ],
)
def test_questions_that_ask_for_an_amount_are_recognised(question: str) -> None:
    assert asks_for_quantity(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is omnichannel?",
        "¿Cuál es el nombre de la estrategia?",  # "nombre" is a name in Spanish
        "Is a 30% increase a lot?",  # gives its own number
        "ما هو الفرق بين الاستراتيجيتين؟",
        "How do I increase my sales?",  # a verb: asks for a method, not an amount
        # "How much" inside the question asks about an amount, not for one.
        "Spielt es für die Wahl eine Rolle, wie viel Kundenbindung ich habe?",
        "Should I use as many channels as I can?",
        "Pot să țin produsele în coș cât timp vreau?",
        "Does it matter how much my customers already buy?",
    ],
)
def test_other_questions_are_not(question: str) -> None:
    assert not asks_for_quantity(question)


@pytest.mark.parametrize(
    "question", ["And how many stores?", "¿Y cuántos clientes vuelven?", "Et combien de clients ?"]
)
def test_how_many_after_a_conjunction_still_asks_for_an_amount(question: str) -> None:
    assert asks_for_quantity(question)


def test_list_numbers_are_not_amounts() -> None:
    assert not states_quantity("1. Canal vs. client\n\nStrategia se concentrează")
    assert states_quantity("companiile ating cu 91% mai mult")


def test_an_amount_question_ranks_the_passages_that_state_amounts_first(kb: KnowledgeBase) -> None:
    index = kb.retriever.index()
    # The passages with a percentage ("91%", "30%"); others state amounts in words ("dois sistemas").
    percentages = {c.id for c in index.chunks if re.search(r"\d\s?%", c.text)}
    assert len(percentages) >= 2 and all(states_quantity(index.chunks[index.row[i]].text) for i in percentages)
    hits = kb.retriever.search("Wie viel Prozent mehr Wert haben Omnichannel-Kunden?", 5).hits
    assert {hit.chunk.id for hit in hits[:2]} == percentages


def test_a_translated_pair_scores_the_mean_of_its_two_readings(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An article with a translation gets no second chance: the pair scores the mean, not the better reading."""
    monkeypatch.setattr(retrieval, "SAME_DOCUMENT_PENALTY", 0.0)
    calls: dict[str, Any] = {}
    fuse, sparse_scores = retrieval._fuse, retrieval._sparse_scores

    def record_rows(matrix: Any, rows: np.ndarray, query: Any) -> Any:
        calls["rows"] = rows.tolist()
        return sparse_scores(matrix, rows, query)

    def record_scores(*channels: Any) -> np.ndarray:
        calls["fused"] = fuse(*channels)
        return calls["fused"]

    monkeypatch.setattr(retrieval, "_sparse_scores", record_rows)
    monkeypatch.setattr(retrieval, "_fuse", record_scores)
    index = kb.retriever.index()
    # Not a heading word for word: a heading's own section would count alone.
    hits = kb.retriever.search("Em que se baseia uma estratégia omnicanal, afinal?", 10, "pt").hits
    fused = dict(zip(calls["rows"], calls["fused"].tolist(), strict=True))
    pairs = [hit for hit in hits if hit.alternatives]
    assert pairs, "the Portuguese article and its Arabic translation should both be retrieved"
    unequal = 0
    for hit in pairs:
        assert (hit.chunk.language, hit.alternatives[0].language) == ("pt", "ar")
        mine, theirs = fused[index.row[hit.chunk.id]], fused[index.row[hit.alternatives[0].id]]
        assert hit.score == pytest.approx((mine + theirs) / 2)
        unequal += abs(mine - theirs) > 0.1
    assert unequal, "no pair whose readings differ: the test would not tell mean from max"


def test_a_question_is_answered_from_one_generation(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Language detection, search and the answerability check all read the same index, even mid-switch."""
    reads: list[object] = []
    original = kb.retriever.index

    def counting(fresh: bool = False) -> Any:
        reads.append(fresh)
        return original(fresh)

    monkeypatch.setattr(kb.retriever, "index", counting)
    kb.ask(validate_question("What is omnichannel?"))
    assert len(reads) == 1


def test_a_passage_is_listed_once_even_where_two_passages_share_a_translation(kb: KnowledgeBase) -> None:
    """The Portuguese article and its Arabic translation are chunked differently,
    so two passages of one can have the same passage of the other as their
    translation. That passage was listed once with each, as a hit or as an
    alternative, and took two of the reader's slots."""
    index = kb.retriever.index()
    shared = [row for row in set(index.twins.values()) if list(index.twins.values()).count(row) > 1]
    assert shared, "no two passages share a translation: the test would not tell"
    for question in ("What is the difference between omnichannel and multichannel?", "¿Qué es omnicanal?"):
        for language in ("ar", "pt", "en"):
            hits = kb.retriever.search(question, 20, language).hits
            listed = [c.id for hit in hits for c in (hit.chunk, *hit.alternatives)]
            assert len(listed) == len(set(listed)), (question, language)


def test_an_example_question_the_chat_offers_is_answered_from_the_section_it_heads(kb: KnowledgeBase) -> None:
    """The examples are the articles' own question headings. Clicked, "على ماذا تستند
    استراتيجية omnichannel؟" quoted two Spanish passages over the Arabic section it heads
    (its Portuguese twin pulled the pair's mean down), and "¿Cuáles son los desafíos…?"
    quoted a passage about customers' processes."""
    from kb.ingest.chunk import opening_headings
    from kb.search.lexical import tokenize

    examples = kb.example_questions(limit=100)
    assert len(examples) >= 5
    for question in examples:
        answer = kb.ask(validate_question(question))
        first = answer.citations[0]
        readings = [first.chunk, *first.alternatives]
        headings = {tuple(tokenize(h)) for chunk in readings for h in opening_headings(chunk)}
        assert tuple(tokenize(question)) in headings, (question, first.chunk.text[:80])


def test_a_fully_vowelled_arabic_question_finds_what_its_plain_spelling_finds(kb: KnowledgeBase) -> None:
    """ "كَمْ يَبْقَى الخُبْزُ فِي المُجَمِّدِ؟" lost the passage that "كم يبقى الخبز في المجمد؟"
    finds first: the model reads vowel marks as other letters, and articles are
    written without them. A learner's or a textbook's question is read as they are."""
    pairs = {
        "ما الفرق بين omnichannel و multichannel؟": "مَا الفَرْقُ بَيْنَ omnichannel وَ multichannel؟",
        "على ماذا تستند استراتيجية omnichannel؟": "عَلَى مَاذَا تَسْتَنِدُ اسْتِرَاتِيجِيَّةُ omnichannel؟",
        "ما هي فوائد الاستراتيجية متعددة القنوات؟": "مَا هِيَ فَوَائِدُ الاسْتِرَاتِيجِيَّةِ مُتَعَدِّدَةِ القَنَوَاتِ؟",
    }
    for plain, vowelled in pairs.items():
        found = [h.chunk.id for h in kb.prepare(validate_question(plain)).hits]
        read = [h.chunk.id for h in kb.prepare(validate_question(vowelled)).hits]
        assert read == found, vowelled
