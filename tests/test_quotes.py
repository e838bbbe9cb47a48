"""The extractive answer's quotes: which sentences of a passage are shown."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kb.answer.base import AnswerRequest, answer_once
from kb.answer.extractive import (
    MAX_QUOTE_CHARS,
    ExtractiveAnswerer,
    best_sentences,
    cited_hits,
    closeness_of,
    point_size,
)
from kb.answer.links import find_spans, quoted_segments
from kb.i18n.lookup import message
from kb.models import Chunk, Hit, Question, Turn
from kb.question import validate_question
from kb.search.amounts import asks_for_quantity
from kb.search.lexical import tokenize
from kb.search.quotable import for_quoting, readied
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.text.sentences import sentence_spans, sentences_of
from tests.conftest import SEEDS


def _hit(text: str, source: str = "x.txt", ordinal: int = 0, score: float = 1.0, language: str = "es") -> Hit:
    chunk = Chunk(f"{source}#{ordinal}", source, "Title", language, "Heading", text, 0, len(text), ordinal)
    return readied([Hit(chunk=chunk, score=score)])[0]


def _quote(hit: Hit, question: str, topic: frozenset[str] = frozenset(), **kwargs: Any) -> str:
    """``best_sentences`` for ``question``, as the service asks it: by its terms but ``topic``."""
    return best_sentences(hit, frozenset(tokenize(question)) - topic, **kwargs)


def _cited(hits: list[Hit], question: str, listed: int = 0) -> list[int]:
    return cited_hits(hits, asks_for_quantity(question), listed)


def _request(
    question: Question, language: str, query: str, hits: tuple[Hit, ...], covered: bool, **kwargs: Any
) -> AnswerRequest:
    """The request the service makes of a query and its hits."""
    quoting = for_quoting(query, hits)
    return AnswerRequest(
        question, language, query, quoting.hits, covered, terms=quoting.terms, asks_amount=quoting.asks_amount, **kwargs
    )


FILLER = (
    "Esta frase larga habla de la retención de clientes en canales y tiendas, sin decir nada concreto "
    "sobre el asunto que se pregunta ni dar cifras"
)


def test_the_matching_sentence_is_quoted_even_when_earlier_ones_fill_the_budget() -> None:
    text = " ".join(f"{FILLER} {n}." for n in range(5)) + " La retención sube un 91% con CRM integrado."
    quote = _quote(_hit(text), "¿Cuánto sube la retención con un CRM integrado?", limit=4)
    assert "La retención sube un 91% con CRM integrado." in quote
    assert len(quote) <= MAX_QUOTE_CHARS + 2


def test_adjacent_sentences_read_as_one_stretch_and_gaps_are_marked() -> None:
    text = "Primero va el contexto. Los canales se sincronizan. Otra cosa distinta aquí. Los canales comparten datos."
    quote = _quote(_hit(text), "canales sincronizan comparten datos", limit=3)
    assert quote == "Primero va el contexto. Los canales se sincronizan. … Los canales comparten datos."
    assert "Otra cosa distinta" not in quote


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        # 002: "Algunos grandes como Worten o Phone House han comenzado el proceso.", its passage's third sentence.
        ("Welche großen Firmen haben den Weg zum Omnichannel schon begonnen?", "Worten o Phone House"),
        # 001's challenge of showing a shop's stock online, the second sentence under its heading.
        ("Should I show the stock of all my physical shops on my website?", "canibaliza tus transacciones en línea"),
    ],
)
def test_a_question_in_another_language_gets_the_sentence_that_answers_it(
    kb: KnowledgeBase, question: str, answer: str
) -> None:
    """A question sharing no words with the passage got its opening sentences; the
    sentences' vectors kept at ingest pick those closest in meaning (without them: as before)."""
    request = kb.prepare(validate_question(question, None, 5, None, kb.settings))
    assert request.query_vector is not None
    assert answer in answer_once(kb.answerer, request).answer
    # The counterfactual at a point's usual size (an answer of fewer points quotes more of each).
    hit = next(hit for hit in request.hits if answer in hit.chunk.text)
    assert answer in _quote(hit, request.query, closeness=closeness_of(request))
    assert answer not in _quote(hit, request.query, closeness=closeness_of(replace(request, sentence_vectors={})))


