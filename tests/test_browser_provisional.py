"""Streamed text is shown as provisional until the checked answer replaces it, in a real Chromium.

``python app.py serve`` answers with the scripted model server of
``tests/fake_openai.py``, which holds its reply after a few words until the test
releases it: the page is seen mid-stream for as long as the test needs, with no
sleep and no clock. The chat's streamed text is ``.kb-streaming`` (muted italics,
``aria-busy="true"``), the widget's ``.pending``; once the whole answer is in,
neither is left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from kb.settings import Settings
from tests.browser import Server, running_server
from tests.fake_openai import MODEL, FakeOpenAI, Reply

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.server, pytest.mark.usefixtures("fresh_fake")]

QUESTION = "How does omnichannel differ from multichannel?"
ANSWER = "Integration is the difference [1]."
SHOWN_BEFORE_HOLD = "Integration is the"  # the reply's first three chunks, word by word
HOLD_AFTER = 3
ANSWER_TIMEOUT_MS = 90_000
HOST_PAGE = "/a-blog-page.html"


@pytest.fixture(scope="module")
def server(seeded_settings: Settings, fake: FakeOpenAI) -> Iterator[Server]:
    from kb.service import KnowledgeBase

    # The support check's calibration, kept with the index as an ingest with a model keeps it.
    KnowledgeBase(seeded_settings.replace(llm_base_url=fake.base_url, llm_model=MODEL)).warm_up()
    env = {
        "KB_LLM_BASE_URL": fake.base_url,
        "KB_LLM_MODEL": MODEL,
        # The reply is held while the test looks at the page: no deadline may end it meanwhile.
        "KB_LLM_TIMEOUT": "600",
        "KB_LLM_TOKEN_TIMEOUT": "600",
        "KB_RATE_LIMIT": "0",
    }
    with running_server(seeded_settings.data_dir, env=env) as srv:
        yield srv


@pytest.fixture()
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    yield context
    context.close()


def held_reply(fake: FakeOpenAI) -> None:
    """The model's reply, held after its first words until ``fake.release()``."""
    fake.script(Reply(ANSWER, hold_after=HOLD_AFTER))


def assert_released(fake: FakeOpenAI) -> None:
    (exchange,) = fake.exchanges
    exchange.settled()
    assert exchange.released and not exchange.hung_up


def assert_provisional_until_answered(
    page: Any, fake: FakeOpenAI, bubbles: str, provisional: str, answered: str
) -> None:
    """The last of ``bubbles`` is ``provisional`` (class), aria-busy and italic while
    the reply is held; once released, it is ``answered`` and nothing provisional is left."""
    streaming = page.locator(bubbles).last
    expect(streaming).to_contain_text(SHOWN_BEFORE_HOLD, timeout=ANSWER_TIMEOUT_MS)
    expect(streaming).to_have_class(re.compile(rf"\b{provisional}\b"))
    expect(streaming).to_have_attribute("aria-busy", "true")
    expect(streaming).to_have_css("font-style", "italic")
    expect(page.locator(f"{bubbles}.{answered}")).to_have_count(0)

    fake.release()
    # The whole, checked answer: no longer provisional.
    final = page.locator(bubbles).last
    expect(final).to_contain_text("Integration is the difference", timeout=ANSWER_TIMEOUT_MS)
    expect(final).to_have_class(re.compile(rf"\b{answered}\b"))
    expect(final).not_to_have_class(re.compile(rf"\b{provisional}\b"))
    expect(final).not_to_have_attribute("aria-busy", "true")
    expect(final).to_have_css("font-style", "normal")
    expect(page.locator(f".{provisional}")).to_have_count(0)
    expect(page.locator("[aria-busy='true']")).to_have_count(0)
    assert_released(fake)


def test_the_chat_shows_streamed_text_as_provisional_until_the_answer_replaces_it(
    context: Any, server: Server, fake: FakeOpenAI
) -> None:
    held_reply(fake)
    page = context.new_page()
    page.goto(server.url + "/")
    page.wait_for_selector("#kb-question textarea", timeout=60_000)
    page.fill("#kb-question textarea", QUESTION)
    page.click("#kb-ask")
    assert_provisional_until_answered(page, fake, "#kb-chat .kb-answer", "kb-streaming", "kb-answered")


def test_the_widget_shows_streamed_text_as_provisional_until_the_answer_replaces_it(
    context: Any, server: Server, fake: FakeOpenAI
) -> None:
    held_reply(fake)
    page = context.new_page()
    # A blog page with the widget on it, served from the app's own origin.
    tag = f'<script src="{server.url}/widget.js" data-kb-url="{server.url}" defer></script>'
    body = f'<!doctype html><html lang="en"><body><p>A blog page.</p>{tag}</body></html>'
    page.route(server.url + HOST_PAGE, lambda route: route.fulfill(status=200, content_type="text/html", body=body))
    page.goto(server.url + HOST_PAGE)
    page.wait_for_function("() => window.OmniKB && document.querySelector('[data-omnikb]')")
    # Not awaited: ask() resolves once the answer is in, and the reply is held until released.
    page.evaluate("() => { window.OmniKB.ask(" + json.dumps(QUESTION) + "); }")
    assert_provisional_until_answered(page, fake, "div.msg.bot", "pending", "answer")
