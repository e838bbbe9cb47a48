"""Concurrency: one server under 32 concurrent clients, and the shared parts it relies on.

The load test is bounded (at most ``LOAD_SECONDS`` and ``MAX_REQUESTS``) and
talks to a real ``python app.py serve`` on loopback only. Every answer under
load must be the answer the same question gets alone: shared state that is
not safe (an embedder's scratch buffer, an index being rebuilt) shows up as a
different answer, not as an error.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from kb.index.embed import Embedder, get_embedder
from kb.search.lexical import BM25
from kb.settings import Settings
from tests.browser import Server, request, running_server
from tests.conftest import SEEDS

pytestmark = [pytest.mark.slow, pytest.mark.server]

CLIENTS = 32
LOAD_SECONDS = 20.0
MAX_REQUESTS = 320  # 10 per client; whichever bound comes first ends the run


@pytest.fixture(scope="module")
def server(seeded_settings: Settings) -> Iterator[Server]:
    with running_server(seeded_settings.data_dir, env={"KB_RATE_LIMIT": "0"}) as srv:
        yield srv


def body_of(item: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"question": item["question"]}
    if item.get("history"):
        body["history"] = [{"role": "user", "content": h} for h in item["history"]]
    return body


def without_timings(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def test_32_clients_get_the_answers_each_question_gets_alone(server: Server, devset: list[dict[str, Any]]) -> None:
    items = devset
    assert len({i["lang"] for i in items}) >= 5
    alone = []
    for item in items:
        status, _, answer = request(server.url + "/api/ask", "POST", body_of(item))
        assert status == 200, answer
        alone.append(without_timings(answer))

    deadline = time.monotonic() + LOAD_SECONDS
    issued = iter(range(MAX_REQUESTS))
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    different: list[tuple[str, Any]] = []
    per_client: Counter[int] = Counter()

    def client(number: int) -> None:
        while time.monotonic() < deadline:
            with lock:
                n = next(issued, None)
            if n is None:
                return
            k = (n * 7 + number) % len(items)
            status, _, answer = request(server.url + "/api/ask", "POST", body_of(items[k]), timeout=120)
            with lock:
                statuses[status] += 1
                per_client[number] += 1
                if status != 200 or without_timings(answer) != alone[k]:
                    different.append((items[k]["id"], answer if status != 200 else without_timings(answer)))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + 180)
    assert not any(thread.is_alive() for thread in threads)

    total = sum(statuses.values())
    assert not [s for s in statuses if s >= 500], f"{statuses}\n{server.log()[-3000:]}"
    assert statuses == Counter({200: total}), statuses
    # Every client got answers: the 32 were in flight at once, not one after another.
    assert len(per_client) == CLIENTS and total >= 2 * CLIENTS, per_client
    assert not different, different[:2]


# -- the shared parts, directly --------------------------------------------------------
TEXTS = [
    f"{lead} {n}"
    for n in range(4)
    for lead in (
        "How does omnichannel differ from multichannel? Case",
        "¿Qué es una estrategia multicanal? Caso",
        "Ce este marketingul omnichannel? Cazul",
        "ما هو الفرق بين التسويق متعدد القنوات والتسويق الشامل؟ حالة",
    )
]


def concurrently(work: Any, items: list[Any], workers: int = 8) -> list[Any]:
    start = threading.Barrier(workers)

    def run(chunk: list[Any]) -> list[Any]:
        start.wait()
        return [work(item) for item in chunk]

    chunks = [items[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(run, chunks))
    merged: list[Any] = [None] * len(items)
    for i, chunk in enumerate(results):
        merged[i::workers] = chunk
    return merged


def test_the_embedder_gives_the_same_vectors_from_many_threads() -> None:
    embedder = get_embedder(Settings())
    alone = [embedder.encode([t], is_query=True)[0] for t in TEXTS]
    sparse_alone = embedder.sparse(TEXTS)
    assert sparse_alone is not None

    def both(text: str) -> tuple[np.ndarray, Any]:
        sparse = embedder.sparse([text])
        return embedder.encode([text], is_query=True)[0], sparse[0] if sparse else None

    together = concurrently(both, TEXTS)
    for text, a, s, (vector, sparse) in zip(TEXTS, alone, sparse_alone, together, strict=True):
        assert np.array_equal(vector, a), text
        assert np.array_equal(sparse[0], s[0]) and np.array_equal(sparse[1], s[1]), text


class SharedScratch(Embedder):
    """A backend that is NOT thread-safe: one scratch buffer, written then read back."""

    name = "shared-scratch"
    batch_size = 1

    def __init__(self) -> None:
        super().__init__()
        self._scratch = np.zeros((1, 4), dtype=np.float32)

    @property
    def dimension(self) -> int:
        return 4

    def _embed(self, texts: Any, is_query: bool) -> np.ndarray:
        self._scratch[0] = [len(texts[0]), sum(map(ord, texts[0])) % 97, 1.0, 2.0]
        time.sleep(0.002)  # another thread writes the buffer meanwhile, unless calls are guarded
        return self._scratch.copy()


def test_the_embedder_guards_a_backend_that_is_not_thread_safe() -> None:
    embedder = SharedScratch()
    alone = [embedder.encode([t])[0] for t in TEXTS]
    together = concurrently(lambda t: embedder.encode([t])[0], TEXTS)
    assert all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))


def test_the_lexical_index_is_safe_to_share() -> None:
    texts = [p for path in sorted(SEEDS.iterdir()) for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    index = BM25(texts)
    alone = [index.top(t, 10) for t in TEXTS]
    assert any(alone)
    assert concurrently(lambda t: index.top(t, 10), TEXTS) == alone
