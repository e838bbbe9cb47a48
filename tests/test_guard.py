"""The guards in front of the API: CORS allow-list, rate limit, ``/widget.js``.

A small FastAPI app with ``install_guards`` runs on a real uvicorn server on
loopback; requests go over real sockets with httpx (a second client address,
127.0.0.2, checks that the limit is per client).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from kb.settings import Settings
from kb.web.guard import WIDGET_PATH, OriginPolicy, RateLimiter, install_guards, normalise_origin

pytestmark = pytest.mark.server  # a real uvicorn server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: FastAPI, lifespan: bool = False) -> Iterator[str]:
    """Run ``app`` on a real uvicorn server on a free loopback port; stop it afterwards.
    ``lifespan``: run the app's startup (the API's warm-up) as ``app.py serve`` does."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on" if lifespan else "off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def guarded_app(settings: Settings) -> tuple[FastAPI, list[str]]:
    """An app with the real guards and stub routes that record what reached them."""
    app = FastAPI()
    reached: list[str] = []

    @app.post("/api/ask")
    async def ask(body: dict[str, Any]) -> dict[str, Any]:
        reached.append("ask")
        return {"question": body.get("question"), "answer": "ok", "citations": []}

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        reached.append("health")
        return {"status": "ok"}

    @app.get("/page")
    async def page() -> dict[str, str]:
        return {"page": "yes"}

    install_guards(app, settings)
    return app, reached


@pytest.fixture()
def server() -> Iterator[tuple[str, list[str]]]:
    app, reached = guarded_app(Settings(allowed_origins=("https://blog.example.com",), rate_limit=3))
    with serve(app) as base:
        yield base, reached


