"""The blog widget, end to end: a demo blog on a second origin, the real app server, a real Chromium.

The blog (``examples/blog.html``) is served by a small ``http.server`` thread on
its own port and reached as ``http://blog.test:PORT`` (allowed through
``KB_ALLOWED_ORIGINS``) or ``http://evil.test:PORT`` (not allowed); Chromium
resolves both names to 127.0.0.1. The widget comes from the app server
(``python app.py serve`` on the seeded index) and talks to its API across
origins. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import pytest

from kb.i18n.lookup import WIDGET
from kb.settings import Settings
from kb.text.language import DETECTED
from kb.web.guard import WIDGET_PATH
from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Server,
    chromium_available,
    free_port,
    request,
    running_server,
    shown,
)
from tests.loopback import serving

ROOT = Path(__file__).resolve().parent.parent
BLOG = ROOT / "examples" / "blog.html"
WIDGET_MAX_BYTES = 36 * 1024
BLOG_HOST = "blog.test"
EVIL_HOST = "evil.test"
QUESTION = "¿Cuáles son los desafíos de la estrategia omnicanal?"
FOLLOW_UP = "¿Y cuáles son sus beneficios?"
ARABIC_QUESTION = "ما الفرق بين استراتيجية omnichannel والاستراتيجية متعددة القنوات؟"
ANSWER_TIMEOUT_MS = 60_000
HOST_SELECTOR = "[data-omnikb]"


# -- without a browser ---------------------------------------------------------------


def test_widget_script_is_small() -> None:
    size = WIDGET_PATH.stat().st_size
    assert size < WIDGET_MAX_BYTES, f"widget.js is {size} bytes; keep it under {WIDGET_MAX_BYTES} (no framework)"


def test_widget_never_inserts_markup() -> None:
    source = WIDGET_PATH.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in source, f"widget.js uses {sink}; insert text with textContent/createTextNode"
    assert "import " not in source and "require(" not in source  # one self-contained file


def test_widget_labels_cover_every_language_omnikb_detects() -> None:
    """widget.js carries English alone, the same as the server's; the server has every language, key for key."""
    source = WIDGET_PATH.read_text(encoding="utf-8")
    inline = source[source.index("const EN = {") : source.index("};", source.index("const EN = {"))]
    english = dict(re.findall(r'(\w+): "([^"]*)"', inline))
    assert english == dict(WIDGET["en"])
    assert set(WIDGET) == set(DETECTED)
    for language, labels in WIDGET.items():
        assert set(labels) == set(english) and all(label.strip() for label in labels.values()), language
        assert "{s}" in labels["rate"], language
        if language != "en":  # no copy of another language's labels in widget.js
            assert not [label for label in labels.values() if len(label) > 12 and label in source], language


def test_demo_blog_has_the_tag() -> None:
    page = BLOG.read_text(encoding="utf-8")
    tag = re.search(r"<script src=\"(http://[^\"]+)/widget\.js\" data-kb-url=\"([^\"]+)\"[^>]*defer", page)
    assert tag is not None and tag.group(1) == tag.group(2)
    assert '<html lang="es">' in page
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Put the chat on your blog" in readme
    for option in (
        "data-kb-url",
        "data-position",
        "data-accent",
        "data-title",
        "data-greeting",
        "data-language",
        "data-open",
        "KB_ALLOWED_ORIGINS",
        "KB_RATE_LIMIT",
    ):
        assert option in readme, option


# -- servers ------------------------------------------------------------------------------


@dataclass
class Blog:
    port: int
    api_url: str = ""

    def url(self, host: str = BLOG_HOST) -> str:
        return f"http://{host}:{self.port}/blog.html"


class _BlogHandler(SimpleHTTPRequestHandler):
    """Serves the demo blog with its script tag pointed at the test's app server."""

    blog: Blog

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/csp.html":  # ?style=SOURCES: the page's style-src
            self.send_page(strict_page(self.blog.api_url, parse_qs(query).get("style", ["'self'"])[0]))
            return
        if path != "/blog.html":
            self.send_error(404)
            return
        params = parse_qs(query)
        api_url = params.pop("api", [self.blog.api_url])[0]  # ?api=URL: another app server
        page = BLOG.read_text(encoding="utf-8").replace("http://127.0.0.1:7860", api_url)
        for name, values in params.items():  # ?open=true&language=ar…: data- options on the tag
            attribute = f'data-{name}="{html.escape(values[0])}"'
            page, found = re.subn(rf'data-{name}="[^"]*"', lambda _: attribute, page)  # noqa: B023
            if not found:
                page = page.replace(" defer></script>", f" {attribute} defer></script>")
        self.send_page(page)

    def send_page(self, page: str) -> None:
        body = page.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def strict_page(api_url: str, style_src: str) -> str:
    """A page with the strict Content Security Policy an integrator reported: no inline style, no inline script."""
    policy = f"default-src 'self'; script-src 'self' {api_url}; connect-src 'self' {api_url}; style-src {style_src}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">'
        "<title>A strict page</title></head><body><h1>A strict page</h1>"
        f'<script src="{api_url}/widget.js" data-kb-url="{api_url}" defer></script></body></html>'
    )


