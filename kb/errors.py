"""A small exception family whose messages are shown to people as they are.

Each message says what went wrong and what to do next. Front doors turn these
into their own form: an exit code and one line on stderr, a JSON error, a chat
message.
"""

from __future__ import annotations

import json
from typing import Any


def error_body(code: str, message: str) -> dict[str, Any]:
    """The contract's one error object (docs/contract.md), for every front door."""
    return {"error": {"code": code, "message": message}}


def error_bytes(code: str, message: str) -> bytes:
    """``error_body`` as the UTF-8 JSON a raw HTTP response carries."""
    return json.dumps(error_body(code, message), ensure_ascii=False).encode("utf-8")


class KBError(Exception):
    """Base class: ``str(error)`` is a message for a person."""

    code = "error"
    http_status = 500
    exit_code = 1


class ConfigError(KBError):
    code = "bad_config"
    http_status = 500
    exit_code = 2


class InputError(KBError):
    """The question or request breaks a rule of the contract."""

    code = "invalid_request"
    http_status = 422
    exit_code = 2


class IndexMissingError(KBError):
    code = "index_missing"
    http_status = 503
    exit_code = 3


class ModelMismatchError(KBError):
    code = "model_mismatch"
    http_status = 503
    exit_code = 3


class SourceNotFoundError(KBError):
    code = "not_found"
    http_status = 404
    exit_code = 4


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
