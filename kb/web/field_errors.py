"""Readable messages for arguments pydantic refused: one wording for every front door.

``POST /api/ask`` and ``/api/ask/stream`` (their body), ``/api/examples`` (its query) and the
MCP tools (their arguments) check what a caller sent with strict pydantic models; a refusal
names the field at fault (``history[0].role``) and what it must be, or the fields there are
when it is not one of them. ``describe_invalid`` is the message.
"""

from __future__ import annotations

from typing import Any

from kb.settings import MAX_TOP_K

ASK_FIELDS = "`question`, `history`, `top_k` and `language`"
# /api/examples' `limit`, at most.
MAX_EXAMPLES = 10
# What a field must be, for messages on a value of the wrong type.
_EXPECTED = {
    "question": "a string",
    "history": 'a list of {"role": "user" or "assistant", "content": "…"} objects',
    "history[]": 'an object {"role": "user" or "assistant", "content": "…"}',
    "history[].role": '"user" or "assistant"',
    "history[].content": "a string",
    "top_k": f"a whole number from 1 to {MAX_TOP_K}",
    "language": 'a two-letter ISO 639-1 code such as "en"',
    # /api/examples' query
    "limit": f"a whole number from 1 to {MAX_EXAMPLES}",
    # the MCP tools' other arguments
    "query": "a string",
    "source": "a string",
}


def shown(name: str, limit: int = 40) -> str:
    """A field name as a message may quote it: escaped when not plain text, and cut short."""
    if not name.isprintable() or any("\ud800" <= c <= "\udfff" for c in name):
        name = ascii(name)[1:-1]
    return name if len(name) <= limit else name[:limit] + "…"


def _where(loc: Any) -> tuple[str, str]:
    """``history[0].role`` and its pattern ``history[].role`` for a pydantic location."""
    where, pattern = "", ""
    for part in loc:
        if part in ("body", "query") and not where:
            continue
        if isinstance(part, int):
            where, pattern = f"{where}[{part}]", f"{pattern}[]"
        else:
            name = shown(str(part))
            where = f"{where}.{name}" if where else name
            pattern = f"{pattern}.{part}" if pattern else str(part)
    return where or "body", pattern or "body"


def _problem(error: Any, fields: str) -> str:
    where, pattern = _where(error.get("loc", ()))
    kind = error.get("type")
    if kind == "missing":
        return f"`{where}` is required"
    if kind == "extra_forbidden":
        if "[" in where:
            return f'`{where}` is not allowed: a history turn has only "role" and "content"'
        return f"`{where}` is not a field of the request; the fields are {fields}"
    if pattern in _EXPECTED:
        return f"`{where}` must be {_EXPECTED[pattern]}"
    return f"`{where}`: {error.get('msg', 'invalid value')}"


def describe_invalid(errors: list[Any], fields: str = ASK_FIELDS, see: str = "") -> str:
    """The message for pydantic's ``errors`` of a request whose fields are ``fields``;
    ``see`` (where the format is described) closes it."""
    closing = f" {see}" if see else ""
    if any(e.get("type") == "string_unicode" for e in errors):  # e.g. a field name "\ud800"
        return (
            "The request contains text that is not valid Unicode (an unpaired surrogate such as \\ud800). "
            f"Send valid UTF-8 text; the fields are {fields}."
        )
    if any(tuple(e.get("loc", ())) == ("body",) for e in errors):
        return (
            'The request body must be a JSON object such as {"question": "…"}, sent with '
            "Content-Type: application/json."
        )
    parts = list(dict.fromkeys(_problem(e, fields) for e in errors[:5]))
    return "; ".join(parts) + "." + closing
