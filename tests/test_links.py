"""Links from a citation to the quoted words on its post (kb/answer/links.py), in the
chat's sources panel and ``kb ask``; only an http(s) URL becomes a link."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from kb.answer.links import citation_link, encode_term, quote_link, text_fragment
from kb.cli import render_citations
from kb.models import Answer, Chunk, Citation, Hit
from kb.web.chat_render import citation_html
from tests.test_urls import HOSTILE


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_url_never_becomes_a_link(hostile: str) -> None:
    assert quote_link(hostile, "Some quoted words.") is None


def test_a_text_fragment_encodes_its_syntax_and_keeps_each_term_in_one_line() -> None:
    assert encode_term("a-b, c & d") == "a%2Db%2C%20c%20%26%20d"
    assert text_fragment("Short & sweet, no-nonsense.") == ":~:text=Short%20%26%20sweet%2C%20no%2Dnonsense."
    quote = "Omnicanal, el siguiente paso\n\nLa integración es la gran diferencia entre ambos modelos de negocio."
    fragment = text_fragment(quote)
    start, end = fragment.removeprefix(":~:text=").split(",")
    assert unquote(start) == "Omnicanal, el siguiente paso"
    assert unquote(end) == "ambos modelos de negocio."
    # A list item's marker and a table's cell separator are not the page's text.
    listed = text_fragment("- First item here\n3. Ratio | Time to peak")
    assert unquote(listed) == ":~:text=First item here,Time to peak"
    assert text_fragment("  \n ") == ""


def _citation(url: str | None) -> tuple[Answer, Citation]:
    text = "¿Y si no lo somos? Para conseguirlo, tenemos muchos retos por delante. Comenzar a integrar los CRM."
    chunk = Chunk("002#3", "002.txt", "Las diferencias", "es", "", text, 100, 100 + len(text), 3, url)
    citation = Citation(1, chunk, 0.9)
    answer = Answer(
        question="¿Cómo?",
        language="es",
        answered=True,
        mode="extractive",
        answer="Según la fuente: “Para conseguirlo, tenemos muchos retos por delante.” [1]",
        citations=(citation,),
        passages=(Hit(chunk, 0.9),),
    )
    return answer, citation


def test_a_citation_links_to_the_words_its_answer_quotes() -> None:
    answer, citation = _citation("https://blog.example.com/p/#sthash.x")
    link = citation_link(citation, answer.answer)
    assert link == "https://blog.example.com/p/#:~:text=Para%20conseguirlo%2C%20tenemos%20muchos%20retos%20por%20delante."
    assert answer.to_dict()["citations"][0]["url"] == "https://blog.example.com/p/#sthash.x"
    # The chat's card links to it, in a new tab that cannot reach back to the chat.
    html = citation_html(citation, 0, answer.answer, "en", None)
    assert f'<a class="kb-post" href="{link}" target="_blank" rel="noopener noreferrer">View on the site</a>' in html
    # ``kb ask`` prints it under the quote.
    assert f"    {link}\n" in render_citations(answer)


@pytest.mark.parametrize("url", [None, "javascript:alert(1)", "data:text/html,x"])
def test_without_an_http_url_a_citation_shows_what_it_did(url: str | None) -> None:
    answer, citation = _citation(url)
    assert "kb-post" not in citation_html(citation, 0, answer.answer, "en", None)
    assert "href" not in citation_html(citation, 0, answer.answer, "en", None).replace('href="#', "")
    assert "javascript" not in render_citations(answer) and "http" not in render_citations(answer)
