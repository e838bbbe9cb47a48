"""Names a question mentions that the sources never do.

A question about something the articles never name ("Shopify", "SEO",
"Lisbon") cannot be answered from them, however close its other words are to
their subject: a small model scores "Shopify or WooCommerce?" like a question
about online shops, which the articles are about. Names are told by their
form, so no word list is needed:

- acronyms ("SEO", "DSGVO") and inner capitals ("HubSpot");
- capitalised Latin-script words in a question in another script ("Shopify"
  in Arabic; a lower-case one, "offline", is as often an English term);
- capitalised words inside a sentence, in languages that do not capitalise
  common nouns, unless most of the question is capitalised (a title-cased or
  shouted question). German capitalises every noun, so there it takes two
  capitalised words in a row ("Amazon Marketplace"): nouns do not stand side
  by side without an article or a preposition between them.

The first two forms are names without doubt: a question with such a name the
sources never mention is not covered. A capital alone is weaker evidence
(a capitalised word may be a name the question only mentions in passing,
"Does Zara use an omnichannel strategy?"). Such a name does not decide
whether the question is covered; the reply names it either way: a question
not covered for other reasons is refused naming it, and a covered one is
answered with a first line saying the sources do not mention it.

English also capitalises words that are not names: the names of languages
and peoples ("Portuguese", "Arabic"), days and months, and a few everyday
words in capitals ("OK", "TV"). They are left out: the languages' names are
those the language detector knows, and the days, months and those words are
the only words listed (`capitalised_words` in the English data file).

A hyphenated compound is one word ("Wi-Fi", "Coca-Cola"); a capital that
opens one of its parts is not an inner capital. A name counts as mentioned
when the sources contain it, compared without case and diacritics, or as the
start or end of one of their compounds ("channel" in "omnichannel";
"omni-channel" is "omnichannel"); a hyphenated one, whole or part by part. Adjacent names form one
("Salesforce Commerce Cloud"), as do names joined by a word the language joins
a name's parts with ("Muro de Berlín", "Copa do Mundo"; ``name_connectors`` in
its data file), as certain as its most certain unknown word.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from lingua import Language

from kb.text import lexicon
from kb.text.language import FUNCTION_WORDS
from kb.text.words import WORD, strip_diacritics

_HYPHENATED = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+", re.UNICODE)
# A word as a name is read: a hyphenated compound ("Wi-Fi", "Coca-Cola") is one.
_NAME_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)
_LATIN = re.compile(r"[a-zA-Z\u00c0-\u024f]")
# What a sentence (or a quotation) starts after.
_OPENERS = frozenset(".!?¿¡؟\"'“”«»(\n")
# Languages that capitalise common nouns: a capital tells nothing there.
CAPITALISED_NOUNS = frozenset({"de"})
MIN_ACRONYM = 3  # "OK", "TV" are words more often than names
MIN_COMPOUND_PART = 5
# Capitalised in English, yet words rather than names.
ENGLISH_CAPITALISED_WORDS = frozenset(
    {language.name.casefold() for language in Language.all()}
    | set(lexicon.words("en", "capitalised_words"))
)


@dataclass(frozen=True)
class Name:
    text: str
    certain: bool  # by its form (acronym, inner capital, script), not by a capital alone


def key(word: str) -> str:
    """How a word is compared: case and diacritics do not count."""
    return strip_diacritics(unicodedata.normalize("NFKC", word).casefold())


@dataclass(frozen=True)
class Vocabulary:
    """The words of the sources, as ``key`` compares them, sorted forwards and
    backwards so that a compound's first or last part is found by bisection."""

    words: frozenset[str] = frozenset()
    forward: tuple[str, ...] = ()
    backward: tuple[str, ...] = ()

    @classmethod
    def of(cls, texts: Iterable[str]) -> Vocabulary:
        raw = {word for text in texts for word in WORD.findall(text)}
        words = frozenset(key(word) for word in raw)
        return cls(words, tuple(sorted(words)), tuple(sorted(w[::-1] for w in words)))

    def mentions(self, word: str) -> bool:
        """Whether the sources contain ``word`` (a ``key``), alone or as a compound's first or last part."""
        if word in self.words or (word.endswith("s") and word[:-1] in self.words):  # "CRMs"
            return True
        if len(word) < MIN_COMPOUND_PART:
            return False
        return _extends(self.forward, word) or _extends(self.backward, word[::-1])


def _extends(ordered: tuple[str, ...], prefix: str) -> bool:
    """Whether a longer word in ``ordered`` starts with ``prefix``."""
    at = bisect_left(ordered, prefix)
    while at < len(ordered) and ordered[at].startswith(prefix):
        if len(ordered[at]) > len(prefix):
            return True
        at += 1
    return False