@pytest.fixture(scope="module")
def blog() -> Iterator[Blog]:
    state = Blog(port=free_port())
    handler = type("Handler", (_BlogHandler,), {"blog": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", state.port), partial(handler, directory=str(BLOG.parent)))
    with serving(httpd):
        yield state


@pytest.fixture(scope="module")
def app_server(seeded_settings: Settings, blog: Blog) -> Iterator[Server]:
    """The real app (``python app.py serve``) on the seeded index; only blog.test is an extra origin."""
    env = {"KB_ALLOWED_ORIGINS": f"http://{BLOG_HOST}:{blog.port}", "KB_RATE_LIMIT": "30"}
    with running_server(seeded_settings.data_dir, env=env) as server:
        blog.api_url = server.url
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not chromium_available():
        pytest.fail("Chromium is missing: apt-get install -y chromium (or `make browser`)")
    from playwright.sync_api import sync_playwright

    rules = f"--host-resolver-rules=MAP {BLOG_HOST} 127.0.0.1, MAP {EVIL_HOST} 127.0.0.1"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, rules])
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture()
def page(browser: Any, app_server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    # Every global the page has before any script runs, to find what the widget adds.
    context.add_init_script("window.__globalsBefore = Object.getOwnPropertyNames(window);")
    tab = context.new_page()
    tab.set_default_timeout(ANSWER_TIMEOUT_MS)
    try:
        yield tab
    finally:
        context.close()


# -- helpers ---------------------------------------------------------------------------------


def open_blog(page: Any, blog: Blog, host: str = BLOG_HOST) -> None:
    page.goto(blog.url(host))
    widget_shown(page)


def widget_shown(page: Any) -> None:
    """The widget is on the page: it shows once it has its labels (the page's language's, the conversation's)."""
    page.wait_for_function("() => window.OmniKB && document.querySelector('[data-omnikb]')")


def ask(page: Any, question: str) -> None:
    box = page.locator("textarea")
    box.fill(question)
    box.press("Enter")


def answers(page: Any) -> Any:
    return page.locator(".msg.answer")


def in_shadow(page: Any, body: str) -> Any:
    """Evaluate ``body`` (a function of ``root``, the widget's shadow root) in the page."""
    return page.evaluate(f"() => {{ const root = document.querySelector('{HOST_SELECTOR}').shadowRoot; {body} }}")


def api_answer(server: Server, question: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question}
    if history:
        body["history"] = history
    status, _, answer = request(server.url + "/api/ask", "POST", body=body)
    assert status == 200, answer
    return dict(answer)


# -- in the browser ----------------------------------------------------------------------------


@pytest.mark.browser
def test_blog_widget_answers_with_citations(page: Any, blog: Blog, app_server: Server, artifacts: Path) -> None:
    expected = api_answer(app_server, QUESTION)
    assert expected["answered"] and expected["citations"]
    open_blog(page, blog)

    # One namespace, no stylesheet in the page, the blog's own styles untouched.
    added = page.evaluate("() => Object.getOwnPropertyNames(window).filter(n => !window.__globalsBefore.includes(n))")
    assert sorted(set(added) - {"__globalsBefore"}) == ["OmniKB"]
    assert page.evaluate("() => document.styleSheets.length") == 1
    assert page.evaluate("() => getComputedStyle(document.querySelector('main button')).backgroundColor") == (
        "rgb(255, 235, 59)"
    )
    launcher = page.locator(".launcher")
    assert launcher.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(15, 118, 110)"  # data-accent
    assert launcher.evaluate("el => getComputedStyle(el).textTransform") == "none"  # not the blog's button style
    assert launcher.bounding_box()["width"] == 56
    assert launcher.get_attribute("aria-expanded") == "false"

    launcher.click()
    panel = page.locator("[role=dialog]")
    assert panel.is_visible()
    assert panel.locator("h2").text_content() == "Pregunta al blog"  # data-title
    assert in_shadow(page, "return root.activeElement && root.activeElement.tagName") == "TEXTAREA"
    assert panel.get_attribute("lang") == "es"  # the page's lang

    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url.removeprefix(app_server.url)) if r.method == "POST" else None)
    ask(page, QUESTION)
    answer = answers(page).first
    answer.wait_for()
    assert posted == ["/api/ask/stream"]  # the server streams, so the widget does not ask twice
    assert page.locator(".msg.user").first.text_content() == QUESTION
    assert answer.locator(".text").text_content() == shown(expected["answer"])
    points = [line[2:] for line in expected["answer"].splitlines() if line.startswith("- ")]
    assert points and answer.locator(".text ul > li").all_text_contents() == points  # quoted items: a list
    assert answer.get_attribute("lang") == expected["language"]
    citations = answer.locator("details.citation")
    assert citations.count() == len(expected["citations"])
    for i, cited in enumerate(expected["citations"]):
        assert citations.nth(i).locator("summary").text_content() == f"[{cited['id']}] {cited['title']}"
        assert not citations.nth(i).locator("blockquote").is_visible()  # collapsed until asked for

    # A marker in the answer expands its citation: the verbatim passage and its source.
    first = expected["citations"][0]
    answer.locator("button.cite", has_text=f"[{first['id']}]").first.click()
    quote = citations.first.locator("blockquote")
    assert quote.is_visible()
    assert quote.text_content() == first["text"]
    assert first["source"] in citations.first.locator(".src").text_content()
    page.screenshot(path=str(artifacts / "widget-desktop.png"))

    # A follow-up sends the conversation so far as `history`, per the contract.
    with page.expect_request(lambda r: re.search(r"/api/ask(/stream)?$", r.url) and r.method == "POST") as sent:
        ask(page, FOLLOW_UP)
    assert sent.value.post_data_json == {
        "question": FOLLOW_UP,
        "history": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": expected["answer"]}],
    }
    answers(page).nth(1).wait_for()

    # The conversation lasts for the page's session: a reload shows it again, still open.
    page.reload()
    widget_shown(page)
    assert page.locator("[role=dialog]").is_visible()
    assert page.locator(".msg.user").all_text_contents() == [QUESTION, FOLLOW_UP]
    assert answers(page).count() == 2
    assert answers(page).first.locator(".text").text_content() == shown(expected["answer"])


@pytest.mark.browser
def test_the_widget_offers_the_articles_own_questions_until_one_is_asked(
    page: Any, blog: Blog, app_server: Server
) -> None:
    """A reader who opens the widget sees what the articles can answer: their own question
    headings, those in the page's language first; a click asks one."""
    status, _, expected = request(app_server.url + "/api/examples?language=es&limit=3")
    assert status == 200
    open_blog(page, blog)  # the demo blog is in Spanish
    page.locator(".launcher").click()
    offered = page.locator(".example")
    offered.first.wait_for()
    assert offered.all_text_contents() == expected["examples"]
    assert expected["examples"][0].startswith("¿")  # a Spanish heading first, for a Spanish page
    assert page.locator(".examples").get_attribute("aria-label") == "Ejemplos"

    offered.first.click()
    answer = answers(page).first
    answer.wait_for()
    assert page.locator(".msg.user").first.text_content() == expected["examples"][0]
    assert answer.locator("button.cite").count() >= 1
    assert page.locator(".examples").count() == 0  # offered until the conversation begins

    # A reload keeps the conversation, without them; a new one offers them again.
    page.reload()
    widget_shown(page)
    assert answers(page).count() == 1 and page.locator(".examples").count() == 0
    page.evaluate("() => window.OmniKB.reset()")
    assert page.locator(".example").all_text_contents() == expected["examples"]


@pytest.mark.browser
def test_a_new_conversation_drops_the_answer_under_way(page: Any, blog: Blog, app_server: Server) -> None:
    """The answer under way when "New conversation" was clicked still arrived: the
    box stayed off until it did, and it was saved and sent as history with the next question."""
    open_blog(page, blog)
    page.evaluate("() => window.OmniKB.open()")
    # A long question takes several seconds to embed: time to start anew meanwhile.
    with page.expect_response(lambda r: re.search(r"/api/ask(/stream)?$", r.url) is not None):
        ask(page, "What does a shop need to become omnichannel? " * 40)
        page.evaluate("() => window.OmniKB.reset()")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    assert page.locator(".msg.user").count() == 0 and answers(page).count() == 0
    assert page.locator("button[type=submit], button.send").first.is_enabled()
    assert "What does a shop need" not in (page.evaluate("() => JSON.stringify(sessionStorage)") or "")
    with page.expect_request(lambda r: re.search(r"/api/ask(/stream)?$", r.url) and r.method == "POST") as sent:
        ask(page, QUESTION)
    assert sent.value.post_data_json["question"] == QUESTION
    assert not sent.value.post_data_json.get("history")  # nothing of the dropped exchange
    answers(page).first.wait_for()


