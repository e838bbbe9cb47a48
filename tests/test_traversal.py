"""The server serves only what it means to: no file outside its static folders, no write endpoint.

A real ``python app.py serve`` on loopback, asked with a raw HTTP client
(``http.client`` sends the path exactly as written, so ``..`` and ``%2e%2e``
reach the server un-normalised). Secret files are planted in the project root
(the server's working directory), next to the data dir and inside it; their
contents must never come back.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import BaseRoute, Mount

from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.web.chat import CHAT_WRITES, build_server
from kb.web.guard import WIDGET_PATH
from tests.browser import Server, running_server
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.server]

SOURCE = "returns.txt"
ARTICLE = "Omnichannel returns\n\nCustomers may return an online order in any shop within thirty days.\n"
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# The only writes the server takes: questions, and the chat page's own events.
ALLOWED_WRITES = {"/api/ask", "/api/ask/stream", "/api/{rest:path}"} | set(CHAT_WRITES)


@dataclass
class Planted:
    server: Server
    secrets: dict[Path, str]
    upload_dir: Path


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planted]:
    base = tmp_path_factory.mktemp("traversal")
    articles = base / "articles"
    articles.mkdir()
    (articles / SOURCE).write_text(ARTICLE, encoding="utf-8")
    data = base / "kb"
    KnowledgeBase(Settings(data_dir=data, seeds_dir=articles)).ingest(articles)
    secrets = {
        ROOT / f"secret-{uuid.uuid4().hex[:8]}.txt": f"ROOT-SECRET-{uuid.uuid4().hex}",
        base / "secret.txt": f"BESIDE-DATA-SECRET-{uuid.uuid4().hex}",
        data / "secret.txt": f"IN-DATA-SECRET-{uuid.uuid4().hex}",
        articles / "secret.md": f"ARTICLES-SECRET-{uuid.uuid4().hex}",  # written after ingest: never indexed
    }
    for path, content in secrets.items():
        path.write_text(content, encoding="utf-8")
    upload_dir = base / "gradio-tmp"
    upload_dir.mkdir()
    try:
        with running_server(data, env={"GRADIO_TEMP_DIR": str(upload_dir), "KB_RATE_LIMIT": "0"}) as server:
            yield Planted(server, secrets, upload_dir)
    finally:
        for path in secrets:
            path.unlink(missing_ok=True)


def raw(server: Server, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
        ) -> tuple[int, bytes]:
    """One request with ``path`` sent byte for byte as given."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def assert_no_secret(planted: Planted, body: bytes) -> None:
    text = body.decode("utf-8", errors="replace")
    for path, secret in planted.secrets.items():
        assert secret not in text, f"the content of {path} was served"
    assert "root:x:0:0" not in text, "/etc/passwd was served"


def error_shape(body: bytes) -> dict[str, Any]:
    payload = json.loads(body)
    assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message"}, payload
    return dict(payload["error"])


# -- /api/sources/{source} -----------------------------------------------------------


SOURCE_PATHS = [
    "../{secret}",
    "../../{secret}",
    "..%2f{secret}",
    "%2e%2e%2f{secret}",
    "%2e%2e/%2e%2e/{secret}",
    "..%5c{secret}",
    "..%5c..%5c{secret}",
    "....//{secret}",
    "{root}/{secret}",
    "%2f{root_q}%2f{secret}",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "{secret}",
    "{source}%00",
    "{source}%00.html",
    "{source}/",
    "{source}/../{secret}",
    "{source}.bak",
    "{source}%20",
    "x/../{source}",
    "./{source}",
]


def test_a_source_is_a_name_in_the_index_never_a_path(planted: Planted) -> None:
    status, body = raw(planted.server, "GET", f"/api/sources/{SOURCE}")
    assert status == 200 and json.loads(body)["text"] == ARTICLE.strip()
    for template in SOURCE_PATHS:
        for path in planted.secrets:
            probe = "/api/sources/" + template.format(
                secret=path.name, source=SOURCE, root=str(path.parent), root_q=str(path.parent).replace("/", "%2f")
            )
            status, body = raw(planted.server, "GET", probe)
            assert status == 404, (probe, status, body[:200])
            assert error_shape(body)["code"] == "not_found"
            assert_no_secret(planted, body)


# -- static routes ------------------------------------------------------------------------

STATIC_PREFIXES = [
    "/gradio_api/file=",
    "/gradio_api/file/",
    "/static/",
    "/assets/",
    "/svelte/",
    "/widget.js/",
    "/api/widget/strings/",
    "/gradio_api/custom_component/x/client/y/",
    "/pwa_icon/",
    "/",
]


