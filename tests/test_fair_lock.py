"""``kb.index.fair``: the embedder's lock serves waiting clients in turns, and the rate limit
counts a long question by its length (``kb.web.guard.question_cost``)."""

from __future__ import annotations

import threading

from kb.index.fair import FairLock, serving
from kb.web.guard import QUESTION_CHARS_PER_COUNT, RateLimiter, question_cost


def _wait_for_waiters(lock: FairLock, count: int) -> None:
    for _ in range(10_000):
        if lock.waiting() == count:
            return
        threading.Event().wait(0.001)
    raise AssertionError(f"{lock.waiting()} waiting, not {count}")


def test_a_new_client_is_served_before_a_waiting_flood() -> None:
    lock = FairLock()
    served: list[str] = []
    threads: list[threading.Thread] = []

    def work(client: str) -> None:
        with serving(client), lock:
            served.append(client)

    with serving("flood"):
        lock.acquire()  # the flood's first question holds the embedder
    for waiting, client in enumerate(["flood", "flood", "flood", "other", "flood"], start=1):
        thread = threading.Thread(target=work, args=(client,))
        thread.start()
        threads.append(thread)
        _wait_for_waiters(lock, waiting)  # arrivals in this order
    lock.release()
    for thread in threads:
        thread.join(10)
    # The other client, come fourth, is served first: the flood had the last turn.
    assert served == ["other", "flood", "flood", "flood", "flood"]


def test_clients_take_turns_and_each_keeps_its_order() -> None:
    lock = FairLock()
    served: list[str] = []
    threads: list[threading.Thread] = []

    def work(name: str) -> None:
        with serving(name[0]), lock:
            served.append(name)

    with serving("z"):
        lock.acquire()
    for waiting, name in enumerate(["a1", "a2", "a3", "b1", "b2", "c1"], start=1):
        thread = threading.Thread(target=work, args=(name,))
        thread.start()
        threads.append(thread)
        _wait_for_waiters(lock, waiting)
    lock.release()
    for thread in threads:
        thread.join(10)
    assert served == ["a1", "b1", "c1", "a2", "b2", "a3"]


def test_a_long_question_counts_once_per_500_characters() -> None:
    assert QUESTION_CHARS_PER_COUNT == 500
    assert [question_cost("x" * n) for n in (1, 500, 501, 2000)] == [1, 1, 2, 4]
    now = [1000.0]
    limiter = RateLimiter(10, 60, clock=lambda: now[0])
    for _ in range(2):  # two 2,000-character questions: 8 of the 10
        assert limiter.hit("a", question_cost("x" * 2000)) == (True, 0)
        now[0] += 10
    assert limiter.hit("a", 4) == (True, 0)  # room for one more: it may go past the limit (12)
    allowed, retry = limiter.hit("a")  # at 1020: below 10 once the first question's hits leave
    assert not allowed and retry == 40
    assert limiter.hit("b") == (True, 0)  # a question counted once by the middleware,
    limiter.charge("b", 3)  # then for its length, once read
    now[0] += 0.5
    for _ in range(6):
        assert limiter.hit("b")[0]
    assert not limiter.hit("b")[0]  # 1 + 3 + 6 = 10