@pytest.mark.browser
def test_disallowed_origin_is_refused(page: Any, blog: Blog, app_server: Server, artifacts: Path) -> None:
    evil = f"http://{EVIL_HOST}:{blog.port}"
    status, headers, _ = request(
        app_server.url + "/api/ask",
        "OPTIONS",
        headers={
            "Origin": evil,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in {k.lower() for k in headers}
    assert status == 403
    allowed = f"http://{BLOG_HOST}:{blog.port}"
    _, headers, _ = request(
        app_server.url + "/api/ask",
        "OPTIONS",
        headers={"Origin": allowed, "Access-Control-Request-Method": "POST"},
    )
    assert {k.lower(): v for k, v in headers.items()}["access-control-allow-origin"] == allowed

    open_blog(page, blog, EVIL_HOST)  # the script itself loads from anywhere
    page.locator(".launcher").click()
    # The site's owner finds the reason in the browser's console, and the setting to change.
    with page.expect_console_message(lambda m: "KB_ALLOWED_ORIGINS" in m.text, timeout=20_000) as said:
        ask(page, QUESTION)
    assert said.value.type == "warning" and evil in said.value.text and app_server.url in said.value.text
    error = page.locator(".msg.error[role=alert]")
    error.wait_for(timeout=20_000)  # an error message, not an endless "thinking"
    assert "no puedo conectar con el asistente" in error.text_content()
    assert answers(page).count() == 0
    assert page.locator(".msg.pending").count() == 0
    # And the server's log says it once, at its default level, however often the visitor asks.
    ask(page, QUESTION)
    page.locator(".msg.error[role=alert]").nth(1).wait_for(timeout=20_000)
    lines = [line for line in app_server.log().splitlines() if evil in line]
    assert len(lines) == 1 and "WARNING" in lines[0] and "KB_ALLOWED_ORIGINS" in lines[0], lines
    page.screenshot(path=str(artifacts / "widget-refused-origin.png"))


@pytest.mark.browser
def test_markup_shows_as_text(page: Any, blog: Blog, app_server: Server, artifacts: Path) -> None:
    question = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> ¿qué es omnicanal?'
    markup = '<b>negrita</b> <img src=x onerror="window.__pwned = 3"> '

    fetched: list[str] = []

    def quote_markup(route: Any) -> None:
        """The real answer, changed so that it quotes markup in the answer and in a passage."""
        fetched.append(route.request.url)
        response = route.fetch()
        answer = response.json()
        answer["answer"] = markup + answer["answer"]
        if answer["citations"]:
            answer["citations"][0]["text"] = "<script>window.__pwned = 4</script>" + answer["citations"][0]["text"]
        route.fulfill(response=response, json=answer)

    # No streaming here: the widget falls back to POST /api/ask, whose real answer gets the markup.
    page.route("**/api/ask/stream", lambda route: route.fulfill(status=404, body=""))
    page.route("**/api/ask", quote_markup)
    open_blog(page, blog)
    page.locator(".launcher").click()
    ask(page, question)
    answer = answers(page).first
    answer.wait_for()
    assert len(fetched) == 1
    assert page.locator(".msg.user").first.text_content() == question
    assert answer.locator(".text").text_content().startswith(markup)
    citation = answer.locator("details.citation").first
    citation.locator("summary").click()
    assert citation.locator("blockquote").text_content().startswith("<script>window.__pwned = 4</script>")
    assert in_shadow(page, "return root.querySelectorAll('script, img, b, iframe').length") == 0
    assert page.evaluate("() => window.__pwned") is None
    page.screenshot(path=str(artifacts / "widget-markup-as-text.png"))


@pytest.mark.browser
def test_phone_sized_viewport(browser: Any, blog: Blog, app_server: Server, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 667}, has_touch=True, is_mobile=True)
    try:
        tab = context.new_page()
        tab.set_default_timeout(ANSWER_TIMEOUT_MS)
        open_blog(tab, blog)
        launcher = tab.locator(".launcher")
        box = launcher.bounding_box()
        assert box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 667
        launcher.tap()
        panel = tab.locator("[role=dialog]")
        panel.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")  # the opening slide
        box = panel.bounding_box()
        assert {k: round(v) for k, v in box.items()} == {"x": 0, "y": 0, "width": 375, "height": 667}  # full screen
        for part in ("textarea", "button.send", "[role=dialog] .head button.icon >> nth=1"):
            rect = tab.locator(part).bounding_box()
            assert rect["x"] >= 0 and rect["y"] >= 0
            assert rect["x"] + rect["width"] <= 375 and rect["y"] + rect["height"] <= 667, part
        assert tab.locator("textarea").evaluate("el => getComputedStyle(el).fontSize") == "16px"  # no zoom on iOS
        ask(tab, QUESTION)
        answer = answers(tab).first
        answer.wait_for()
        assert answer.bounding_box()["width"] <= 375
        tab.screenshot(path=str(artifacts / "widget-phone.png"))
        tab.locator("[role=dialog] .head button.icon").nth(1).tap()  # close
        assert not panel.is_visible()
        assert launcher.is_visible()
    finally:
        context.close()


PARTS = """() => {
  const root = document.querySelector('[data-omnikb]').shadowRoot;
  return Object.fromEntries(['.panel', '.log', 'textarea', 'button.send', '.head button.icon'].map((selector) => {
    const box = root.querySelector(selector).getBoundingClientRect();
    return [selector, {x: box.x, y: box.y, width: box.width, height: box.height}];
  }));
}"""


@pytest.mark.browser
def test_a_short_viewport_gets_the_whole_screen(browser: Any, blog: Blog, app_server: Server, artifacts: Path) -> None:
    """A phone on its side (740×360): the panel went full screen only under 480 px wide, so it was
    390×252 with 130 px of conversation; and 100vh is not what a phone's keyboard leaves in view."""
    width, height = 740, 360
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True, is_mobile=True)
    try:
        tab = context.new_page()
        tab.set_default_timeout(ANSWER_TIMEOUT_MS)
        open_blog(tab, blog)
        tab.locator(".launcher").tap()
        panel = tab.locator("[role=dialog]")
        panel.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")
        parts = tab.evaluate(PARTS)
        assert {k: round(v) for k, v in parts[".panel"].items()} == {"x": 0, "y": 0, "width": width, "height": height}
        assert parts[".log"]["height"] >= height / 2, parts  # the conversation has room
        for part in ("textarea", "button.send", ".head button.icon"):
            assert on_screen(parts[part], width, height), (part, parts[part])
        assert not tab.locator(".launcher").is_visible()  # the header's close button closes it
        tab.screenshot(path=str(artifacts / "widget-phone-landscape.png"))

        # The keyboard opens: the visual viewport shrinks to 200 px and scrolls by 100 (as Chrome for
        # Android does now); the panel keeps to it, its question box and header in sight.
        tab.evaluate(
            """() => {
              for (const [name, value] of Object.entries({offsetTop: 100, offsetLeft: 0, width: 740, height: 200}))
                Object.defineProperty(visualViewport, name, {get: () => value, configurable: true});
              visualViewport.dispatchEvent(new Event('resize'));
            }"""
        )
        parts = tab.evaluate(PARTS)
        assert {k: round(v) for k, v in parts[".panel"].items()} == {"x": 0, "y": 100, "width": 740, "height": 200}
        for part in ("textarea", "button.send", ".head button.icon"):
            box = parts[part]
            assert box["y"] >= 100 and box["y"] + box["height"] <= 300, (part, box)

        # A pinch is not a keyboard: the panel keeps the whole screen, to move about in.
        tab.evaluate(
            "() => { for (const name of ['offsetTop', 'offsetLeft', 'width', 'height']) delete visualViewport[name]; }"
        )
        cdp = context.new_cdp_session(tab)
        cdp.send("Emulation.setPageScaleFactor", {"pageScaleFactor": 2})
        tab.wait_for_function("() => visualViewport.scale === 2")
        tab.evaluate("() => visualViewport.dispatchEvent(new Event('resize'))")
        assert {k: round(v) for k, v in tab.evaluate(PARTS)[".panel"].items()} == {
            "x": 0,
            "y": 0,
            "width": width,
            "height": height,
        }
    finally:
        context.close()


