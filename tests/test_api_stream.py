"""``POST /api/ask/stream`` over real HTTP: ``python app.py serve`` configured by
``KB_LLM_*`` to use the scripted OpenAI-compatible server, both on loopback."""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from kb.i18n.lookup import message
from kb.settings import Settings
from tests.browser import Server, request, running_server
from tests.fake_openai import MODEL, FakeOpenAI, Reply, iter_sse

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.usefixtures("fresh_fake")]

QUESTION = "How does omnichannel differ from multichannel?"


def llm_env(fake: FakeOpenAI) -> dict[str, str]:
    return {
        "KB_LLM_BASE_URL": fake.base_url,
        "KB_LLM_MODEL": MODEL,
        "KB_LLM_TIMEOUT": "30",
        "KB_LLM_LANGUAGE_RETRY": "true",
    }


@pytest.fixture(scope="module")
def server(seeded_settings: Settings, fake: FakeOpenAI) -> Iterator[Server]:
    from kb.service import KnowledgeBase

    # The support check's calibration, kept with the index as an ingest with a model configured
    # keeps it: the server's first question does not wait for it (a minute on a loaded machine).
    KnowledgeBase(seeded_settings.replace(llm_base_url=fake.base_url, llm_model=MODEL)).warm_up()
    with running_server(seeded_settings.data_dir, env=llm_env(fake)) as srv:
        yield srv


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("no-index") / "kb", env=llm_env(fake)) as srv:
        yield srv


