"""Language detection of questions, short ones above all (kb/text/language.py)."""

from __future__ import annotations

import pytest

from kb.answer.probes import OFF_TOPIC_PROBES
from kb.i18n.lookup import LANGUAGE_NAMES, MESSAGES, SCRIPT_VARIANTS, UI
from kb.models import Question
from kb.question import validate_question
from kb.service import KnowledgeBase
from kb.text.language import (
    DETECTED,
    detect,
    from_locale,
    preferred,
    preferred_tag,
    readability,
    traditional_tag,
    writes_traditional,
)

# Short questions: names and loanwords ("Zalando", "click and collect") give
# the statistical detector little to go on; function words and letters do.
SHORT = {
    "en": ["What is autolyse?", "Which channels matter?", "Does it cost much?", "And the costs?"],
    "pt": [
        "O que é autólise?",
        "Quem usa click and collect?",
        "Quais canais importam?",
        "E os custos?",
        "O que significa omnicanal?",
    ],
    "es": ["¿Qué es un CRM?", "¿Y Zalando?", "¿Qué canales importan?", "¿Vale la pena?"],
    "fr": [
        "Qu'est-ce qu'un CRM ?",
        "Et Zalando ?",
        "Qui utilise le click and collect ?",
        "Ça coûte cher ?",
        "Et de ce côté ?",  # "de ce" further in is French
    ],
    "de": ["Was ist Autolyse?", "Und Zalando?", "Welche Kanäle zählen?", "Lohnt sich das?"],
    "it": ["Che cos'è un CRM?", "E i costi?", "Chi usa il click and collect?", "Quali canali contano?"],
    "ro": [
        "Ce este un CRM?",
        "Și Zalando?",
        "Spune-mi despre loialitate",
        "Cine folosește click and collect?",
        "De ce?",
    ],
}


@pytest.mark.parametrize(("language", "question"), [(lang, q) for lang, qs in SHORT.items() for q in qs])
def test_short_questions_are_detected_by_their_function_words(language: str, question: str) -> None:
    assert detect(question) == language


def test_longer_text_and_other_scripts_are_left_to_the_detector() -> None:
    assert detect("ما هو الفرق بين التسويق متعدد القنوات والتسويق الشامل؟") == "ar"
    # Eight words and more: the statistical detector decides, whatever a stray function word says.
    assert detect("Der Kunde erwartet heute auf allen Kanälen dasselbe Erlebnis, the same experience") == "de"
    # No cue at all ("E" is Portuguese and Italian alike): the detector decides.
    assert detect("E Zalando?") in {"pt", "it"}


# Languages omnikb does not speak are still told apart, so that they are not
# taken for a neighbour: a generated answer is written in the language detected.
OTHER_LANGUAGES = {
    "nl": ["Wat is het verschil tussen omnichannel en multichannel?", "Hoe word ik omnichannel?"],
    "pl": ["Jaka jest różnica między strategią omnichannel a multichannel?", "Co to jest omnichannel?"],
    "ca": ["Quina és la diferència entre omnicanal i multicanal?", "Quins canals importen?"],
    "tr": ["Omnichannel ile çok kanallı arasındaki fark nedir?", "Hangi kanallar önemli?"],
    "sv": ["Vad är skillnaden mellan omnikanal och flerkanal?", "Hur blir jag omnichannel?"],
    "cs": ["Jaký je rozdíl mezi omnichannel a multichannel?", "Které kanály jsou důležité?"],
    "ru": ["В чем разница между омниканальностью и мультиканальностью?"],
    "uk": ["Яка різниця між омніканальністю та багатоканальністю?"],
    "el": ["Ποια είναι η διαφορά;"],
    "he": ["מה ההבדל בין אומניצ׳אנל למולטיצ׳אנל?"],
    "fa": ["تفاوت بین چندکاناله و همه‌کاناله چیست؟"],
    "ja": ["オムニチャネルとは何ですか？"],
    "zh": ["全渠道和多渠道有什么区别？"],
    "ko": ["옴니채널이란 무엇입니까?"],
    "hi": ["ओमनीचैनल क्या है?"],
}


@pytest.mark.parametrize(("language", "question"), [(lang, q) for lang, qs in OTHER_LANGUAGES.items() for q in qs])
def test_other_languages_are_not_taken_for_a_neighbour(language: str, question: str) -> None:
    assert detect(question) == language


def test_the_cues_decide_a_short_question_unless_the_detector_is_sure() -> None:
    # The detector leans to Catalan and Czech, unsure: the function words decide.
    assert detect("¿Y los costes?") == "es"
    assert detect("O omnichannel é caro?") == "pt"
    # "ą" is written only in Polish, so the detector is sure, whatever "ile" (Turkish "with") suggests.
    assert detect("Ile nóg ma pająk?") == "pl"