@pytest.mark.browser
def test_arabic_question_lays_the_panel_out_right_to_left(
    page: Any, blog: Blog, app_server: Server, artifacts: Path
) -> None:
    expected = api_answer(app_server, ARABIC_QUESTION)
    assert expected["language"] == "ar"
    open_blog(page, blog)
    page.locator(".launcher").click()
    panel = page.locator("[role=dialog]")
    assert panel.evaluate("el => getComputedStyle(el).direction") == "ltr"  # a Spanish page
    ask(page, ARABIC_QUESTION)
    answer = answers(page).first
    answer.wait_for()
    assert panel.get_attribute("dir") == "rtl"
    assert panel.evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert answer.evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert answer.locator(".text").text_content() == shown(expected["answer"])
    assert page.locator(".msg.user").first.evaluate("el => getComputedStyle(el).direction") == "rtl"
    # Right to left: the title sits at the right of the header, the buttons at its left;
    # the visitor's question hugs the right edge, the answer the left.
    title = panel.locator("h2").bounding_box()
    close = panel.locator(".head button.icon").nth(1).bounding_box()
    assert close["x"] < title["x"]
    user = page.locator(".msg.user").first.bounding_box()
    panel_box = panel.bounding_box()
    assert user["x"] - panel_box["x"] < 40
    assert panel.locator(".head button.icon").nth(1).get_attribute("aria-label") == "إغلاق المحادثة"
    page.screenshot(path=str(artifacts / "widget-arabic-rtl.png"))


@pytest.mark.browser
def test_the_greeting_stays_in_the_pages_language(page: Any, blog: Blog, app_server: Server) -> None:
    """On a Spanish page, an Arabic conversation turns the labels Arabic, not the greeting shown before it."""
    spanish = "¡Hola! Pregúntame lo que quieras sobre los artículos de este sitio."
    open_blog(page, blog)
    page.locator(".launcher").click()
    greeting = page.locator(".msg.greeting")
    assert greeting.text_content() == spanish
    ask(page, ARABIC_QUESTION)
    answers(page).first.wait_for()
    assert page.locator("[role=dialog]").get_attribute("lang") == "ar"
    assert greeting.text_content() == spanish and greeting.get_attribute("lang") == "es"
    page.reload()  # the conversation comes back from the session, in Arabic; the greeting in Spanish
    widget_shown(page)
    answers(page).first.wait_for()
    assert page.locator("textarea").get_attribute("placeholder") == "اكتب سؤالك…"
    assert greeting.text_content() == spanish and greeting.get_attribute("lang") == "es"


@pytest.mark.browser
def test_a_hebrew_question_gets_hebrew_labels_before_the_answer(page: Any, blog: Blog, app_server: Server) -> None:
    """Right-to-left text is not all Arabic: Hebrew letters say Hebrew from the first keystroke."""
    held: list[Any] = []

    def hold(route: Any) -> None:  # the answer never comes: what shows is the widget's own guess
        held.append(route)

    page.route("**/api/ask**", hold)
    open_blog(page, blog)
    page.locator(".launcher").click()
    panel = page.locator("[role=dialog]")
    ask(page, "מה ההבדל בין אסטרטגיה אומניצ'אנל למולטיצ'אנל?")
    page.locator(".msg.pending").wait_for()
    assert panel.get_attribute("dir") == "rtl" and panel.get_attribute("lang") == "he"
    hebrew = WIDGET["he"]
    page.wait_for_function(
        f"() => document.querySelector('{HOST_SELECTOR}').shadowRoot.querySelector('textarea').placeholder === "
        f"{hebrew['placeholder']!r}"
    )
    assert held, "the question should have been sent"
    page.unroute("**/api/ask**")  # lets the held request go on


@pytest.mark.browser
def test_options_open_on_load_language_position_greeting(page: Any, blog: Blog, app_server: Server) -> None:
    options = {"open": "true", "language": "ar", "position": "bottom-left", "greeting": "<i>Bienvenue</i>"}
    page.goto(blog.url() + "?" + urlencode(options))
    widget_shown(page)
    panel = page.locator("[role=dialog]")
    assert panel.is_visible()  # data-open
    assert panel.get_attribute("dir") == "rtl" and panel.get_attribute("lang") == "ar"  # data-language
    assert panel.locator("textarea").get_attribute("placeholder") == "اكتب سؤالك…"
    assert panel.locator("h2").text_content() == "Pregunta al blog"  # data-title still wins
    assert page.locator(".msg.greeting").text_content() == "<i>Bienvenue</i>"  # data-greeting, as text
    assert panel.bounding_box()["x"] == 20  # data-position: bottom-left
    assert page.locator(".launcher").bounding_box()["x"] == 20
    assert page.evaluate("() => window.OmniKB.config.position") == "left"
    page.evaluate("() => window.OmniKB.close()")
    assert not panel.is_visible()
    page.evaluate("() => window.OmniKB.open()")
    assert panel.is_visible()


@pytest.mark.server
def test_the_server_gives_the_widget_its_labels(app_server: Server) -> None:
    status, headers, body = request(app_server.url + "/api/widget/strings/NL")
    assert status == 200 and body == {"language": "nl", "strings": dict(WIDGET["nl"])}
    assert "max-age" in headers.get("cache-control", headers.get("Cache-Control", ""))
    # As public as widget.js: a page on an origin that may not ask still reads them.
    _, headers, _ = request(app_server.url + "/api/widget/strings/es", headers={"Origin": f"http://{EVIL_HOST}"})
    assert {k.lower(): v for k, v in headers.items()}["access-control-allow-origin"] == "*"
    for unknown in ("sw", "zh-hant", "..%2Fen", "x" * 300):  # not spoken; no widget labels; a path; nonsense
        status, _, body = request(app_server.url + "/api/widget/strings/" + unknown)
        assert status == 404 and body["error"]["code"] == "not_found", unknown


@pytest.mark.browser
def test_labels_in_a_language_widget_js_does_not_carry(page: Any, blog: Blog, app_server: Server) -> None:
    """A Dutch page gets Dutch labels from the server; a Polish conversation turns them Polish."""
    page.goto(blog.url() + "?" + urlencode({"open": "true", "language": "nl"}))
    panel = page.locator("[role=dialog]")
    dutch = WIDGET["nl"]
    page.wait_for_function(
        f"() => document.querySelector('{HOST_SELECTOR}').shadowRoot.querySelector('textarea').placeholder === "
        f"{dutch['placeholder']!r}"
    )
    assert panel.get_attribute("lang") == "nl"
    # The blog's own title (data-title) still wins over the label; open, the launcher closes it.
    assert page.locator(".launcher").get_attribute("aria-label") == dutch["close"] + ": Pregunta al blog"
    assert page.locator(".msg.greeting").text_content() == dutch["greeting"]
    ask(page, "Wat is het verschil tussen omnichannel en multichannel?")
    expect_answer = answers(page).first
    expect_answer.wait_for()
    assert expect_answer.get_attribute("lang") == "nl"
    polish = WIDGET["pl"]
    ask(page, "Jaka jest różnica między strategią omnichannel a wielokanałową?")
    answers(page).nth(1).wait_for()
    assert answers(page).nth(1).get_attribute("lang") == "pl"
    page.wait_for_function(
        f"() => document.querySelector('{HOST_SELECTOR}').shadowRoot.querySelector('textarea').placeholder === "
        f"{polish['placeholder']!r}"
    )
    assert panel.get_attribute("lang") == "pl"
    assert page.locator(".msg.greeting").text_content() == dutch["greeting"]  # what was said stays said


@pytest.mark.browser
def test_without_its_labels_the_widget_speaks_english(page: Any, blog: Blog, app_server: Server) -> None:
    """A Spanish page whose labels cannot be fetched: the widget still shows, in the English it carries."""
    page.route("**/api/widget/strings/**", lambda route: route.abort())
    open_blog(page, blog)
    page.locator(".launcher").click()
    assert page.locator("textarea").get_attribute("placeholder") == WIDGET["en"]["placeholder"]
    assert page.locator(".msg.greeting").text_content() == WIDGET["en"]["greeting"]
    assert page.locator("[role=dialog]").get_attribute("lang") == "es"  # the page's language all the same


