"""omnikb's words of each language, kept as data: ``kb/text/data/<code>.toml``.

One file a language, so that a language's words are read (and a language is
added) in one place; ``languages.toml`` lists the files in the order they are
read, and every ISO 639-1 code. A file holds, each key left out where the
language has no such words:

- ``name``: the language's English name, for a prompt to a language model;
- ``answer_only_in``: the language's own words telling a model to answer in it
  alone ("Réponds uniquement en français."), for a second try after an answer
  in another language;
- ``function_words``: question words, articles, pronouns and the like, and
  greetings and thanks. The language detector counts them, and they carry no
  topic: the lexical index leaves them out;
- ``function_words_indexed``: function words too, that the lexical index keeps;
- ``stopwords``: words with no topic that the lexical index leaves out, and the
  detector does not count;
- ``continuation_words``: words that ask for more of what was said and name no
  subject ("tell", "explain"), and ``brevity_words``, those that ask for it in
  short ("short", "sum up"): for ``kb.search.followup``;
- ``courtesy_words``: greetings, thanks and their like ("thanks", "olá"),
  function words too: a message of these alone asks nothing, mid-conversation
  too (``kb.search.followup.is_courtesy``);
- ``leaning_openers``: words that open a sentence by pointing back at the one
  before ("this means", "aquí"), for ``kb.text.sentences.leans_back``;
- ``cue_letters``: letters (and marks) only this language writes;
- ``cue_phrases``: shared words that together only this language writes;
  ``opening_cue_phrases``: the same, only when they open a question;
- ``amount_question_words`` ("how much/many"), ``amount_nouns`` ("percentage",
  "growth") and ``number_words`` ("three", "três"): for ``kb.search.amounts``;
- ``counts``: numbers from two to twelve written as words, each with its value
  ("three" = 3), in the forms a question asks for so many things with
  ("the three differences"): for ``kb.search.outline``;
- ``counted_noun_first``: true where a count may follow what it counts;
- ``capitalised_words``: capitalised, yet words rather than names (days, months);
- ``name_connectors``: lower-case words between the parts of a name ("Muro de
  Berlín", "Bank of America"), for ``kb.search.names``;
- ``abbreviations``: titles and abbreviations a full stop after which ends no sentence;
- ``ordinal_nouns``: words an ordinal number ("1.", "16.") stands before;
- ``off_topic_probes``: everyday questions no knowledge base about one subject answers;
- ``source_link_labels``: what a line near an article's end says before the article's own
  address ("See more at", "Ver más en"), for ``kb.ingest.urls``;
- ``own_letters``: letters that tell the language from another in its script (Persian from
  Arabic, Ukrainian from Russian); ``traditional_only`` and ``simplified_only`` (Chinese):
  the characters each script writes its own way.

``languages.toml`` also holds ``scripts``, the script of each language not written in Latin letters.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any, Literal

WordList = Literal[
    "function_words",
    "function_words_indexed",
    "stopwords",
    "continuation_words",
    "brevity_words",
    "courtesy_words",
    "leaning_openers",
    "cue_letters",
    "cue_phrases",
    "opening_cue_phrases",
    "amount_question_words",
    "amount_nouns",
    "number_words",
    "capitalised_words",
    "name_connectors",
    "abbreviations",
    "ordinal_nouns",
    "off_topic_probes",
    "source_link_labels",
]

# Strings of characters a file may hold (the others are lists of words).
Characters = Literal["own_letters", "traditional_only", "simplified_only"]


@cache
def _table(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("kb.text").joinpath("data", f"{name}.toml").read_text(encoding="utf-8"))


@cache
def languages() -> tuple[str, ...]:
    """The languages with a word file, in the order their words are read."""
    return tuple(_table("languages")["languages"])


@cache
def right_to_left() -> frozenset[str]:
    """The languages written right to left."""
    return frozenset(_table("languages")["right_to_left"])


@cache
def iso_639_1() -> frozenset[str]:
    """Every ISO 639-1 code."""
    return frozenset(_table("languages")["iso_639_1"])


def words(language: str, *lists: WordList) -> tuple[str, ...]:
    """The words of ``language``'s ``lists``, one after the other, in the file's order."""
    table = _table(language) if language in languages() else {}
    return tuple(word for key in lists for word in table.get(key, ()))


def by_language(*lists: WordList) -> dict[str, tuple[str, ...]]:
    """Each language that has words in ``lists``, with them."""
    found = {language: words(language, *lists) for language in languages()}
    return {language: listed for language, listed in found.items() if listed}


def every(*lists: WordList) -> frozenset[str]:
    """The words of ``lists`` in every language."""
    return frozenset(word for listed in by_language(*lists).values() for word in listed)


def counts(language: str) -> dict[str, int]:
    """``language``'s numbers written as words, with their values."""
    table = _table(language) if language in languages() else {}
    return dict(table.get("counts", {}))


def flag(language: str, key: Literal["counted_noun_first"]) -> bool:
    """A yes-or-no fact of ``language``'s grammar (false where not stated)."""
    table = _table(language) if language in languages() else {}
    return bool(table.get(key, False))


@cache
def scripts() -> dict[str, str]:
    """The script of each language not written in Latin letters."""
    return dict(_table("languages")["scripts"])


def characters(language: str, key: Characters) -> str:
    """A string of characters from ``language``'s file ("" where it has none)."""
    table = _table(language) if language in languages() else {}
    return str(table.get(key, ""))


def names() -> dict[str, str]:
    """Each language's English name."""
    return {language: _table(language)["name"] for language in languages()}


def answer_only_in(language: str) -> str | None:
    """``language``'s own words telling a model to answer in it alone, if its file has them."""
    table = _table(language) if language in languages() else {}
    found = table.get("answer_only_in")
    return str(found) if found else None
