"""omnikb's own words: one data file a language (kb/i18n/locales/<lang>.json), read through kb.i18n.lookup."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from kb.i18n import lookup
from kb.i18n.lookup import LOCALES, languages, listing, message, section, ui, ui_language, widget_strings

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = {"name", "script_of", "messages", "listing", "chat", "widget"}


def test_each_file_is_one_language_s_words_under_named_keys() -> None:
    english = json.loads((LOCALES / "en.json").read_text(encoding="utf-8"))
    assert set(english) == SECTIONS - {"script_of"}
    for language in languages():
        data = json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))
        assert set(data) <= SECTIONS, language
        for name, words in data.items():
            if isinstance(words, dict):  # named keys, each English's, each a piece of text
                assert set(words) <= set(english[name]), (language, name)
                assert all(isinstance(text, str) and text.strip() for text in words.values()), (language, name)


def test_the_data_files_ship_with_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "locales/*.json" in pyproject["tool"]["setuptools"]["package-data"]["kb.i18n"]


def test_a_word_a_language_lacks_is_said_in_english() -> None:
    assert message("not_covered", "sw") == message("not_covered", "en")
    assert ui("ask", None) == ui("ask", "xx") == "Ask"
    assert ui("ask", "zh-Hant") != ui("ask", "zh") == "提问"
    assert ui_language("zh", True) == "zh-Hant" and ui_language("zh", False) == "zh"
    assert listing(["A", "B"], "ja") == "「A」、「B」" and listing(["A", "B"], "de") == "“A”, “B”"
    assert section("zh-Hant", "messages") == {} and section("zh-Hant", "widget") == {}


def test_only_the_files_are_read_never_a_path_a_request_names() -> None:
    for name in ("../en", "..", "en.json", "EN/../en", "", "zh-hant"):
        assert widget_strings(name) is None, name
    assert widget_strings(" NL ") == lookup.WIDGET["nl"]


def test_no_ui_string_is_left_in_python_code() -> None:
    """The labels live in the data files alone: none of them is written in kb/'s Python."""
    code = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "kb").rglob("*.py"))
    for language in languages():
        for name in ("messages", "chat", "widget"):
            copied = [text for text in section(language, name).values() if len(text) > 24 and text in code]
            assert not copied, (language, name, copied)


def test_every_language_tells_an_answer_set_aside_from_a_model_that_could_not_be_used() -> None:
    """A generated answer that falls back says which: the model failed, or its answer did not pass the checks."""
    for language in languages():
        said = section(language, "messages")
        if "fallback_notice" in said:
            assert said.get("set_aside_checks") not in (None, said["fallback_notice"]), language