@pytest.mark.slow  # two or three ingests: 12 s or more; not in make test-fast
def test_every_sentence_has_its_vector_kept_and_carried_over_with_an_unchanged_article(tmp_path: Path) -> None:
    """The sentences' vectors are kept with their passage at ingest, and carried
    over to the next generation with an article that did not change."""
    folder = tmp_path / "posts"
    folder.mkdir()
    changed, same = "002_8f573ef52dea0fed.txt", "003_270c56ab60b0665d.txt"
    for name in (changed, same):
        shutil.copy(SEEDS / name, folder / name)
    base = KnowledgeBase(Settings(data_dir=tmp_path / "kb", seeds_dir=folder))
    base.ingest(folder)
    index = base.retriever.index()
    wanted = {sentence for chunk in index.chunks for sentence in sentences_of(chunk.text)}
    assert wanted and wanted <= set(index.sentence_vectors)
    # Each is the sentence embedded as a question is: the two compare symmetrically.
    sentence = max(wanted, key=len)
    again_embedded = base.embedder.encode([sentence], is_query=True)[0]
    assert float(index.sentence_vectors[sentence] @ again_embedded) > 0.99

    (folder / changed).write_text((SEEDS / changed).read_text(encoding="utf-8") + "\nUna línea más.\n")
    report = base.ingest(folder)
    assert report.unchanged == (same,) and report.updated == (changed,)
    again = base.retriever.index()
    assert again.generation != index.generation
    kept = {s for chunk in again.chunks if chunk.source == same for s in sentences_of(chunk.text)}
    assert kept and kept <= set(again.sentence_vectors)
    for sentence in kept:
        assert np.array_equal(again.sentence_vectors[sentence], index.sentence_vectors[sentence])


def test_a_sentence_that_points_back_is_quoted_with_the_one_before_it() -> None:
    """ "Este no siempre es el mejor enfoque…" and "Aceasta înseamnă că…" were quoted
    alone: what they point back at was left out."""
    stock = (
        "Muchas empresas muestran en línea sus existencias físicas. Las existencias en la tienda son "
        "cambiantes y se agotan cuando se venden en línea. Este no siempre es el mejor enfoque, ya que "
        "canibaliza tus transacciones en línea."
    )
    quote = _quote(_hit(stock), "¿Canibaliza las transacciones en línea?", limit=1)
    assert quote == (
        "Las existencias en la tienda son cambiantes y se agotan cuando se venden en línea. "
        "Este no siempre es el mejor enfoque, ya que canibaliza tus transacciones en línea."
    )
    # Back to a sentence that stands on its own: "خاصة" ("especially if…") leans on the one before too.
    text = "تساعد هذه التكتيكات العلامة التجارية. خاصة إذا كنت في مرحلة البداية. بينما الاتصال المخصص أفضل للعملاء."
    arabic = _hit(text, language="ar")
    assert _quote(arabic, "الاتصال المخصص للعملاء", limit=1) == text
    # Where the two do not fit after a better sentence, the one that points back is still quoted: it may be
    # the answer ("Así, ser omnicanal sigue siendo el reto…").
    later = f"{FILLER}. Los canales se sincronizan y canibalizan. Este enfoque canibaliza las transacciones."
    quote = _quote(_hit(later), "canibaliza transacciones canales sincronizan", limit=2, budget=170)
    assert quote.endswith("Este enfoque canibaliza las transacciones."), quote
    # A heading above it is not what it points back at: the heading is quoted where it fits, as below.
    headed = "Multicanal\n\nEsta es una estrategia de varios canales. Estos canales son tiendas y webs."
    assert _quote(_hit(headed), "¿Qué canales son?", limit=2) == (
        "Multicanal — Esta es una estrategia de varios canales. Estos canales son tiendas y webs."
    )


