"""``kb mcp`` through the ``mcp`` SDK's own client: over stdio (a real subprocess), and over
streamable HTTP on loopback; the tools give what the API gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from kb import __version__ as kb_version
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.web.api import create_api
from tests.browser import free_port

pytestmark = [pytest.mark.server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How does omnichannel differ from multichannel?"
OFF_TOPIC = "What is the boiling point of tungsten in kelvin?"
T = TypeVar("T")


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update({"KB_DATA_DIR": str(data_dir), "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"})
    return env


@asynccontextmanager
async def stdio(data_dir: Path, errlog: Path) -> AsyncIterator[Client]:
    """``python -m kb mcp`` as a client starts it, its stderr kept in ``errlog``."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "kb", "mcp"], env=environment(data_dir), cwd=str(ROOT)
    )
    with open(errlog, "w", encoding="utf-8") as log:
        async with Client(stdio_client(params, errlog=log), read_timeout_seconds=120) as client:
            yield client


def run(data_dir: Path, errlog: Path, body: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        async with stdio(data_dir, errlog) as client:
            return await body(client)

    return anyio.run(main)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    assert json.loads(result.content[0].text) == data  # the text content is the same object
    return data


def test_over_stdio_the_three_tools_answer_as_the_api_does(
    seeded_settings: Settings, kb: KnowledgeBase, tmp_path: Path
) -> None:
    async def body(client: Client) -> dict[str, Any]:
        tools = await client.list_tools()
        asked = await client.call_tool("ask", {"question": QUESTION})
        refused = await client.call_tool("ask", {"question": OFF_TOPIC})
        follow = await client.call_tool(
            "ask", {"question": "And its challenges?", "history": [{"role": "user", "content": QUESTION}]}
        )
        found = await client.call_tool("search", {"query": QUESTION, "top_k": 3})
        source = structured(asked)["citations"][0]["source"]
        document = await client.call_tool("get_source", {"source": source})
        return {
            "tools": tools,
            "asked": asked,
            "refused": refused,
            "follow": follow,
            "found": found,
            "document": document,
        }

    got = run(seeded_settings.data_dir, tmp_path / "stderr.log", body)
    assert sorted(t.name for t in got["tools"].tools) == ["ask", "get_source", "search"]
    schema = next(t for t in got["tools"].tools if t.name == "ask").input_schema
    assert schema["required"] == ["question"]

    from kb.question import validate_question

    expected = kb.ask(validate_question(QUESTION, settings=kb.settings)).to_dict()
    answer = structured(got["asked"])
    assert answer["answered"] is True and answer["answer"] == expected["answer"]
    assert [c["chunk_id"] for c in answer["citations"]] == [c["chunk_id"] for c in expected["citations"]]
    assert set(answer) >= {"question", "language", "answered", "mode", "answer", "citations", "passages", "timings_ms"}

    refused = structured(got["refused"])
    assert refused["answered"] is False and refused["citations"] == []

    follow = structured(got["follow"])
    assert follow["standalone_query"] != "And its challenges?"  # read in the light of the history

    found = structured(got["found"])
    assert len(found["passages"]) == 3 and found["covered"] is True
    assert [p["id"] for p in found["passages"]] == [1, 2, 3]

    document = structured(got["document"])
    cited = answer["citations"][0]
    assert document["text"][cited["start"] : cited["end"]] == cited["text"]


def test_over_stdio_the_articles_are_resources(seeded_settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    async def body(client: Client) -> tuple[Any, Any, Any]:
        listed = await client.list_resources()
        first = listed.resources[0]
        read = await client.read_resource(str(first.uri))
        try:
            await client.read_resource("omnikb://sources/" + quote("no such file.txt", safe=""))
        except MCPError as exc:
            missing: Any = exc
        else:
            missing = None
        return listed, read, missing

    listed, read, missing = run(seeded_settings.data_dir, tmp_path / "stderr.log", body)
    sources = kb.sources()
    assert [r.name for r in listed.resources] == [s["source"] for s in sources]
    assert all(str(r.uri).startswith("omnikb://sources/") and r.mime_type == "text/plain" for r in listed.resources)
    assert read.contents[0].text == kb.document(sources[0]["source"]).text
    assert missing is not None and "no such file.txt" in str(missing)


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("ask", {}, "question"),
    ("ask", {"question": 42}, "question"),
    ("ask", {"question": "   "}, "empty"),
    ("ask", {"question": "why " * 600}, "limit is 2000"),
    ("ask", {"question": QUESTION, "top_k": 99}, "top_k"),
    ("ask", {"question": QUESTION, "history": [{"role": "robot", "content": "x"}]}, "role"),
    ("ask", {"question": QUESTION, "language": "klingon"}, "language"),
    ("search", {"query": "\x00"}, "control character"),
    ("get_source", {"source": "no such file.txt"}, "No source named"),
    ("get_source", {}, "source"),
]


def test_bad_arguments_are_tool_errors_and_the_server_goes_on(seeded_settings: Settings, tmp_path: Path) -> None:
    async def body(client: Client) -> tuple[list[Any], Any, list[str]]:
        results = [await client.call_tool(name, arguments) for name, arguments, _ in BAD_CALLS]
        unknown: list[str] = []
        try:
            unknown.append(str((await client.call_tool("delete_everything", {})).content[0].text))
        except MCPError as exc:
            unknown.append(str(exc))
        after = await client.call_tool("ask", {"question": QUESTION})
        return results, after, unknown

    errlog = tmp_path / "stderr.log"
    results, after, unknown = run(seeded_settings.data_dir, errlog, body)
    for (name, arguments, expected), result in zip(BAD_CALLS, results, strict=True):
        assert result.is_error, (name, arguments)
        assert expected in result.content[0].text, (name, arguments, result.content[0].text)
    assert "delete_everything" in unknown[0]
    assert structured(after)["answered"] is True  # still serving
    assert "Traceback" not in errlog.read_text(encoding="utf-8")


# Arguments of the wrong type or name: the API's message for the same body, word for word.
AS_THE_API_SAYS: list[dict[str, Any]] = [
    {"question": 5},
    {},
    {"question": QUESTION, "top_k": "3"},
    {"question": QUESTION, "top_k": True},
    {"question": QUESTION, "foo": 1},
    {"question": QUESTION, "history": [{"role": "user", "content": "x", "name": "me"}]},
    {"question": QUESTION, "top_k": 99},
]


def test_bad_arguments_get_the_apis_message_and_the_server_its_version(
    seeded_settings: Settings, tmp_path: Path
) -> None:
    api = TestClient(create_api(Settings(data_dir=tmp_path / "no-index")))  # a body is checked before any index
    expected = []
    for arguments in AS_THE_API_SAYS:
        response = api.post("/api/ask", json=arguments)
        assert response.status_code == 422, response.text
        expected.append(response.json()["error"]["message"].removesuffix(" See /docs for the request format."))

    async def body(client: Client) -> tuple[list[Any], str | None]:
        info = client.server_info
        return [await client.call_tool("ask", arguments) for arguments in AS_THE_API_SAYS], info and info.version

    results, version = run(seeded_settings.data_dir, tmp_path / "stderr.log", body)
    for arguments, message, result in zip(AS_THE_API_SAYS, expected, results, strict=True):
        assert result.is_error, arguments
        assert result.content[0].text.removesuffix(" See the tool's input schema.") == message, arguments
    assert "foo" in expected[4] and "top_k" in expected[2]
    assert version == kb_version


def test_over_stdio_stdout_carries_the_protocol_alone(seeded_settings: Settings, tmp_path: Path) -> None:
    """Every line the server writes to stdout is a JSON-RPC message, with -vv logging on."""
    errlog = tmp_path / "stderr.log"
    call = {"name": "ask", "arguments": {"question": QUESTION}}
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call},
    ]
    with open(errlog, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "kb", "-vv", "mcp"],
            cwd=ROOT,
            env=environment(seeded_settings.data_dir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write("".join(json.dumps(m) + "\n" for m in messages).encode())
        process.stdin.flush()
        lines = [process.stdout.readline() for _ in range(2)]
        process.stdin.close()  # the client goes: the server ends
        lines += process.stdout.read().splitlines()
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    replies = [json.loads(line) for line in lines if line.strip()]  # every line is JSON-RPC
    assert [m.get("id") for m in replies] == [1, 2] and "result" in replies[1]
    assert "DEBUG" in errlog.read_text(encoding="utf-8")  # the log went to stderr


def test_without_an_index_kb_mcp_exits_3_saying_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kb", "mcp"],
        cwd=ROOT,
        env=environment(tmp_path / "none"),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 3 and result.stdout == ""
    assert "ingest" in result.stderr


def test_host_and_port_without_http_are_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kb", "mcp", "--port", "9"],
        cwd=ROOT,
        env=environment(tmp_path / "kb"),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2 and "--http" in result.stderr


def over_http(env: dict[str, str], log_path: Path, body: Callable[[Client], Awaitable[T]]) -> tuple[T, int]:
    """``body`` run against ``kb mcp --http`` on a free loopback port (its output kept in ``log_path``)."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kb", "mcp", "--http", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:

        async def main() -> T:
            deadline = time.monotonic() + 120
            while True:
                try:
                    async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=120) as client:
                        return await body(client)
                except Exception:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    await anyio.sleep(0.5)

        return anyio.run(main), port
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_over_streamable_http_ask_answers(seeded_settings: Settings, tmp_path: Path) -> None:
    log_path = tmp_path / "mcp-http.log"

    async def body(client: Client) -> tuple[list[str], dict[str, Any]]:
        tools = [t.name for t in (await client.list_tools()).tools]
        return tools, structured(await client.call_tool("ask", {"question": QUESTION}))

    (tools, answer), port = over_http(environment(seeded_settings.data_dir), log_path, body)
    assert sorted(tools) == ["ask", "get_source", "search"]
    assert answer["answered"] is True and answer["citations"]
    assert f"http://127.0.0.1:{port}/mcp" in log_path.read_text(encoding="utf-8")


def test_over_http_a_fault_of_the_server_is_told_to_its_operator_not_its_clients(tmp_path: Path) -> None:
    # A Chroma server that is not there: its address is the operator's to know.
    chroma = f"http://127.0.0.1:{free_port()}"
    env = {**environment(tmp_path / "kb"), "KB_CHROMA_URL": chroma}
    log_path = tmp_path / "mcp-http.log"

    async def body(client: Client) -> tuple[list[str], str]:
        told = []
        for tool, arguments in (("ask", {"question": QUESTION}), ("search", {"query": QUESTION})):
            result = await client.call_tool(tool, arguments)
            assert result.is_error
            told.append(result.content[0].text)
        with pytest.raises(MCPError) as listing:
            await client.list_resources()
        return told, str(listing.value)

    (told, listing), _ = over_http(env, log_path, body)
    for message in (*told, listing):
        assert "unavailable" in message and chroma not in message and "127.0.0.1" not in message, message
    assert chroma in log_path.read_text(encoding="utf-8")