@pytest.mark.browser
def test_keyboard_and_screen_readers(page: Any, blog: Blog, app_server: Server) -> None:
    open_blog(page, blog)
    launcher = page.locator(".launcher")
    assert launcher.get_attribute("aria-label") == "Abrir chat: Pregunta al blog"
    launcher.focus()
    page.keyboard.press("Enter")
    panel = page.locator("[role=dialog]")
    assert panel.is_visible()
    assert panel.get_attribute("aria-modal") == "true"
    labelled = in_shadow(
        page,
        "return root.getElementById(root.querySelector('[role=dialog]').getAttribute('aria-labelledby')).textContent",
    )
    assert labelled == "Pregunta al blog"
    assert in_shadow(page, "return root.querySelector('textarea').labels[0].textContent") == "Tu pregunta"
    # The articles' questions it offers are buttons too, named by their text.
    page.locator(".example").first.wait_for()
    offered = page.locator(".example").count()
    for button in page.locator("[role=dialog] button").all():
        assert button.get_attribute("aria-label") or button.text_content().strip(), "every button has a name"
    assert page.locator("[role=log]").get_attribute("aria-live") == "polite"

    # Tab and Shift+Tab stay inside the open panel.
    focused = "return root.activeElement ? root.activeElement.tagName + '.' + root.activeElement.className : null"
    seen = set()
    for _ in range(8):
        page.keyboard.press("Tab")
        seen.add(in_shadow(page, focused))
    assert None not in seen
    assert {"TEXTAREA.", "BUTTON.icon", "BUTTON.send"} <= seen
    page.locator("textarea").focus()
    for _ in range(offered):
        page.keyboard.press("Shift+Tab")
        assert in_shadow(page, focused) == "BUTTON.example"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert in_shadow(page, focused) == "BUTTON.send"  # wrapped around from the first to the last

    # Escape closes and gives focus back to the button that opened it.
    page.keyboard.press("Escape")
    assert not panel.is_visible()
    assert launcher.get_attribute("aria-expanded") == "false"
    assert in_shadow(page, focused) == "BUTTON.launcher"
    page.keyboard.press("Enter")
    assert panel.is_visible()


def box_height(page: Any) -> float:
    return float(page.locator("textarea").evaluate("el => el.getBoundingClientRect().height"))


@pytest.mark.browser
def test_the_question_box_grows_with_the_question(page: Any, blog: Blog, app_server: Server) -> None:
    """Shift+Enter adds a line, and the box grows to show it, up to its max-height; then it scrolls."""
    open_blog(page, blog)
    page.locator(".launcher").click()
    box = page.locator("textarea")
    one_line = box_height(page)
    box.press_sequentially("¿Qué es omnicanal?")
    box.press("Shift+Enter")
    box.press_sequentially("¿Y multicanal?")
    assert box.input_value() == "¿Qué es omnicanal?\n¿Y multicanal?"
    assert page.locator(".msg.user").count() == 0  # Shift+Enter did not send
    two_lines = box_height(page)
    assert two_lines > one_line
    assert box.evaluate("el => el.scrollHeight <= el.clientHeight")  # both lines in sight
    box.fill("\n".join(f"línea {i}" for i in range(12)))
    ceiling = float(box.evaluate("el => parseFloat(getComputedStyle(el).maxHeight)"))
    assert two_lines < box_height(page) == ceiling
    assert box.evaluate("el => el.scrollHeight > el.clientHeight")  # beyond a few lines it scrolls

    # An IME composition (Japanese, Chinese…) is confirmed with Enter: that Enter does not send.
    box.fill("")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.imeSetComposition", {"text": "にほんご", "selectionStart": 4, "selectionEnd": 4})
    assert box.input_value() == "にほんご"
    box.press("Enter")  # keydown with isComposing: the IME's, not a send
    assert box.input_value().startswith("にほんご")
    assert page.locator(".msg.user").count() == 0
    cdp.detach()

    box.fill(QUESTION)
    box.press("Enter")
    page.locator(".msg.user").wait_for()
    page.wait_for_function(
        f"h => document.querySelector('{HOST_SELECTOR}').shadowRoot.querySelector('textarea')"
        ".getBoundingClientRect().height === h",
        arg=one_line,
    )  # sent: the box is one line high again
    answers(page).first.wait_for()


@pytest.mark.browser
def test_a_question_over_the_limit_is_neither_cut_nor_sent(page: Any, blog: Blog, app_server: Server) -> None:
    """A pasted question over the server's 2,000 characters stays whole, with a note in the page's language."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data_json["question"]) if "/api/ask" in r.url else None)
    open_blog(page, blog)  # a Spanish page
    page.locator(".launcher").click()
    box = page.locator("textarea")
    box.focus()
    long_question = " ".join([QUESTION] * 40)  # 2,159 characters
    page.keyboard.insert_text(long_question)  # as a paste does
    assert box.input_value() == long_question  # not cut at 2,000
    note = page.locator(".note")
    note.wait_for()
    assert note.text_content() == f"Tu pregunta es demasiado larga; acórtala, por favor. ({len(long_question)}/2000)"
    assert box.get_attribute("aria-invalid") == "true"
    assert box.get_attribute("aria-describedby") == note.get_attribute("id")
    box.press("Enter")
    assert box.input_value() == long_question and page.locator(".msg.user").count() == 0
    box.fill(QUESTION)  # shortened, it goes
    assert not note.is_visible() and box.get_attribute("aria-invalid") == "false"
    box.press("Enter")
    answers(page).first.wait_for()
    assert sent == [QUESTION]  # the only question that left the page


@pytest.mark.browser
def test_a_long_conversation_still_fits_the_contract(page: Any, blog: Blog, app_server: Server) -> None:
    open_blog(page, blog)
    long_answer = "إستراتيجية omnichannel " * 400  # 9,600 characters, two bytes for most of them
    items = []
    for i in range(30):
        items.append({"role": "user", "text": f"pregunta {i}"})
        items.append({"role": "assistant", "answer": {"answer": long_answer, "language": "ar", "citations": []}})
    page.evaluate(
        "([key, items]) => sessionStorage.setItem(key, JSON.stringify({items, open: true}))",
        [f"omnikb:{app_server.url}", items],
    )
    page.reload()
    widget_shown(page)
    assert answers(page).count() == 20  # what was kept of the session: the last 20 exchanges
    with page.expect_request(lambda r: "/api/ask" in r.url and r.method == "POST") as sent:
        ask(page, QUESTION)
    body = sent.value.post_data_json
    assert 1 <= len(body["history"]) <= 20
    assert body["history"][-1] == {"role": "assistant", "content": long_answer[:4000]}
    assert len(sent.value.post_data_buffer) < 64 * 1024
    answers(page).nth(20).wait_for()  # the server took it: a 4xx would show an error instead
    assert page.locator(".msg.error").count() == 0


@pytest.mark.browser
def test_the_widget_follows_a_server_with_lower_limits(
    page: Any, blog: Blog, app_server: Server, seeded_settings: Settings, tmp_path: Path
) -> None:
    """KB_MAX_HISTORY_TURNS=2 and KB_MAX_QUESTION_CHARS=300: /api/health says so, and the widget keeps to them."""
    data = tmp_path / "kb"
    shutil.copytree(seeded_settings.data_dir, data)
    env = {
        "KB_ALLOWED_ORIGINS": f"http://{BLOG_HOST}:{blog.port}",
        "KB_MAX_HISTORY_TURNS": "2",
        "KB_MAX_QUESTION_CHARS": "300",
    }
    with running_server(data, env=env) as low:
        status, _, health = request(low.url + "/api/health")
        assert status == 200
        assert health["limits"] == {
            "question_chars": 300,
            "history_turns": 2,
            "history_turn_chars": 1200,
            "body_bytes": 65536,
        }
        sent: list[dict[str, Any]] = []
        page.on("request", lambda r: sent.append(r.post_data_json) if "/api/ask" in r.url else None)
        page.goto(blog.url() + "?" + urlencode({"api": low.url, "open": "true"}))
        widget_shown(page)
        questions = [QUESTION, FOLLOW_UP, "¿Y qué es una estrategia multicanal?"]
        for n, question in enumerate(questions):
            ask(page, question)
            answers(page).nth(n).wait_for()  # a refusal would show an error instead
        assert page.locator(".msg.error").count() == 0
        assert [body["question"] for body in sent] == questions
        assert [len(body["history"]) for body in sent] == [0, 2, 2]
        assert all(len(turn["content"]) <= 1200 for body in sent for turn in body["history"])
        page.locator("textarea").fill("¿" + "omnicanal " * 40 + "?")  # 402 characters
        assert page.locator(".note").text_content().endswith("(402/300)")


@pytest.mark.browser
def test_a_server_without_an_index_gets_a_message_not_a_hang(
    page: Any, blog: Blog, app_server: Server, tmp_path: Path
) -> None:
    env = {"KB_ALLOWED_ORIGINS": f"http://{BLOG_HOST}:{blog.port}"}
    with running_server(tmp_path / "no-index" / "kb", env=env) as empty:
        page.goto(blog.url() + "?api=" + quote(empty.url, safe=""))
        widget_shown(page)
        page.locator(".launcher").click()
        ask(page, QUESTION)
        error = page.locator(".msg.error[role=alert]")
        error.wait_for(timeout=20_000)
        assert "ingest" in error.text_content()  # the server's own message says what to do
        assert answers(page).count() == 0


@pytest.mark.browser
def test_a_server_that_never_answers_gets_a_message_not_a_hang(page: Any, blog: Blog, app_server: Server) -> None:
    """A server that takes the connection and never answers held "Looking through the articles…"
    for ever: the question waited for /api/health's limits without a deadline, before its own began."""
    page.clock.install()
    open_blog(page, blog)
    page.route("**/api/**", lambda route: None)  # taken, never answered
    page.locator(".launcher").click()
    with page.expect_request("**/api/ask**", timeout=20_000):
        ask(page, QUESTION)
        page.clock.run_for(6_000)  # the limits wait no longer than that
    page.clock.run_for(91_000)  # nor the question than its own deadline
    page.locator(".msg.error[role=alert]").wait_for(timeout=20_000)
    assert page.locator("textarea").input_value() == QUESTION  # back in the box, to send again