def test_tell_me_more_goes_on_with_the_same_subject_or_says_there_is_no_more() -> None:
    """ "Conta mais" after the cataplana's recipe, every passage on it quoted,
    went on to the duck rice and the salt cod: more, but not of what was asked."""
    recipe = _hit("Ponha as amêijoas de molho durante 2 horas. Refogue a cebola.", "cataplana.md", 0, score=7.7)
    intro = _hit("Trouxe a minha cataplana de Loulé há dez anos.", "cataplana.md", 1, score=5.3)
    tip = _hit("Sem cataplana, use um tacho largo com tampa.", "cataplana.md", 2, score=4.6)
    duck = _hit("Coza o pato durante 1 hora e 30 minutos.", "pato.md", 0, score=3.4)
    first = ExtractiveAnswerer().compose(
        _request(Question("Como se faz a cataplana?"), "pt", "Como se faz a cataplana?", (recipe, intro), True)
    )
    history = (Turn("user", "Como se faz a cataplana?"), Turn("assistant", first.answer))
    more = Question("Conta mais", history=history)
    answer = ExtractiveAnswerer().compose(
        _request(more, "pt", "Como se faz a cataplana?", (recipe, intro, tip, duck), True, more=True)
    )
    # The tip would have been a point beside the recipe; the duck, 4.3 below it, would not.
    assert [c.chunk.source for c in answer.citations] == ["cataplana.md"], answer.answer
    assert "tacho largo" in answer.answer and "pato" not in answer.answer
    said = (*history, Turn("user", "Conta mais"), Turn("assistant", answer.answer))
    again = ExtractiveAnswerer().compose(
        _request(
            Question("Conta mais", history=said),
            "pt",
            "Como se faz a cataplana?",
            (recipe, intro, tip, duck),
            True,
            more=True,
        )
    )
    assert not again.answered and not again.citations
    assert again.answer == message("nothing_more", "pt")


def test_without_shared_words_the_opening_sentences_are_quoted_verbatim() -> None:
    text = "Primera frase del párrafo. Segunda frase del párrafo. Tercera frase. Cuarta frase del final."
    quote = _quote(_hit(text), "ما هو الفرق؟", limit=3)
    assert quote == "Primera frase del párrafo. Segunda frase del párrafo. Tercera frase."


def test_one_overlong_sentence_is_cut_at_a_word_boundary() -> None:
    text = " ".join(["palabra"] * 200) + "."
    quote = _quote(_hit(text), "palabra")
    assert quote.endswith(" …") and len(quote) <= MAX_QUOTE_CHARS + 2
    assert set(quote[:-2].split()) == {"palabra"}


def test_an_article_s_reference_marks_are_elided_not_taken_for_citations() -> None:
    first = _hit("Según el informe [2], la retención sube. Véase también la nota [17] al final.")
    second = _hit("Los clientes vuelven cuando los canales comparten datos.", ordinal=1)
    other = _hit("Otra fuente distinta sobre tiendas.", source="y.txt")
    request = _request(Question("¿Sube la retención?"), "es", "¿Sube la retención?", (first, other, second), True)
    answer = ExtractiveAnswerer().compose(request)
    assert "“Según el informe […], la retención sube. Véase también la nota […] al final.” [1]" in answer.answer
    # Every passage is a point, numbered in order.
    assert [(c.id, c.chunk.id) for c in answer.citations] == [(1, "x.txt#0"), (2, "y.txt#0"), (3, "x.txt#1")]
    assert [line[-5:] for line in answer.answer.splitlines()[1:]] == ["” [1]", "” [2]", "” [3]"]


def test_a_heading_is_set_off_from_the_sentence_after_it() -> None:
    text = "Falta de infraestructura\nMuchas empresas no tienen los sistemas. Otra frase más.\n¿Y ahora qué?\nSeguimos."
    quote = _quote(_hit(text), "ما هو الفرق؟", limit=5)
    # A line without a stop reads apart from the next; a line that ends a sentence needs no mark.
    assert quote == (
        "Falta de infraestructura — Muchas empresas no tienen los sistemas. Otra frase más. ¿Y ahora qué? Seguimos."
    )


def test_a_short_sentence_is_no_heading_and_is_quoted_before_a_longer_later_one() -> None:
    text = f"Omnicanal, el siguiente paso\nLa integración es la gran diferencia. {FILLER}."
    # No shared terms and no vectors: the earlier sentence first, bare headings last
    # (then over the sentence they head, as its label).
    assert _quote(_hit(text), "ما هو الفرق؟", limit=1) == (
        "Omnicanal, el siguiente paso — La integración es la gran diferencia."
    )


