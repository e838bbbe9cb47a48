"""Language detection of questions, short ones above all (kb/language.py)."""

from __future__ import annotations

import pytest

from kb.language import detect

# Short questions: names and loanwords ("Zalando", "click and collect") give
# the statistical detector little to go on; function words and letters do.
SHORT = {
    "en": ["What is autolyse?", "Which channels matter?", "Does it cost much?", "And the costs?"],
    "pt": ["O que é autólise?", "Quem usa click and collect?", "Quais canais importam?", "E os custos?"],
    "es": ["¿Qué es un CRM?", "¿Y Zalando?", "¿Qué canales importan?", "¿Vale la pena?"],
    "fr": ["Qu'est-ce qu'un CRM ?", "Et Zalando ?", "Qui utilise le click and collect ?", "Ça coûte cher ?"],
    "de": ["Was ist Autolyse?", "Und Zalando?", "Welche Kanäle zählen?", "Lohnt sich das?"],
    "it": ["Che cos'è un CRM?", "E i costi?", "Chi usa il click and collect?", "Quali canali contano?"],
    "ro": ["Ce este un CRM?", "Și Zalando?", "Spune-mi despre loialitate", "Cine folosește click and collect?"],
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
