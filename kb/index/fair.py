"""Turns at the embedder, taken fairly between clients.

The embedder computes one batch at a time (``Embedder``'s lock), and a question's
embedding is most of its answer's work: a 2,000-character question takes about
60 times a short one's. With a plain lock, a client that sends many long questions
at once fills the line, and another client's short question waits behind all of
them.

``FairLock`` is that lock with a line per client: when it is free, it goes to the
waiting client that was served least recently (a client not served yet first), and
within one client, first come first served. So a short question from a new client
waits for at most the one embedding under way, whatever the flood before it.

Who the client is comes from ``current_client``, a context variable the front door
sets (``serving(address)``): the API's middleware and the chat's handler set the
client's address; work nobody set it for (the CLI, an ingest) is client ``""``.
Starlette and anyio copy the context into the threads they run a route in; work
handed to another thread pool must be submitted with ``contextvars.copy_context().run``.
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

current_client: contextvars.ContextVar[str] = contextvars.ContextVar("kb_client", default="")

# Clients whose last turn is remembered; the oldest are forgotten past this (a forgotten
# client counts as not served yet, which is the most a client could gain from it).
REMEMBERED_CLIENTS = 10_000


@contextmanager
def serving(client: str) -> Iterator[None]:
    """Count the work done inside as ``client``'s."""
    token = current_client.set(client)
    try:
        yield
    finally:
        current_client.reset(token)


class FairLock:
    """A non-reentrant lock whose waiters are served client by client, round robin."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._held = False
        self._waiting: list[tuple[int, str]] = []  # (arrival number, client), in arrival order
        self._arrivals = itertools.count()
        self._turns = itertools.count(1)
        self._last_turn: OrderedDict[str, int] = OrderedDict()  # client -> number of its latest turn

    def acquire(self) -> None:
        client = current_client.get()
        with self._condition:
            ticket = (next(self._arrivals), client)
            self._waiting.append(ticket)
            try:
                while self._held or self._next() != ticket:
                    self._condition.wait()
            except BaseException:  # interrupted while waiting: the others go on without it
                self._waiting.remove(ticket)
                self._condition.notify_all()
                raise
            self._waiting.remove(ticket)
            self._held = True
            self._last_turn[client] = next(self._turns)
            self._last_turn.move_to_end(client)
            if len(self._last_turn) > REMEMBERED_CLIENTS:
                self._last_turn.popitem(last=False)

    def release(self) -> None:
        with self._condition:
            if not self._held:
                raise RuntimeError("release of an unlocked FairLock")
            self._held = False
            self._condition.notify_all()

    def waiting(self) -> int:
        """How many acquirers are waiting (for tests and logs)."""
        with self._condition:
            return len(self._waiting)

    def _next(self) -> tuple[int, str]:
        """The ticket whose turn it is: its client's last turn is the oldest, then it came first."""
        return min(self._waiting, key=lambda ticket: (self._last_turn.get(ticket[1], 0), ticket[0]))

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
