"""The model server: a LangChain ``ChatOpenAI`` client built from ``Settings``,
calls bounded by deadlines, and the follow-up question condenser.

Any OpenAI-compatible server works (Ollama, vLLM, llama.cpp's server, …).
Every call has a connect and a read timeout, and runs under a total deadline
enforced on the caller's side, so a server that is down, slow or dribbling
tokens can never hold an answer longer than ``llm_timeout``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from kb.errors import BackendUnavailableError, ConfigError
from kb.llm.prompts import NOT_COVERED, condense_messages
from kb.models import Question
from kb.search.followup import rewrite_problem, standalone_query
from kb.settings import Settings

log = logging.getLogger(__name__)

# Servers that need no key (Ollama, llama.cpp, vLLM by default) still get one:
# the OpenAI client refuses to start without.
PLACEHOLDER_API_KEY = "not-needed"
MAX_ANSWER_TOKENS = 1024
MAX_QUERY_TOKENS = 96
MAX_QUERY_CHARS = 400

T = TypeVar("T")


class LLMError(BackendUnavailableError):
    """The model server failed, timed out, or sent something unusable."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``total`` bounds a whole answer (stream included); ``read`` a
    wait for the next bytes; ``condense`` the whole follow-up rewrite;
    ``first_token`` the wait for the answer's first piece, ``between_tokens``
    for each next one."""

    connect: float
    read: float
    total: float
    condense: float
    first_token: float = 0.0
    between_tokens: float = 0.0


def timeouts(settings: Settings) -> Timeouts:
    """From ``KB_LLM_TIMEOUT`` (total, default 120 s), ``KB_LLM_CONNECT_TIMEOUT``,
    ``KB_LLM_CONDENSE_TIMEOUT``, ``KB_LLM_FIRST_TOKEN_TIMEOUT`` and
    ``KB_LLM_TOKEN_TIMEOUT`` (checked by ``Settings``), the others capped by the first."""
    total = settings.llm_timeout
    first = min(settings.llm_first_token_timeout, total)
    between = min(settings.llm_token_timeout, total)
    return Timeouts(
        connect=min(settings.llm_connect_timeout, total),
        read=max(first, between),
        total=total,
        condense=min(settings.llm_condense_timeout, total),
        first_token=first,
        between_tokens=between,
    )


def build_chat_model(
    settings: Settings,
    *,
    streaming: bool = True,
    read_timeout: float | None = None,
    max_tokens: int = MAX_ANSWER_TOKENS,
) -> Any:
    """A ``ChatOpenAI`` for ``settings.llm_base_url`` / ``llm_model``; no retries."""
    if not settings.llm_enabled:
        raise ConfigError("No model server configured: set KB_LLM_BASE_URL and KB_LLM_MODEL.")
    from langchain_openai import ChatOpenAI
    from openai import Timeout
    from pydantic import SecretStr

    limits = timeouts(settings)
    read = read_timeout if read_timeout is not None else limits.read
    try:
        return ChatOpenAI(
            model=str(settings.llm_model),
            base_url=settings.llm_base_url,
            api_key=SecretStr(settings.llm_api_key or PLACEHOLDER_API_KEY),
            timeout=Timeout(read, connect=limits.connect),  # the client's own type, whatever HTTP library it uses
            max_retries=0,
            streaming=streaming,
            temperature=0.0,
            max_completion_tokens=max_tokens,
        )
    except (ValueError, TypeError) as exc:  # pydantic validation of the settings
        raise ConfigError(f"Cannot use the model server settings: {exc}") from exc


def describe(exc: BaseException) -> str:
    """A short, traceback-free reason for the log and the notice."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())[:200]
    return f"{name}: {text}" if text else name