def _static_probes(path: Path) -> list[str]:
    relative_up = "../" * 12
    return [
        str(path),
        path.name,
        f"{relative_up}{str(path).lstrip('/')}",
        "%2e%2e%2f" * 12 + str(path).lstrip("/").replace("/", "%2f"),
        "..%5c" * 12 + str(path).lstrip("/").replace("/", "%5c"),
        "%2f" + str(path).lstrip("/").replace("/", "%2f"),
        f"{path}%00.js",
        f"/{path}",
    ]


def test_static_routes_serve_nothing_outside_their_folders(planted: Planted) -> None:
    # The control: the static routes do serve what they are for.
    status, body = raw(planted.server, "GET", "/widget.js")
    assert status == 200 and body == WIDGET_PATH.read_bytes()
    status, body = raw(planted.server, "GET", "/static/img/logo.svg")
    assert status == 200 and body.startswith(b"<svg")
    targets = [*planted.secrets, Path("/etc/passwd")]
    for prefix in STATIC_PREFIXES:
        for target in targets:
            for tail in _static_probes(target):
                probe = prefix + tail
                status, body = raw(planted.server, "GET", probe)
                assert status >= 400, (probe, status, body[:200])
                assert_no_secret(planted, body)


# -- no write endpoint --------------------------------------------------------------------


def _routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every (method, path) the app serves, through mounts and included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(list(included.routes), prefix)
        elif isinstance(route, Mount):
            yield from _routes(list(route.routes), prefix + route.path)
        else:
            for method in sorted(getattr(route, "methods", None) or ()):
                yield method, prefix + str(getattr(route, "path", ""))


def test_the_only_writes_are_questions_and_the_chats_events(planted: Planted, tmp_path: Path) -> None:
    app = build_server(Settings(data_dir=tmp_path / "kb"))
    routes = set(_routes(list(app.router.routes)))
    writes = {(m, p) for m, p in routes if m not in READ_METHODS}
    assert ("POST", "/api/ask") in writes and ("POST", "/gradio_api/upload") in writes  # the walk saw both apps
    refused = 0
    for method, path in sorted(writes):
        if path.rstrip("/") in ALLOWED_WRITES or path in ALLOWED_WRITES:
            continue
        concrete = path.replace("{", "").replace("}", "").replace(":path", "")
        status, body = raw(planted.server, method, concrete, b"{}", {"Content-Type": "application/json"})
        assert status == 404, (method, path, status, body[:200])
        assert error_shape(body)["code"] == "not_found"
        refused += 1
    assert refused >= 10  # upload, recordings, component server, run history, vibe editing, login, /call, /api…
    # The API's catch-all only says no: there is nothing to ingest, upload or delete.
    for method, path in (("POST", "/api/ingest"), ("POST", "/api/sources"), ("PUT", "/api/sources/returns.txt"),
                         ("DELETE", "/api/sources/returns.txt"), ("POST", "/api/upload")):
        status, body = raw(planted.server, method, path, b"{}", {"Content-Type": "application/json"})
        assert status in (404, 405) and error_shape(body)["code"] in ("not_found", "method_not_allowed"), path
    status, body = raw(planted.server, "GET", f"/api/sources/{SOURCE}")
    assert status == 200  # still there
    # And methods no route declares, on the chat's paths.
    for method in ("PUT", "PATCH", "DELETE"):
        status, body = raw(planted.server, method, "/", b"x")
        assert status in (404, 405), (method, status)


def test_uploading_a_file_is_refused_and_nothing_is_written(planted: Planted) -> None:
    marker = f"UPLOADED-{uuid.uuid4().hex}"
    boundary = "kbboundary"
    form = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"evil.html\"\r\n"
        f"Content-Type: text/html\r\n\r\n<script>{marker}</script>\r\n--{boundary}--\r\n"
    ).encode()
    for path in ("/gradio_api/upload", "/gradio_api/upload?upload_id=x", "/gradio_api/upload/", "/upload"):
        status, body = raw(
            planted.server, "POST", path, form, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        assert status == 404, (path, status, body[:200])
        assert error_shape(body)["code"] == "not_found"
    written = [p for p in planted.upload_dir.rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]
    assert written == []
    # The page still works: its events go through the queue.
    status, body = raw(planted.server, "GET", "/config")
    assert status == 200 and b"components" in body
