"""The chat page in a real Chromium, against a real ``python app.py serve`` on loopback."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from kb.i18n.lookup import message, ui
from kb.settings import Settings
from kb.web.chat_session import STORAGE_KEY
from tests.browser import Server, ask_in_chat, free_port, request, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.server]

ANSWER_TIMEOUT_MS = 90_000
# How long the page may take to react to a click on a loaded machine (CI shares two cores with Chromium).
REACTION_TIMEOUT_MS = 30_000
ENGLISH = "How does omnichannel differ from multichannel?"
# One of the example questions: the Arabic article asks it in a heading.
ARABIC = "على ماذا تستند استراتيجية omnichannel؟"
MARKUP = "<img src=x onerror=alert(1)>"
# An element's empty space right and left of its text, in pixels.
TEXT_GAPS = """
e => {
  const range = document.createRange();
  range.selectNodeContents(e);
  const text = range.getBoundingClientRect(), box = e.getBoundingClientRect();
  return [box.right - text.right, text.left - box.left];
}
"""

# Records every class an answer bubble had while it streamed in.
WATCH_STREAM = """
() => {
  window.__kbSeen = new Set();
  const chat = document.querySelector('#kb-chat');
  new MutationObserver(() => {
    chat.querySelectorAll('.kb-answer').forEach((el) => el.classList.forEach((c) => window.__kbSeen.add(c)));
  }).observe(chat, { subtree: true, childList: true, attributes: true, characterData: true });
  window.__kbAskOff = false;
  new MutationObserver(() => {
    if (document.querySelector('#kb-ask').disabled) window.__kbAskOff = true;
  }).observe(document.body, { subtree: true, childList: true, attributes: true });
}
"""


@pytest.fixture(scope="module")
def server(seeded_settings: Settings) -> Iterator[Server]:
    with running_server(seeded_settings.data_dir, env={"KB_RATE_LIMIT": "0"}) as srv:
        yield srv


@pytest.fixture()
def dialogs() -> list[str]:
    """Messages of every alert/confirm the page tried to show."""
    return []


@pytest.fixture()
def page(browser: Any, server: Server, dialogs: list[str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 960}, locale="en-US")
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server.url + "/")
    page.wait_for_selector("#kb-question textarea", timeout=60_000)
    page.evaluate(WATCH_STREAM)
    yield page
    context.close()


def api_ask(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    status, _, answer = request(server.url + "/api/ask", "POST", body)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


def send(page: Any, question: str) -> Any:
    """Type a question, send it, wait for the finished answer; returns the answer bubble."""
    return ask_in_chat(page, question, ANSWER_TIMEOUT_MS)


def cited_sources(page: Any, turn_selector: str = "section.kb-turn:not([hidden])") -> list[tuple[str, str]]:
    cards = page.locator(f"#kb-sources {turn_selector} .kb-citation")
    return [
        (cards.nth(i).get_attribute("data-source"), cards.nth(i).locator(".kb-passage").text_content())
        for i in range(cards.count())
    ]


def test_english_answer_streams_in_with_markers_that_open_their_passages(
    page: Any, server: Server, artifacts: Path
) -> None:
    answer = send(page, ENGLISH)
    assert "kb-answered" in (answer.get_attribute("class") or "")
    assert "kb-streaming" in page.evaluate("Array.from(window.__kbSeen)"), "no streaming state was shown"
    # Ask was off while the answer came (a second question would not be asked), and is on again.
    assert page.evaluate("window.__kbAskOff")
    expect(page.locator("#kb-ask")).to_be_enabled()
    expected = api_ask(server, {"question": ENGLISH})
    assert expected["citations"], expected
    # The panel lists exactly the cited passages, verbatim, in order.
    assert cited_sources(page) == [(c["source"], c["text"]) for c in expected["citations"]]
    markers = answer.locator("a.kb-marker")
    assert markers.count() >= len(expected["citations"])
    # Every marker opens its own passage.
    for i in range(markers.count()):
        marker = markers.nth(i)
        ident = int(marker.text_content().strip("[]"))
        marker.click()
        active = page.locator("#kb-sources .kb-citation.kb-active")
        active.wait_for(timeout=REACTION_TIMEOUT_MS)
        assert active.count() == 1
        assert active.get_attribute("id") == marker.get_attribute("href").lstrip("#")
        assert active.get_attribute("data-source") == expected["citations"][ident - 1]["source"]
        assert active.locator(".kb-passage").text_content() == expected["citations"][ident - 1]["text"]
        assert active.locator("mark").count() >= 1, "the quoted sentences are highlighted"
    page.screenshot(path=str(artifacts / "chat-english.png"), full_page=True)
    # The whole cleaned article opens, the passage marked at its offsets.
    first = expected["citations"][0]
    page.locator("#kb-sources .kb-citation").first.locator("button.kb-open").click()
    dialog = page.locator("dialog#kb-article[open]")
    dialog.wait_for(timeout=10_000)
    assert dialog.get_attribute("data-source") == first["source"]
    assert dialog.locator("mark").text_content() == first["text"]
    document = request(server.url + "/api/sources/" + first["source"])[2]
    assert dialog.locator(".kb-article-text").text_content() == document["text"]
    page.screenshot(path=str(artifacts / "chat-article.png"))


def test_an_article_opened_at_its_end_keeps_its_title_and_close_button_in_view(page: Any, server: Server) -> None:
    sources = request(server.url + "/api/sources")[2]
    longest = max(sources, key=lambda s: s["characters"])
    end = longest["characters"]
    # An "open the whole article" button for the article's last lines, as the sources panel makes them.
    page.evaluate(
        """([source, start, end]) => {
          const b = document.createElement('button');
          Object.assign(b, { className: 'kb-open', textContent: 'open' });
          Object.entries({ source, start, end }).forEach(([k, v]) => b.setAttribute('data-' + k, v));
          document.querySelector('#kb-sources').append(b);
        }""",
        [longest["source"], end - 200, end],
    )
    page.locator("#kb-sources button.kb-open").last.click()
    dialog = page.locator("dialog#kb-article[open]")
    dialog.wait_for(timeout=10_000)
    for part in ("mark", "h2", "button.kb-close"):
        expect(dialog.locator(part)).to_be_in_viewport()
    assert dialog.locator("h2").inner_text() == longest["title"]


def test_arabic_renders_right_to_left_with_arabic_interface(page: Any, server: Server, artifacts: Path) -> None:
    page.locator("button.gallery-item").first.wait_for(timeout=60_000)  # the page's load has landed
    page.fill("#kb-question textarea", ARABIC)  # an example question (an English page shows it last, if at all)
    page.click("#kb-ask")
    answer = page.locator("#kb-chat .kb-answer:not(.kb-streaming)").first
    answer.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert answer.get_attribute("lang") == "ar"
    assert answer.evaluate("e => getComputedStyle(e).direction") == "rtl"
    question = page.locator("#kb-chat .kb-question").first
    assert question.evaluate("e => getComputedStyle(e).direction") == "rtl"
    # Arabic lines start on the right: the lead-in's text ends at its right edge, not its left.
    right_gap, left_gap = answer.locator("p").first.evaluate(TEXT_GAPS)
    assert right_gap < 3 < 20 < left_gap, (right_gap, left_gap)
    # Each quoted item's bullet has room inside the answer, on its own side: the
    # right for an Arabic quote (the example heads an Arabic section), the left for a Latin one.
    box = answer.evaluate("e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; }")
    items = answer.locator("li").all()
    assert items
    for item in items:
        direction, left, right = item.evaluate(
            "e => [getComputedStyle(e).direction, e.getBoundingClientRect().left, e.getBoundingClientRect().right]"
        )
        room = box[1] - right if direction == "rtl" else left - box[0]
        assert room >= 12, (direction, room)
    # The question box takes the direction of what is typed in it.
    assert page.locator("#kb-question textarea").evaluate("e => getComputedStyle(e).unicodeBidi") == "plaintext"
    section = page.locator("#kb-sources section.kb-turn:not([hidden])")
    assert section.evaluate("e => getComputedStyle(e).direction") == "rtl"
    # Each cited passage runs in its own language's direction, whatever the question's.
    cards = section.locator(".kb-citation")
    assert cards.count() >= 1
    for i in range(cards.count()):
        card = cards.nth(i)
        expected = "rtl" if card.get_attribute("lang") == "ar" else "ltr"
        assert card.evaluate("e => getComputedStyle(e).direction") == expected
    # The interface speaks Arabic now.
    assert page.locator("#kb-ask").inner_text().strip() == "اسأل"
    assert page.get_attribute("#kb-question textarea", "placeholder") == "اطرح سؤالاً بأي لغة…"
    assert section.locator("h2").inner_text().startswith("المصادر")
    assert page.locator("#kb-examples").get_by_text("أمثلة").count() == 1  # the examples' label too
    # The example questions are still there.
    assert page.locator("button.gallery-item").count() > 1
    # The page says what language it speaks now, and the article window's close button says it too.
    assert page.evaluate("document.documentElement.lang") == "ar"
    section.locator("button.kb-open").first.click()
    close = page.locator("#kb-article .kb-close")
    close.wait_for(timeout=10_000)
    assert close.get_attribute("aria-label") == "إغلاق"
    # The whole article runs in its own language's direction, as its card does.
    expected = "rtl" if cards.first.get_attribute("lang") == "ar" else "ltr"
    assert page.locator("#kb-article").evaluate("e => getComputedStyle(e).direction") == expected
    close.click()
    page.screenshot(path=str(artifacts / "chat-arabic.png"), full_page=True)


def test_a_short_first_question_is_answered_in_the_browser_s_language(browser: Any, server: Server) -> None:
    """Chromium set to Portuguese sends Accept-Language: pt-PT; "Worten?" tells no language of its own."""
    context = browser.new_context(locale="pt-PT")
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        page.wait_for_selector("#kb-question textarea", timeout=60_000)
        answer = send(page, "Worten?")
        shown = (answer.text_content() or "").strip()
        assert shown.startswith((message("lead_in", "pt"), message("not_covered", "pt"))), shown
    finally:
        context.close()


def test_the_page_opens_in_the_browser_s_language(browser: Any, server: Server) -> None:
    """A reader whose browser asks for Arabic meets an Arabic page before asking anything."""
    context = browser.new_context(locale="ar-EG")
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        ask = page.locator("#kb-ask")
        expect(ask).to_have_text("اسأل", timeout=60_000)
        box = page.locator("#kb-question textarea")
        assert box.get_attribute("placeholder") == "اطرح سؤالاً بأي لغة…"
        expect(page.locator("#kb-examples").get_by_text("أمثلة")).to_have_count(1, timeout=30_000)
        assert page.locator("button.gallery-item").count() > 1  # the examples are still read at load
        # The examples an Arabic reader reads come first, and a click asks the one shown.
        first = page.locator("button.gallery-item").first
        shown = first.inner_text().strip()
        assert any("\u0600" <= ch <= "\u06ff" for ch in shown), shown
        first.click()
        expect(page.locator("#kb-question textarea")).to_have_value(shown, timeout=10_000)
        # A new conversation keeps them, and a click still asks the one shown.
        page.click("#kb-clear")
        expect(page.locator("#kb-question textarea")).to_have_value("", timeout=10_000)
        first.click()
        expect(page.locator("#kb-question textarea")).to_have_value(shown, timeout=10_000)
        page.locator("#kb-question textarea").fill("")
        expect(page.locator("html")).to_have_attribute("lang", "ar")
        # The placeholder reads from the right; what is typed takes its own text's direction.
        assert box.evaluate("e => getComputedStyle(e).direction") == "rtl"
        box.fill("What is omnichannel?")
        assert box.evaluate("e => getComputedStyle(e).direction") == "ltr"
        # The chat's own notices read from the right too (they sat on the left).
        box.fill("")
        page.click("#kb-ask")
        notice = page.locator("[data-testid='toast-text']", has_text=ui("empty_question", "ar"))
        expect(notice).to_have_count(1, timeout=30_000)
        assert notice.evaluate("e => getComputedStyle(e).direction") == "rtl"
    finally:
        context.close()


def test_follow_up_is_answered_in_the_light_of_the_conversation(page: Any, server: Server, artifacts: Path) -> None:
    first_question, follow_up = "What is omnichannel?", "and what are its challenges?"
    send(page, first_question)
    second = send(page, follow_up)
    first = api_ask(server, {"question": first_question})
    history = [{"role": "user", "content": first_question}, {"role": "assistant", "content": first["answer"]}]
    in_context = api_ask(server, {"question": follow_up, "history": history})
    alone = api_ask(server, {"question": follow_up})
    assert in_context["answered"] and "omnichannel" in in_context["standalone_query"].lower()
    assert not alone["answered"] or alone["citations"] != in_context["citations"], "the history made no difference"
    assert "kb-answered" in (second.get_attribute("class") or "")
    assert cited_sources(page) == [(c["source"], c["text"]) for c in in_context["citations"]]
    # Markers of the first answer still open the first answer's passages.
    page.locator("#kb-chat .kb-answer").first.locator("a.kb-marker").first.click()
    active = page.locator("#kb-sources .kb-citation.kb-active")
    active.wait_for(timeout=REACTION_TIMEOUT_MS)
    assert active.get_attribute("data-source") == first["citations"][0]["source"]
    page.screenshot(path=str(artifacts / "chat-follow-up.png"), full_page=True)


def test_markup_in_a_question_is_shown_as_text(page: Any, dialogs: list[str], artifacts: Path) -> None:
    send(page, MARKUP)
    page.wait_for_timeout(500)  # give an injected handler the chance to fire
    assert dialogs == []
    shown = page.locator("#kb-chat .kb-question").first
    assert shown.inner_text().strip() == MARKUP
    assert shown.is_visible()
    assert page.locator("#kb-chat img[src=x], #kb-sources img[src=x]").count() == 0
    page.screenshot(path=str(artifacts / "chat-markup.png"), full_page=True)


def test_an_empty_question_after_an_answer_is_told_apart_from_it(page: Any, server: Server) -> None:
    send(page, "¿Qué es una estrategia multicanal?")
    messages = page.locator("#kb-chat .message")
    before = messages.count()
    # Ask is off until the answer's last update has landed (on a loaded machine, after its text shows).
    page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
    page.fill("#kb-question textarea", "   ")
    page.click("#kb-ask")
    # A notice of its own, in the conversation's language.
    page.get_by_text("Escribe primero una pregunta.").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert messages.count() == before  # the last answer's bubble (and its rating) is left as it was
    assert page.locator("#kb-chat .kb-error").count() == 0


def test_rejected_question_gets_a_message_not_a_traceback(page: Any) -> None:
    error = send(page, "x" * 2001)
    text = error.inner_text()
    assert "kb-error" in (error.get_attribute("class") or "")
    assert "2001 characters" in text and "the limit is 2000" in text
    # Said in the question's language.
    spanish = "¿Qué diferencia hay entre una tienda omnicanal y una multicanal? " * 40
    text = send(page, spanish).inner_text()
    assert f"La pregunta tiene {len(spanish.strip())} caracteres; el límite es 2000." in text, text
    assert "Traceback" not in page.content()
    # A refusal is not an answer to rate: no thumbs under it (they did nothing).
    assert page.locator("#kb-chat .kb-error").count() == 2
    assert page.locator("#kb-chat button[aria-label=Like]:visible").count() == 0


def test_a_reply_the_sources_do_not_cover_has_no_rating_buttons(page: Any) -> None:
    """"The sources don't cover this" is not an answer to rate; the answer after it keeps its own buttons."""
    likes = page.locator("#kb-chat button[aria-label=Like]:visible")
    dislikes = page.locator("#kb-chat button[aria-label=Dislike]:visible")
    reply = send(page, "What is the capital of Australia?")
    assert "kb-not-covered" in (reply.get_attribute("class") or ""), reply.inner_text()
    page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
    assert likes.count() == 0 and dislikes.count() == 0
    send(page, ENGLISH)
    page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
    expect(likes).to_have_count(1)
    expect(dislikes).to_have_count(1)


def test_a_refusal_has_no_rating_buttons_in_a_browser_of_another_language(browser: Any, server: Server) -> None:
    """Gradio names the thumbs in the browser's language ("Gefällt mir"): hidden by their English
    names, they stayed under a refusal in every other browser, and a click stored the refusal as rated."""
    context, page = _opened(browser, server, "de-DE")
    try:
        reply = send(page, "Was ist die Hauptstadt von Australien?")
        assert "kb-not-covered" in (reply.get_attribute("class") or ""), reply.inner_text()
        page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
        under_last = page.locator("#kb-chat [class*=message-buttons]").last.locator("button:visible")
        expect(under_last).to_have_count(1)  # its copy button alone
        send(page, "Was ist eine Omnichannel-Strategie?")
        page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
        expect(under_last).to_have_count(3)  # an answer keeps its thumbs
    finally:
        context.close()


def test_thumbs_up_is_stored_with_question_answer_and_citations(
    page: Any, server: Server, seeded_settings: Settings
) -> None:
    path = seeded_settings.feedback_path
    before = _feedback_rows(path)
    send(page, ENGLISH)
    page.locator("#kb-chat button[aria-label=Like]").last.click()
    page.get_by_text("Thanks! Your rating was saved.").wait_for(timeout=10_000)
    rows = _feedback_rows(path)
    assert len(rows) == len(before) + 1
    rating, question, answer, citations = rows[-1]
    assert (rating, question) == (1, ENGLISH)
    assert "[1]" in answer and '"source"' in citations
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # A changed mind replaces the rating: one row per answer, so the counts stay true.
    page.locator("#kb-chat button[aria-label=Dislike]").last.click()
    page.get_by_text("Thanks! We will look at this answer.").wait_for(timeout=10_000)
    rows = _feedback_rows(path)
    assert len(rows) == len(before) + 1 and rows[-1][:2] == (-1, ENGLISH)


def _feedback_rows(path: Path) -> list[tuple[Any, ...]]:
    if not path.exists():
        return []
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT rating, question, answer, citations FROM feedback ORDER BY id").fetchall()


def test_the_copy_button_copies_the_text_the_reader_sees(browser: Any, server: Server) -> None:
    """It copied the bubble's HTML: "<div class="kb-answer kb-answered" dir="ltr"…"."""
    context = browser.new_context(locale="en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        page.wait_for_selector("#kb-question textarea", timeout=60_000)
        answer = send(page, "What is omnichannel?")
        page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
        buttons = page.locator("#kb-chat button[aria-label*='opy'], #kb-chat button[title*='opy']")
        assert buttons.count() == 2  # the question's and the answer's
        copied = []
        for i in range(2):
            buttons.nth(i).click()
            copied.append(page.evaluate("navigator.clipboard.readText()"))
        assert "What is omnichannel?" in copied
        text = next(c for c in copied if c != "What is omnichannel?")
        assert "<" not in text and "kb-answer" not in text, text[:200]
        assert text.startswith("Here is what the sources say:") and "[1]" in text, text[:200]
        assert text == (answer.inner_text() or "").strip()
    finally:
        context.close()


def test_a_new_conversation_stops_the_answer_under_way(page: Any) -> None:
    """Clicked while an answer was coming, "New conversation" cleared the chat,
    and the finished answer brought the whole old conversation back."""
    send(page, "What is omnichannel?")
    page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
    # A long question takes several seconds to embed: time to start a new conversation meanwhile.
    page.fill("#kb-question textarea", "What does a shop need to become omnichannel? " * 40)
    page.click("#kb-ask")
    page.locator("#kb-chat .kb-streaming").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.click("#kb-clear")
    expect(page.locator("#kb-chat .message")).to_have_count(0, timeout=10_000)
    # Long enough for the abandoned answer to have come back, had it not been stopped.
    page.wait_for_timeout(20_000)
    assert page.locator("#kb-chat .message").count() == 0
    expect(page.locator("#kb-ask")).to_be_enabled()
    # The new conversation borrows nothing from the old one.
    send(page, "And its challenges?")
    assert page.locator("#kb-chat .kb-question").count() == 1
    assert page.locator("#kb-chat .kb-answer").count() == 1


def test_missing_index_gets_a_message(browser: Any, tmp_path: Path, artifacts: Path) -> None:
    with running_server(tmp_path / "empty-kb") as empty:
        page = browser.new_page()
        page.goto(empty.url + "/")
        page.wait_for_selector("#kb-question textarea", timeout=60_000)
        page.fill("#kb-question textarea", "What is omnichannel?")
        page.click("#kb-ask")
        error = page.locator("#kb-chat .kb-error")
        error.wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert "python ingest.py" in error.inner_text()
        page.screenshot(path=str(artifacts / "chat-no-index.png"))
        page.close()


def test_the_page_is_built_without_reading_the_index_and_reads_the_examples_when_it_loads(
    seeded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kb.service import KnowledgeBase
    from kb.web.chat import ChatHandlers, create_app

    base = KnowledgeBase(seeded_settings)
    read: list[int] = []
    real = base.example_questions
    monkeypatch.setattr(base, "example_questions", lambda **kw: read.append(1) or real(**kw))
    create_app(seeded_settings, base)
    assert read == []  # the server starts at once, whatever the size of the index
    handlers = ChatHandlers(seeded_settings, base)
    dataset = handlers.examples()
    assert read and dataset.visible
    questions = [sample[0] for sample in dataset.raw_samples]
    assert questions == real() and len(questions) > 1
    assert handlers.example(1) == questions[1]


def _opened(browser: Any, server: Server, locale: str) -> tuple[Any, Any]:
    """A new browser context (its own localStorage) on the chat page, once its load event has landed."""
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.goto(server.url + "/")
    page.locator("button.gallery-item").first.wait_for(timeout=60_000)  # the examples come with the load event
    return context, page


def _reload_after_restart(page: Any) -> None:
    """Reload the page once its server is back. Gradio's page polls a lost server every 2 s and
    reloads itself when it answers, which can cut the test's own reload short (ERR_ABORTED, or
    "Not attached to an active page" when it lands as the test's starts): then the page's reload
    is the one waited for."""
    try:
        page.reload()
    except PlaywrightError as exc:
        if not any(cut in str(exc) for cut in ("ERR_ABORTED", "Not attached to an active page")):
            raise
        page.wait_for_load_state("load")


def test_the_conversation_survives_a_reload_and_a_server_restart(
    browser: Any, seeded_settings: Settings, tmp_path: Path
) -> None:
    """A reload, or a server restart, lost the conversation; a question under way when the server died
    left the box empty."""
    data = tmp_path / "kb"
    shutil.copytree(seeded_settings.data_dir, data)
    port = free_port()
    first, under_way = "What is omnichannel?", "What does a shop need to become omnichannel? " * 40
    with running_server(data, env={"KB_RATE_LIMIT": "0"}, port=port) as dying:
        context, page = _opened(browser, dying, "en-US")
        send(page, first)
        page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
        page.fill("#kb-question textarea", under_way)
        page.click("#kb-ask")
        page.locator("#kb-chat .kb-streaming").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        dying.process.kill()  # no clean shutdown: the server dies
        dying.process.wait(timeout=30)
        # The question comes back to the box, to be sent again.
        expect(page.locator("#kb-question textarea")).to_have_value(under_way, timeout=30_000)
    with running_server(data, env={"KB_RATE_LIMIT": "0"}, port=port) as server:
        _reload_after_restart(page)
        expect(page.locator("#kb-chat .kb-answer")).to_have_count(1, timeout=60_000)
        assert page.locator("#kb-chat .kb-question").first.inner_text().strip() == first
        expect(page.locator("#kb-question textarea")).to_have_value(under_way.strip())
        # The sources panel came back too: the restored answer's markers open their passages.
        expected = api_ask(server, {"question": first})
        page.locator("#kb-chat .kb-answer a.kb-marker").first.click()
        active = page.locator("#kb-sources .kb-citation.kb-active")
        active.wait_for(timeout=REACTION_TIMEOUT_MS)
        assert active.get_attribute("data-source") == expected["citations"][0]["source"]
        # So did the history: a follow-up is answered in the light of the conversation.
        follow_up = "and what are its challenges?"
        send(page, follow_up)
        history = [{"role": "user", "content": first}, {"role": "assistant", "content": expected["answer"]}]
        in_context = api_ask(server, {"question": follow_up, "history": history})
        assert cited_sources(page) == [(c["source"], c["text"]) for c in in_context["citations"]]
        # "New conversation" forgets it, reloads included.
        page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
        page.click("#kb-clear")
        expect(page.locator("#kb-chat .message")).to_have_count(0, timeout=10_000)
        page.reload()
        page.locator("button.gallery-item").first.wait_for(timeout=60_000)
        assert page.locator("#kb-chat .message").count() == 0
        context.close()


def test_markers_of_every_answer_open_their_passages_however_many_came_after(page: Any) -> None:
    """The sources panel kept the last 20 answers' passages: older answers' markers did nothing."""
    questions = ["What is omnichannel?", "¿Qué es una estrategia multicanal?", "O que é omnicanal?"]
    for i in range(21):
        send(page, questions[i % len(questions)])
        page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
    answers = page.locator("#kb-chat .kb-answer")
    assert answers.count() == 21
    for i in (0, 1, 20):
        marker = answers.nth(i).locator("a.kb-marker").first
        marker.click()
        active = page.locator("#kb-sources .kb-citation.kb-active")
        active.wait_for(timeout=REACTION_TIMEOUT_MS)
        assert active.get_attribute("id") == (marker.get_attribute("href") or "").lstrip("#")
        expect(active).to_be_visible()


def test_notices_are_titled_in_the_page_s_language(browser: Any, server: Server) -> None:
    """Gradio titled them "Warning" or "Info", in English, whatever the page's language."""
    context, page = _opened(browser, server, "de-DE")
    try:
        page.fill("#kb-question textarea", "   ")
        page.click("#kb-ask")
        toast = page.locator("[data-testid='toast-body']", has_text="Bitte geben Sie zuerst eine Frage ein.")
        expect(toast.locator(".toast-title")).to_have_text("Warnung", timeout=30_000)
    finally:
        context.close()


@pytest.mark.parametrize(
    ("locale", "placeholder", "clear", "examples"),
    [
        ("zh-TW", "用任何語言提問…", "新對話", "範例"),
        ("zh-HK", "用任何語言提問…", "新對話", "範例"),
        ("zh-CN", "用任何语言提问…", "新对话", "示例"),
    ],
)
def test_a_traditional_chinese_browser_gets_traditional_labels(
    browser: Any, server: Server, locale: str, placeholder: str, clear: str, examples: str
) -> None:
    """zh-TW and zh-HK readers got the Simplified Chinese labels."""
    context, page = _opened(browser, server, locale)
    try:
        expect(page.locator("#kb-clear")).to_have_text(clear, timeout=60_000)
        assert page.get_attribute("#kb-question textarea", "placeholder") == placeholder
        expect(page.locator("#kb-examples").get_by_text(examples)).to_have_count(1, timeout=30_000)
    finally:
        context.close()


JOIN = "**/gradio_api/queue/join*"


def _load_event(server: Server) -> int:
    """The id of the page's load event (the one that restores the browser's copy), from Gradio's config."""
    config = request(server.url + "/config")[2]
    return next(d["id"] for d in config["dependencies"] if any(t[1] == "load" for t in d["targets"]))


class HeldLoad:
    """Reloads a page with its load event held back in the browser, until ``release``."""

    def __init__(self, page: Any, load: int) -> None:
        self.page, self.load = page, load
        self.held: list[Any] = []

    def _hold(self, route: Any) -> None:
        body = route.request.post_data_json or {}
        if body.get("fn_index") == self.load and not self.held:
            self.held.append(route)
        else:
            route.continue_()

    def reload(self) -> None:
        self.page.route(JOIN, self._hold)
        self.page.reload()
        self.page.wait_for_selector("#kb-question textarea", timeout=60_000)
        for _ in range(600):
            if self.held:
                return
            self.page.wait_for_timeout(100)
        raise AssertionError("the page sent no load event")

    def release(self) -> None:
        """Lets the load go, and waits for it to land (the examples come with it)."""
        self.held.pop().continue_()
        self.page.unroute(JOIN, self._hold)
        self.page.locator("button.gallery-item").first.wait_for(timeout=60_000)
        self.page.wait_for_timeout(1_000)  # its other outputs land with the examples


def test_a_question_sent_before_the_load_lands_is_not_wiped_by_it(browser: Any, server: Server) -> None:
    """The load restores the browser's copy: landing after a question the reader had already sent,
    it put back the copy as it was before (or an empty chat after "New conversation")."""
    context, page = _opened(browser, server, "en-US")
    held = HeldLoad(page, _load_event(server))
    try:
        first, second, third = "What is omnichannel?", "What is a multichannel strategy?", "¿Qué es omnicanal?"
        send(page, first)
        page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
        held.reload()
        assert page.locator("button.gallery-item").count() == 0  # the load has not landed
        send(page, second)
        page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
        held.release()
        questions = page.locator("#kb-chat .kb-question")
        assert [questions.nth(i).inner_text().strip() for i in range(questions.count())] == [first, second]
        # Kept as well: a reload brings back both.
        page.reload()
        expect(page.locator("#kb-chat .kb-question")).to_have_count(2, timeout=60_000)
        # After "New conversation", the empty copy the load restores does not wipe a question either.
        page.locator("button.gallery-item").first.wait_for(timeout=60_000)
        page.click("#kb-clear")
        expect(page.locator("#kb-chat .message")).to_have_count(0, timeout=10_000)
        held.reload()
        send(page, third)
        page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
        held.release()
        expect(page.locator("#kb-chat .kb-question")).to_have_text([third])
        expect(page.locator("#kb-chat .kb-answer")).to_have_count(1)
    finally:
        context.close()


def test_the_browser_keeps_the_signed_copy_and_nothing_else(page: Any) -> None:
    """Gradio's run history kept every event's inputs and outputs (each a whole copy of the
    conversation, unsigned) in localStorage, up to 100 of them: enough to fill the quota the
    chat's own copy needs."""
    send(page, "What is omnichannel?")
    page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#kb-chat .kb-answer")).to_have_count(1)
    assert page.evaluate("Object.keys(localStorage)") == [STORAGE_KEY]


def test_gradio_s_own_notices_are_said_in_the_page_s_language(browser: Any, server: Server) -> None:
    """Gradio said "Connection to the server was lost. Attempting reconnection..." (and its other
    notices: the server busy, unreachable) in English on a German page, under a German title."""
    context, page = _opened(browser, server, "de-DE")

    def told(key: str) -> Any:
        page.fill("#kb-question textarea", "Was ist Omnichannel?")
        page.click("#kb-ask")
        notice = page.locator("[data-testid='toast-text']", has_text=ui(key, "de"))
        expect(notice).to_have_count(1, timeout=30_000)
        return notice

    try:
        # A proxy in front of the server says it is busy, then sends an error page of its own.
        page.route(JOIN, lambda route: route.fulfill(status=503, content_type="application/json", body="{}"))
        told("server_busy")
        page.unroute(JOIN)
        page.route(JOIN, lambda route: route.fulfill(status=502, content_type="text/html", body="<h1>Bad Gateway</h1>"))
        told("connection_error")
        page.unroute(JOIN)
        # The connection drops (Gradio tries to reconnect, and would reload the page once it could).
        page.route("**/gradio_api/app_id*", lambda route: route.abort())
        page.route(JOIN, lambda route: route.abort())
        notice = told("connection_lost")
        assert notice.get_attribute("lang") == "de"
        toast = page.locator("[data-testid='toast-body']", has=notice)
        expect(toast.locator(".toast-title")).to_have_text("Fehler")
        expect(toast.locator("[data-testid='toast-close']")).to_have_attribute("aria-label", "Schließen")
        assert "Connection" not in (page.locator(".toast-wrap").inner_text() or "")
    finally:
        context.close()
