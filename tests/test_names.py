"""Names a question mentions that the sources never do (kb/search/names.py)."""

from __future__ import annotations

from kb.search.names import Vocabulary, unknown_names

KNOWN = Vocabulary.of(
    [
        "La estrategia omnicanal de Worten integra el CRM y el marketing multicanal.",
        "Strategia omnichannel: Campionatul Mondial al clienților.",
    ]
)


def names(question: str, language: str) -> list[tuple[str, bool]]:
    return [(name.text, name.certain) for name in unknown_names(question, language, KNOWN)]


def test_acronyms_inner_capitals_and_latin_words_in_arabic_are_certain_names() -> None:
    assert names("Como melhorar o SEO do meu blog?", "pt") == [("SEO", True)]
    assert names("¿Cuánto cuesta HubSpot para una pyme?", "es") == [("HubSpot", True)]
    assert names("أيهما أفضل: Shopify أم WooCommerce؟", "ar") == [("Shopify", True), ("WooCommerce", True)]
    # A lower-case English term in an Arabic question is not certainly a name.
    assert names("ما الفرق بين online و offline؟", "ar") == [("online", False), ("offline", False)]


def test_a_capital_inside_a_sentence_is_a_name_but_not_a_certain_one() -> None:
    assert names("What will the weather be in Lisbon tomorrow?", "en") == [("Lisbon", False)]
    # Adjacent names are one name, as certain as its unknown words.
    assert names("How much does Salesforce Commerce Cloud cost?", "en") == [("Salesforce Commerce Cloud", False)]
    assert names("Does the CRM Zara uses help?", "en") == [("CRM Zara", False)]


def test_names_the_sources_mention_are_not_reported() -> None:
    assert names("How does Worten use its CRM?", "en") == []
    assert names("Do CRMs help?", "en") == []  # a plural of a name they mention
    assert names("ما هو omnichannel؟", "ar") == []
    # Case and diacritics do not count; a compound's part is mentioned by the compound.
    assert names("Cine a câștigat Campionatul mondial?", "ro") == []
    assert names("ما هو الـ omni-channel؟", "ar") == []


def test_ordinary_capitals_are_not_names() -> None:
    assert names("What Is An Omnichannel Strategy For Shops?", "en") == []  # title case
    assert names("WHAT IS AN OMNICHANNEL STRATEGY?", "en") == []  # shouted
    assert names("Welche Vorteile hat eine Strategie für Kunden? Und für Händler?", "de") == []  # German nouns
    # Two letters: a word as often as a name, so not a certain one ("EU"); and an
    # everyday word in capitals is none ("Is it OK…?" was answered "The sources don't mention “OK”").
    assert names("Do these rules apply in the EU? Yes.", "en") == [("EU", False)]
    assert names("Is it OK to start with two channels? Yes.", "en") == []
    assert names("Is it true? I think so.", "en") == []
    # English capitalises languages, peoples, days and months: words, not names.
    assert names("What do the Portuguese and Arabic articles say?", "en") == []
    assert names("We open on Monday, in March: is omnichannel worth it?", "en") == []
    assert names("Does Zara sell in March?", "en") == [("Zara", False)]
    # One capitalised word after the first is a name, not title case.
    assert names("And Zalando?", "en") == [("Zalando", False)]
    assert names("Y Zalando, ¿también?", "es") == [("Zalando", False)]


def test_a_name_s_parts_joined_by_a_small_word_are_one_name() -> None:
    """ "¿En qué año cayó el Muro de Berlín?" was refused as not mentioning “Muro”, “Berlín”."""
    assert names("¿En qué año cayó el Muro de Berlín?", "es") == [("Muro de Berlín", False)]
    assert names("Quem ganhou a Copa do Mundo de 2014?", "pt") == [("Copa do Mundo", False)]
    assert names("Who founded the Bank of America?", "en") == [("Bank of America", False)]
    # A word that joins no name's parts keeps two names apart, as does punctuation.
    assert names("¿Me conviene más Mailchimp o Brevo?", "es") == [("Mailchimp", False), ("Brevo", False)]
    assert names("Do Zara, Mango and Primark use it?", "en") == [("Zara", False), ("Mango", False), ("Primark", False)]
    # The small word joins only names: "de" after a name and before a common word is the sentence's.
    assert names("¿Qué opina la Zara de hoy?", "es") == [("Zara", False)]


def test_in_german_two_capitalised_words_in_a_row_are_a_name() -> None:
    """Every German noun has a capital, so one tells nothing; but nouns do not
    stand side by side without an article or a preposition between them."""
    assert names("Wie hoch sind die Gebühren auf dem Amazon Marketplace?", "de") == [("Amazon Marketplace", False)]
    assert names("Wie machen das Media Markt und Saturn?", "de") == [("Media Markt", False)]
    assert names("Was kostet ein Kunde im Jahr?", "de") == []  # nouns apart
    assert names("Wie hilft Marketing Omnicanal dem Kunden?", "de") == []  # both words mentioned
    assert names("Was Sagt Der Artikel Über Kunden?", "de") == []  # title case


def test_a_question_word_capitalised_after_a_colon_or_a_dash_is_not_a_name() -> None:
    """ "Tell me: What is omnichannel?" was answered "The sources don't mention “What”"."""
    assert names("Tell me: What is omnichannel?", "en") == []
    assert names("Quick question - How does Worten sell?", "en") == []
    assert names("Omnicanal ou multicanal : Laquelle choisir ?", "fr") == []
    # A name in the same place still is one.
    assert names("Two stores: Which one is Zara?", "en") == [("Zara", False)]


def test_a_hyphenated_name_is_one_name() -> None:
    """ "My Wi-Fi keeps dropping" was answered "The sources don't mention “Wi”, “Fi”"."""
    assert names("My Wi-Fi keeps dropping every evening. How do I fix it?", "en") == [("Wi-Fi", False)]
    assert names("¿Worten vende Coca-Cola?", "es") == [("Coca-Cola", False)]
    # A compound's part that opens with a capital is no inner capital; an inner one still is.
    assert names("Does the HubSpot-Integration help?", "en") == [("HubSpot-Integration", True)]
    # Mentioned as one word, or part by part.
    assert names("Is Omni-Channel the same as Multicanal?", "en") == []
    assert names("Does Worten-CRM exist?", "en") == []