def test_a_name_s_letters_do_not_outvote_a_short_question_s_own_words() -> None:
    """The detector was sure "û" is French; the question around the dish is English, or German."""
    assert detect("How do I make crème brûlée?") == "en"
    assert detect("Wie mache ich Crème brûlée?") == "de"
    # Words of the detected language among them: the question is that language's.
    assert detect("Comment faire une crème brûlée ?") == "fr"
    assert detect("Où est São Paulo ?") == "fr"
    # One shared word is not a frame ("is" is English and Dutch): the name decides.
    assert detect("Is São Paulo big?") == "pt"


@pytest.mark.parametrize("context", ["pt", "es", "ar", "nl"])
def test_a_short_text_that_tells_nothing_continues_the_conversation_s_language(context: str) -> None:
    """A name alone used to be whatever the detector guessed: "Niche Zero?" Italian, "Worten?" German."""
    for text in ("Niche Zero?", "Worten?", "Vale a pena?"):
        assert detect(text, context=context) == context


def test_a_short_text_that_tells_its_language_is_not_overruled_by_the_conversation() -> None:
    assert detect("What about the challenges?", context="pt") == "en"
    assert detect("¿Y los desafíos?", context="en") == "es"
    assert detect("Und Zalando?", context="en") == "de"
    assert detect("ما هي التحديات؟", context="en") == "ar"
    assert detect("Which of the two strategies suits a small online shop with two employees?", context="pt") == "en"
    # Function words that several languages share tell it together: "e" is
    # Italian or Portuguese, "i" and "le" Italian or another; these were
    # answered in the conversation's English or Spanish.
    assert detect("E i vantaggi?", context="en") == "it"
    assert detect("E le sfide?", context="es") == "it"


def test_a_loanword_phrase_does_not_outvote_the_function_words_of_a_longer_question() -> None:
    """Eight words are past the short-question rule, but the detector was unsure (0.43) and said French."""
    assert detect("What is the ratio of café au lait?") == "en"
    assert detect("Quelle est la différence entre omnichannel et multichannel marketing ?") == "fr"


def test_every_language_detection_returns_has_omnikbs_words_the_pages_words_and_its_own_probes() -> None:
    assert set(MESSAGES) == set(DETECTED)
    for language in DETECTED:
        assert set(MESSAGES[language]) == set(MESSAGES["en"]), language
        assert "{names}" in MESSAGES[language]["not_mentioned"], language
    assert set(OFF_TOPIC_PROBES) == set(DETECTED)
    # The chat page's own words, and each language's name in itself.
    # Plus the label sets of a script of one (Traditional Chinese), which nothing detects.
    assert set(UI) == set(LANGUAGE_NAMES) | set(SCRIPT_VARIANTS) == set(DETECTED) | set(SCRIPT_VARIANTS)
    assert set(SCRIPT_VARIANTS.values()) <= set(DETECTED)
    for language in UI:
        assert set(UI[language]) == set(UI["en"]), language
    assert {len(probes) for probes in OFF_TOPIC_PROBES.values()} == {4}


def test_readability_prefers_the_reader_s_language_then_their_script() -> None:
    assert readability("pt", "pt") == 2
    assert readability("pt", "en") == readability("ar", "fa") == readability("ru", "uk") == 1
    assert readability("ar", "en") == readability("pt", "ar") == readability("zh", "ja") == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pt-PT,pt;q=0.9,en;q=0.8", "pt"),
        ("en;q=0.5, ro;q=0.9", "ro"),  # by weight, not by order
        ("x-klingon,*;q=0.5,es-419;q=0.4", "es"),  # what omnikb does not tell apart is passed over
        ("ar-EG", "ar"),
        ("de;q=0, fr", "fr"),  # q=0: not acceptable
        ("de;q=abc, it;q=0.1", "it"),
        ("*", None),
        ("", None),
        (None, None),
    ],
)
def test_the_reader_s_language_from_their_browser(header: str | None, expected: str | None) -> None:
    assert preferred(header) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("pt_PT.UTF-8", "pt"), ("ro_RO", "ro"), ("de_DE@euro", "de"), ("C.UTF-8", None), ("POSIX", None), (None, None)],
)
def test_the_reader_s_language_from_their_terminal(locale: str | None, expected: str | None) -> None:
    assert from_locale(locale) == expected


def test_a_question_in_another_script_with_latin_loanwords_is_in_that_script_s_language() -> None:
    """Latin letters outnumbered the Arabic ones in "ما الفرق بين omnichannel و
    multichannel؟" (the Arabic article writes "omnichannel" so): it was answered
    in Romanian. Words count, not letters, and the corpus's loanwords not at all."""
    cases = {
        "ما الفرق بين omnichannel و multichannel؟": "ar",
        "מה ההבדל בין omnichannel ל-multichannel?": "he",
        "Что такое omnichannel?": "ru",
        "Τι είναι το omnichannel;": "el",
    }
    for question, language in cases.items():
        assert detect(question) == language, question
    loanwords = {"omnichannel", "multichannel", "marketing"}
    assert detect("Что такое omnichannel и multichannel marketing strategy?", ignore=loanwords) == "ru"
    # A word of another script in an English question is a quotation.
    assert detect("What does تحسين mean in this article?") == "en"


