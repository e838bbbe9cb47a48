"""The chat page's HTML is built from escaped text: markup in questions, answers or articles stays text."""

from __future__ import annotations

import logging
import re
from html import escape
from pathlib import Path

import gradio as gr
import pytest

import kb.web
from kb.models import Answer, Chunk, Citation, Hit
from kb.service import KnowledgeBase
from kb.web.chat import ChatHandlers, ChatSession
from kb.web.chat_render import (
    answer_html,
    find_spans,
    partial_html,
    question_html,
    quoted_segments,
    sources_section,
    text_html,
)

MARKUP = '<img src=x onerror="alert(1)">'


def chunk(text: str, title: str = "Title", source: str = "a.txt", language: str = "en") -> Chunk:
    return Chunk(
        id=f"{source}#0",
        source=source,
        title=title,
        language=language,
        heading="",
        text=text,
        start=10,
        end=10 + len(text),
        ordinal=0,
    )


def test_text_is_escaped_and_only_known_markers_become_links() -> None:
    html = text_html(f"Lead {MARKUP} & more\n- “quote” [1] [7]", turn=3, titles={1: "A <b>title</b>"})
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "&amp; more" in html
    assert '<a class="kb-marker" href="#kb-src-3-1" title="A &lt;b&gt;title&lt;/b&gt;">[1]</a>' in html
    assert "[7]</a>" not in html and "[7]" in html
    assert html.count("<li") == 1


def test_question_and_answer_direction() -> None:
    assert 'dir="rtl"' in question_html("ما هو؟", "ar") and 'dir="auto"' in question_html("ما هو؟")
    answer = Answer(
        question="q",
        language="ar",
        answered=True,
        mode="extractive",
        answer="x [1]",
        citations=(Citation(1, chunk("x"), 1.0),),
        passages=(),
    )
    assert answer_html(answer, 1).startswith('<div class="kb-answer kb-answered" dir="rtl" lang="ar">')


def test_a_quoted_line_speaks_the_language_of_the_passage_it_quotes() -> None:
    """An Arabic answer's items were all read as Arabic, Spanish quotes included (only dir="auto")."""
    spanish = chunk("Esta es una estrategia omnicanal. Otra frase.", source="es.txt", language="es")
    arabic = chunk("هذه استراتيجية.", source="ar.txt", language="ar")
    answer = Answer(
        question="ما الفرق؟",
        language="ar",
        answered=True,
        mode="extractive",
        answer="إليك ما تقوله المصادر:\n- “Esta es una estrategia omnicanal.” [1]\n- “هذه استراتيجية.” [2]"
        "\n- “Frase que no está.” [1]\n- كلمات الإجابة [1]",
        citations=(Citation(1, spanish, 1.0), Citation(2, arabic, 0.9)),
        passages=(),
    )
    items = re.findall(r"<(li|p)([^>]*)>", answer_html(answer, 1))
    assert items == [
        ("p", ' dir="auto"'),  # the answer's own words
        ("li", ' lang="es" dir="ltr"'),
        ("li", ' lang="ar" dir="rtl"'),
        ("li", ' dir="auto"'),  # quoted, but not from its passage: nothing says its language
        ("li", ' dir="auto"'),  # the answer's words about a passage
    ]


def test_quotes_are_found_in_the_passage_across_whitespace() -> None:
    answer = "Lead:\n- “First  sentence. … Third one.” [2]\n- “Other.” [1]"
    assert quoted_segments(answer, 2) == ["First  sentence.", "Third one."]
    text = "First\nsentence. Second. Third one."
    assert find_spans(text, quoted_segments(answer, 2)) == [(0, 15), (24, 34)]
    assert find_spans(text, ["not there"]) == []
    # A heading set off by " — " in the quote is found on its own line.
    headed = "Lead:\n- “Heading — Body text.” [1]"
    assert quoted_segments(headed, 1) == ["Heading", "Body text."]
    assert find_spans("Heading\nBody text.", quoted_segments(headed, 1)) == [(0, 7), (8, 18)]


