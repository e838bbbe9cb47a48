"""The word files (kb/text/data/*.toml) and their reader (kb/text/lexicon.py)."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import get_args

from kb.text import lexicon
from kb.text.language import DETECTED

DATA = resources.files("kb.text").joinpath("data")


def _file(name: str) -> dict[str, object]:
    return tomllib.loads(DATA.joinpath(f"{name}.toml").read_text(encoding="utf-8"))


def test_every_language_detection_returns_has_a_word_file_and_every_file_is_listed() -> None:
    files = {entry.name.removesuffix(".toml") for entry in DATA.iterdir() if entry.name.endswith(".toml")}
    assert files - {"languages"} == set(lexicon.languages()) == set(DETECTED)
    assert len(set(lexicon.languages())) == len(lexicon.languages())
    assert set(DETECTED) <= lexicon.iso_639_1()


def test_a_file_holds_only_the_known_lists_each_word_once() -> None:
    characters = set(get_args(lexicon.Characters))
    known = set(get_args(lexicon.WordList)) | characters | {"name", "answer_only_in", "counts", "counted_noun_first"}
    for language in lexicon.languages():
        table = _file(language)
        assert set(table) <= known, language
        assert isinstance(table["name"], str), language
        assert isinstance(table.get("counted_noun_first", False), bool), language
        counts = table.get("counts", {})
        assert isinstance(counts, dict), language
        # Numbers from two to ten at least (eleven and twelve are two words in some languages), to twelve.
        assert not counts or set(range(2, 11)) <= set(counts.values()) <= set(range(2, 13)), language
        for key in set(table) & characters:  # each character once
            text = table[key]
            assert isinstance(text, str) and text and len(set(text)) == len(text), (language, key)
        for key in set(table) - characters - {"name", "answer_only_in", "counts", "counted_noun_first"}:
            listed = table[key]
            assert isinstance(listed, list) and listed, (language, key)
            assert all(isinstance(word, str) and word == word.strip() and word for word in listed), (language, key)
            assert len(set(listed)) == len(listed), (language, key)


def test_a_function_word_is_written_once_for_the_detector_and_the_lexical_index() -> None:
    for language in lexicon.languages():
        lists = [set(lexicon.words(language, key)) for key in ("function_words", "function_words_indexed", "stopwords")]
        assert not lists[0] & lists[1] and not lists[0] & lists[2] and not lists[1] & lists[2], language


def test_the_words_a_language_lacks_are_none_and_an_unknown_language_has_none() -> None:
    assert lexicon.words("ar", "function_words") == ()
    assert lexicon.words("xx", "function_words") == ()
    assert lexicon.words("pt", "cue_phrases") == ("o que", "o quê")
    assert "pt" not in lexicon.by_language("ordinal_nouns")
    assert lexicon.every("ordinal_nouns") == frozenset(lexicon.words("de", "ordinal_nouns"))
