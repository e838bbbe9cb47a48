"""A citation's link opens its post scrolled to the quote, in a real Chromium.

The post is a seed article served as a long HTML page by a second real HTTP
server on loopback; ``sources.toml`` gives it that address at ingest. The app
server (``python app.py serve``) answers from that index; the chat's sources
panel and the widget link each citation to the post with a text fragment
(``#:~:text=start,end``), and Chromium scrolls the page to the quote.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import pytest

from kb.answer.links import contract_link
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.browser import Server, request, running_server
from tests.conftest import SEEDS
from tests.loopback import serving

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.server]

ARTICLE = "001_016916c4e286d33c.txt"
POST_PATH = "/blog/diferencia-omnicanal-multicanal/"
WIDGET_PAGE = "/with-widget.html"
QUESTION = "What's the difference between omnichannel and multichannel?"
ANSWER_TIMEOUT_MS = 90_000
# Space above and below the article: the quote is far below the fold until the fragment scrolls to it.
SPACER_PX = 2400


def post_page() -> bytes:
    lines = [line.strip() for line in (SEEDS / ARTICLE).read_text(encoding="utf-8").splitlines() if line.strip()]
    body = f"<h1>{html.escape(lines[0])}</h1>" + "".join(f"<p>{html.escape(line)}</p>" for line in lines[1:])
    return (
        '<!doctype html><html lang="es"><head><meta charset="utf-8"><title>Omnicanal y multicanal</title></head>'
        f'<body><header style="height:{SPACER_PX}px">Un blog</header><article>{body}</article>'
        f'<footer style="height:{SPACER_PX}px"></footer></body></html>'
    ).encode()


class PostServer(ThreadingHTTPServer):
    app_url = ""


class _Handler(BaseHTTPRequestHandler):
    server: PostServer

    def do_GET(self) -> None:
        if self.path == POST_PATH:
            body = post_page()
        elif self.path == WIDGET_PAGE:
            tag = f'<script src="{self.server.app_url}/widget.js" data-kb-url="{self.server.app_url}" defer></script>'
            body = f'<!doctype html><html lang="en"><body><p>A blog page.</p>{tag}</body></html>'.encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


@pytest.fixture(scope="module")
def blog() -> Iterator[PostServer]:
    with serving(PostServer(("127.0.0.1", 0), _Handler)) as server:
        yield server


def post_url(blog: PostServer) -> str:
    return f"http://127.0.0.1:{blog.server_address[1]}{POST_PATH}"


@pytest.fixture(scope="module")
def app(blog: PostServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("links")
    folder = root / "seeds"
    shutil.copytree(SEEDS, folder)
    (folder / "sources.toml").write_text(f'"{ARTICLE}" = "{post_url(blog)}"\n', encoding="utf-8")
    settings = Settings(data_dir=root / "kb")
    KnowledgeBase(settings).ingest(folder)
    with running_server(settings.data_dir, env={"KB_RATE_LIMIT": "0"}) as server:
        blog.app_url = server.url
        yield server


def api_answer(app: Server) -> dict[str, Any]:
    status, _, answer = request(app.url + "/api/ask", "POST", {"question": QUESTION})
    assert status == 200, answer
    return dict(answer)


def expected_links(answer: dict[str, Any]) -> list[str | None]:
    return [contract_link(c, answer["answer"]) for c in answer["citations"]]


def test_the_sources_give_the_post_s_url_and_the_one_a_seed_states(app: Server, blog: PostServer) -> None:
    status, _, sources = request(app.url + "/api/sources")
    assert status == 200
    assert {s["source"]: s["url"] for s in sources if s["url"]} == {
        ARTICLE: post_url(blog),
        "002_8f573ef52dea0fed.txt": "http://www.muycanal.com/2015/09/29/negocio-omnicanal-multicanal",
    }


def test_a_citation_s_link_opens_its_post_scrolled_to_the_quote(browser: Any, app: Server, blog: PostServer) -> None:
    answer = api_answer(app)
    pairs = zip(answer["citations"], expected_links(answer), strict=True)
    links = [link for c, link in pairs if c["source"] == ARTICLE]
    assert links and all(link and link.startswith(post_url(blog) + "#:~:text=") for link in links)

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(app.url + "/")
        page.wait_for_selector("#kb-question textarea", timeout=60_000)
        page.fill("#kb-question textarea", QUESTION)
        page.click("#kb-ask")
        page.locator("#kb-chat .kb-answer:not(.kb-streaming)").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        cards = page.locator(f"#kb-sources section.kb-turn:not([hidden]) .kb-citation[data-source='{ARTICLE}']")
        cards.first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        link = cards.first.locator("a.kb-post")
        assert link.get_attribute("href") == links[0]
        assert link.get_attribute("target") == "_blank"
        assert set((link.get_attribute("rel") or "").split()) == {"noopener", "noreferrer"}
        # Cards without a URL have no link.
        assert page.locator("#kb-sources section.kb-turn:not([hidden]) a.kb-post").count() == sum(
            1 for c in answer["citations"] if c["url"]
        )

        with context.expect_page() as opened:
            link.click()
        post = opened.value
        post.wait_for_load_state("load")
        post.wait_for_function("() => window.scrollY > 0", timeout=15_000)
        start = unquote(links[0].split("#:~:text=", 1)[1].split(",")[0])
        seen = post.evaluate(
            """start => {
                const blocks = [...document.querySelectorAll('article p, article h1')];
                const el = blocks.find(p => p.textContent.includes(start));
                const box = el ? el.getBoundingClientRect() : null;
                return {
                    directive: 'fragmentDirective' in document,
                    opener: window.opener === null,
                    found: !!el,
                    inView: !!box && box.bottom > 0 && box.top < window.innerHeight,
                    scrolled: window.scrollY,
                };
            }""",
            start,
        )
        assert seen["directive"] and seen["opener"] and seen["found"], seen
        assert seen["inView"] and seen["scrolled"] > SPACER_PX / 2, seen

        # The same page with words it does not hold stays at its top: the scroll was the fragment's match.
        control = context.new_page()
        control.goto(post_url(blog) + "#:~:text=" + "palabras%20que%20no%20est%C3%A1n")
        control.wait_for_load_state("load")
        control.wait_for_timeout(1000)
        assert control.evaluate("() => window.scrollY") == 0
    finally:
        context.close()


def test_the_widget_links_each_citation_as_the_chat_does_and_never_to_a_script(
    browser: Any, app: Server, blog: PostServer
) -> None:
    answer = api_answer(app)
    expected = [link for link in expected_links(answer) if link]
    assert expected
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{blog.server_address[1]}{WIDGET_PAGE}")
        page.wait_for_function("() => window.OmniKB && document.querySelector('[data-omnikb]')")
        page.evaluate("() => window.OmniKB.ask(" + json.dumps(QUESTION) + ")")
        page.locator(".msg.answer").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        anchors = page.locator(".msg.answer .src a")
        assert [anchors.nth(i).get_attribute("href") for i in range(anchors.count())] == expected
        for i in range(anchors.count()):
            assert anchors.nth(i).get_attribute("rel") == "noopener noreferrer"
            assert anchors.nth(i).get_attribute("target") == "_blank"

        # A server (or a proxy) that sends a javascript: URL gets no link from the widget.
        def hostile(route: Any) -> None:
            body = route.fetch().text().replace(post_url(blog), "javascript:alert(document.domain)//")
            route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

        page.route(app.url + "/api/ask/stream", hostile)
        page.evaluate("() => window.OmniKB.reset()")
        page.evaluate("() => window.OmniKB.ask(" + json.dumps(QUESTION) + ")")
        page.locator(".msg.answer").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        hrefs = page.locator(".msg.answer .src a")
        shown = [hrefs.nth(i).get_attribute("href") or "" for i in range(hrefs.count())]
        assert not any("javascript" in href for href in shown)
        assert len(shown) == sum(1 for link in expected if not link.startswith(post_url(blog)))
    finally:
        context.close()