@pytest.mark.browser
def test_tab_goes_on_from_a_link_to_the_post(page: Any, blog: Blog, app_server: Server) -> None:
    """Tab from a citation's "View on the site" link went back to the panel's first button: a link
    was not counted among what the panel keeps focus in, so it seemed to be outside."""
    open_blog(page, blog)
    page.locator(".launcher").click()
    ask(page, "What's the difference between omnichannel and multichannel?")  # 002, with its post's address
    answers(page).first.wait_for()
    for summary in page.locator("details summary").all():
        summary.click()
    link = page.locator(".src a").first
    link.focus()
    page.keyboard.press("Tab")
    after = in_shadow(
        page,
        "const link = root.querySelector('.src a'); const now = root.activeElement;"
        " return !!now && now !== link && !!(link.compareDocumentPosition(now) & 4)",
    )
    assert after, "Tab from the link goes on to what follows it"


FOCUSED = "const a = root.activeElement; return a ? a.tagName + (a.className ? '.' + a.className : '') : null"


def quoting_at_length(page: Any) -> None:
    """The real answers, over /api/ask, with the first passage three times as long: it scrolls when shown."""

    def lengthen(route: Any) -> None:
        response = route.fetch()
        answer = response.json()
        if answer.get("citations"):
            answer["citations"][0]["text"] = "\n\n".join([answer["citations"][0]["text"]] * 3)
        route.fulfill(response=response, json=answer)

    page.route("**/api/ask/stream", lambda route: route.fulfill(status=404, body=""))
    page.route("**/api/ask", lengthen)


@pytest.mark.browser
def test_tab_reaches_the_question_box_from_an_open_passage(page: Any, blog: Blog, app_server: Server) -> None:
    """A long passage scrolls, so Chromium makes it a Tab stop; the panel did not count it as its own
    and sent Tab from it back to "New conversation": 60 presses never reached the question box."""
    quoting_at_length(page)
    open_blog(page, blog)
    page.locator(".launcher").click()
    ask(page, QUESTION)
    answers(page).first.wait_for()
    page.locator("button.cite").first.click()  # opens the passage, focus on its title
    quote = page.locator("details.citation").first.locator("blockquote")
    assert quote.evaluate("el => el.scrollHeight > el.clientHeight")  # it scrolls
    assert quote.get_attribute("tabindex") == "0"  # a stop in every browser, not only Chromium (axe's rule)
    stops = []
    for _ in range(40):
        page.keyboard.press("Tab")
        stops.append(in_shadow(page, FOCUSED))
        if stops[-1] == "BUTTON.send":
            break
    assert "BLOCKQUOTE" in stops, stops  # the stop the panel did not count
    assert stops[-2:] == ["TEXTAREA", "BUTTON.send"], stops
    page.keyboard.press("Tab")  # and from the last stop back to the first, still in the panel
    assert in_shadow(page, "return root.activeElement === root.querySelector('.head button')")
    page.keyboard.press("Shift+Tab")
    assert in_shadow(page, FOCUSED) == "BUTTON.send"


# Every list item without a list for parent, and every list that is not one (its role changed).
BROKEN_LISTS = """
return [...root.querySelectorAll('li')].filter((li) => !/^(UL|OL)$/.test(li.parentElement.tagName)
    || li.parentElement.hasAttribute('role')).map((li) => li.className || li.textContent.slice(0, 40))
  .concat([...root.querySelectorAll('ul[role], ol[role]')].map((list) => list.getAttribute('role')));
"""


@pytest.mark.browser
def test_the_conversation_and_the_answers_points_are_real_lists(page: Any, blog: Blog, app_server: Server) -> None:
    """The log was an <ol role="log">, which took away its items' list, and an answer's points
    were "•" characters in its text: a screen reader announced neither list nor count."""
    expected = api_answer(app_server, QUESTION)
    points = [line[2:] for line in expected["answer"].splitlines() if line.startswith("- ")]
    assert len(points) >= 2
    open_blog(page, blog)
    page.locator(".launcher").click()
    page.locator(".example").first.wait_for()
    ask(page, QUESTION)
    answer = answers(page).first
    answer.wait_for()
    assert in_shadow(page, BROKEN_LISTS) == []
    assert page.locator("[role=log]").evaluate("el => el.tagName") != "OL"
    items = answer.locator(".text ul > li")
    assert items.all_text_contents() == points
    assert "•" not in answer.locator(".text").text_content()
    assert answer.locator(".text ul").count() == 1  # one list of points, not one per point