def stream_with_deadline(
    produce: Callable[[], Iterator[T]],
    seconds: float,
    what: str = "the model server",
    first: float | None = None,
    between: float | None = None,
) -> Iterator[T]:
    """Items of ``produce()`` (run in a worker thread) until it ends or ``seconds`` pass;
    and, when given, within ``first`` seconds for the first item and ``between`` for each next.

    Raises ``LLMError`` on the deadline or on any error of the producer. When
    the consumer stops early, the worker stops at its next item and closes the
    underlying stream (its own read timeout frees it if the server is silent).
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        source = None
        try:
            source = produce()
            for item in source:
                if stop.is_set():
                    break
                items.put(("item", item))
            items.put(("end", None))
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which reports it
            items.put(("error", exc))
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.debug("closing the model stream failed", exc_info=True)

    deadline = time.monotonic() + seconds
    worker = threading.Thread(target=work, name="kb-llm", daemon=True)
    worker.start()
    received = 0
    try:
        while True:
            waiting = time.monotonic()
            remaining = deadline - waiting
            gap = first if received == 0 else between
            wait = remaining if gap is None else min(remaining, gap)
            which = "first token" if received == 0 else "next token"
            try:
                kind, value = items.get(timeout=max(wait, 0.0))
            except queue.Empty:
                if wait < remaining:
                    raise LLMError(f"{what} sent no {which} within {gap:g} s") from None
                raise LLMError(f"{what} did not finish within {seconds:g} s") from None
            if kind == "item":
                received += 1
                yield value
            elif kind == "end":
                return
            elif gap is not None and wait < remaining and time.monotonic() - waiting >= gap:
                # The client's own read timeout (as long as the gap) can fire an instant before
                # this wait ends, on a loaded machine: the same silence, told the same way.
                raise LLMError(f"{what} sent no {which} within {gap:g} s") from value
            else:
                raise LLMError(f"{what} failed: {describe(value)}") from value
    finally:
        stop.set()


def call_with_deadline(call: Callable[[], T], seconds: float, what: str = "the model server") -> T:
    """``call()`` in a worker thread; ``LLMError`` if it fails or takes longer than ``seconds``."""
    for result in stream_with_deadline(lambda: iter([call()]), seconds, what):
        return result
    raise LLMError(f"{what} returned nothing")


class ModelCondenser:
    """Follow-ups become standalone queries by the model; on any failure, by the rule in ``kb.search.followup``."""

    def __init__(self, settings: Settings, model: Any | None = None) -> None:
        self.limits = timeouts(settings)
        self.model = model or build_chat_model(
            settings, streaming=False, read_timeout=self.limits.condense, max_tokens=MAX_QUERY_TOKENS
        )

    def __call__(self, question: Question) -> str:
        if not any(turn.content.strip() for turn in question.history):
            return question.text
        messages = condense_messages(question.text, question.history)
        try:
            reply = call_with_deadline(
                lambda: self.model.invoke(messages), self.limits.condense, "the model server (follow-up rewrite)"
            )
            query = clean_query(str(reply.text))
        except LLMError as exc:
            log.info("follow-up rewrite failed, using the rule instead: %s", exc)
            return standalone_query(question)
        if query is None:
            log.info("follow-up rewrite unusable, using the rule instead")
            log.debug("the unusable rewrite: %r", str(reply.text)[:200])
            return standalone_query(question)
        problem = rewrite_problem(query, question)
        if problem is not None:
            log.info("follow-up rewrite is no query (%s), using the rule instead", problem)
            log.debug("the rewrite set aside: %r", query)
            return standalone_query(question)
        log.debug("follow-up %r -> %r", question.text, query)
        return query


_PREFIXES = ("standalone query:", "standalone question:", "query:", "search query:", "question:")


def clean_query(text: str) -> str | None:
    """The first non-empty line, unquoted; ``None`` when it is no usable query."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    query = lines[0]
    for prefix in _PREFIXES:
        if query.casefold().startswith(prefix):
            query = query[len(prefix) :].strip()
    query = query.strip("\"'“”«»` ").strip()
    if not query or NOT_COVERED in query or len(query) > MAX_QUERY_CHARS:
        return None
    return query
