"""The chat page for keyboard, screen reader, phone, dark-mode and right-to-left readers, in a real Chromium.

Each test is one defect a tester found with the keyboard, a screen reader's view of the page
(accessible names, ``lang``), contrast measured on the page, a 360 px phone and an Arabic page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from kb.settings import Settings
from tests.browser import Server, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.server]

ANSWER_TIMEOUT_MS = 90_000
ENGLISH = "How does omnichannel differ from multichannel?"


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
    done = page.locator("#kb-chat .kb-answer:not(.kb-streaming), #kb-chat .kb-error")
    before = done.count()
    page.fill("#kb-question textarea", question)
    page.click("#kb-ask")
    done.nth(before).wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_function("!document.querySelector('#kb-ask').disabled", timeout=ANSWER_TIMEOUT_MS)
    return done.nth(before)


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
