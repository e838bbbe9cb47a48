"""The JSON API over real HTTP: a real ``python app.py serve`` on loopback."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kb import cli
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.browser import Server, request, running_server

pytestmark = [pytest.mark.slow, pytest.mark.server]


@pytest.fixture(scope="module")
def server(seeded_settings: Settings) -> Iterator[Server]:
    # Many questions in a row: the rate limit (another test's subject) is off here.
    with running_server(seeded_settings.data_dir, env={"KB_RATE_LIMIT": "0"}) as srv:
        yield srv


@pytest.fixture(scope="module")
def empty_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("no-index") / "kb"


@pytest.fixture(scope="module")
def empty_server(empty_data_dir: Path) -> Iterator[Server]:
    with running_server(empty_data_dir) as srv:
        yield srv


def ask(server: Server, body: Any) -> tuple[int, dict[str, str], Any]:
    return request(server.url + "/api/ask", "POST", body)


def assert_error(status: int, payload: Any, expected_status: int | tuple[int, ...], code: str | None = None) -> None:
    statuses = expected_status if isinstance(expected_status, tuple) else (expected_status,)
    assert status in statuses, payload
    assert isinstance(payload, dict) and set(payload) == {"error"}, payload
    assert set(payload["error"]) == {"code", "message"}, payload
    assert isinstance(payload["error"]["message"], str) and payload["error"]["message"].strip()
    if code is not None:
        assert payload["error"]["code"] == code, payload


# -- the happy paths ------------------------------------------------------------
def test_health(server: Server) -> None:
    status, _, body = request(server.url + "/api/health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["documents"] == 5
    # Both caps a client must fit: the history's, and the body's (20 full turns are over it).
    limits = body["limits"]
    assert limits["body_bytes"] == 64 * 1024
    assert limits["history_turns"] * limits["history_turn_chars"] > limits["body_bytes"]
    assert body["chunks"] > 5
    assert isinstance(body["embedding_model"], str) and body["embedding_model"]
    assert body["answers"] == "extractive" and "model_server" not in body


def test_sources_list_and_document(server: Server) -> None:
    status, _, sources = request(server.url + "/api/sources")
    assert status == 200
    assert len(sources) == 5
    for item in sources:
        assert set(item) == {"source", "title", "language", "characters", "url"}
        status, _, doc = request(server.url + "/api/sources/" + item["source"])
        assert status == 200
        assert set(doc) == {"source", "title", "language", "text", "url"}
        assert doc["source"] == item["source"] and len(doc["text"]) == item["characters"]
        assert doc["url"] == item["url"]
    # The one seed that states its address (its "See more at:" line) has it, tracking fragment dropped.
    urls = {item["source"]: item["url"] for item in sources if item["url"]}
    assert urls == {"002_8f573ef52dea0fed.txt": "http://www.muycanal.com/2015/09/29/negocio-omnicanal-multicanal"}


def test_example_questions_in_the_reader_s_language_first(server: Server) -> None:
    """What the widget offers a blog's reader: the articles' own question headings."""
    status, _, body = request(server.url + "/api/examples")
    assert status == 200 and set(body) == {"examples"}
    assert len(body["examples"]) == 3 and all(isinstance(q, str) and q.strip() for q in body["examples"])
    status, _, portuguese = request(server.url + "/api/examples?language=pt&limit=2")
    assert status == 200 and len(portuguese["examples"]) == 2
    # 000 is the Portuguese article: its question headings come first for a Portuguese reader.
    assert portuguese["examples"][0].startswith(("Quais", "Em que", "Como", "O que"))
    bad = (("?limit=0", "limit"), ("?limit=11", "limit"), ("?limit=many", "limit"), ("?language=xx", "language"))
    for query, word in bad:
        status, _, payload = request(server.url + "/api/examples" + query)
        assert_error(status, payload, 422, "invalid_request")
        assert word in payload["error"]["message"], payload
    # Not a number, or a number out of range: the same words ("Input should be a valid integer" was the framework's).
    for query in ("?limit=many", "?limit=2.5", "?limit=11"):
        _, _, payload = request(server.url + "/api/examples" + query)
        assert payload["error"]["message"].startswith("`limit` must be a whole number from 1 to 10"), payload


def test_answer_shape_and_offsets(server: Server) -> None:
    status, headers, answer = ask(server, {"question": "How do I become omnichannel?", "top_k": 5})
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    for key in ("question", "language", "answered", "mode", "answer", "citations", "passages", "timings_ms"):
        assert key in answer
    assert answer["language"] == "en" and answer["answered"] is True
    assert [c["id"] for c in answer["citations"]] == list(range(1, len(answer["citations"]) + 1))
    assert 1 <= len(answer["passages"]) <= 5
    texts: dict[str, str] = {}
    for passage in answer["citations"] + answer["passages"]:
        if passage["source"] not in texts:
            texts[passage["source"]] = request(server.url + "/api/sources/" + passage["source"])[2]["text"]
        assert texts[passage["source"]][passage["start"] : passage["end"]] == passage["text"]


def test_follow_up_is_answered_in_context(server: Server) -> None:
    history = [{"role": "user", "content": "What is omnichannel?"}, {"role": "assistant", "content": "…"}]
    status, _, answer = ask(server, {"question": "and what are its challenges?", "history": history})
    assert status == 200
    assert "omnichannel" in answer["standalone_query"].lower()


def test_language_override(server: Server) -> None:
    status, _, answer = ask(server, {"question": "What is omnichannel?", "language": "es"})
    assert status == 200 and answer["language"] == "es"


def test_markup_in_a_question_comes_back_as_json_text(server: Server) -> None:
    markup = "<img src=x onerror=alert(1)>"
    status, headers, answer = ask(server, {"question": markup})
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert answer["question"] == markup


def test_openapi_docs(server: Server) -> None:
    status, _, page = request(server.url + "/docs")
    assert status == 200 and "swagger" in page.lower()
    status, _, spec = request(server.url + "/openapi.json")
    assert status == 200
    for path in ("/api/ask", "/api/health", "/api/sources", "/api/sources/{source}"):
        assert path in spec["paths"], sorted(spec["paths"])
    # The answer object it declares is the one answered, every field of it.
    declared = spec["components"]["schemas"]["AnswerResponse"]
    status, _, answer = ask(server, {"question": "What is omnichannel?"})
    assert status == 200 and set(answer) <= set(declared["properties"]), set(answer) - set(declared["properties"])
    assert set(declared["required"]) <= set(answer)
    passage = spec["components"]["schemas"]["Passage"]
    for item in answer["citations"] + answer["passages"]:
        assert set(item) <= set(passage["properties"]) and set(passage["required"]) <= set(item)


def test_the_chat_page_is_served_at_the_root(server: Server) -> None:
    status, _, page = request(server.url + "/")
    assert status == 200 and "<html" in page.lower()


# -- errors ---------------------------------------------------------------------
MALFORMED = [
    pytest.param(b'{"question": ', 400, "malformed_json", id="truncated-json"),
    pytest.param(b"not json at all", 400, "malformed_json", id="not-json"),
]

BROKEN_RULES: list[Any] = [
    pytest.param({}, id="no-question"),
    pytest.param(["What is omnichannel?"], id="not-an-object"),
    pytest.param({"question": 42}, id="question-not-string"),
    pytest.param({"question": "   "}, id="empty-question"),
    pytest.param({"question": "x" * 2001}, id="question-too-long"),
    pytest.param({"question": "ok?", "top_k": 0}, id="top-k-zero"),
    pytest.param({"question": "ok?", "top_k": 21}, id="top-k-too-big"),
    pytest.param({"question": "ok?", "top_k": "5"}, id="top-k-string"),
    pytest.param({"question": "ok?", "top_k": True}, id="top-k-bool"),
    pytest.param({"question": "ok?", "history": "earlier"}, id="history-not-list"),
    pytest.param({"question": "ok?", "history": [{"role": "user", "content": "q"}] * 21}, id="history-too-long"),
    pytest.param({"question": "ok?", "history": [{"role": "system", "content": "q"}]}, id="history-bad-role"),
    pytest.param({"question": "ok?", "history": [{"role": "user"}]}, id="history-no-content"),
    pytest.param({"question": "ok?", "language": "english"}, id="language-not-iso"),
]


@pytest.mark.parametrize(("raw", "status", "code"), MALFORMED)
def test_malformed_body(server: Server, raw: bytes, status: int, code: str) -> None:
    got, _, payload = request(server.url + "/api/ask", "POST", raw=raw)
    assert_error(got, payload, status, code)


@pytest.mark.parametrize("body", BROKEN_RULES)
def test_rule_broken(server: Server, body: Any) -> None:
    status, _, payload = ask(server, body)
    assert_error(status, payload, (400, 422))


def test_rule_messages_say_what_to_do(server: Server) -> None:
    _, _, payload = ask(server, {"question": "ok?", "top_k": 50})
    assert "1 to 20" in payload["error"]["message"]
    _, _, payload = ask(server, {"question": " "})
    assert "empty" in payload["error"]["message"]


def test_body_over_64_kib(server: Server) -> None:
    body = {"question": "What is omnichannel?", "history": [{"role": "user", "content": "x" * 7000}] * 10}
    raw = json.dumps(body).encode()
    assert len(raw) > 64 * 1024
    status, _, payload = request(server.url + "/api/ask", "POST", raw=raw)
    assert_error(status, payload, 413, "payload_too_large")


def test_chunked_body_over_64_kib(server: Server) -> None:
    """No Content-Length to trust: the limit counts the bytes as they arrive."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    chunks = iter([b'{"question": "', *([b"x" * 8192] * 10), b'"}'])
    connection.request(
        "POST", "/api/ask", body=chunks, headers={"Content-Type": "application/json"}, encode_chunked=True
    )
    response = connection.getresponse()
    payload = json.loads(response.read())
    connection.close()
    assert_error(response.status, payload, 413, "payload_too_large")


