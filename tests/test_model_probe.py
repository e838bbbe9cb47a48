"""``/api/health`` says whether the model server can answer: a real probe of
the scripted OpenAI-compatible server on loopback (``GET /v1/models``)."""

from __future__ import annotations

import json
import socket

import pytest

from kb.llm import probe as model_probe
from kb.llm.probe import ModelServerProbe
from kb.service import KnowledgeBase
from kb.settings import Settings
from tests.fake_openai import MODEL, FakeOpenAI

pytestmark = [pytest.mark.server, pytest.mark.usefixtures("fresh_fake")]


def _settings(fake: FakeOpenAI, **changes: object) -> Settings:
    return Settings().replace(**{"llm_base_url": fake.base_url, "llm_model": MODEL, "llm_timeout": 5.0, **changes})


def test_a_server_that_has_the_model_is_ok(fake: FakeOpenAI) -> None:
    assert ModelServerProbe(_settings(fake)).status().to_dict() == {"status": "ok", "model": MODEL}


def test_ollama_s_latest_tag_is_the_same_model(fake: FakeOpenAI) -> None:
    fake.state.models = ["llama3:latest", "qwen2:7b"]
    assert ModelServerProbe(_settings(fake, llm_model="llama3")).status().state == "ok"


def test_a_model_the_server_does_not_have_is_named_with_those_it_has(fake: FakeOpenAI) -> None:
    fake.state.models = ["llama3:latest", "qwen2:7b"]
    status = ModelServerProbe(_settings(fake, llm_model="gpt-4o")).status()
    assert status.state == "model_missing"
    assert status.detail == "the server has llama3:latest, qwen2:7b: check KB_LLM_MODEL"


def test_a_refused_key_is_unauthorized_and_the_configured_key_is_sent(fake: FakeOpenAI) -> None:
    fake.state.api_key = "sk-right"
    wrong = ModelServerProbe(_settings(fake, llm_api_key="sk-wrong")).status()
    assert (wrong.state, wrong.detail) == ("unauthorized", "HTTP 401: check KB_LLM_API_KEY")
    assert ModelServerProbe(_settings(fake, llm_api_key="sk-right")).status().state == "ok"


def test_a_server_that_is_down_is_unreachable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings().replace(llm_base_url=f"http://127.0.0.1:{port}/v1", llm_model=MODEL, llm_timeout=5.0)
    status = ModelServerProbe(settings).status()
    assert status.state == "unreachable" and "ConnectError" in status.detail


def test_a_server_without_a_model_list_is_unknown(fake: FakeOpenAI) -> None:
    status = ModelServerProbe(_settings(fake, llm_base_url=fake.base_url + "/elsewhere")).status()
    assert status.state == "unknown" and status.detail.startswith("HTTP 404 from ")


def test_health_checks_reuse_a_recent_probe(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    """A load balancer polling /api/health must not become a load on the model server."""
    probe = ModelServerProbe(_settings(fake))
    for _ in range(5):
        probe.status()
    assert fake.state.model_lists == 1
    monkeypatch.setattr(model_probe, "PROBE_SECONDS", 0.0)
    probe.status()
    assert fake.state.model_lists == 2


def test_health_reports_how_answers_are_made(seeded_settings: Settings, fake: FakeOpenAI) -> None:
    plain = KnowledgeBase(seeded_settings).health()
    assert plain["answers"] == "extractive" and "model_server" not in plain
    fake.state.models = ["another-model"]
    generative = KnowledgeBase(seeded_settings.replace(llm_base_url=fake.base_url, llm_model=MODEL)).health()
    assert generative["status"] == "ok", "questions are still answered, with quotes"
    assert generative["answers"] == "generative"
    assert generative["model_server"]["status"] == "model_missing"


def test_kb_health_says_the_same_and_exits_6_when_the_model_server_cannot_answer(
    seeded_settings: Settings, fake: FakeOpenAI
) -> None:
    from tests.test_cli import kb

    data = seeded_settings.data_dir
    plain = kb("health", "--json", data_dir=data)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout) == KnowledgeBase(seeded_settings).health()
    env = {"KB_LLM_BASE_URL": fake.base_url, "KB_LLM_MODEL": MODEL}
    ready = kb("health", data_dir=data, env=env)
    assert ready.returncode == 0, ready.stderr
    assert "answers: generative" in ready.stdout and f"model server: ok (model {MODEL})" in ready.stdout
    fake.state.models = ["another-model"]
    missing = kb("health", data_dir=data, env=env)
    assert missing.returncode == 6
    assert "model server: model_missing (model fake-model): the server has another-model" in missing.stdout
    assert kb("health", data_dir=data.parent / "nothing-here").returncode == 3
    # A script reading JSON gets the API's error object (it got nothing to parse).
    no_index = kb("health", "--json", data_dir=data.parent / "nothing-here")
    assert no_index.returncode == 3 and "No index yet" in no_index.stderr
    assert json.loads(no_index.stdout)["error"]["code"] == "index_missing"
