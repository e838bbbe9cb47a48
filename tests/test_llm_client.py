"""The model client as the locked LangChain and OpenAI releases build it.

A timeout of another HTTP library's type is refused by some client releases
(the OpenAI client moved to ``httpx2``), so the client is built here for real
and made to answer over a real socket.
"""

from __future__ import annotations

from typing import Any

import pytest

from kb.llm.client import build_chat_model, timeouts
from kb.settings import Settings
from tests.fake_openai import MODEL, FakeOpenAI, Reply

pytestmark = [pytest.mark.server, pytest.mark.usefixtures("fresh_fake")]


def _settings(fake: FakeOpenAI) -> Settings:
    return Settings(llm_base_url=fake.base_url, llm_model=MODEL, llm_timeout=7.0, llm_connect_timeout=2.0)


@pytest.mark.parametrize("streaming", [False, True])
def test_the_real_client_is_built_with_the_configured_timeouts_and_answers(fake: FakeOpenAI, streaming: bool) -> None:
    settings = _settings(fake)
    model = build_chat_model(settings, streaming=streaming)
    limits = timeouts(settings)
    bound: Any = model.root_client.timeout
    assert (bound.connect, bound.read) == (limits.connect, limits.read)
    fake.script(Reply("Omnichannel connects every channel [1]."))
    if streaming:
        text = "".join(str(chunk.content) for chunk in model.stream("What is omnichannel?"))
    else:
        text = str(model.invoke("What is omnichannel?").content)
    assert text == "Omnichannel connects every channel [1]."


def test_a_condensing_client_reads_with_its_own_shorter_bound(fake: FakeOpenAI) -> None:
    settings = _settings(fake)
    model = build_chat_model(settings, streaming=False, read_timeout=1.5)
    bound: Any = model.root_client.timeout
    assert (bound.connect, bound.read) == (timeouts(settings).connect, 1.5)


def test_a_read_timeout_that_ends_with_the_token_gap_is_told_as_the_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a loaded machine the client's own read timeout, as long as the first token's
    gap, fired an instant before the wait for that token ended: the answer's reason was
    "failed: OpenAITimeoutError" instead of "sent no first token" (CI, once)."""
    from kb.llm import client

    def silent_then_timed_out() -> Any:
        raise TimeoutError("Request timed out.")
        yield  # a generator, as a model's stream is

    # The error is in the queue at once; by this clock the wait has lasted the whole gap.
    ticks = iter(range(0, 1000, 10))
    monkeypatch.setattr(client.time, "monotonic", lambda: float(next(ticks)))
    with pytest.raises(client.LLMError, match="sent no first token within 5 s"):
        list(client.stream_with_deadline(silent_then_timed_out, 120.0, first=5.0, between=5.0))


def test_a_failure_before_the_token_gap_ends_is_told_as_a_failure() -> None:
    from kb.llm import client

    def failing() -> Any:
        raise ConnectionResetError("reset by peer")
        yield

    with pytest.raises(client.LLMError, match=r"failed: .*reset by peer"):
        list(client.stream_with_deadline(failing, 120.0, first=5.0, between=5.0))