def test_body_just_under_the_limit_is_read(server: Server) -> None:
    """A big but allowed body is parsed and judged by the rules (here: history content too long)."""
    body = {"question": "ok?", "history": [{"role": "user", "content": "x" * 60000}]}
    status, _, payload = ask(server, body)
    assert_error(status, payload, 422, "invalid_request")


def test_unknown_source_404(server: Server) -> None:
    status, _, payload = request(server.url + "/api/sources/no_such_article.txt")
    assert_error(status, payload, 404, "not_found")
    assert "GET /api/sources" in payload["error"]["message"]  # what an HTTP client can call


def test_unknown_api_path_404(server: Server) -> None:
    status, _, payload = request(server.url + "/api/nothing-here")
    assert_error(status, payload, 404, "not_found")


def test_api_itself_and_every_method_on_unknown_paths_get_the_error_shape(server: Server) -> None:
    """``GET /api`` (no trailing slash) was answered by the chat's mount with ``{"detail": "Not Found"}``."""
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        for path in ("/api", "/api/", "/api/nothing-here", "/api/health/extra"):
            status, _, payload = request(server.url + path, method, {} if method in ("POST", "PUT", "PATCH") else None)
            assert_error(status, payload, 404, "not_found")
            assert f"{method} {path}" in payload["error"]["message"], (method, path)
    status, headers, body = request(server.url + "/api", "HEAD")
    assert status == 404 and body == "" and headers["content-type"] == "application/json"