def test_a_quoted_sentence_keeps_the_heading_just_above_it() -> None:
    """ "What's the difference?" quoted “Esta es una estrategia en la que una marca está presente en
    múltiples canales…” without its heading "Multicanal": it did not say which strategy."""
    text = "Multicanal\nEsta es una estrategia en la que una marca está presente en múltiples canales. Otra frase."
    assert _quote(_hit(text), "¿En qué consiste esa estrategia?", limit=1) == (
        "Multicanal — Esta es una estrategia en la que una marca está presente en múltiples canales."
    )
    # Only where it fits the point's characters.
    assert _quote(_hit(text), "¿En qué consiste esa estrategia?", limit=1, budget=90).startswith("Esta es")
    # A list's last item is no heading of the paragraph after the list.
    recipe = "- 70 g of coffee\n- A 1-litre glass jar with a lid\n\nMix the coffee and water, and stir well."
    assert _quote(_hit(recipe), "How do I mix it?", limit=1) == "Mix the coffee and water, and stir well."


def test_a_numbered_list_s_steps_are_quoted_from_the_first() -> None:
    """ "How do I count varroa mites?" quoted only "4. Pour the liquid through a mesh and count the
    mites. 5. Divide…": the steps that share the question's words, without the three before them."""
    steps = (
        "1. Shake about 300 bees into a jar.\n2. Cover them with alcohol.\n3. Shake the jar for 60 seconds.\n"
        "4. Pour the liquid through a mesh and count the mites.\n5. Divide the mites by 3."
    )
    text = f"Counting mites\n\n{steps}\n\nA sugar roll works the same way."
    quote = _quote(_hit(text), "How do I count the mites?", limit=2)
    assert quote == "Counting mites — " + " ".join(steps.split("\n")[:4])
    assert _quote(_hit(text), "How do I divide the mites I count?", limit=2) == (
        "Counting mites — " + " ".join(steps.split("\n"))
    )
    # Only where they fit: else the steps chosen, as they are.
    assert _quote(_hit(text), "How do I count the mites?", limit=1, budget=80) == (
        "4. Pour the liquid through a mesh and count the mites."
    )
    # No step is left out between the first and the last quoted: the arroz de pato's
    # "5. Cubra com rodelas de chouriço…" was dropped between 4 and 6, with "…".
    recipe = (
        "1. Desfie o pato.\n2. Coe o caldo.\n3. Coza o arroz no caldo 10 minutos.\n"
        "4. No tabuleiro, alterne arroz e pato.\n5. Cubra com chouriço.\n6. Leve ao forno a 200 °C, 20 minutos."
    )
    quote = _quote(_hit(recipe), "Como montar o arroz de pato no tabuleiro e levar ao forno?", limit=5)
    assert quote == " ".join(recipe.split("\n")), quote
    # A numbered heading opens a section, not a list: what is under it is quoted alone.
    sections = "1. Too many hives\nI bought four.\n\n2. Ignoring the mite count\nI did not count the mites."
    assert _quote(_hit(sections), "Did you count the mites?", limit=1) == (
        "2. Ignoring the mite count — I did not count the mites."
    )


def test_the_corpus_s_topic_terms_choose_no_sentence(kb: KnowledgeBase) -> None:
    """Every passage of the seeds says "omnicanal": sharing it with the question tells no sentence
    from another, so the one that answers is chosen by what else it shares, or by its meaning."""
    index = kb.retriever.index()
    assert "omnic" in index.topic_terms and "worte" not in index.topic_terms
    text = "Ser omnicanal requiere inversión tecnológica. Algunos grandes como Worten han comenzado el proceso."
    question = "¿Qué empresas grandes ya son omnicanal?"
    assert _quote(_hit(text), question, limit=1) == "Ser omnicanal requiere inversión tecnológica."
    assert _quote(_hit(text), question, limit=1, topic=index.topic_terms) == (
        "Algunos grandes como Worten han comenzado el proceso."
    )


def test_the_passage_s_own_question_is_quoted_after_what_answers_it() -> None:
    text = (
        "¿Cuál es la diferencia entre estrategia omnicanal y multicanal? "
        "Una estrategia omnicanal integra todos los canales; la multicanal los usa por separado."
    )
    # The question shares every term with the passage's question, and fewer with its answer.
    question = "¿Cuál es la diferencia entre la estrategia omnicanal y la multicanal?"
    assert _quote(_hit(text), question, limit=1) == (
        "Una estrategia omnicanal integra todos los canales; la multicanal los usa por separado."
    )
    # With room for both, both are quoted, in the article's order.
    assert _quote(_hit(text), question, limit=2) == " ".join(text.split())