def test_greetings_and_thanks_tell_their_language() -> None:
    """ "Hello" was Italian to the detector (0.3 sure), and the refusal came in Italian."""
    cases = {"Hello": "en", "Thanks!": "en", "Obrigado": "pt", "Hola": "es", "gracias 🙂": "es", "Danke": "de"}
    # What a reader types to go on: "Tell me more" was Italian (0.24 sure, no function word in it).
    cases |= {"Tell me more": "en", "Dime más": "es", "Erzähl mir mehr": "de", "Conte-me mais": "pt"}
    for text, language in cases.items():
        assert detect(text) == language, text


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Ce avantaje are strategia multichannel?", "ro"),
        ("Qual è la differenza allora?", "it"),
        ("Qual é a diferença?", "pt"),
        ("What are the benefits?", "en"),
    ],
)
def test_a_word_two_languages_write_is_no_vote_for_one_of_them(text: str, language: str) -> None:
    """ "Ce avantaje are strategia multichannel?" was answered in English ("are" is
    Romanian too: "has"), and "Qual è la differenza allora?" in Portuguese ("qual"
    opens Italian questions too)."""
    assert detect(text) == language


def test_a_contraction_s_clitic_is_no_word_of_another_language() -> None:
    """ "Hallo, wie geht's dir?" was answered in Czech: the "s" of "geht's" is a Czech word
    ("with"), the only word of one language alone in the question."""
    cases = {
        "Hallo, wie geht's dir?": "de",
        "Wie geht's?": "de",
        "Was gibt's Neues?": "de",
        "What's the difference?": "en",
        "C'est quoi l'omnicanal ?": "fr",
        "Salut, ça va ?": "fr",  # "ça" is French alone (it was Catalan)
    }
    for text, language in cases.items():
        assert detect(text) == language, text


def test_a_greeting_alone_asks_nothing(kb: KnowledgeBase) -> None:
    """Greetings and thanks are not what a question is about: nothing is quoted for "gracias"."""
    for text in ("Hello", "¡Gracias!", "Thanks!"):
        answer = kb.ask(validate_question(text))
        assert not answer.answered and not answer.citations, text


@pytest.mark.parametrize(
    ("header", "language", "traditional"),
    [
        ("zh-TW,zh;q=0.9,en;q=0.8", "zh", True),
        ("zh-HK", "zh", True),
        ("zh-Hant", "zh", True),
        ("zh-Hant-HK,en;q=0.5", "zh", True),
        ("zh-CN,zh;q=0.9", "zh", False),
        ("zh-Hans-HK", "zh", False),
        ("zh", "zh", False),
        ("pt-PT,pt;q=0.9", "pt", False),
    ],
)
def test_a_traditional_chinese_browser_is_told_apart(header: str, language: str, traditional: bool) -> None:
    assert preferred(header) == language
    assert traditional_tag(preferred_tag(header)) is traditional


def test_chinese_text_tells_its_script_when_its_characters_do() -> None:
    assert writes_traditional("全通路和多通路有什麼不同？這個問題") is True
    assert writes_traditional("全渠道和多渠道有什么不同？这个问题") is False
    assert writes_traditional("全渠道") is None


UNTELLING = ("a " * 1000, "a a a", "a", "ok", "OK", "xxxx", "ab " * 200, "?? ??")


@pytest.mark.parametrize("text", UNTELLING, ids=lambda text: text[:12].strip() or "marks")
def test_a_text_of_too_few_letters_tells_nothing_and_falls_back_as_one_without_letters(text: str) -> None:
    """ "a " * 1000 was Arabic (the detector, sure of nothing, named the first language it
    knows), "a a a" Catalan and "ok" Czech: a text with no letters falls back to the
    conversation's language, else the default, and so do these."""
    assert detect(text) == detect("?") == "en"
    assert detect(text, default="pt") == "pt"
    for context in ("es", "ar", "nl"):
        assert detect(text, context=context) == context


def test_a_short_word_that_tells_its_language_still_does() -> None:
    assert detect("Oui") == "fr" and detect("Nein") == "de" and detect("Hola") == "es"


def test_a_repeated_letter_is_answered_in_the_reader_s_language(kb: KnowledgeBase) -> None:
    for reader in (None, "pt"):
        question = validate_question(("a " * 1000).strip())
        answer = kb.ask(Question(question.text, reader_language=reader))
        assert answer.language == (reader or "en"), reader


def test_a_question_of_the_corpus_s_shared_words_alone_tells_no_language() -> None:
    """ "omnicanal?" was answered in Italian: the detector guessed from the letters of
    a word the articles write in Spanish and Portuguese alike."""
    shared = {"omnicanal", "multicanal", "omnichannel", "marketing"}
    assert detect("omnicanal?", ignore=shared) == "en"
    assert detect("omnicanal?", ignore=shared, context="es") == "es"
    assert detect("multicanal marketing", ignore=shared, context="pt") == "pt"
    # A word of the question's own still tells it.
    assert detect("¿Qué es omnicanal?", ignore=shared, context="pt") == "es"
