"""The knowledge base as an MCP server (the ``mcp`` SDK): ``kb mcp``, over stdio or streamable HTTP.

Tools:

- ``ask``: a question (with its earlier turns) answered as docs/contract.md's object, the
  same one ``POST /api/ask`` returns: ``answer`` with ``[n]`` markers, ``citations``…
- ``search``: the passages retrieval finds for a query, best first, and whether the
  sources cover it;
- ``get_source``: one cleaned document, the text every passage's offsets index into.

Resources: every indexed article, ``omnikb://sources/<name>`` (the name percent-encoded),
its cleaned text; listed afresh on each request, so a re-ingest shows.

Bad arguments are tool errors (``isError``) with the message the API gives, never a crash:
``ask``'s are checked as ``POST /api/ask`` checks its body (``AskRequest``, strict: ``"3"``
is no ``top_k``, an unknown argument is named), the others alike, before the SDK reads them.
Over stdio, stdout is the protocol: logging goes to stderr (the SDK points fd 1 there
while it serves).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, unquote

import anyio.to_thread
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, InputRequiredResult
from mcp_types import Resource as MCPResource
from mcp_types import ResourceTemplate as MCPResourceTemplate
from pydantic import AnyUrl, BaseModel, ConfigDict, ValidationError

from kb import __version__
from kb.errors import KBError, SourceNotFoundError, shown_to_client
from kb.models import Question, passage_dict
from kb.question import validate_question
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.web.field_errors import ASK_FIELDS, describe_invalid
from kb.web.schemas import AskRequest

log = logging.getLogger(__name__)

NAME = "omnikb"
SOURCE_URI = "omnikb://sources/"
INSTRUCTIONS = (
    "omnikb answers from a knowledge base of articles with verbatim, cited passages. Use `ask` for an "
    "answer whose [n] markers refer to its `citations`; when `answered` is false the sources do not cover "
    "the question: say so rather than answer from elsewhere. `search` lists passages; `get_source` "
    "returns a whole cleaned article."
)


def source_uri(source: str) -> str:
    return SOURCE_URI + quote(source, safe="")


class SearchArguments(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    query: str
    top_k: int | None = None
    language: str | None = None


class SourceArguments(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    source: str


# Each tool's arguments, checked as the API checks a request, and the fields a message lists.
ARGUMENTS: dict[str, tuple[type[BaseModel], str]] = {
    "ask": (AskRequest, ASK_FIELDS),
    "search": (SearchArguments, "`query`, `top_k` and `language`"),
    "get_source": (SourceArguments, "`source`"),
}
SEE = "See the tool's input schema."


def check_arguments(tool: str, arguments: dict[str, Any], settings: Settings) -> None:
    """``ToolError`` with the API's message when ``arguments`` break the tool's rules: their
    types and names as ``AskRequest`` checks them, then the question's (``validate_question``)."""
    model, fields = ARGUMENTS.get(tool, (None, ""))
    if model is None:
        return
    try:
        checked = model.model_validate(arguments)
    except ValidationError as exc:
        raise ToolError(describe_invalid(list(exc.errors()), fields, SEE)) from None
    if isinstance(checked, AskRequest):
        history = None if checked.history is None else [turn.model_dump() for turn in checked.history]
        _checked(settings, checked.question, history, checked.top_k, checked.language)
    elif isinstance(checked, SearchArguments):
        _checked(settings, checked.query, None, checked.top_k, checked.language)


