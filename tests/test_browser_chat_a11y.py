"""The chat page for keyboard, screen reader, phone, dark-mode and right-to-left readers, in a real Chromium.

Each test is one defect a tester found with the keyboard, a screen reader's view of the page
(accessible names, ``lang``), contrast measured on the page, a 360 px phone and an Arabic page.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from kb.i18n.lookup import ui
from kb.settings import Settings
from tests.browser import Server, ask_in_chat, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.server]

ANSWER_TIMEOUT_MS = 90_000
ENGLISH = "How does omnichannel differ from multichannel?"
# Answered from three Spanish passages and an Arabic one.
ARABIC = "ما الفرق بين omnichannel و multichannel؟"
TOO_LONG = "x" * 2001

# The contrast of every piece of text under ``selectors`` with what is behind it: its colour and its
# ancestors' opacity blended over the first opaque background up its ancestors (WCAG's luminance).
CONTRASTS = """
(selectors) => {
  const parse = (c) => {
    const m = c.match(/^rgba?\\(([^)]+)\\)$/);
    if (!m) throw new Error('unexpected colour ' + c);
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat([1]);
  const behind = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
    }
    return layers.reduceRight((color, layer) => over(layer, color), [255, 255, 255, 1]);
  };
  const opacity = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o;
  };
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => (v /= 255) <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const found = [], seen = new Set();
  for (const selector of selectors) for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!node.nodeValue.trim() || seen.has(el)) continue;
      seen.add(el);
      const box = el.getBoundingClientRect(), style = getComputedStyle(el);
      if (!box.width || !box.height || style.visibility === 'hidden' || el.closest('[hidden], .sr-only')) continue;
      const bg = behind(el), fg = parse(style.color);
      const shown = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
      const [hi, lo] = [luminance(shown), luminance(bg)].sort((a, b) => b - a);
      found.push([node.nodeValue.trim().slice(0, 40), Math.round((hi + 0.05) / (lo + 0.05) * 100) / 100]);
    }
  }
  return found;
}
"""
# The empty space right and left of the text of ``inner``, the first of its kind in the element.
GAPS = """
(e, inner) => {
  const range = document.createRange();
  range.selectNodeContents(e.querySelector(inner));
  const text = range.getBoundingClientRect(), box = e.getBoundingClientRect();
  return [box.right - text.right, text.left - box.left];
}
"""
# Every scrollIntoView's behaviour, as the page asks for it.
RECORD_SCROLLS = """
() => {
  window.__kbScrolls = [];
  const scrollIntoView = Element.prototype.scrollIntoView;
  Element.prototype.scrollIntoView = function (options) {
    window.__kbScrolls.push(options && typeof options === 'object' ? options.behavior || 'auto' : 'auto');
    return scrollIntoView.call(this, options);
  };
}
"""


@pytest.fixture(scope="module")
def server(seeded_settings: Settings) -> Iterator[Server]:
    with running_server(seeded_settings.data_dir, env={"KB_RATE_LIMIT": "0"}) as srv:
        yield srv


@pytest.fixture()
def opened(browser: Any, server: Server) -> Iterator[Any]:
    """Opens the chat page in a browser context of its own (``new_context``'s options), once its load has landed."""
    contexts: list[Any] = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(**{"viewport": {"width": 1360, "height": 960}, "locale": "en-US", **options})
        contexts.append(context)
        page = context.new_page()
        page.goto(server.url + "/")
        page.locator("button.gallery-item").first.wait_for(timeout=60_000)  # the examples come with the load
        return page

    yield open_page
    for context in contexts:
        context.close()


def send(page: Any, question: str) -> Any:
    """Ask a question, wait for the finished answer (and Ask on again); returns the answer bubble."""
    answer = ask_in_chat(page, question, ANSWER_TIMEOUT_MS)
    page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
    return answer


def test_the_keyboard_stays_in_the_question_box_after_an_example_and_after_ask(opened: Any) -> None:
    """Enter on an example left the focus on it; Enter on Ask dropped it to the page's body (Ask is
    turned off while the answer comes), and the next Tab went to the first example."""
    page = opened()
    box = page.locator("#kb-question textarea")
    page.locator("#kb-examples button.gallery-item").first.focus()
    page.keyboard.press("Enter")
    expect(box).not_to_have_value("")
    expect(box).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#kb-ask")).to_be_focused()
    page.keyboard.press("Enter")
    page.locator("#kb-chat .kb-answer:not(.kb-streaming)").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
    expect(box).to_be_focused()
    page.keyboard.press("Tab")  # on from the box, not from the top of the page
    expect(page.locator("#kb-ask")).to_be_focused()


def test_a_marker_takes_the_focus_to_its_passage_and_back(opened: Any) -> None:
    """Enter on [1] left the focus on the marker, the only sign an orange box-shadow in the other
    column (gone under forced colors), and a phone was scrolled far down with no way back."""
    page = opened()
    answer = send(page, ENGLISH)
    first, second = answer.locator("a.kb-marker").nth(0), answer.locator("a.kb-marker").nth(1)
    first.focus()
    page.keyboard.press("Enter")
    card = page.locator("#" + (first.get_attribute("href") or "").lstrip("#"))
    expect(card).to_be_focused()
    expect(card).to_have_class(re.compile(r"\bkb-active\b"))
    # Its "Back to the answer" is the next stop, in the page's language; it returns to the marker.
    back = card.locator("button.kb-back")
    expect(back).to_have_text(ui("back_to_answer", "en"))
    assert back.get_attribute("lang") == "en"
    page.keyboard.press("Tab")
    expect(back).to_be_focused()
    page.keyboard.press("Enter")
    expect(first).to_be_focused()
    # Escape in a passage returns to its marker too; one "Back" at a time.
    second.focus()
    page.keyboard.press("Enter")
    other = page.locator("#" + (second.get_attribute("href") or "").lstrip("#"))
    expect(other).to_be_focused()
    assert page.locator("#kb-sources .kb-back").count() == 1
    page.keyboard.press("Escape")
    expect(second).to_be_focused()
    # The highlight is an outline, which forced colors keep (they drop box-shadows).
    page.emulate_media(forced_colors="active")
    outline = "e => [getComputedStyle(e).outlineStyle, parseFloat(getComputedStyle(e).outlineWidth)]"
    style, width = other.evaluate(outline)
    assert style == "solid" and width >= 2, (style, width)


def test_a_reader_who_asks_for_less_motion_gets_no_smooth_scroll_or_transition(opened: Any) -> None:
    """The passage scrolled into view smoothly, and its highlight faded in, whatever the reader asked for."""
    page = opened(reduced_motion="reduce")
    page.evaluate(RECORD_SCROLLS)
    answer = send(page, ENGLISH)
    answer.locator("a.kb-marker").first.click()
    page.locator("#kb-sources .kb-citation.kb-active").wait_for(timeout=5_000)
    scrolls = page.evaluate("window.__kbScrolls")
    assert scrolls and "smooth" not in scrolls, scrolls
    durations = page.locator("#kb-sources .kb-citation").first.evaluate("e => getComputedStyle(e).transitionDuration")
    assert all(float(d.strip().removesuffix("s")) == 0 for d in durations.split(",")), durations


def test_quoted_items_are_read_in_their_passage_s_language(opened: Any) -> None:
    """Asked in Arabic, the whole answer was lang="ar", its Spanish quotes included."""
    page = opened(locale="ar")
    answer = send(page, ARABIC)
    assert answer.get_attribute("lang") == "ar"
    items = answer.locator("li").all()
    languages = []
    for item in items:
        cited = page.locator("#" + (item.locator("a.kb-marker").first.get_attribute("href") or "").lstrip("#"))
        language = cited.get_attribute("lang")
        assert item.get_attribute("lang") == language, item.inner_text()[:60]
        assert item.evaluate("e => getComputedStyle(e).direction") == cited.get_attribute("dir")
        languages.append(language)
    assert "es" in languages and "ar" in languages, languages


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_reads_at_4_5_to_1_at_least(opened: Any, scheme: str) -> None:
    """White on Gradio's orange Ask was 2.8:1 (3.55:1 dark), "View on the site" 4.31:1, the error
    text on dark 2.69:1, the streaming text on dark about 2.3:1."""
    page = opened(color_scheme=scheme)
    assert page.evaluate("!!document.querySelector('.dark')") == (scheme == "dark")
    send(page, TOO_LONG)  # an error message
    answer = send(page, ENGLISH)
    answer.locator("a.kb-marker").first.click()  # a passage highlighted
    page.mouse.move(0, 0)
    selectors = ["#kb-header", "#kb-chat", "#kb-question", "#kb-ask", "#kb-examples", "#kb-clear", "#kb-sources"]

    def low() -> list[Any]:
        page.evaluate("document.getAnimations().forEach((a) => a.finish())")
        found = page.evaluate(CONTRASTS, selectors)
        assert len(found) > 30 and any(text == ui("ask", "en") for text, _ in found)
        return [pair for pair in found if pair[1] < 4.5]

    assert low() == []
    # Text still streaming in is muted: as the answer's bubble shows it while it comes.
    answer.evaluate("e => e.classList.add('kb-streaming')")
    assert low() == []


def test_the_question_box_is_named_in_the_page_s_language(opened: Any) -> None:
    """It was named "Textbox", in English, on Portuguese and Arabic pages too."""
    for locale, language in (("en-US", "en"), ("pt-PT", "pt"), ("ar", "ar")):
        page = opened(locale=locale)
        expect(page.locator("#kb-question textarea")).to_have_accessible_name(ui("question_label", language))


def test_the_article_window_is_named_and_the_headings_do_not_skip_a_level(opened: Any) -> None:
    """The window was a "dialog" without a name; the page went from h1 to the sources' h3."""
    page = opened()
    send(page, ENGLISH)
    levels = page.evaluate(
        "[...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]"
        ".filter((h) => h.getClientRects().length).map((h) => Number(h.tagName[1]))"
    )
    assert levels[0] == 1 and all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels
    page.locator("#kb-sources .kb-citation button.kb-open").first.click()
    dialog = page.locator("dialog#kb-article[open]")
    dialog.wait_for(timeout=10_000)
    expect(dialog).to_have_accessible_name(dialog.locator("h2").inner_text())
    expect(page.get_by_role("dialog", name=dialog.locator("h2").inner_text())).to_be_visible()


def test_a_phone_shows_the_question_box_at_once_and_nothing_overflows(opened: Any) -> None:
    """At 360 px the empty chat pushed the box to y≈710 of 740, "View on the site" overflowed its
    card by 20 px, and "Open the whole article" wrapped onto four lines."""
    page = opened(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    for part in ("#kb-question textarea", "#kb-ask"):
        expect(page.locator(part)).to_be_in_viewport(ratio=1)
    answer = send(page, ENGLISH)
    assert answer.locator("a.kb-marker").count()
    overflow = page.evaluate(
        """() => [document.documentElement.scrollWidth,
          [...document.querySelectorAll('#kb-sources *')].filter((e) => e.getBoundingClientRect().right > innerWidth)
            .map((e) => e.className),
          [...document.querySelectorAll('.kb-citation footer')].filter((f) => f.scrollWidth > f.clientWidth).length]"""
    )
    assert overflow == [360, [], 0], overflow
    for button in page.locator("#kb-sources button.kb-open").all():
        lines = button.evaluate("e => e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)")
        assert lines < 2, lines  # one line of text, with its padding


def test_an_arabic_page_is_laid_out_from_the_right(opened: Any) -> None:
    """Only the content was right to left: <html> had no dir, the Ask button stayed right of the box,
    and the heading and the examples started on the left."""
    page = opened(locale="ar")
    root = page.locator("html")
    expect(root).to_have_attribute("dir", "rtl")
    expect(root).to_have_attribute("lang", "ar")
    box = page.locator("#kb-question textarea").bounding_box()
    ask = page.locator("#kb-ask").bounding_box()
    assert ask["x"] + ask["width"] <= box["x"], (ask, box)
    assert page.locator("#kb-sources .kb-sources").evaluate("e => getComputedStyle(e).direction") == "rtl"
    # The blog's name, and the first example, start on the right.
    for block, first in (("#kb-header", "h1"), ("#kb-examples", "button.gallery-item")):
        gaps = page.locator(block).evaluate(GAPS, first)
        assert gaps[0] < gaps[1], (block, gaps)