def test_a_question_that_asks_for_an_amount_is_answered_from_a_passage_that_states_one() -> None:
    """The best passage says what omnichannel does; the third says by how much: that one is cited first."""
    hits = [
        _hit("La estrategia omnicanal permite recopilar datos de clientes de múltiples canales.", "a.txt"),
        _hit("La estrategia omnicanal se basa en la fidelidad del cliente.", "b.txt"),
        _hit("Las empresas omnicanal retienen un 91% más de clientes cada año.", "c.txt"),
    ]
    question = "Qual é o aumento na retenção de clientes com estratégia omnicanal?"
    assert _cited(hits, question) == [2, 0, 1]
    answer = ExtractiveAnswerer().compose(_request(Question(question), "pt", question, tuple(hits), covered=True))
    assert [c.chunk.source for c in answer.citations] == ["c.txt", "a.txt", "b.txt"]
    assert "91%" in answer.answer.splitlines()[1]


def test_without_an_amount_asked_for_the_best_passage_leads() -> None:
    hits = [
        _hit("Una estrategia omnicanal sincroniza los canales.", "a.txt"),
        _hit("Sube un 91% la retención.", "c.txt"),
    ]
    assert _cited(hits, "¿Qué es una estrategia omnicanal?")[0] == 0
    # Nor when the best passage states an amount itself.
    hits = [_hit("Un 30% más de valor aportan.", "a.txt"), _hit("Sube un 91% la retención.", "c.txt")]
    assert _cited(hits, "¿Cuánto valor aportan?")[0] == 0


def test_an_amount_in_words_is_an_amount() -> None:
    """ "How many hours do teenagers need to sleep?" quoted a museum's ticket
    prices: "closer to nine hours" has no figure, so it did not count."""
    hits = [
        _hit("Adults need about eight hours of sleep. Teenagers need closer to nine hours.", "doctor.md", score=2.98),
        _hit("Der Eintritt kostet 8 Euro, für Studenten 5 Euro.", "museum.md", score=1.2),
    ]
    assert _cited(hits, "How many hours do teenagers need to sleep?") == [0, 1]


def test_a_passage_below_the_average_candidate_is_no_answer_whatever_amount_it_states() -> None:
    hits = [
        _hit("Keep the bedroom cool and dark, and avoid screens before bed.", "doctor.md", score=2.98),
        _hit("Der Eintritt kostet 8 Euro, für Studenten 5 Euro.", "museum.md", score=-0.03),
    ]
    # (and far below the best, it is not a point of the answer at all)
    assert _cited(hits, "How many hours do teenagers need to sleep?") == [0]
    # Above it, the passage that states an amount is still the answer.
    hits = [hits[0], _hit("Teenagers need 9 hours.", "sleep.md", score=0.4)]
    assert _cited(hits, "How many hours do teenagers need to sleep?") == [1, 0]


def test_numbers_written_as_words_state_an_amount_unless_the_word_is_another_language_s_word() -> None:
    from kb.search.amounts import states_quantity

    for text in ("about eight hours of sleep", "mit zwei Kanälen", "três dias depois", "Trei diferențe"):
        assert states_quantity(text), text
    # "dos" is also Portuguese "of the", "due" English "owed"; "one" is also an article.
    for text in ("a lealdade dos clientes", "due to the weather", "una tienda", "It is ten."):
        assert not states_quantity(text), text


def _sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


def test_an_ordinal_an_initial_or_a_title_does_not_end_a_sentence() -> None:
    """ "Wann ist das Stadtmuseum geschlossen?" was answered “Das Stadtmuseum ist am 1. … Dezember
    geschlossen.”: the quote took two of three pieces of a sentence cut at "1." and "25."."""
    museum = "Das Stadtmuseum ist am 1. Januar und am 25. Dezember geschlossen. Es öffnet um 10 Uhr."
    assert _sentences(museum) == [
        "Das Stadtmuseum ist am 1. Januar und am 25. Dezember geschlossen.",
        "Es öffnet um 10 Uhr.",
    ]
    built = "Er wurde im 16. Jahrhundert gebaut. Heute nicht."
    assert _sentences(built) == ["Er wurde im 16. Jahrhundert gebaut.", "Heute nicht."]
    people = "Ask Dr. Smith or J. Jones. The U.S. Army agrees."
    assert _sentences(people) == ["Ask Dr. Smith or J. Jones.", "The U.S. Army agrees."]
    # A year, or a number before anything but a month or such a noun, ends a sentence as any word does.
    assert _sentences("Sales rose in 2018. Then they fell.") == ["Sales rose in 2018.", "Then they fell."]
    assert _sentences("Die Zahl stieg um 3. Dann fiel sie.") == ["Die Zahl stieg um 3.", "Dann fiel sie."]
    quote = _quote(_hit(museum), "Wann ist das Stadtmuseum geschlossen?")
    assert "1. Januar und am 25. Dezember geschlossen." in quote and "…" not in quote