def unknown_names(question: str, language: str, known: Vocabulary) -> tuple[Name, ...]:
    """The names in ``question`` that the ``known`` words do not mention, in order."""
    # A hyphenated compound the sources write as one word ("omni-channel") is theirs.
    question = _HYPHENATED.sub(
        lambda m: m.group().replace("-", "") if key(m.group().replace("-", "")) in known.words else m.group(), question
    )
    matches = list(_NAME_WORD.finditer(question))
    if not matches:
        return ()
    non_latin = any(ch.isalpha() and not _LATIN.match(ch) for ch in question)
    inside = [m for m in matches[1:] if not starts_sentence(question, m.start())]
    capitals = sum(1 for m in inside if m.group()[0].isupper())
    # Title case takes two capitals or more: in "And Zalando?" the one word is a name.
    title_case = capitals >= 2 and capitals * 2 > len(inside)
    shouted = sum(1 for m in matches if m.group().isupper()) * 2 > len(matches)

    def kind(index: int) -> int:
        """2: certainly a name; 1: capitalised; 0: not a name."""
        match = matches[index]
        word = match.group()
        if len(word) < 2 or not _LATIN.match(word[0]):
            return 0
        acronym = word.isupper() and len(word) >= MIN_ACRONYM
        # A capital that opens a compound's part ("Wi-Fi", "E-Mail") is not an inner one.
        inner_capital = not word.isupper() and any(
            ch.isupper() and word[at] != "-" for at, ch in enumerate(word[1:])
        )
        if not shouted and (acronym or inner_capital):
            return 2
        if word.casefold() in FUNCTION_WORDS:
            # "Tell me: What is …?", "Omnicanal ou multicanal : Laquelle choisir ?"
            return 0
        if non_latin:
            # A capitalised Latin word in an Arabic question is a name ("Shopify");
            # a lower-case one is as often an English term ("offline", "mobile").
            return 2 if word[0].isupper() else 1
        if language in CAPITALISED_NOUNS:
            # Every noun has a capital, but two in a row are a name ("Amazon Marketplace").
            neighbours = (index - 1, index + 1)
            return 1 if inner_capitalised(index) and any(adjacent(index, other) for other in neighbours) else 0
        return 1 if inner_capitalised(index) and key(word) not in ENGLISH_CAPITALISED_WORDS else 0

    def inner_capitalised(index: int) -> bool:
        """A capitalised word inside a sentence of a question that is not title-cased."""
        match = matches[index]
        return (
            not title_case
            and match.group()[0].isupper()
            and _LATIN.match(match.group()[0]) is not None
            and index > 0
            and not starts_sentence(question, match.start())
        )

    def adjacent(index: int, other: int) -> bool:
        """Whether word ``other`` is capitalised inside the sentence and only spaces part it from word ``index``."""
        if not 0 <= other < len(matches) or not inner_capitalised(other):
            return False
        first, second = sorted((matches[index], matches[other]), key=lambda m: m.start())
        return question[first.end() : second.start()].strip() == ""

    # Each phrase: where it starts and ends, and whether each of its names is certain and unknown.
    phrases: list[tuple[int, int, list[tuple[bool, bool]]]] = []
    connectors = frozenset(lexicon.words(language, "name_connectors"))
    for index, match in enumerate(matches):
        strength = kind(index)
        if not strength:
            continue
        word = (strength == 2, not mentioned(match.group(), known))
        if phrases and _joined(question[phrases[-1][1] : match.start()], connectors):
            start, _, words_of = phrases[-1]
            phrases[-1] = (start, match.end(), [*words_of, word])
        else:
            phrases.append((match.start(), match.end(), [word]))
    found: dict[str, Name] = {}
    for start, end, words_of in phrases:
        if any(unknown for _, unknown in words_of):
            text = " ".join(question[start:end].split())
            found.setdefault(text, Name(text, any(certain and unknown for certain, unknown in words_of)))
    return tuple(found.values())


def _joined(gap: str, connectors: frozenset[str]) -> bool:
    """Whether two names with ``gap`` between them are one: only spaces part them,
    or a word or two that join a name's parts ("Muro de Berlín", "Bank of America")."""
    between = gap.split()
    if not between:
        return True
    return gap[:1].isspace() and gap[-1:].isspace() and len(between) <= 2 and all(w in connectors for w in between)


def mentioned(word: str, known: Vocabulary) -> bool:
    """Whether the sources mention ``word``: a compound ("Coca-Cola") when they
    have it written as one word, or each of its parts."""
    if "-" not in word:
        return known.mentions(key(word))
    parts = [part for part in word.split("-") if len(part) > 1]
    return known.mentions(key(word.replace("-", ""))) or all(known.mentions(key(part)) for part in parts)


def starts_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t")
    return not before or before[-1] in _OPENERS
