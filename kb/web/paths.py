"""The API path a client meant: ``//api/health`` and ``/api/health/`` are ``/api/health``.

Clients join URLs from strings (``base + "/" + path``), so repeated slashes and a
trailing slash are common. ``CanonicalApiPath`` collapses them before any guard or
route sees the path, so the CORS check, the size and rate limits and the routes all
judge the same path. Only paths under ``/api`` are touched (the chat's are Gradio's).

A trailing slash is dropped only after a fixed endpoint (``/api/sources/``): after a
source name it stays, and names no source (a source is a name, never a path). Case is
not folded: ``/API/health`` is a 404 whose message names ``/api/health`` (``kb.web.api``).
``raw_path`` keeps the bytes the client sent, as ASGI defines it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

API_ROOT = "/api"
_REPEATED_SLASHES = re.compile(r"//+")


def collapse_slashes(path: str) -> str:
    return _REPEATED_SLASHES.sub("/", path)


def is_api_path(path: str) -> bool:
    """Whether ``path`` is ``/api`` or under it, in any case and with any slashes (``//API/ask``)."""
    collapsed = collapse_slashes(path).lower()
    return collapsed == API_ROOT or collapsed.startswith(API_ROOT + "/")


def canonical_api_path(path: str, endpoints: frozenset[str]) -> str:
    """``path`` with repeated slashes collapsed, and a trailing slash dropped after one of ``endpoints``."""
    if not is_api_path(path):
        return path
    collapsed = collapse_slashes(path)
    if collapsed.endswith("/") and collapsed[:-1] in endpoints:
        return collapsed[:-1]
    return collapsed


def fixed_endpoints(schema: Mapping[str, Any]) -> frozenset[str]:
    """The API paths of an OpenAPI schema (what /docs lists) that take no parameter: ``/api/health``,
    not ``/api/sources/{source}``."""
    return frozenset(path for path in schema.get("paths", {}) if "{" not in path and is_api_path(path))


class CanonicalApiPath:
    """Route every API request by its canonical path (``canonical_api_path``); add it last, so it runs first."""

    def __init__(self, app: ASGIApp, schema: Callable[[], Mapping[str, Any]]) -> None:
        self.app = app
        self.schema = schema  # the app's OpenAPI schema, read at the first request, once every route is in
        self._endpoints: frozenset[str] | None = None

    def _canonical(self, path: str) -> str:
        if self._endpoints is None:
            self._endpoints = fixed_endpoints(self.schema())
        return canonical_api_path(path, self._endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root = str(scope.get("root_path", ""))
            path = str(scope["path"])
            prefix = root if root and path.startswith(root) else ""
            canonical = prefix + self._canonical(path[len(prefix) :])
            if canonical != path:
                scope = {**scope, "path": canonical}
        await self.app(scope, receive, send)