def test_a_list_item_s_number_is_no_sentence() -> None:
    """ "Is multichannel mainly about getting the word out…?" was answered “1. … Strategia
    Multichannel se concentrează…”: the number of the heading "1. Canal vs. client" was
    a sentence of its own, and quoted."""
    item = "1. Canal vs. client\n\nStrategia Multichannel se concentrează asupra clientului. Altceva."
    assert _sentences(item) == [
        "1. Canal vs. client",
        "Strategia Multichannel se concentrează asupra clientului.",
        "Altceva.",
    ]
    steps = "Hay dos pasos: 1. Integrar los CRM. 2. Sincronizar los canales."
    assert _sentences(steps) == ["Hay dos pasos: 1. Integrar los CRM.", "2. Sincronizar los canales."]
    longer = item + " Companiile folosesc rețelele sociale. Mesajul poate să nu fie consistent."
    quote = _quote(_hit(longer), "Is multichannel mainly about getting the word out fast?")
    # The number stays with its heading, over the sentence that heading opens.
    assert quote.startswith("1. Canal vs. client — Strategia Multichannel"), quote


def test_a_date_written_with_spaces_is_one_sentence() -> None:
    """003's date line "marți, 04. 07. 2017" was three sentences: "marți, 04.", "07." and "2017"."""
    assert _sentences("marți, 04. 07. 2017\nOdată cu atacul noilor tehnologii.") == [
        "marți, 04. 07. 2017",
        "Odată cu atacul noilor tehnologii.",
    ]
    assert _sentences("Das Buch erschien am 4. 7. 2017. Dann kam das zweite.") == [
        "Das Buch erschien am 4. 7. 2017.",
        "Dann kam das zweite.",
    ]
    # A number still ends a sentence before a word.
    assert _sentences("The rate grew by 3. Then it fell.") == ["The rate grew by 3.", "Then it fell."]


def test_a_list_s_items_are_quoted_without_their_bullets() -> None:
    """ "Kann ich destilliertes Wasser nehmen?" was answered “- Hardness: 2.45 g … - Shot running
    too fast…”: inside a point of the answer's own list, an item's bullet reads as a stray dash."""
    shots = (
        "- Shot running too fast (under 20 seconds), tasting sour: grind finer.\n"
        "- Shot running too slow (over 35 seconds), tasting bitter: grind coarser."
    )
    quote = _quote(_hit(shots), "What if my espresso shot runs too fast or too slow?")
    assert quote == (
        "Shot running too fast (under 20 seconds), tasting sour: grind finer. — "
        "Shot running too slow (over 35 seconds), tasting bitter: grind coarser."
    )
    # Each item is still found in the passage, for its highlight and its link to the post.
    assert len(find_spans(shots, quoted_segments(f"- “{quote}” [1]", 1))) == 2
    # Items without a stop are set off from each other, as any line is.
    grinds = "• Espresso: like fine table salt\n• Cold brew: like coarse sea salt"
    assert _quote(_hit(grinds), "How fine is espresso and cold brew coffee ground?") == (
        "Espresso: like fine table salt — Cold brew: like coarse sea salt"
    )
    # A dash inside a sentence is a word of it.
    assert _quote(_hit("Omnichannel - the whole journey - counts."), "omnichannel") == (
        "Omnichannel - the whole journey - counts."
    )