@pytest.mark.browser
def test_quotes_and_the_question_are_marked_with_their_own_language(page: Any, blog: Blog, app_server: Server) -> None:
    """Asked in Arabic, the answer was lang="ar" through and through, though most of its quotes are
    Spanish: a screen reader read them with an Arabic voice. The question had no language at all."""
    expected = api_answer(app_server, ARABIC_QUESTION)
    languages = {str(c["id"]): c["language"] for c in expected["citations"]}
    quoted = []  # each point's passage's language: one marker a point
    for line in expected["answer"].splitlines():
        if line.startswith("- “"):
            (marker,) = re.findall(r"\[(\d+)\]", line)
            quoted.append(languages[marker])
    assert expected["language"] == "ar" and "es" in quoted  # Spanish quotes in an Arabic answer
    open_blog(page, blog)
    page.locator(".launcher").click()
    ask(page, ARABIC_QUESTION)
    answers(page).first.wait_for()
    for attempt in ("asked", "restored"):
        answer = answers(page).first
        assert answer.get_attribute("lang") == "ar", attempt
        points = answer.locator(".text ul > li")
        assert [li.get_attribute("lang") for li in points.all()] == quoted, attempt
        assert [li.get_attribute("dir") for li in points.all()] == [
            "rtl" if language == "ar" else "ltr" for language in quoted
        ], attempt
        # The passages too, each in its own language and direction.
        passages = answer.locator("blockquote")
        assert [q.get_attribute("lang") for q in passages.all()] == [c["language"] for c in expected["citations"]]
        assert [q.get_attribute("dir") for q in passages.all()] == [
            "rtl" if c["language"] == "ar" else "ltr" for c in expected["citations"]
        ]
        question = page.locator(".msg.user").first
        assert (question.get_attribute("lang"), question.get_attribute("dir")) == ("ar", "rtl"), attempt
        page.reload()  # from the session: the same
        widget_shown(page)


@pytest.mark.browser
def test_a_question_not_yet_answered_finds_its_own_direction(page: Any, blog: Blog, app_server: Server) -> None:
    """Before the server says which language a question is in, the bubble claims none."""
    page.route("**/api/ask**", lambda route: None)  # never answered
    open_blog(page, blog)
    page.locator(".launcher").click()
    ask(page, ARABIC_QUESTION)
    question = page.locator(".msg.user").first
    question.wait_for()
    assert question.get_attribute("dir") == "auto" and question.get_attribute("lang") is None
    assert question.evaluate("el => getComputedStyle(el).direction") == "rtl"


@pytest.mark.browser
def test_a_page_whose_body_has_a_transform_still_shows_the_widget_in_the_window(
    page: Any, blog: Blog, app_server: Server
) -> None:
    """A theme with a slide-in menu gives its body a transform: the widget, inside the body, was
    placed against the body (off the window at its foot), not against the window."""
    open_blog(page, blog)
    page.add_style_tag(content="body { transform: translateX(0); min-height: 4000px; }")
    box = page.locator(".launcher").bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 860, box


@pytest.mark.browser
def test_a_light_accent_darkens_where_it_is_text_on_white(page: Any, blog: Blog, app_server: Server) -> None:
    """With data-accent="#ffe600", the example questions, [n] markers and links were yellow on white."""
    page.goto(blog.url() + "?accent=%23ffe600")
    widget_shown(page)
    page.locator(".launcher").click()
    example = page.locator(".example").first
    example.wait_for()
    rgb = [float(c) for c in re.findall(r"[\d.]+", example.evaluate("el => getComputedStyle(el).color"))[:3]]

    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
    assert 1.05 / (luminance + 0.05) >= 4.5, rgb  # against white, WCAG AA
    # The accent itself is where the page asked for it.
    assert page.locator(".launcher").evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(255, 230, 0)"


def rgb(css: str) -> tuple[float, float, float]:
    red, green, blue = (float(c) for c in re.findall(r"[\d.]+", css)[:3])
    return red, green, blue


def contrast(one: str, other: str) -> float:
    """The WCAG contrast ratio of two computed colours ("rgb(…)")."""

    def luminance(css: str) -> float:
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in rgb(css))]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# A conversation with a quote and its passage, as the session keeps it: no question to ask.
SAVED_EXCHANGE = [
    {"role": "user", "text": QUESTION},
    {
        "role": "assistant",
        "answer": {
            "answer": "Esto es lo que dicen las fuentes:\n- “La integración es la gran diferencia.” [1]",
            "language": "es",
            "answered": True,
            "citations": [
                {"id": 1, "title": "Omnicanal", "source": "002.txt", "language": "es", "text": "La integración…"}
            ],
        },
    },
]


def with_saved_exchange(page: Any, blog: Blog, app_server: Server, query: str) -> None:
    page.goto(blog.url())
    widget_shown(page)
    page.evaluate(
        "([key, items]) => sessionStorage.setItem(key, JSON.stringify({items, open: true}))",
        [f"omnikb:{app_server.url}", SAVED_EXCHANGE],
    )
    page.goto(blog.url() + query)
    widget_shown(page)
    answers(page).first.wait_for()


@pytest.mark.browser
@pytest.mark.parametrize("accent", ["#10b981", "#ffe600", "#2563eb", "#777777"])
def test_text_and_focus_ring_on_and_in_the_accent_read_at_wcag_contrast(
    page: Any, blog: Blog, app_server: Server, accent: str
) -> None:
    """With data-accent="#10b981" the title and the reader's own questions were white on green
    (2.54:1), the focus ring green on white (2.54:1), and the [n] markers, darkened against white,
    sat on the answers' grey (4.07:1): the ink was picked by gamma-encoded brightness, not contrast."""
    with_saved_exchange(page, blog, app_server, "?" + urlencode({"accent": accent}))
    style = "el => getComputedStyle(el)"

    def colours(selector: str, ground: str) -> tuple[str, str]:
        ink = page.locator(selector).first.evaluate(f"el => ({style})(el).color")
        return ink, page.locator(ground).first.evaluate(f"el => ({style})(el).backgroundColor")

    assert page.locator(".launcher").evaluate(f"el => ({style})(el).backgroundColor") == "rgb({}, {}, {})".format(
        *(int(accent[i : i + 2], 16) for i in (1, 3, 5))
    )  # the accent itself is the page's
    for text, ground in ((".head h2", ".head"), (".msg.user", ".msg.user"), ("button.cite", ".msg.answer"),
                         (".num", "details"), (".src", "details")):  # fmt: skip
        ink, behind = colours(text, ground)
        assert contrast(ink, behind) >= 4.5, (text, ink, behind)
    box = page.locator("textarea")
    box.focus()
    ring = box.evaluate(f"el => ({style})(el).outlineColor")
    bubble = page.locator(".msg.answer").evaluate(f"el => ({style})(el).backgroundColor")
    assert contrast(ring, "rgb(255, 255, 255)") >= 3 and contrast(ring, bubble) >= 3, ring  # WCAG 1.4.11


OUTLINES = """() => {
  const root = document.querySelector('[data-omnikb]').shadowRoot;
  return ['.panel', '.launcher', '.send', '.msg.user', '.msg.answer', '.msg.greeting'].map((selector) => {
    const css = getComputedStyle(root.querySelector(selector));
    return [selector, css.borderTopStyle, parseFloat(css.borderTopWidth), css.borderTopColor, css.backgroundColor];
  });
}"""


