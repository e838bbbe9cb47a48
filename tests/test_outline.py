"""Structure-aware answers: a question that asks for so many things is answered
by the article's list of that many, one point per item."""

from __future__ import annotations

import pytest

from kb.ingest.chunk import chunk_document
from kb.models import Document
from kb.question import validate_question
from kb.search.outline import answering_outline, asked_count, count_phrases, outlines
from kb.service import KnowledgeBase

# 003 (Romanian) lists its three differences under numbered headings.
THREE_SECTIONS = ("1. Canal vs. client", "1. Consistență vs. individualitate", "1. Optimalizare")

ARTICLE = """Five ways to brew

We compare the ways below; there are three classic methods.

1. Pour-over

Pour hot water slowly over the grounds in a paper filter, in circles, for three minutes.

2. French press

Steep coarse grounds for four minutes, then press the plunger down and serve at once.

3. Espresso

Force hot water through fine grounds at high pressure for about twenty-five seconds.

What are the risks?

Bitterness

Water that is too hot extracts bitter compounds from the grounds and spoils the cup.

Sourness

Water that is too cold leaves the coffee sour, thin and under-extracted in the cup.
"""


def _chunks() -> list:  # type: ignore[type-arg]
    doc = Document("brew.md", "Five ways to brew", "en", ARTICLE, "h")
    return chunk_document(doc, max_chars=200, min_chars=50)


def test_numbered_sections_and_sections_under_a_bare_heading_are_lists() -> None:
    chunks = _chunks()
    found = {tuple(chunks[row].heading for row in outline.items): outline for outline in outlines(chunks)}
    numbered = found[("1. Pour-over", "2. French press", "3. Espresso")]
    # The article says, just before it, how many things its list has, and of what.
    assert numbered.announcement == ("three classic methods",)
    under = found[("Bitterness", "Sourness")]
    assert under.announcement == ()


@pytest.mark.parametrize(
    ("question", "language", "count"),
    [
        ("What are the three key differences?", "en", 3),
        ("Give me 4 tips", "en", 4),
        ("ما هي الاختلافات الأساسية الثلاثة؟", "ar", 3),
        ("Care sunt cele trei diferențe?", "ro", 3),
        # "Two" mostly names the pair a question compares, not a list it asks for.
        ("Which of the two strategies suits me?", "en", None),
        ("What is the difference?", "en", None),
        # A count is read in the question's own language only: "dos" is Portuguese "of the".
        ("Qual é a estratégia dos canais?", "pt", None),
    ],
)
def test_a_question_asks_for_a_count_in_figures_or_in_its_own_words(
    question: str, language: str, count: int | None
) -> None:
    assert asked_count(question, language) == count


def test_what_is_counted_is_read_after_the_count_and_before_it_where_the_language_puts_it_there() -> None:
    assert count_phrases("What are the three fundamental differences?", "en") == ("three fundamental differences",)
    assert "الاختلافات الأساسية الثلاثة" in count_phrases("ما هي الاختلافات الأساسية الثلاثة؟", "ar")


def test_a_list_that_says_it_counts_other_things_does_not_answer_even_when_its_item_ranks_first(
    kb: KnowledgeBase,
) -> None:
    chunks = _chunks()
    numbered = next(o for o in outlines(chunks) if o.announcement)
    retrieved = [("brew.md", numbered.items[0])]

    def encode(texts: list[str]) -> object:
        return kb.embedder.encode(texts, is_query=True)

    def answer(question: str) -> object:
        return answering_outline(
            asked_count(question, "en"), count_phrases(question, "en"), retrieved, [numbered], encode
        )

    # The article says it lists three methods: three methods are that list, three risks are not.
    assert answer("What are the three brewing methods?") == numbered
    assert answer("What are the three health risks of coffee?") is None
    # A question that names nothing after its count takes the list its best passage is in.
    assert answer("Give me 3") == numbered


THREE_DIFFERENCES = {
    "en": "Which are the three fundamental differences between multichannel and omnichannel marketing?",
    "pt": "Quais são as três diferenças fundamentais entre marketing multicanal e omnicanal?",
    "es": "¿Cuáles son las tres diferencias fundamentales entre el marketing multicanal y el omnicanal?",
    "ro": "Care sunt cele trei diferențe fundamentale între marketingul multichannel și omnichannel?",
    "ar": "ما هي الاختلافات الأساسية الثلاثة بين التسويق متعدد القنوات و omnichannel؟",
    "fr": "Quelles sont les trois différences fondamentales entre le marketing multicanal et omnicanal ?",
    "de": "Welches sind die drei grundlegenden Unterschiede zwischen Multichannel- und Omnichannel-Marketing?",
    "it": "Quali sono le tre differenze fondamentali tra il marketing multicanale e quello omnicanale?",
}


@pytest.mark.parametrize("language", sorted(THREE_DIFFERENCES))
def test_the_three_differences_are_003_s_three_sections_one_point_each(kb: KnowledgeBase, language: str) -> None:
    question = THREE_DIFFERENCES[language]
    answer = kb.ask(validate_question(question, None, 5, None, kb.settings))
    assert answer.answered
    headed = [c.chunk.heading for c in answer.citations[:3]]
    assert headed == list(THREE_SECTIONS), headed
    # One point each, and the point names its item.
    lines = [line for line in answer.answer.splitlines() if line.startswith("- ")]
    for number, heading in enumerate(THREE_SECTIONS, start=1):
        name = heading.removeprefix("1. ")
        assert any(line.startswith(f"- “{name} — ") and line.endswith(f"[{number}]") for line in lines), lines
    # Each from its opening, which says what the difference is: "Canal vs. client" quoted
    # only its detail on social media and email.
    opening = "Canal vs. client — Strategia Multichannel se concentrează asupra faptului"
    assert any(line.startswith(f"- “{opening}") for line in lines), lines


@pytest.mark.parametrize(
    "question",
    [
        "What are the three challenges of an omnichannel strategy?",
        "Welche drei Vorteile hat eine Omnichannel-Strategie?",
        "ما هي ثلاثة تحديات لاستراتيجية omnichannel؟",
    ],
)
def test_a_count_of_other_things_is_not_answered_with_the_list_of_differences(kb: KnowledgeBase, question: str) -> None:
    answer = kb.ask(validate_question(question, None, 5, None, kb.settings))
    headed = [c.chunk.heading for c in answer.citations]
    assert not set(THREE_SECTIONS) <= set(headed), headed
