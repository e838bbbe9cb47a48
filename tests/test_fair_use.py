"""Fair use of the CPU: one address's long questions do not hold up another's short one.

A real server on loopback; the clients connect from two loopback addresses
(127.0.0.2 and 127.0.0.3, both this machine), which the server tells apart by
the connection's source address. What is checked is order, not seconds: the
short question is answered while most of the flood is still waiting.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kb.settings import Settings
from tests.browser import Server, running_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

FLOOD = "127.0.0.3"
OTHER = "127.0.0.2"
# 2,000 characters (the longest question), Chinese: about 2,000 tokens, cut to the model's 512.
LONG = ("请问全渠道零售如何整合线上线下库存并提升客户体验？" * 80)[:2000]
SHORT = "What is omnichannel?"
WAITING_PER_CLIENT = 4  # kb.web.guard.MAX_WAITING_PER_CLIENT


def ask(server: Server, question: str, source: str, timeout: float = 300) -> tuple[int, dict[str, str], Any]:
    """One ``POST /api/ask`` on its own connection from loopback address ``source``."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout, source_address=(source, 0))
    try:
        body = json.dumps({"question": question})
        connection.request("POST", "/api/ask", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def server(seeded_settings: Settings) -> Iterator[Server]:
    with running_server(seeded_settings.data_dir) as srv:  # the default rate limit
        yield srv


def test_a_short_question_is_answered_before_another_addresss_queued_long_ones(server: Server) -> None:
    status, _, _ = ask(server, SHORT, OTHER)  # warm: the index is loaded
    assert status == 200
    done: list[str] = []  # who was answered, in order
    statuses: list[int] = []
    refused: list[dict[str, Any]] = []
    lock = threading.Lock()
    first_long_done = threading.Event()

    def long_question() -> None:
        status, headers, body = ask(server, LONG, FLOOD)
        with lock:
            statuses.append(status)
            if status == 200:
                done.append("long")
                first_long_done.set()
            else:
                refused.append({"status": status, "retry_after": headers.get("retry-after"), **body})

    # One more than the address may have under way: one of them is refused at once, before it
    # costs any work (none is answered before all have arrived: each takes seconds).
    flood = [threading.Thread(target=long_question) for _ in range(WAITING_PER_CLIENT + 1)]
    for thread in flood:
        thread.start()
    try:
        assert first_long_done.wait(300)
        with lock:
            waiting = WAITING_PER_CLIENT - len(done)  # still waiting or being answered
        status, _, answer = ask(server, SHORT, OTHER)
        with lock:
            done.append("short")
            still_waiting = WAITING_PER_CLIENT - done.count("long")
    finally:
        for thread in flood:
            thread.join(300)
    assert status == 200, answer
    assert sorted(statuses) == [200] * WAITING_PER_CLIENT + [429], refused
    assert refused[0]["error"]["code"] == "rate_limited"
    assert int(refused[0]["retry_after"]) >= 1
    # Sent while three long questions of the other address were waiting or being answered,
    # the short one waits for the one being embedded, not for the others.
    assert waiting == 3, done
    assert still_waiting >= 2, done