def stream(
    server: Server, body: Any, raw: bytes | None = None, on_token: Callable[[], None] | None = None
) -> tuple[int, str, list[tuple[str, Any, float]]]:
    """POST to /api/ask/stream: status, content type, and (event, data, seconds since sent) as they
    arrive; ``on_token()`` is called when a token event has arrived."""
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    payload = raw if raw is not None else json.dumps(body).encode()
    started = time.perf_counter()
    conn.request("POST", "/api/ask/stream", body=payload, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    ctype = resp.getheader("Content-Type", "")
    if not ctype.startswith("text/event-stream"):
        data = json.loads(resp.read())
        conn.close()
        return resp.status, ctype, [("json", data, time.perf_counter() - started)]
    events: list[tuple[str, Any, float]] = []

    def lines() -> Iterator[str]:
        while True:
            line = resp.readline()
            if not line:
                return
            yield line.decode("utf-8").rstrip("\r\n")

    for event, data in iter_sse(lines()):
        events.append((event, json.loads(data), time.perf_counter() - started))
        if event == "token" and on_token is not None:
            on_token()
    conn.close()
    return resp.status, ctype, events


def assert_contract(data: dict[str, Any]) -> None:
    ids = [c["id"] for c in data["citations"]]
    assert ids == list(range(1, len(ids) + 1))
    assert {int(m) for m in re.findall(r"\[(\d+)\]", data["answer"])} == set(ids)
    assert set(data["timings_ms"]) >= {"retrieve", "answer", "total"}
    assert data["answered"] == bool(data["citations"])


def test_health_says_answers_are_generated_and_the_model_server_has_the_model(server: Server) -> None:
    status, _, body = request(server.url + "/api/health")
    assert status == 200
    assert body["answers"] == "generative"
    assert body["model_server"] == {"status": "ok", "model": MODEL}


def test_tokens_stream_then_the_answer(server: Server, fake: FakeOpenAI) -> None:
    # The fake holds its reply after the first word until a token has reached this client:
    # only a really streamed answer gets that far (a buffered one would wait for the whole reply).
    fake.script(Reply("Omnichannel integrates all channels [2], multichannel keeps them apart [1].", hold_after=1))
    status, ctype, events = stream(server, {"question": QUESTION}, on_token=fake.release)
    assert status == 200 and ctype.startswith("text/event-stream")
    kinds = [e for e, _, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"token"} and len(kinds) > 5
    answer = events[-1][1]
    assert_contract(answer)
    assert answer["mode"] == "generative" and answer["fallback"] is False
    assert answer["answer"] == "Omnichannel integrates all channels [1], multichannel keeps them apart [2]."
    assert "".join(d["text"] for e, d, _ in events if e == "token") == answer["answer"]
    # Really streamed: the first token arrived while the rest of the reply was held back.
    exchange = fake.exchanges[0].settled()
    assert exchange.released and not exchange.hung_up


def test_the_plain_endpoint_answers_generatively_too(server: Server, fake: FakeOpenAI) -> None:
    fake.script(Reply("Integration is the difference [1]."))
    status, _, data = request(server.url + "/api/ask", "POST", {"question": QUESTION})
    assert status == 200
    assert_contract(data)
    assert data["mode"] == "generative" and data["answer"] == "Integration is the difference [1]."


def test_a_failing_model_gives_the_extractive_answer_with_a_notice(server: Server, fake: FakeOpenAI) -> None:
    fake.script(Reply("La integración es la clave [1] y", drop_after=3))
    status, _, events = stream(server, {"question": "¿En qué se diferencian una tienda omnicanal y una multicanal?"})
    assert status == 200
    event, answer, _ = events[-1]
    assert event == "answer"
    assert_contract(answer)
    assert answer["fallback"] is True and answer["mode"] == "extractive"
    assert answer["notice"] == message("fallback_notice", "es")
    streamed = "".join(d["text"] for e, d, _ in events if e == "token")
    assert streamed.startswith("La integración") and streamed.endswith("\n\n" + answer["answer"])
    # The replacing text says so: what streamed before it was provisional.
    tokens = [d for e, d, _ in events if e == "token"]
    assert tokens[-1] == {"text": "\n\n" + answer["answer"], "replaces": True}
    assert not any(d.get("replaces") for d in tokens[:-1])


def test_a_second_try_in_the_question_s_language_replaces_the_first_as_a_correction(
    server: Server, fake: FakeOpenAI
) -> None:
    spanish = "La gran diferencia es la integración de todos los canales de la empresa [1]."
    fake.script(Reply(spanish + " Los canales están separados [2]." * 30, delay=0.02))
    fake.script(Reply("Integration is the difference [1]."))
    status, _, events = stream(server, {"question": QUESTION})
    assert status == 200
    event, answer, _ = events[-1]
    assert event == "answer"
    assert_contract(answer)
    assert answer["mode"] == "generative" and answer["fallback"] is False and "notice" not in answer
    assert answer["answer"] == "Integration is the difference [1]."
    # The Spanish start streamed as provisional text; the second reply's first token replaces it.
    tokens = [d for e, d, _ in events if e == "token"]
    at = [i for i, d in enumerate(tokens) if d.get("replaces")]
    assert len(at) == 1 and at[0] > 0
    assert "".join(d["text"] for d in tokens[: at[0]]).startswith("La gran diferencia")
    assert "".join(d["text"] for d in tokens[at[0] :]) == "\n\n" + answer["answer"]
    first, second = (c.settled() for c in fake.exchanges)
    assert first.hung_up and not second.hung_up
    assert second.content("user").endswith("Answer only in English.")


def test_the_not_covered_reply(server: Server, fake: FakeOpenAI) -> None:
    fake.script(Reply("NOT_COVERED"))
    _, _, events = stream(server, {"question": QUESTION, "language": "fr"})
    answer = events[-1][1]
    assert answer["answered"] is False and answer["citations"] == [] and answer["language"] == "fr"
    assert [d["text"] for e, d, _ in events if e == "token"] == [message("not_covered", "fr")]


@pytest.mark.parametrize(
    ("body", "raw", "status", "code"),
    [
        ({"question": "   "}, None, 422, "invalid_request"),
        ({"question": "ok?", "top_k": 99}, None, 422, "invalid_request"),
        ({"history": []}, None, 422, "invalid_request"),
        (None, b"{not json", 400, "malformed_json"),
    ],
)
def test_bad_requests_are_refused_like_the_plain_endpoint(
    server: Server, fake: FakeOpenAI, body: Any, raw: bytes | None, status: int, code: str
) -> None:
    got, ctype, events = stream(server, body, raw)
    assert got == status and ctype.startswith("application/json")
    assert events[0][1]["error"]["code"] == code and events[0][1]["error"]["message"]
    plain, _, same = request(server.url + "/api/ask", "POST", body, raw=raw)
    assert plain == status and same["error"]["code"] == code
    assert fake.exchanges == []


def test_no_index_is_a_503_before_any_event(empty_server: Server, fake: FakeOpenAI) -> None:
    status, ctype, events = stream(empty_server, {"question": QUESTION})
    assert status == 503 and ctype.startswith("application/json")
    error = events[0][1]
    assert set(error) == {"error"} and error["error"]["code"] == "index_missing"
    assert "ingest" in error["error"]["message"]
    assert fake.exchanges == []