def preflight(base: str, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(
        base + "/api/ask",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )


# -- origins ---------------------------------------------------------------------


def test_normalise_origin() -> None:
    assert normalise_origin("HTTPS://Blog.Example.com:443/") == "https://blog.example.com"
    assert normalise_origin("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert normalise_origin("http://[::1]:80") == "http://[::1]"
    assert normalise_origin("blog.example.com") is None
    assert normalise_origin("http://x:notaport") is None


def test_origin_policy_rules() -> None:
    policy = OriginPolicy(("https://blog.example.com", "not an origin"))
    assert policy.allows("https://blog.example.com", "kb.example.org")
    assert not policy.allows("https://blog.example.com.evil.net", "kb.example.org")
    assert not policy.allows("http://blog.example.com", "kb.example.org")  # scheme matters
    assert policy.allows("http://localhost:3000", "kb.example.org")
    assert policy.allows("http://127.0.0.1:9", "kb.example.org")
    assert policy.allows("http://[::1]:5000", "kb.example.org")
    assert policy.allows("https://kb.example.org", "kb.example.org")  # own origin: the Host
    assert policy.allows("http://kb.example.org:7860", "kb.example.org:7860")
    assert not policy.allows("http://kb.example.org:7861", "kb.example.org:7860")
    assert not policy.allows("null", "kb.example.org")
    assert not policy.allows("https://evil.example", None)
    assert not policy.wildcard
    assert OriginPolicy(("*",)).allows("https://anyone.example", "kb.example.org")
    assert OriginPolicy(("*",)).header_value("https://anyone.example") == "*"


def test_preflight_from_an_allowed_origin(server: tuple[str, list[str]]) -> None:
    base, reached = server
    for origin in ("https://blog.example.com", "http://localhost:4000", "http://127.0.0.1:5555"):
        response = preflight(base, origin)
        assert response.status_code == 204, origin
        assert response.headers["access-control-allow-origin"] == origin
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "content-type" in response.headers["access-control-allow-headers"].lower()
        assert "origin" in response.headers["vary"].lower()
    assert reached == []  # preflights never reach the app


def test_preflight_from_a_disallowed_origin_gets_no_cors(server: tuple[str, list[str]]) -> None:
    base, _ = server
    response = preflight(base, "https://evil.example")
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert response.json()["error"]["code"] == "origin_not_allowed"


def test_allowed_origin_gets_its_origin_back(server: tuple[str, list[str]]) -> None:
    base, reached = server
    response = httpx.post(base + "/api/ask", json={"question": "hi"}, headers={"Origin": "https://blog.example.com"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://blog.example.com"
    assert "retry-after" in response.headers["access-control-expose-headers"].lower()
    assert reached == ["ask"]


def test_own_origin_is_the_host_header(server: tuple[str, list[str]]) -> None:
    base, _ = server
    response = httpx.post(
        base + "/api/ask",
        json={"question": "hi"},
        headers={"Origin": "http://kb.example.org:7860", "Host": "kb.example.org:7860"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://kb.example.org:7860"


def test_disallowed_origin_post_is_refused_before_the_app(server: tuple[str, list[str]]) -> None:
    base, reached = server
    response = httpx.post(base + "/api/ask", json={"question": "hi"}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    body = response.json()
    assert body["error"]["code"] == "origin_not_allowed"
    assert "KB_ALLOWED_ORIGINS" in body["error"]["message"]
    assert reached == []


def test_disallowed_origin_get_has_no_cors_header(server: tuple[str, list[str]]) -> None:
    base, _ = server
    response = httpx.get(base + "/api/health", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200  # the browser, not the server, withholds it from the page
    assert "access-control-allow-origin" not in response.headers


def test_requests_without_origin_pass(server: tuple[str, list[str]]) -> None:
    base, _ = server
    response = httpx.post(base + "/api/ask", json={"question": "hi"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert "origin" in response.headers["vary"].lower()  # a shared cache keeps the two apart


def test_cors_only_on_api_paths(server: tuple[str, list[str]]) -> None:
    base, _ = server
    response = httpx.get(base + "/page", headers={"Origin": "https://blog.example.com"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_wildcard_only_when_set_explicitly() -> None:
    app, _ = guarded_app(Settings(allowed_origins=("*",), rate_limit=0))
    with serve(app) as base:
        response = httpx.post(base + "/api/ask", json={"question": "hi"}, headers={"Origin": "https://anyone.example"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
    app, _ = guarded_app(Settings())
    with serve(app) as base:
        response = preflight(base, "https://anyone.example")
        assert "access-control-allow-origin" not in response.headers


# -- rate limit ----------------------------------------------------------------------


def test_sliding_window_limiter() -> None:
    now = [1000.0]
    limiter = RateLimiter(3, 60, clock=lambda: now[0])
    for _ in range(3):  # hits at 1000, 1010, 1020
        assert limiter.hit("a") == (True, 0)
        now[0] += 10
    allowed, retry = limiter.hit("a")  # at 1030
    assert not allowed and retry == 30  # the first hit leaves the window 60 s after it
    assert limiter.hit("b") == (True, 0)  # per client
    now[0] = 1060.5
    assert limiter.hit("a") == (True, 0)  # one slot freed, not the whole window reset
    allowed, retry = limiter.hit("a")
    assert not allowed and retry == 10
    limiter.forget_last("b")
    assert RateLimiter(0).hit("a") == (True, 0)  # 0 turns the limit off


def test_rate_limit_answers_429_with_retry_after(server: tuple[str, list[str]]) -> None:
    base, reached = server
    headers = {"Origin": "https://blog.example.com"}
    codes = [httpx.post(base + "/api/ask", json={"question": "q"}, headers=headers).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    response = httpx.post(base + "/api/ask", json={"question": "q"}, headers=headers)
    assert response.status_code == 429
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert body["error"]["code"] == "rate_limited"
    assert str(retry_after) in body["error"]["message"]
    # The widget on another origin must be able to read the 429 and its Retry-After.
    assert response.headers["access-control-allow-origin"] == "https://blog.example.com"
    assert "retry-after" in response.headers["access-control-expose-headers"].lower()
    assert reached == ["ask"] * 3
    # Other routes are not limited, and neither is another client address.
    assert httpx.get(base + "/api/health").status_code == 200
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
        assert other.post(base + "/api/ask", json={"question": "q"}).status_code == 200


def test_missing_stream_route_does_not_count(server: tuple[str, list[str]]) -> None:
    base, _ = server
    for _ in range(5):  # the widget probes /api/ask/stream; a 404 there costs nothing
        assert httpx.post(base + "/api/ask/stream", json={"question": "q"}).status_code == 404
    assert httpx.post(base + "/api/ask", json={"question": "q"}).status_code == 200


# -- the widget script -----------------------------------------------------------------


def test_widget_js_is_served_as_javascript(server: tuple[str, list[str]]) -> None:
    base, _ = server
    response = httpx.get(base + "/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert "max-age=" in response.headers["cache-control"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == WIDGET_PATH.read_bytes()
    assert response.headers["access-control-allow-origin"] == "*"  # loadable with integrity= and crossorigin
    head = httpx.head(base + "/widget.js")
    assert head.status_code == 200 and head.content == b""
    again = httpx.get(base + "/widget.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