def sent_as_written(
    server: Server, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """One request with ``path`` sent byte for byte (``//api`` and ``/API`` reach the server unchanged)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders(data)
        response = connection.getresponse()
        status, got, payload = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()
    return status, got, json.loads(payload) if payload else payload


SAME_ENDPOINT = {
    "/api/health": ["//api/health", "/api//health", "///api///health", "/api/health/", "//api/health//"],
    "/api/sources": ["//api/sources", "/api//sources", "/api/sources/", "/api/sources//"],
    "/api/sources/002_8f573ef52dea0fed.txt": [
        "//api/sources/002_8f573ef52dea0fed.txt",
        "/api/sources//002_8f573ef52dea0fed.txt",
    ],
}


def test_repeated_and_trailing_slashes_reach_the_endpoint(server: Server) -> None:
    """``//api/health`` (a client joining ``base + "/" + path``) fell through to the chat's mount:
    ``{"detail": "Not Found"}``; ``/api/health/`` and ``/api//ask`` were 404s."""
    for canonical, variants in SAME_ENDPOINT.items():
        _, _, expected = sent_as_written(server, "GET", canonical)
        for path in variants:
            status, headers, body = sent_as_written(server, "GET", path)
            assert status == 200 and body == expected, (path, status, body)
            status, headers, body = sent_as_written(server, "HEAD", path)
            assert status == 200 and body == b"" and headers["content-type"] == "application/json", path
    for path in ("//api/ask", "/api//ask", "/api/ask/", "//api//ask//"):
        status, _, answer = sent_as_written(server, "POST", path, {"question": "What is omnichannel?"})
        assert status == 200 and answer["answered"] is True, (path, status, answer)
    for method in ("DELETE", "PUT", "PATCH", "POST"):
        status, headers, payload = sent_as_written(server, method, "//api/health/", {})
        assert_error(status, payload, 405, "method_not_allowed")
        assert headers["allow"] == "GET, HEAD", method
    status, _, payload = sent_as_written(server, "GET", "//api/ask")
    assert_error(status, payload, 405, "method_not_allowed")


def test_a_trailing_slash_after_a_source_name_names_no_source(server: Server) -> None:
    """Only a fixed endpoint drops its trailing slash: a source is a name, never a path."""
    for path in ("/api/sources/002_8f573ef52dea0fed.txt/", "//api/sources/002_8f573ef52dea0fed.txt//"):
        status, _, payload = sent_as_written(server, "GET", path)
        assert_error(status, payload, 404, "not_found")


WRONG_CASE = {
    "/API/health": "/api/health",
    "/Api/ask": "/api/ask",
    "/api/Health": "/api/health",
    "//API//sources": "/api/sources",
    "/API/sources/002_8f573ef52dea0fed.txt": "/api/sources/002_8f573ef52dea0fed.txt",
    "/API": None,
    "/Api/nothing-here": None,
}


def test_a_wrong_case_api_path_is_a_404_naming_the_right_one(server: Server) -> None:
    """``/API/health`` was answered by the chat's mount with ``{"detail": "Not Found"}``, and
    ``POST /Api/ask`` with "this server takes no uploads or edits"."""
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        for path, meant in WRONG_CASE.items():
            body = {"question": "What is omnichannel?"} if method in ("POST", "PUT", "PATCH") else None
            status, _, payload = sent_as_written(server, method, path, body)
            assert_error(status, payload, 404, "not_found")
            message = payload["error"]["message"]
            assert f"No API endpoint {method} " in message, (method, path, message)
            assert (f"did you mean {meant}?" in message) if meant else ("did you mean" not in message), message
    status, headers, body = sent_as_written(server, "HEAD", "/API/health")
    assert status == 404 and body == b"" and headers["content-type"] == "application/json"


def test_the_guards_see_the_canonical_path(empty_server: Server) -> None:
    """A question sent to ``//api/ask`` from a page not allowed to ask is refused like one to ``/api/ask``."""
    for path in ("/api/ask", "//api/ask", "/api//ask/"):
        status, _, payload = sent_as_written(
            empty_server, "POST", path, {"question": "What is omnichannel?"}, {"Origin": "https://evil.example"}
        )
        assert_error(status, payload, 403, "origin_not_allowed")


def test_wrong_method_405_says_which_to_use(server: Server) -> None:
    status, headers, payload = request(server.url + "/api/ask")
    assert_error(status, payload, 405, "method_not_allowed")
    assert headers["allow"] == "POST"


def test_reads_answer_head_as_monitors_send_it(server: Server) -> None:
    """HEAD /api/health (``curl -I``, a load balancer's check) was a 404 from the chat's mount."""
    for path in ("/api/health", "/api/sources", "/api/sources/002_8f573ef52dea0fed.txt"):
        status, headers, body = request(server.url + path, "HEAD")
        _, get_headers, got = request(server.url + path)
        assert status == 200 and body == "", path
        assert headers["content-type"] == get_headers["content-type"] == "application/json", path
        compact = json.dumps(got, ensure_ascii=False, separators=(",", ":")).encode()
        assert int(headers["content-length"]) == len(compact), path
    status, _, body = request(server.url + "/api/sources/no_such_article.txt", "HEAD")
    assert status == 404 and body == ""


def test_other_methods_get_the_error_shape_and_what_to_use(server: Server) -> None:
    """OPTIONS without a CORS preflight's headers got FastAPI's own {"detail": "Not Found"}."""
    status, headers, payload = request(server.url + "/api/ask", "OPTIONS")
    assert_error(status, payload, 405, "method_not_allowed")
    assert headers["allow"] == "POST"
    status, headers, payload = request(server.url + "/api/health", "POST", {})
    assert_error(status, payload, 405, "method_not_allowed")
    assert headers["allow"] == "GET, HEAD"


def test_body_that_is_not_json_typed(server: Server) -> None:
    raw = json.dumps({"question": "What is omnichannel?"}).encode()
    status, _, payload = request(server.url + "/api/ask", "POST", raw=raw, headers={"Content-Type": "text/plain"})
    assert_error(status, payload, (400, 422))
    assert "application/json" in payload["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/ask", {"question": "What is omnichannel?"}),
        ("GET", "/api/health", None),
        ("GET", "/api/sources", None),
        ("GET", "/api/examples", None),
    ],
)
def test_no_index_is_503_with_what_to_do(
    empty_server: Server, empty_data_dir: Path, method: str, path: str, body: Any
) -> None:
    status, _, payload = request(empty_server.url + path, method, body)
    assert_error(status, payload, 503, "index_missing")
    assert "run `python ingest.py`" in payload["error"]["message"]
    # Where the index was looked for is the operator's to know (the log says it), not a client's.
    assert str(empty_data_dir.parent) not in payload["error"]["message"], payload
    assert f"No index yet in the data dir {empty_data_dir}" in empty_server.log()