class KnowledgeBaseServer(MCPServer[None]):
    """An ``MCPServer`` whose resources are the knowledge base's articles, read when asked for."""

    def __init__(self, kb: KnowledgeBase, tell: Callable[[KBError], str] = str, **kwargs: Any) -> None:
        """``tell``: what a client is told of an error (over HTTP, what any client may be told)."""
        super().__init__(NAME, instructions=INSTRUCTIONS, version=__version__, **kwargs)
        self.kb = kb
        self.tell = tell

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[None, Any] | None = None) -> Any:
        """The tool's result; its arguments checked first as the API checks a request (the SDK's
        own check takes ``"3"`` for 3 and passes unknown arguments by)."""
        check_arguments(name, arguments, self.kb.settings)
        return await super().call_tool(name, arguments, context)

    async def list_resources(self) -> list[MCPResource]:
        try:
            sources = await anyio.to_thread.run_sync(self.kb.sources)
        except KBError as exc:
            raise MCPError(code=INTERNAL_ERROR, message=self.tell(exc)) from None
        return [
            MCPResource(
                uri=source_uri(item["source"]),
                name=item["source"],
                title=item["title"],
                description=f"{item['title']} ({item['language']}, {item['characters']} characters)",
                mime_type="text/plain",
            )
            for item in sources
        ]

    async def list_resource_templates(self) -> list[MCPResourceTemplate]:
        return [
            MCPResourceTemplate(
                uri_template=SOURCE_URI + "{source}",
                name="source",
                description="An indexed article's cleaned text, by its file name (percent-encoded)",
                mime_type="text/plain",
            )
        ]

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[None, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        text = str(uri)
        if not text.startswith(SOURCE_URI):
            raise ResourceNotFoundError(f"No resource {text[:200]!r}: omnikb's are {SOURCE_URI}<name>.")
        name = unquote(text[len(SOURCE_URI) :])
        try:
            document = await anyio.to_thread.run_sync(self.kb.document, name)
        except SourceNotFoundError as exc:
            raise ResourceNotFoundError(self.tell(exc)) from None
        except KBError as exc:
            raise MCPError(code=INTERNAL_ERROR, message=self.tell(exc)) from None
        return [ReadResourceContents(content=document.text, mime_type="text/plain")]


def _checked(settings: Settings, text: Any, history: Any, top_k: Any, language: Any) -> Question:
    try:
        return validate_question(text, history, top_k, language, settings)
    except KBError as exc:
        raise ToolError(str(exc)) from None


def build_server(kb: KnowledgeBase, remote: bool = False) -> KnowledgeBaseServer:
    """The MCP server over ``kb``; the index loads in the background once it serves.
    ``remote``: its clients are anyone who can reach it (over HTTP), so a fault of the
    server's is logged whole and they are told only that it happened, as the API tells them."""

    started = threading.Event()

    @asynccontextmanager
    async def lifespan(_: MCPServer[None]) -> AsyncIterator[None]:
        # Once it serves (over stdio, once stdout is the protocol's), and once: HTTP sessions come and go.
        if not started.is_set():
            started.set()
            threading.Thread(target=_warm_up, args=(kb,), name="kb-warm-up", daemon=True).start()
        yield

    server = KnowledgeBaseServer(kb, tell=shown_to_client if remote else str, lifespan=lifespan, log_level="WARNING")

    @server.tool(
        description=(
            "Answer a question from the knowledge base with verbatim, cited passages. Returns the answer "
            "object: `answer` (with [n] markers), `citations` (id, source, title, text, offsets), `answered` "
            "(false when the sources do not cover the question), `language`, `passages`. `history` holds "
            'earlier turns, oldest first ({"role": "user" or "assistant", "content"}), for follow-ups.'
        )
    )
    def ask(
        question: str,
        history: list[dict[str, str]] | None = None,
        top_k: int | None = None,
        language: str | None = None,
    ) -> dict[str, Any]:
        checked = _checked(kb.settings, question, history, top_k, language)
        try:
            return kb.ask(checked).to_dict()
        except KBError as exc:
            raise ToolError(server.tell(exc)) from None

    @server.tool(
        description=(
            "Find the passages of the knowledge base that match a query, best first, each a verbatim slice "
            "`text` of the document `source` (offsets `start`, `end`); `covered` says whether they answer it."
        )
    )
    def search(query: str, top_k: int | None = None, language: str | None = None) -> dict[str, Any]:
        checked = _checked(kb.settings, query, None, top_k, language)
        try:
            request = kb.prepare(checked)
        except KBError as exc:
            raise ToolError(server.tell(exc)) from None
        return {
            "query": checked.text,
            "language": request.language,
            "covered": request.covered,
            "passages": [
                passage_dict(rank, hit.chunk, hit.score, hit.alternatives)
                for rank, hit in enumerate(request.hits, start=1)
            ],
        }

    @server.tool(
        description=(
            "One cleaned article of the knowledge base by its `source` name (as `search` and `ask` give it): "
            "`source`, `title`, `language`, `text`; passages' offsets index into `text`."
        )
    )
    def get_source(source: str) -> dict[str, Any]:
        try:
            document = kb.document(source)
        except KBError as exc:
            raise ToolError(server.tell(exc)) from None
        data = document.to_dict()
        url = getattr(document, "url", None)
        if url and "url" not in data:
            data["url"] = url
        return data

    return server


def _warm_up(kb: KnowledgeBase) -> None:
    try:
        kb.warm_up()
        kb.watch()
        log.info("knowledge base ready")
    except KBError as exc:  # no index yet: each call says so
        log.warning("not warmed up: %s", exc)


def serve(kb: KnowledgeBase, http: bool = False) -> None:
    """Serve over stdio (a client starts ``kb mcp``), or over streamable HTTP on
    ``KB_HOST:KB_PORT`` at ``/mcp``."""
    settings = kb.settings
    server = build_server(kb, remote=http)
    if not http:
        server.run("stdio")
        return
    import uvicorn

    app = server.streamable_http_app(host=settings.host)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