def test_sources_section_escapes_everything_from_the_index() -> None:
    passage = chunk(f"Before {MARKUP} after.", title=MARKUP, source='x"><script>.txt')
    answer = Answer(
        question=MARKUP,
        language="en",
        answered=True,
        mode="extractive",
        answer=f"- “{MARKUP} after.” [1]",
        citations=(Citation(1, passage, 1.0),),
        passages=(Hit(passage, 1.0),),
    )
    document = "0123456789" + passage.text + "\n\nNext paragraph."
    html = sources_section(answer, 2, lambda source: document)
    assert "<img" not in html and "<script>" not in html
    assert 'id="kb-src-2-1"' in html
    assert "<mark>&lt;img src=x onerror=&quot;alert(1)&quot;&gt; after.</mark>" in html
    assert "Next paragraph" not in html  # the context stops at the paragraph break


def test_a_store_failure_while_showing_sources_does_not_lose_the_answer(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(source: str) -> None:
        raise RuntimeError("Collection [omnikb-g1-documents] does not exist")

    monkeypatch.setattr(kb, "document", broken)
    handlers = ChatHandlers(kb.settings, kb)
    *_, last = handlers.respond("What is omnichannel?", None)
    session = last[1]  # outputs: chat, session, panel, …
    assert isinstance(session, ChatSession)
    answer = session.answers[len(session.messages) - 1]
    assert answer["answered"] and answer["citations"]
    assert "kb-citation" in "".join(session.sections)


def test_no_index_is_said_to_the_reader_without_the_server_s_paths(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The chat's bubble said "No index yet in the data dir /srv/omnikb/.kb under the collection
    prefix …" to any reader of the page: where the index lives is the operator's, in the log."""
    from kb.settings import Settings

    settings = Settings(data_dir=tmp_path / "kb")
    with caplog.at_level(logging.WARNING):
        *_, last = ChatHandlers(settings, KnowledgeBase(settings)).respond("What is omnichannel?", None)
    said = last[1].messages[-1]["content"]
    assert "run `python ingest.py`" in said and str(tmp_path) not in said, said
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(f"No index yet in the data dir {settings.data_dir.absolute()}" in line for line in logged), logged


def test_a_refusal_takes_no_rating(kb: KnowledgeBase) -> None:
    """A page that still shows the thumbs under a refusal (Gradio names them in the browser's
    language) stored "the sources don't cover this" as a rated answer."""
    import gradio as gr

    handlers = ChatHandlers(kb.settings, kb)
    *_, last = handlers.respond("What is the capital of Australia?", None)
    session = last[1]
    turn = len(session.messages) - 1
    assert not session.answers[turn]["answered"]
    rated, _ = handlers.rate(gr.LikeData(target=None, data={"index": turn, "value": "", "liked": True}), session)
    assert rated.ratings == {}
    *_, last = handlers.respond("What is omnichannel?", rated)
    turn = len(last[1].messages) - 1
    rated, _ = handlers.rate(gr.LikeData(target=None, data={"index": turn, "value": "", "liked": True}), last[1])
    assert list(rated.ratings) == [turn]  # an answer takes one


def test_the_waiting_line_is_in_the_question_s_language_and_a_new_conversation_keeps_the_page_s(
    kb: KnowledgeBase,
) -> None:
    """ "Searching the sources…" was said in the previous answer's language (Arabic
    while a German question was answered), and "New conversation" turned the page
    back to English."""
    from kb.i18n.lookup import ui

    handlers = ChatHandlers(kb.settings, kb)
    *_, last = handlers.respond("ما الفرق بين الاستراتيجيتين؟", None)
    session = last[1]
    assert session.language == "ar"
    steps = handlers.respond("Welche Kanäle nutzt eine Omnichannel-Strategie?", session)
    waiting = next(steps)
    assert ui("thinking", "de") in waiting[0][-1]["content"]
    *_, answered = steps
    cleared = handlers.clear(answered[1])
    assert cleared[1].language == "de" and not cleared[0]
    assert cleared[4]["value"] == ui("ask", "de")


def test_an_over_long_question_is_refused_in_its_language_and_echoed_short(kb: KnowledgeBase) -> None:
    """Chinese and Japanese have no spaces to count words by: an over-long
    question in them was refused in English. And the whole of it filled the chat."""
    from kb.i18n.lookup import ui

    handlers = ChatHandlers(kb.settings, kb)
    long_questions = {
        "zh": "什么是全渠道战略？它与多渠道战略有什么不同？" * 110,
        "ja": "オムニチャネル戦略とは何ですか？" * 150,
    }
    for language, question in long_questions.items():
        *_, last = handlers.respond(question, None)
        question_bubble, refusal = last[0][-2:]
        expected = ui("long_question", language).format(n=len(question), limit=kb.settings.max_question_chars)
        assert expected in refusal["content"], refusal["content"]
        assert question[:200] in question_bubble["content"]
        assert len(question_bubble["content"]) < 1000
    # "xxxx…" tells no language: the page's stays.
    *_, last = handlers.respond("x" * 2001, None)
    assert ui("long_question", "en").format(n=2001, limit=kb.settings.max_question_chars) in last[0][-1]["content"]
    # One word said again and again tells no more than once: the conversation's language (it was Romanian).
    *_, spanish = handlers.respond("¿Qué es una estrategia multicanal?", None)
    repeated = ("omnicanal " * 300).strip()
    *_, last = handlers.respond(repeated, spanish[1])
    expected = ui("long_question", "es").format(n=len(repeated), limit=kb.settings.max_question_chars)
    assert expected in last[0][-1]["content"], last[0][-1]["content"]


def test_a_control_character_is_refused_in_the_question_s_language_and_shown_where_it_is(kb: KnowledgeBase) -> None:
    """A character pasted with a question ("\\a") was refused in English on any page, and echoed as
    an empty box."""
    from kb.i18n.lookup import ui

    handlers = ChatHandlers(kb.settings, kb)
    *_, last = handlers.respond("O que é\a uma estratégia omnicanal?", None)
    question_bubble, refusal = last[0][-2:]
    assert ui("control_character", "pt").format(char="U+0007", position=8) in refusal["content"]
    assert "O que é␇ uma estratégia omnicanal?" in question_bubble["content"]
    assert "\a" not in question_bubble["content"]


def test_the_chat_s_questions_count_against_the_rate_limit(kb: KnowledgeBase) -> None:
    """The API refused a client's third question a minute (KB_RATE_LIMIT=2); through
    the chat page's Gradio queue the same client could ask as often as it liked."""
    from kb.web.guard import RateLimiter

    limiter = RateLimiter(2)
    handlers = ChatHandlers(kb.settings, kb, limiter)
    session = None
    for question in ("What is omnichannel?", "And multichannel?"):
        *_, last = handlers.respond(question, session)
        session = last[1]
    assert len(session.messages) == 4
    *_, refused = handlers.respond("What are its benefits?", session)
    assert len(refused[1].messages) == 4  # not asked, so not shown as asked
    assert not limiter.hit("unknown")[0]  # the same client, still over its limit


def test_the_chat_counts_a_long_question_by_its_length(kb: KnowledgeBase) -> None:
    """A question of 501 to 1,000 characters counts twice, as it does through the API."""
    from kb.web.guard import RateLimiter

    limiter = RateLimiter(3)
    handlers = ChatHandlers(kb.settings, kb, limiter)
    long = "What is omnichannel marketing, and how does it differ from multichannel? " * 8
    assert 500 < len(long.strip()) <= 1000
    *_, last = handlers.respond(long, None)
    session = last[1]
    *_, last = handlers.respond("And multichannel?", session)
    assert len(last[1].messages) == 4  # counted 2 + 1
    *_, refused = handlers.respond("What are its benefits?", session)
    assert len(refused[1].messages) == 4  # over the limit: not asked


def test_a_load_landing_after_a_question_leaves_the_conversation_be(kb: KnowledgeBase) -> None:
    """The page's load put back the browser's copy as it was: a question the reader had sent
    before it landed, and its answer, were wiped from the chat (and from the tab's session)."""
    handlers = ChatHandlers(kb.settings, kb)
    *_, earlier = handlers.respond("What is omnichannel?", None)
    stored = earlier[6]  # the browser's copy after the first answer
    for kept in (stored, handlers.clear(earlier[1])[6]):  # a conversation, or a new (empty) one
        tab = ChatSession()  # the state of a reloaded tab, before any of its events
        *_, answered = handlers.respond("What is a multichannel strategy?", tab, kept)
        assert answered[1] is tab  # every event of the tab holds one session
        shown = list(tab.messages)
        loaded = handlers.load(tab, kept)
        assert all(output == gr.skip() for output in loaded[:-1]), loaded[:-1]
        assert tab.messages == shown and "multichannel strategy" in shown[-2]["content"]
        assert loaded[-1].visible  # the examples still come with it
    # A new conversation started before the load landed stays new.
    tab = ChatSession()
    cleared = handlers.clear(tab)[1]
    assert handlers.load(cleared, stored)[0] == gr.skip()


def test_answers_after_a_trimmed_copy_link_their_own_passages(kb: KnowledgeBase) -> None:
    """The browser keeps only a long conversation's newest turns: the answers given after it was restored
    must not number their passages' links like a kept answer's (a marker would open another's passage)."""
    handlers = ChatHandlers(kb.settings, kb)
    *_, last = handlers.respond("What is omnichannel?", None)
    handlers.copies.max_bytes = len(last[6]["data"].encode()) * 3 // 2  # room for one answer, not two
    for question in ("¿Qué es una estrategia multicanal?", "O que é omnicanal?"):
        *_, last = handlers.respond(question, last[1])
    tab = ChatSession()  # a reload: the tab starts from the browser's copy
    *_, last = handlers.respond("And its challenges?", tab, last[6])
    assert tab.trimmed == 4 and len(tab.messages) == 4
    turns = [int(s.split('data-turn="')[1].split('"')[0]) for s in tab.sections]
    assert turns == [5, 7]
    for index, turn in zip(sorted(tab.answers), turns, strict=True):
        assert f'href="#kb-src-{turn}-1"' in tab.messages[index]["content"]
        assert tab.answers[index]["question"] in tab.messages[index - 1]["content"]


def test_the_panel_says_gradio_s_own_notices_in_every_language_the_page_speaks() -> None:
    """Gradio's "Connection to the server was lost…" was English on every page: the page's script
    says it in the panel's words, which every label set has."""
    from pathlib import Path

    from kb.i18n.lookup import UI, ui
    from kb.web.chat_render import GRADIO_NOTICES, sources_panel

    for language in UI:
        panel = sources_panel([], language)
        for key in GRADIO_NOTICES:
            assert f' data-{key.replace("_", "-")}="{escape(ui(key, language))}"' in panel
            assert language == "en" or ui(key, language) != ui(key, "en"), (language, key)
    script = (Path(__file__).parent.parent / "kb" / "web" / "static" / "chat.js").read_text(encoding="utf-8")
    said = set(re.findall(r'\["[^"]+", "([a-z-]+)"\]', script))
    assert said == {key.replace("_", "-") for key in GRADIO_NOTICES}


def test_text_still_streaming_is_shown_as_provisional_until_the_answer_replaces_it() -> None:
    # A model's sentences are checked once written, and may be dropped: what streams is a draft.
    streaming = partial_html("Omnichannel integrates the channels [1]")
    assert 'class="kb-answer kb-streaming"' in streaming and 'aria-busy="true"' in streaming
    css = (Path(kb.web.__file__).parent / "static" / "chat.css").read_text(encoding="utf-8")
    rule = re.search(r"#kb-chat \.kb-streaming \{([^}]*)\}", css)
    assert rule is not None and "italic" in rule.group(1)
    final = answer_html(Answer("q", "en", True, "generative", "Omnichannel integrates the channels.", (), ()), 0)
    assert "kb-streaming" not in final and "aria-busy" not in final
