"""Giving the memory of a released index back to the operating system.

CPython frees a dropped generation's index (its arrays, dicts and strings), but
glibc's malloc keeps the freed pages for the process's next allocations: a server
that re-ingests grew by about the size of an index each time (0.95 → 1.95 GB over
8 re-ingests of a 5,508-passage blog), though nothing held the old indexes.
glibc's ``malloc_trim(0)`` returns them. Other C libraries (macOS's, musl) have
no such call: there ``trim`` does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from functools import cache
from typing import Any

log = logging.getLogger(__name__)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up once; None where the C library has none."""
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded into the process: its C library's among them
    except (OSError, TypeError):  # Windows takes no None here
        return None
    function = getattr(libc, "malloc_trim", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


def resident_bytes() -> int | None:
    """The process's resident memory, where ``/proc`` tells it (Linux); None elsewhere."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def trim() -> bool:
    """Give the memory malloc holds free back to the operating system (all of it:
    ``malloc_trim(0)`` keeps no padding). Whether any was given back; False where
    the C library has no ``malloc_trim``. About 50-80 ms after a 5,500-passage index."""
    function = _malloc_trim()
    if function is None:
        log.debug("no malloc_trim in this C library: freed memory stays with the process")
        return False
    before = resident_bytes()
    started = time.perf_counter()
    released = bool(function(0))
    spent = (time.perf_counter() - started) * 1000
    after = resident_bytes()
    log.debug(
        "malloc_trim(0) %s in %.0f ms%s",
        "gave memory back" if released else "found nothing to give back",
        spent,
        "" if before is None or after is None else f": resident {before / 2**20:.0f} → {after / 2**20:.0f} MB",
    )
    return released


def trim_once_released(released: weakref.ref[Any], what: str) -> None:
    """``trim`` once the object ``released`` refers to is gone: now, if nothing
    holds it any more; otherwise as soon as its last holder (a question answered
    from the old generation) lets go of it, on a thread of its own, so that the
    trim's time is not that question's. The caller keeps no strong reference."""
    held = released()
    if held is None:
        trim()
        return
    log.debug("%s still in use: its memory goes back to the system when released", what)
    # Not at the interpreter's exit: a process that ends gives everything back anyway.
    weakref.finalize(held, _trim_in_background, what).atexit = False


def _trim_in_background(what: str) -> None:
    log.debug("%s released", what)
    try:
        # ``trim`` looked up when called: a test replaces it with a recorder.
        threading.Thread(target=lambda: trim(), name="kb-memory-trim", daemon=True).start()
    except RuntimeError:  # released as the interpreter shuts down: no new thread, and no need
        pass
