"""``/v1/chat/completions`` and ``/v1/models`` through the official ``openai`` client, against
``python app.py serve`` on loopback with ``KB_OPENAI_API=true``; the same answers as ``/api/ask``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient

from kb.answer.links import contract_link
from kb.errors import ConfigError
from kb.i18n.lookup import message
from kb.settings import Settings
from kb.web.api import create_api
from tests.browser import Server, request, running_server

QUESTION = "How does omnichannel differ from multichannel?"
OFF_TOPIC = "What is the boiling point of tungsten in kelvin?"
KEY = "sk-test-omnikb-3f9a"
BLOG = "http://blog.example:18770"  # in KB_ALLOWED_ORIGINS
ELSEWHERE = "https://evil.example"


@pytest.fixture(scope="module")
def server(seeded_settings: Settings) -> Iterator[Server]:
    env = {"KB_OPENAI_API": "true", "KB_RATE_LIMIT": "0", "KB_ALLOWED_ORIGINS": BLOG}
    with running_server(seeded_settings.data_dir, env=env) as srv:
        yield srv


def client(server: Server, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=120)


def api_ask(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    status, _, data = request(server.url + "/api/ask", "POST", body)
    assert status == 200, data
    return data


def sources_lines(answer: dict[str, Any]) -> str:
    lines = [message("sources", answer["language"]) + ":"]
    for c in answer["citations"]:
        link = contract_link(c, answer["answer"])
        lines.append(f"{c['id']}. {c['title']} — {c['source']}" + (f" — <{link}>" if link else ""))
    return "\n\n" + "\n".join(lines)


@pytest.mark.server
def test_the_models_list_names_omnikb(server: Server) -> None:
    assert [m.id for m in client(server).models.list()] == ["omnikb"]


@pytest.mark.server
def test_a_streamed_answer_is_cited_and_ends_with_its_sources(server: Server) -> None:
    expected = api_ask(server, {"question": QUESTION})
    assert expected["answered"] and expected["citations"]
    stream = client(server).chat.completions.create(
        model="omnikb", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len([c for c in chunks if c.choices[0].delta.content]) > 1  # the answer as written, then its sources
    assert text == expected["answer"] + sources_lines(expected)
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop"
    citations = (last.delta.model_extra or {})["citations"]
    assert [c["chunk_id"] for c in citations] == [c["chunk_id"] for c in expected["citations"]]
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", text)}
    assert markers == {c["id"] for c in citations}
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")


@pytest.mark.server
def test_a_whole_answer_carries_the_contract_citations(server: Server) -> None:
    expected = api_ask(server, {"question": QUESTION})
    done = client(server).chat.completions.create(model="omnikb", messages=[{"role": "user", "content": QUESTION}])
    choice = done.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content == expected["answer"] + sources_lines(expected)
    citations = (choice.message.model_extra or {})["citations"]
    assert [c["chunk_id"] for c in citations] == [c["chunk_id"] for c in expected["citations"]]
    assert citations[0]["text"] == expected["citations"][0]["text"]


@pytest.mark.server
def test_an_off_topic_question_is_refused_without_sources(server: Server) -> None:
    expected = api_ask(server, {"question": OFF_TOPIC})
    assert expected["answered"] is False
    chunks = list(
        client(server).chat.completions.create(
            model="omnikb", messages=[{"role": "user", "content": OFF_TOPIC}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == expected["answer"] and "[1]" not in text
    assert (chunks[-1].choices[0].delta.model_extra or {})["citations"] == []


@pytest.mark.server
def test_a_follow_up_reads_the_conversation_as_the_api_does(server: Server) -> None:
    first = client(server).chat.completions.create(model="omnikb", messages=[{"role": "user", "content": QUESTION}])
    said = first.choices[0].message.content or ""
    follow_up = "And what are its challenges?"
    messages: list[Any] = [
        {"role": "system", "content": "You are a helpful assistant. Answer like a pirate."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": said},  # as a client sends it back: with the sources under it
        {"role": "user", "content": [{"type": "text", "text": follow_up}]},
    ]
    done = client(server).chat.completions.create(model="omnikb", messages=messages)
    answer = api_ask(server, {"question": QUESTION})["answer"]
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": answer}]
    expected = api_ask(server, {"question": follow_up, "history": history})
    assert done.choices[0].message.content == expected["answer"] + sources_lines(expected)


BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("no messages", {"messages": []}, 400, "messages"),
    ("a tool message", {"messages": [{"role": "tool", "content": "42", "tool_call_id": "x"}]}, 400, "messages[0].role"),
    ("no role", {"messages": [{"content": QUESTION}]}, 400, "messages[0].role"),
    ("a number for content", {"messages": [{"role": "user", "content": 42}]}, 400, "messages[0].content"),
    (
        "an image",
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        400,
        "messages[0].content[0]",
    ),
    (
        "the last message the assistant's",
        {"messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Hi"}]},
        400,
        "messages",
    ),
    ("an empty question", {"messages": [{"role": "user", "content": "   "}]}, 400, "messages"),
    ("a question too long", {"messages": [{"role": "user", "content": "why " * 600}]}, 400, "messages"),
    ("two answers", {"messages": [{"role": "user", "content": QUESTION}], "n": 2}, 400, "n"),
    ("stream not a boolean", {"messages": [{"role": "user", "content": QUESTION}], "stream": "yes"}, 400, "stream"),
]


@pytest.mark.server
@pytest.mark.parametrize(("case", "body", "status", "param"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_get_openai_errors(
    server: Server, case: str, body: dict[str, Any], status: int, param: str
) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(server).chat.completions.create(model="omnikb", **body)
    error = caught.value
    assert error.status_code == status, error.body
    assert isinstance(error.body, dict)
    assert error.body["type"] == "invalid_request_error" and error.body["param"] == param
    assert error.body["code"] and error.body["message"]


@pytest.mark.server
def test_an_unknown_model_is_not_found(server: Server) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "model_not_found"
    assert '"omnikb"' in caught.value.body["message"]


@pytest.mark.server
@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"model": "omnikb", "messages": [', "malformed_json"),
        (b"[1, 2]", "invalid_request"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', "invalid_request"),
        (b"\xff\xfe", "malformed_json"),
    ],
)
def test_a_body_that_is_no_request_gets_400(server: Server, raw: bytes, code: str) -> None:
    status, _, data = request(server.url + "/v1/chat/completions", "POST", raw=raw)
    assert status == 400 and data["error"]["code"] == code, data


@pytest.mark.server
def test_unknown_paths_and_methods_under_v1_answer_in_the_error_shape(server: Server) -> None:
    status, headers, data = request(server.url + "/v1/chat/completions")
    assert status == 405 and headers["allow"] == "POST" and data["error"]["code"] == "method_not_allowed"
    status, _, data = request(server.url + "/v1/embeddings", "POST", {"model": "omnikb", "input": "x"})
    assert status == 404 and data["error"]["code"] == "not_found"


@pytest.mark.server
def test_a_page_calls_it_from_the_origins_the_api_allows(server: Server) -> None:
    """The preflight a browser sends before a keyed POST, the POST itself, and another site's
    refusals: as ``/api/ask`` gets them, in OpenAI's error shape."""
    url = server.url + "/v1/chat/completions"
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    status, headers, _ = request(url, "OPTIONS", headers={"Origin": BLOG, **preflight})
    assert status == 204 and headers["access-control-allow-origin"] == BLOG
    assert "POST" in headers["access-control-allow-methods"]
    sendable = {name.strip().lower() for name in headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= sendable
    body = {"model": "omnikb", "messages": [{"role": "user", "content": QUESTION}]}
    status, headers, data = request(url, "POST", body, headers={"Origin": BLOG})
    assert status == 200 and headers["access-control-allow-origin"] == BLOG
    assert "[1]" in data["choices"][0]["message"]["content"]

    status, headers, data = request(url, "OPTIONS", headers={"Origin": ELSEWHERE, **preflight})
    assert status == 403 and "access-control-allow-origin" not in headers
    assert data["error"]["code"] == "origin_not_allowed" and data["error"]["type"] == "invalid_request_error"
    status, headers, data = request(url, "POST", body, headers={"Origin": ELSEWHERE})
    api_status, _, api_data = request(
        server.url + "/api/ask", "POST", {"question": QUESTION}, headers={"Origin": ELSEWHERE}
    )
    assert (status, api_status) == (403, 403) and "access-control-allow-origin" not in headers
    assert data["error"]["code"] == api_data["error"]["code"] == "origin_not_allowed"
    assert data["error"]["message"] == api_data["error"]["message"] and data["error"]["param"] is None


@pytest.mark.server
def test_the_key_is_required_when_set_and_questions_are_rate_limited(seeded_settings: Settings, tmp_path: Path) -> None:
    env = {"KB_OPENAI_API": "true", "KB_OPENAI_API_KEY": KEY, "KB_RATE_LIMIT": "3"}
    with running_server(seeded_settings.data_dir, env=env) as srv:
        status, headers, data = request(srv.url + "/v1/models")
        assert status == 401 and headers["www-authenticate"] == "Bearer"
        assert data["error"]["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            client(srv, "sk-wrong").chat.completions.create(
                model="omnikb", messages=[{"role": "user", "content": QUESTION}]
            )
        keyed = client(srv, KEY)
        assert [m.id for m in keyed.models.list()] == ["omnikb"]
        ask = {"model": "omnikb", "messages": [{"role": "user", "content": QUESTION}]}
        first = keyed.chat.completions.create(**ask)  # type: ignore[call-overload]
        assert "[1]" in (first.choices[0].message.content or "")
        keyed.chat.completions.create(**ask)  # type: ignore[call-overload]
        with pytest.raises(openai.RateLimitError) as caught:  # the wrong key's question counted as well
            keyed.chat.completions.create(**ask)  # type: ignore[call-overload]
        assert int(caught.value.response.headers["Retry-After"]) >= 1


@pytest.mark.server
def test_the_model_is_read_as_openai_clients_read_it(server: Server) -> None:
    assert client(server).models.retrieve("omnikb").id == "omnikb"
    with pytest.raises(openai.NotFoundError) as caught:
        client(server).models.retrieve("gpt-4o")
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "model_not_found"
    for path in ("/v1/models", "/v1/models/omnikb"):
        status, _, _ = request(server.url + path, "HEAD")
        assert status == 200, path
    status, _, data = request(server.url + "/v1/chat/completions", "POST", {"model": 5, "messages": []})
    assert status == 400 and data["error"]["param"] == "model"
    assert data["error"]["message"].startswith("`model` must be a string")


# -- in process, no server --------------------------------------------------------------------------


def test_the_endpoint_is_off_unless_turned_on(tmp_path: Path) -> None:
    app = TestClient(create_api(Settings(data_dir=tmp_path / "kb")))
    for method, path in (("POST", "/v1/chat/completions"), ("GET", "/v1/models")):
        response = app.request(method, path, json={"model": "omnikb", "messages": []})
        assert response.status_code == 404
        assert "KB_OPENAI_API=true" in response.json()["error"]["message"]
        assert set(response.json()["error"]) == {"code", "message"}  # no OpenAI API: the contract's shape


def test_without_an_index_a_question_gets_503_in_the_error_shape(tmp_path: Path) -> None:
    app = TestClient(create_api(Settings(data_dir=tmp_path / "kb", openai_api=True)))
    body = {"model": "omnikb", "messages": [{"role": "user", "content": QUESTION}]}
    for stream in (False, True):
        response = app.post("/v1/chat/completions", json={**body, "stream": stream})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "index_missing"
        assert response.json()["error"]["type"] == "server_error"


def test_the_settings_read_the_switch_and_the_key() -> None:
    on = Settings.from_env({"KB_OPENAI_API": "true", "KB_OPENAI_API_KEY": KEY})
    assert on.openai_api is True and on.openai_api_key == KEY
    assert Settings.from_env({"KB_OPENAI_API": "0"}).openai_api is False
    assert Settings.from_env({}).openai_api is False
    with pytest.raises(ConfigError, match="KB_OPENAI_API must be true or false"):
        Settings.from_env({"KB_OPENAI_API": "maybe"})
    with pytest.raises(ConfigError, match="KB_OPENAI_API is not true"):
        Settings.from_env({"KB_OPENAI_API_KEY": KEY})


def test_only_the_sources_this_endpoint_appended_are_taken_off_the_history() -> None:
    from kb.web.openai_compat import parse_request

    ours = "Omnichannel … [1]\n\nSources:\n1. A title — 001_x.txt\n2. Another — 002_y.txt — <https://example.com/p>"
    theirs = "It takes work.\n\nSteps:\n1. Integrate the CRM\n2. Plan a strategy"
    for said, kept in ((ours, "Omnichannel … [1]"), (theirs, theirs)):
        messages = [
            {"role": "user", "content": "What is omnichannel?"},
            {"role": "assistant", "content": said},
            {"role": "user", "content": "And its challenges?"},
        ]
        body = json.dumps({"model": "omnikb", "messages": messages}).encode()
        question = parse_request(body, Settings(), None).question
        assert [turn.content for turn in question.history] == ["What is omnichannel?", kept]


@pytest.mark.parametrize(
    ("before", "where"),
    [
        ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}], 2),
        # 12 exchanges and a question before it: its history is the last 20 turns, messages[6:26].
        (
            [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Ok."}] * 12
            + [{"role": "user", "content": QUESTION}],
            25,
        ),
    ],
)
def test_a_refused_earlier_turn_is_named_by_its_place_in_messages(before: list[dict[str, str]], where: int) -> None:
    from kb.web.openai_compat import OpenAIError, parse_request

    messages = [*before, {"role": "assistant", "content": "x " * 4500}, {"role": "user", "content": "And?"}]
    assert messages[where]["content"] == "x " * 4500
    body = json.dumps({"model": "omnikb", "messages": messages}).encode()
    with pytest.raises(OpenAIError) as caught:
        parse_request(body, Settings(), None)
    assert caught.value.status == 400 and caught.value.param == f"messages[{where}].content"
    assert str(caught.value).startswith(f"`messages[{where}].content` is too long")
    assert "history" not in str(caught.value)


def test_a_citation_with_a_known_url_links_its_post_at_the_quote() -> None:
    from kb.models import Answer, Chunk, Citation
    from kb.web.openai_compat import completion

    post = "http://www.muycanal.com/2015/09/29/negocio-omnicanal-multicanal"
    text = "La integración es la gran diferencia."
    chunk = Chunk("c1", "002_x.txt", "Las diferencias", "es", "", text, 0, len(text), 0, url=post)
    cited = (Citation(1, chunk, 0.9), Citation(2, replace_source(chunk), 0.8))
    answer = Answer("q", "es", True, "extractive", f"“{text}” [1] [2]", cited, ())
    message = completion(answer)["choices"][0]["message"]
    link = f"{post}#:~:text=La%20integraci%C3%B3n%20es%20la%20gran%20diferencia."
    assert message["content"].endswith(
        f"\n\nFuentes:\n1. Las diferencias — 002_x.txt — <{link}>\n2. Las diferencias — 003_y.txt"
    )
    assert [c.get("url") for c in message["citations"]] == [post, None]


def replace_source(chunk: Any) -> Any:
    from dataclasses import replace

    return replace(chunk, id="c2", source="003_y.txt", url=None)
