"""A small exception family whose messages are shown to people as they are.

Each message says what went wrong and what to do next. Front doors turn these
into their own form: an exit code and one line on stderr, a JSON error, a chat
message.

The CLI prints the message whole: it is the operator's own terminal. A client
over HTTP (a blog's reader, the widget) is told ``error.public`` instead when the
fault is the server's, since the message names what only the operator should
see (the data dir, the Chroma server's address); the message goes to the log.
"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

log = logging.getLogger(__name__)

# What a client over HTTP is told of a fault of the server's, unless its class says more.
SERVER_FAULT = "Something went wrong on the server; the operator has been told."
INDEX_UNAVAILABLE = "The index is unavailable; the operator has been told."


def error_body(code: str, message: str) -> dict[str, Any]:
    """The contract's one error object (docs/contract.md), for every front door."""
    return {"error": {"code": code, "message": message}}


def error_bytes(code: str, message: str) -> bytes:
    """``error_body`` as the UTF-8 JSON a raw HTTP response carries."""
    return json.dumps(error_body(code, message), ensure_ascii=False).encode("utf-8")


def shown_to_client(error: KBError) -> str:
    """What a client over HTTP is told of ``error``: ``error.public``. A fault of the
    server's (a 5xx) is logged whole, for the operator the client is told about."""
    if error.http_status >= 500:
        log.warning("%s: %s", error.code, error)
    return error.public


class KBError(Exception):
    """Base class: ``str(error)`` is a message for a person: the operator, who may
    be told of the server's paths and addresses; ``public`` is for anyone."""

    code = "error"
    http_status = 500
    exit_code = 1
    # What a client over HTTP is told in place of the message; None: the message itself
    # (it is about the client's own request).
    public_message: ClassVar[str | None] = SERVER_FAULT

    def __init__(self, message: str = "", public: str | None = None) -> None:
        """``public``: what a client over HTTP is told, when it can be told more than the class's."""
        super().__init__(message)
        self._public = public

    @property
    def public(self) -> str:
        return self._public or self.public_message or str(self)


class ConfigError(KBError):
    code = "bad_config"
    http_status = 500
    exit_code = 2


class InputError(KBError):
    """The question or request breaks a rule of the contract."""

    code = "invalid_request"
    http_status = 422
    exit_code = 2
    public_message = None


class IndexMissingError(KBError):
    code = "index_missing"
    http_status = 503
    exit_code = 3
    public_message = "No index yet: run `python ingest.py` (or `kb ingest`) first."


class ModelMismatchError(KBError):
    code = "model_mismatch"
    http_status = 503
    exit_code = 3
    public_message = "The index was built by another embedding model: run `python ingest.py` to rebuild it."


class SourceNotFoundError(KBError):
    code = "not_found"
    http_status = 404
    exit_code = 4
    public_message = None


class IngestError(KBError):
    code = "ingest_failed"
    http_status = 500
    exit_code = 5


class BackendUnavailableError(KBError):
    """An optional component (extra package, model server) cannot be used."""

    code = "backend_unavailable"
    http_status = 503
    exit_code = 6


class DataDirError(KBError):
    """The data dir cannot be written, or the index in it is damaged: its owner has to act."""

    code = "data_dir_unusable"
    http_status = 503
    exit_code = 7
    public_message = INDEX_UNAVAILABLE