@pytest.mark.browser
def test_in_forced_colours_the_panel_button_and_bubbles_keep_their_outlines(
    browser: Any, blog: Blog, app_server: Server, artifacts: Path
) -> None:
    """Windows' high contrast replaces backgrounds with one colour: the panel, launcher, send button
    and bubbles, drawn by background alone, vanished into the page."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, forced_colors="active")
    try:
        tab = context.new_page()
        tab.set_default_timeout(ANSWER_TIMEOUT_MS)
        with_saved_exchange(tab, blog, app_server, "")
        assert tab.evaluate("() => matchMedia('(forced-colors: active)').matches")
        for selector, style, width, colour, background in tab.evaluate(OUTLINES):
            assert style == "solid" and width >= 1 and colour != background, (selector, style, width, colour)
        tab.screenshot(path=str(artifacts / "widget-forced-colors.png"))
    finally:
        context.close()
    # Without forced colours, it looks as it did: no border.
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        tab = context.new_page()
        tab.set_default_timeout(ANSWER_TIMEOUT_MS)
        with_saved_exchange(tab, blog, app_server, "")
        assert {selector: width for selector, _, width, _, _ in tab.evaluate(OUTLINES)} == {
            ".panel": 0,
            ".launcher": 0,
            ".send": 0,
            ".msg.user": 0,
            ".msg.answer": 0,
            ".msg.greeting": 0,
        }
    finally:
        context.close()


@pytest.mark.browser
def test_the_launcher_says_what_it_does_and_the_greeting_is_said_once(
    page: Any, blog: Blog, app_server: Server
) -> None:
    """Open, the launcher was still named "Abrir chat"; and the first answer in another language
    wrote the greeting again, the same words, into the live log, to be read out again."""
    open_blog(page, blog)  # a Spanish page
    launcher = page.locator(".launcher")
    name = f"{WIDGET['es']['open']}: Pregunta al blog"
    assert launcher.get_attribute("aria-label") == name and launcher.get_attribute("aria-expanded") == "false"
    launcher.click()
    assert launcher.get_attribute("aria-label") == f"{WIDGET['es']['close']}: Pregunta al blog"
    assert launcher.get_attribute("aria-expanded") == "true"
    in_shadow(
        page,
        "window.__greeting = []; new MutationObserver((seen) => window.__greeting.push(...seen.map((m) => m.type)))"
        ".observe(root.querySelector('.greeting'), {childList: true, characterData: true, subtree: true});",
    )
    ask(page, ARABIC_QUESTION)
    answers(page).first.wait_for()
    page.wait_for_function(  # the Arabic labels are in: the moment the greeting was written again
        f"() => document.querySelector('{HOST_SELECTOR}').shadowRoot.querySelector('textarea').placeholder === "
        f"{WIDGET['ar']['placeholder']!r}"
    )
    assert page.evaluate("() => window.__greeting") == []
    assert page.locator(".msg.greeting").text_content() == WIDGET["es"]["greeting"]
    assert launcher.get_attribute("aria-label") == f"{WIDGET['ar']['close']}: Pregunta al blog"
    page.evaluate("() => window.OmniKB.close()")
    assert launcher.get_attribute("aria-label") == f"{WIDGET['ar']['open']}: Pregunta al blog"


@pytest.mark.browser
def test_a_page_language_that_is_no_code_still_gets_example_questions(
    page: Any, blog: Blog, app_server: Server
) -> None:
    """data-language="klingon" asked /api/examples?language=klingon, got a 422, and offered nothing."""
    page.goto(blog.url() + "?language=klingon")
    widget_shown(page)
    page.locator(".launcher").click()
    page.locator(".example").first.wait_for(timeout=20_000)
    assert page.locator(".example").count() == 3


# Every CSP violation the page reports, the widget's shadow root's included (the events are composed).
WATCH_CSP = """
window.__csp = [];
addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI), true);
"""


def on_screen(box: dict[str, float] | None, width: int, height: int) -> bool:
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and (box["y"] + box["height"] <= height)
    )


@pytest.mark.browser
@pytest.mark.parametrize("style_src", ["'self'", "'self' KB"])
def test_a_page_with_a_strict_csp_shows_the_widget(
    browser: Any, blog: Blog, app_server: Server, artifacts: Path, style_src: str
) -> None:
    """Under style-src 'self' the shadow root's <style> was blocked: the panel measured 0 wide and
    the launcher was an unstyled box, though OmniKB.ask() still answered."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        context.add_init_script(WATCH_CSP)
        tab = context.new_page()
        tab.set_default_timeout(ANSWER_TIMEOUT_MS)
        said: list[str] = []
        tab.on("console", lambda m: said.append(m.text) if "Content Security Policy" in m.text else None)
        style = quote(style_src.replace("KB", app_server.url))
        tab.goto(blog.url().replace("/blog.html", f"/csp.html?style={style}"))
        widget_shown(tab)
        launcher = tab.locator(".launcher")
        box = launcher.bounding_box()
        assert box is not None and (box["width"], box["height"]) == (56, 56), box
        assert on_screen(box, 1280, 860), box
        assert launcher.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(37, 99, 235)"  # the accent
        assert launcher.evaluate("el => getComputedStyle(el).borderRadius") == "50%"

        launcher.click()
        panel = tab.locator("[role=dialog]")
        panel.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")  # the opening slide
        box = panel.bounding_box()
        assert box is not None and box["width"] == 390 and box["height"] == 620, box
        assert on_screen(box, 1280, 860), box
        ask(tab, QUESTION)
        answer = answers(tab).first
        answer.wait_for()
        assert answer.locator(".text").text_content().strip()
        assert answer.locator("button.cite").count() >= 1
        assert answer.is_visible()
        tab.screenshot(path=str(artifacts / f"widget-strict-csp-{style_src.count(' ') + 1}.png"))

        assert said == [] and tab.evaluate("() => window.__csp") == []
        # The policy is in force and the watch sees it: a <style> the page adds now is refused, and said.
        tab.evaluate(
            "() => { const s = document.createElement('style'); s.textContent = 'h1{}'; document.head.append(s) }"
        )
        tab.wait_for_function("() => window.__csp.length > 0")
        assert set(tab.evaluate("() => window.__csp")) == {"style-src-elem inline"}
    finally:
        context.close()


@pytest.mark.browser
def test_a_browser_without_constructed_stylesheets_gets_a_style_element(page: Any, blog: Blog) -> None:
    """Before Safari 16.4 and Firefox 101 there is no adoptedStyleSheets: a <style> styles the widget."""
    page.add_init_script("delete ShadowRoot.prototype.adoptedStyleSheets;")
    open_blog(page, blog)
    assert in_shadow(page, "return [root.adoptedStyleSheets, root.querySelectorAll('style').length]") == [None, 1]
    launcher = page.locator(".launcher")
    assert launcher.bounding_box()["width"] == 56
    assert launcher.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(15, 118, 110)"  # data-accent
    launcher.click()
    assert page.locator("[role=dialog]").bounding_box()["width"] == 390


@pytest.mark.browser
def test_rate_limit_shows_a_polite_message(page: Any, blog: Blog, app_server: Server, artifacts: Path) -> None:
    """Last in the module: it spends this client's 30 questions a minute."""
    open_blog(page, blog)
    page.locator(".launcher").click()
    for _ in range(40):  # malformed bodies are cheap and still count
        status, headers, body = request(app_server.url + "/api/ask", "POST", body={})
        if status == 429:
            break
    assert status == 429
    assert 1 <= int({k.lower(): v for k, v in headers.items()}["retry-after"]) <= 60
    assert body["error"]["code"] == "rate_limited"
    ask(page, QUESTION)
    error = page.locator(".msg.error[role=alert]")
    error.wait_for(timeout=20_000)
    text = error.text_content()
    assert re.search(r"Espera \d+ segundos y vuelve a intentarlo", text), text
    assert answers(page).count() == 0
    assert page.locator("textarea").input_value() == QUESTION  # back in the box, to send again
    page.screenshot(path=str(artifacts / "widget-rate-limited.png"))