# -- the API and the CLI agree ----------------------------------------------------
def _without_timings(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def _cli_answer(data_dir: Path, question: str, history: list[dict[str, str]]) -> dict[str, Any]:
    argv = ["--data-dir", str(data_dir), "ask", "--json", question]
    if history:
        argv += ["--history", json.dumps(history)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(argv) == 0
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def test_api_and_cli_agree_on_the_dev_questions(
    server: Server,
    seeded_settings: Settings,
    kb: KnowledgeBase,
    devset: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``kb ask --json`` runs in-process; it reuses one loaded index instead of reloading it per question."""

    def loaded(settings: Settings) -> KnowledgeBase:
        assert settings.data_dir == seeded_settings.data_dir
        return kb

    monkeypatch.setattr(cli, "_kb", loaded)
    assert len(devset) >= 20
    for item in devset:
        history = [{"role": "user", "content": h} for h in item["history"]]
        body: dict[str, Any] = {"question": item["question"]}
        if history:
            body["history"] = history
        status, _, from_api = ask(server, body)
        assert status == 200, from_api
        from_cli = _cli_answer(seeded_settings.data_dir, item["question"], history)
        assert set(from_api["timings_ms"]) >= {"retrieve", "answer", "total"}
        assert _without_timings(from_api) == _without_timings(from_cli), item["id"]


def test_a_first_question_too_short_to_tell_its_language_is_answered_in_the_browser_s(server: Server) -> None:
    """ "Worten?" names a shop and says nothing of a language: the reader's
    Accept-Language decides (it was whatever the detector guessed, German)."""
    for header, expected in (("es-ES,es;q=0.9,en;q=0.8", "es"), ("ro-RO,ro;q=0.9", "ro"), ("pt-BR", "pt")):
        status, _, body = request(
            server.url + "/api/ask", "POST", {"question": "Worten?"}, headers={"Accept-Language": header}
        )
        assert status == 200 and body["language"] == expected, (header, body["language"])
    # A question that tells its own language keeps it, and the `language` field still overrides.
    status, _, body = request(
        server.url + "/api/ask", "POST", {"question": "What is omnichannel?"}, headers={"Accept-Language": "ro"}
    )
    assert body["language"] == "en"
    status, _, body = request(
        server.url + "/api/ask", "POST", {"question": "Worten?", "language": "it"}, headers={"Accept-Language": "ro"}
    )
    assert body["language"] == "it"