def test_a_list_s_item_is_quoted_under_its_lead_in() -> None:
    """A compost passage was quoted “Sí: … Cartón y papel… … Restos de plantas enfermas o tratadas
    con productos químicos”: an item of its "No:" list read as one of the "Sí:" list."""
    compost = (
        "Qué les doy y qué no.\n\nSí:\n\n- Peladuras de fruta y verdura, mejor troceadas.\n"
        "- Posos de café y bolsitas de té sin grapa.\n\nNo:\n\n"
        "- Carne, pescado, lácteos y restos cocinados con aceite: huelen y atraen moscas.\n"
        "- Cítricos y cebolla en grandes cantidades, porque acidifican demasiado.\n"
    )
    quote = _quote(_hit(compost), "¿Puedo echar cebolla y cítricos?", limit=1)
    assert quote == "No: … Cítricos y cebolla en grandes cantidades, porque acidifican demasiado."
    # Each list keeps its own; a lead-in is set off from its first item as any line is.
    quote = _quote(_hit(compost), "¿Peladuras de fruta? ¿Y cítricos y cebolla?", limit=2)
    assert quote == (
        "Sí: — Peladuras de fruta y verdura, mejor troceadas. … "
        "No: … Cítricos y cebolla en grandes cantidades, porque acidifican demasiado."
    )
    # Alone, a lead-in says nothing: it is quoted only with its items.
    assert "Sí:" not in _quote(_hit(compost), "¿Qué les doy?", limit=1)
    # Every piece is still found in the passage.
    quoted = quoted_segments(f"- “{quote}” [1]", 1)
    assert len(find_spans(compost, quoted)) == len(quoted)


def test_an_answer_of_fewer_points_gives_each_more_room() -> None:
    """ "Why does the author alternate two pairs of running shoes?" had one point, and its
    300 characters held what he does, not why: the answer's room is shared by its points."""
    assert [point_size(n) for n in (1, 2, 3, 4, 7)] == [(6, 600), (6, 600), (4, 400), (3, 300), (3, 300)]
    text = (
        "Seit meinem zweiten Marathon laufe ich mit zwei verschiedenen Paaren abwechselnd: einem weicheren "
        "für die langen Läufe und einem leichteren für das Tempotraining. Der Wechsel variiert die Belastung "
        "auf Füße und Beine etwas, und die Schuhe halten insgesamt länger, weil sich die Zwischensohle "
        "zwischen den Läufen erholen kann."
    )
    question = "Warum läuft der Autor mit zwei Paaren abwechselnd?"
    alone = ExtractiveAnswerer().compose(_request(Question(question), "de", question, (_hit(text),), covered=True))
    assert "weil sich die Zwischensohle zwischen den Läufen erholen kann." in alone.answer
    four = tuple(_hit(text, f"{n}.txt", score=3.0) for n in range(4))
    among = ExtractiveAnswerer().compose(_request(Question(question), "de", question, four, covered=True))
    assert len(among.citations) == 4
    assert all(len(line) <= MAX_QUOTE_CHARS + 12 for line in among.answer.splitlines()[1:])


def test_a_dominant_first_passage_leaves_room_for_other_articles_but_not_for_the_far_weaker() -> None:
    """A first passage far above the rest ("Despite their differences, what do
    they have in common?" matched 001's title passage at 5.5) still leaves the
    next ones that stand out from the candidates; one far below the first does not."""
    hits = [
        _hit("¿Cuál es la diferencia entre estrategia omnicanal y multicanal?", "001.txt", score=5.5),
        _hit("Multicanal: la marca está presente en varios canales.", "001.txt", ordinal=1, score=3.8),
        _hit("Ambas estrategias buscan la lealtad del cliente.", "000.txt", score=2.2),
        _hit("Falta de infraestructura.", "003.txt", score=1.5),
    ]
    assert _cited(hits, "What do they have in common?") == [0, 1, 2]


def test_an_answer_quotes_several_articles_best_first_and_leaves_out_the_far_weaker() -> None:
    """One article rarely says it all ("what is the difference?"): the first few
    passages are points, whichever article they come from; one below the average candidate is not."""
    hits = [
        _hit("La integración es la gran diferencia. Los canales están sincronizados.", "002.txt", score=3.0),
        _hit("Multicanal: la marca está presente en varios canales.", "001.txt", score=2.4),
        _hit("Estrategia omnichannel este holistică.", "003.txt", ordinal=6, score=1.5),
        _hit("Falta de infraestructura.", "001.txt", ordinal=6, score=-0.2),
    ]
    question = "¿Cuál es la diferencia entre omnicanal y multicanal?"
    assert _cited(hits, question) == [0, 1, 2]
    answer = ExtractiveAnswerer().compose(_request(Question(question), "es", question, tuple(hits), covered=True))
    assert [c.chunk.source for c in answer.citations] == ["002.txt", "001.txt", "003.txt"]
    points = answer.answer.splitlines()[1:]
    assert [p[-3:] for p in points] == ["[1]", "[2]", "[3]"]
    assert "La integración es la gran diferencia." in points[0]
