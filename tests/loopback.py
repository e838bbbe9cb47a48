"""Servers the tests start on 127.0.0.1, each on a thread of its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import BaseServer
from typing import TypeVar

ServerType = TypeVar("ServerType", bound=BaseServer)


@contextmanager
def serving(server: ServerType) -> Iterator[ServerType]:
    """``server`` answering on a thread until the block ends; then it is stopped and closed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
