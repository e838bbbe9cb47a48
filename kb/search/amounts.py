"""Amounts: whether a question asks for one, and whether a passage states one."""

from __future__ import annotations

import re

from kb.text import lexicon
from kb.text.language import words

# "How much/many" in the supported languages: it asks for an amount when it
# opens the question, within its first few words ("And how many …?").
OPENING_WORDS = 3
_AMOUNT_QUESTION_WORDS = lexicon.every("amount_question_words")
# Nouns that name an amount ("what percentage", "rate"), and so do those for
# the size of a change (nouns only: "growth", "aumento"; the verb "increase"
# asks how, not how much).
_AMOUNT_NOUNS = lexicon.every("amount_nouns")


def asks_for_quantity(text: str) -> bool:
    """Whether a question asks for an amount (and gives none itself): it opens
    with "how much/many" ("¿Cuánto…?", "كم…؟") or names an amount it wants
    ("what percentage", "the increase"). A "how much" further in asks about an
    amount, not for one ("Does it matter how much loyalty I have?", "as many
    channels as you can")."""
    if any(ch.isdigit() for ch in text):
        return False
    folded = [word.casefold() for word in words(text)]
    return bool(set(folded[:OPENING_WORDS]) & _AMOUNT_QUESTION_WORDS or set(folded) & _AMOUNT_NOUNS)


# An amount: a number on its own (not a date or year, a list number or part of
# a name like "3PL") followed by "%" or by a word ("91% more", "30 clientes").
_AMOUNT = re.compile(r"(?<![\w.])(?!(?:19|20)\d\d\b)\d+(?:[.,]\d+)?(?:\s?%|\s+[^\W\d_]{2,})")
_ENUMERATOR = re.compile(r"(?m)^\s*\d+[.)]?\s")


# Numbers written as words (longest first), followed by a word ("eight hours", "três dias"):
# from two (one is also an article: "un", "una"), leaving out the words
# another language uses otherwise ("dos" is also Portuguese "of the", "sei"
# German "be", "due" English "owed").
_NUMBER_WORDS = sorted(lexicon.every("number_words"), key=lambda word: (-len(word), word))
_NUMBER_WORD_AMOUNT = re.compile(
    rf"(?<![^\W\d_])(?:{'|'.join(map(re.escape, _NUMBER_WORDS))})\s+[^\W\d_]{{2,}}",
    re.IGNORECASE,
)


def states_quantity(text: str) -> bool:
    """Whether a passage states an amount, in figures or in words."""
    return _AMOUNT.search(_ENUMERATOR.sub("", text)) is not None or _NUMBER_WORD_AMOUNT.search(text) is not None
