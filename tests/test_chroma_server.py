"""The store against a real Chroma server (``chroma run``) instead of the embedded folder.

One server on a free loopback port for the module: the seeds are ingested
through ``HttpClient`` and every dev question must get the same passages, in
the same order, and the same answered flag as from the embedded store.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kb import cli
from kb.errors import INDEX_UNAVAILABLE, IndexMissingError
from kb.index import store as store_module
from kb.index.embed import get_embedder
from kb.index.store import (
    CHROMA_HEARTBEAT_SECONDS,
    CHROMA_TIMEOUT_SECONDS,
    SILENT,
    Store,
    StoreUnavailableError,
)
from kb.ingest.pipeline import ingest
from kb.question import validate_question
from kb.search.retrieve import ACTIVE_CHECK_SECONDS
from kb.service import KnowledgeBase
from kb.settings import Settings
from kb.web.api import create_api
from tests.browser import request
from tests.chroma_server import HOST, ChromaServer, chroma_server, free_port, silent_server, token_proxy
from tests.conftest import SEEDS
from tests.test_guard import serve

pytestmark = [pytest.mark.slow, pytest.mark.server]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "db") as running:
        yield running


@pytest.fixture(scope="module")
def remote_settings(server: ChromaServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("remote-kb")
    # A token is sent as a header; a server without auth ignores it.
    return Settings(data_dir=data / "kb", seeds_dir=SEEDS, chroma_url=server.url, chroma_token="bench-token")


@pytest.fixture(scope="module")
def remote_kb(remote_settings: Settings) -> KnowledgeBase:
    base = KnowledgeBase(remote_settings)
    report = base.ingest(SEEDS)
    assert len(report.added) == 5 and report.chunks > 20
    base.warm_up()
    return base


def _signature(base: KnowledgeBase, item: dict[str, Any]) -> tuple[bool, list[str]]:
    history = [{"role": "user", "content": h} for h in item.get("history", [])]
    answer = base.ask(validate_question(item["question"], history, 10, None, base.settings))
    return answer.answered, [hit.chunk.id for hit in answer.passages]


def test_the_server_answers_the_dev_questions_like_the_embedded_store(
    remote_kb: KnowledgeBase,
    kb: KnowledgeBase,
    devset: list[dict[str, Any]],
) -> None:
    # Nothing was written to the local folder: the index lives in the server.
    assert not remote_kb.settings.chroma_path.exists()
    assert remote_kb.health()["chunks"] == kb.health()["chunks"]
    assert remote_kb.retriever.index().translations == kb.retriever.index().translations
    for item in devset:
        assert _signature(remote_kb, item) == _signature(kb, item), item["id"]


def test_reingest_through_the_server_is_incremental(
    remote_kb: KnowledgeBase, remote_settings: Settings, tmp_path: Path
) -> None:
    unchanged = remote_kb.ingest(SEEDS)
    assert not unchanged.changed and len(unchanged.unchanged) == 5

    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    changed = seeds / "003_270c56ab60b0665d.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nUn paragraf nou despre Worten.", encoding="utf-8")
    (seeds / "001_016916c4e286d33c.txt").unlink()
    report = remote_kb.ingest(seeds)
    assert report.updated == ("003_270c56ab60b0665d.txt",)
    assert report.removed == ("001_016916c4e286d33c.txt",)

    # A second app server sharing the Chroma sees the new generation and rebuilds its lexical index.
    other = KnowledgeBase(remote_settings)
    index = other.retriever.index()
    assert index.generation == report.generation
    assert "001_016916c4e286d33c.txt" not in index.documents
    assert len(index.bm25) == len(index.chunks) == report.chunks
    answer = other.ask(validate_question("Worten", None, 5, "ro", remote_settings))
    assert any(hit.chunk.source == "003_270c56ab60b0665d.txt" for hit in answer.passages)
    # The replaced generation stays readable until the next ingest, for readers in flight.
    assert Store(remote_settings).generations() == [unchanged.generation, report.generation]


def test_a_chroma_server_that_never_answers_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """chromadb's HTTP client waits forever: a server that accepts connections
    and never replies (overloaded, a wedged proxy) hung every question and
    health check."""
    monkeypatch.setattr(store_module, "CHROMA_TIMEOUT_SECONDS", 1.0)
    with silent_server() as silent:
        with pytest.raises(StoreUnavailableError, match=r"Cannot reach the Chroma server at .*no answer within 1 s"):
            Store(Settings(data_dir=tmp_path / "kb", chroma_url=silent.url))
        assert silent.taken, "the client never connected: the test would not tell"


# A client's deadline for the health check: half of what a question gives the Chroma server, so
# that a health check waiting on it (once behind the warm-up, once itself: a minute) misses it.
HEALTH_DEADLINE = CHROMA_TIMEOUT_SECONDS / 2


def test_health_says_a_silent_chroma_server_is_unreachable_within_seconds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server's first health check against a silent Chroma server waited for the warm-up's
    attempt (30 s, holding the store's lock), then made its own (30 s): a load balancer's
    check, or `curl`, gave up long before. It is a 503 in the error shape, saying how long the
    server was given; the operator's log names the address."""
    with silent_server() as silent, caplog.at_level(logging.WARNING):
        settings = Settings(data_dir=tmp_path / "kb", chroma_url=silent.url)
        with serve(create_api(settings), lifespan=True) as url:  # the warm-up starts with it
            status, _, payload = request(url + "/api/health", timeout=HEALTH_DEADLINE)
        assert silent.taken, "nothing connected to the silent server: the test would not tell"
    assert status == 503, payload
    assert payload == {
        "error": {"code": "backend_unavailable", "message": SILENT.format(seconds=CHROMA_HEARTBEAT_SECONDS)}
    }
    assert f"did not answer within {CHROMA_HEARTBEAT_SECONDS:g} s" in payload["error"]["message"]
    told = f"Cannot reach the Chroma server at {silent.url}: no answer within {CHROMA_HEARTBEAT_SECONDS:g} s"
    assert any(told in record.getMessage() and record.levelno >= logging.WARNING for record in caplog.records)


def test_a_slow_chroma_server_still_answers_questions(remote_kb: KnowledgeBase, remote_settings: Settings) -> None:
    """The heartbeat's few seconds bound a health check, not a question: a search that takes
    longer than them is waited for (up to ``CHROMA_TIMEOUT_SECONDS``)."""
    with token_proxy(remote_settings.chroma_url or "", "slow-token", query_delay=CHROMA_HEARTBEAT_SECONDS + 1) as proxy:
        settings = remote_settings.replace(chroma_url=proxy.url, chroma_token="slow-token")
        base = KnowledgeBase(settings)
        assert base.health()["chunks"] == remote_kb.health()["chunks"]  # its heartbeat answers at once
        answer = base.ask(validate_question("What is an omnichannel strategy?", None, 5, "en", settings))
    assert (
        answer.passages
        and answer.passages[0].chunk.id
        == remote_kb.ask(validate_question("What is an omnichannel strategy?", None, 5, "en", remote_settings))
        .passages[0]
        .chunk.id
    )


def test_api_clients_are_not_told_the_chroma_server_s_address(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every front door over HTTP said "Cannot reach the Chroma server at http://10.0.0.7:8000…"
    to whoever asked (a blog's reader, through the widget). They are told the index is
    unavailable; the operator's log, and the CLI, say where."""
    down = f"http://{HOST}:{free_port()}"  # nothing listens there
    settings = Settings(data_dir=tmp_path / "kb", chroma_url=down, openai_api=True)
    operator = f"Cannot reach the Chroma server at {down}: "
    question = {"question": "What is omnichannel?"}
    completion = {"model": "omnikb", "messages": [{"role": "user", "content": "What is omnichannel?"}]}
    with caplog.at_level(logging.WARNING), serve(create_api(settings)) as url:
        for method, path, body in (
            ("GET", "/api/health", None),
            ("GET", "/api/sources", None),
            ("POST", "/api/ask", question),
            ("POST", "/api/ask/stream", question),
            ("POST", "/v1/chat/completions", completion),
        ):
            status, _, payload = request(url + path, method, body)
            assert status == 503 and payload["error"]["code"] == "backend_unavailable", (path, payload)
            assert payload["error"]["message"] == INDEX_UNAVAILABLE, (path, payload)
            assert down.removeprefix("http://") not in json.dumps(payload), (path, payload)
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum(operator in line for line in logged) >= 5, logged
    # The operator's own terminal is told where.
    monkeypatch.setenv("KB_CHROMA_URL", down)
    assert cli.main(["--data-dir", str(tmp_path / "kb"), "health"]) == StoreUnavailableError.exit_code
    assert operator in capsys.readouterr().err


def test_an_app_server_follows_a_chroma_server_restarted_on_new_storage(tmp_path: Path) -> None:
    """Restarted on empty storage, the server has none of the collections the
    app server had looked up: every request was a 500, even after an ingest
    into the new server, until the app server was restarted."""
    port = free_port()
    with chroma_server(tmp_path / "first", port) as server:
        settings = Settings(data_dir=tmp_path / "a", seeds_dir=SEEDS, chroma_url=server.url)
        reader = KnowledgeBase(settings)
        reader.ingest(SEEDS)
        assert reader.ask(validate_question("¿Qué es una estrategia omnicanal?", None, 5, None, settings)).answered
    with chroma_server(tmp_path / "second", port) as server:
        time.sleep(ACTIVE_CHECK_SECONDS)
        with pytest.raises(IndexMissingError):  # a 503 saying what to run, not a 500
            reader.ask(validate_question("¿Qué es una estrategia omnicanal?", None, 5, None, settings))
        blog = tmp_path / "blog"
        blog.mkdir()
        (blog / "post.md").write_text(
            "# Sourdough at home\n\nFeed the starter twice a day, with equal weights of flour and water.\n",
            encoding="utf-8",
        )
        KnowledgeBase(Settings(data_dir=tmp_path / "b", chroma_url=server.url)).ingest(blog)
        time.sleep(ACTIVE_CHECK_SECONDS)
        answer = reader.ask(validate_question("How often do I feed the starter?", None, 5, "en", settings))
        assert [hit.chunk.source for hit in answer.passages] == ["post.md"]
        assert reader.health()["documents"] == 1
    # The server gone: a 503 that names it, not a 500.
    time.sleep(ACTIVE_CHECK_SECONDS)
    with pytest.raises(StoreUnavailableError, match="Cannot reach the Chroma server at"):
        reader.ask(validate_question("How often do I feed the starter?", None, 5, "en", settings))


# -- what a server that cannot be used is told by ----------------------------------------------------


def test_a_chroma_server_that_is_down_is_one_clean_sentence(tmp_path: Path) -> None:
    """chromadb's own question was kept and ours added: "…: Could not connect to a Chroma
    server. Are you sure it is running?. Is it running?"."""
    url = f"http://{HOST}:{free_port()}"  # nothing listens there
    with pytest.raises(StoreUnavailableError) as down:
        Store(Settings(data_dir=tmp_path / "kb", chroma_url=url))
    message = str(down.value)
    assert message.startswith(f"Cannot reach the Chroma server at {url}: ") and message.endswith(". Is it running?")
    assert "Connection refused" in message and message.count("?") == 1 and "Are you sure" not in message, message
    assert down.value.exit_code == 6


def test_a_refused_chroma_token_says_so_and_names_kb_chroma_token(server: ChromaServer, tmp_path: Path) -> None:
    """A proxy's 401 was "Cannot reach the Chroma server … Is it running?": the operator was
    sent to check whether the server runs, not the token."""
    with token_proxy(server.url, "good-token") as proxy:
        settings = Settings(data_dir=tmp_path / "kb", chroma_url=proxy.url, chroma_token="good-token")
        store = Store(settings)
        assert isinstance(store.generations(), list)  # the right token passes, to the real server
        with pytest.raises(StoreUnavailableError) as refused:
            Store(settings.replace(chroma_token="bad-token"))
        assert str(refused.value) == (
            f"The Chroma server at {proxy.url} refused the token (HTTP 401): check KB_CHROMA_TOKEN."
        )
        assert refused.value.exit_code == 6
        with pytest.raises(StoreUnavailableError) as wanted:
            Store(settings.replace(chroma_token=None))
        wants = f"The Chroma server at {proxy.url} asks for a token (HTTP 401): set KB_CHROMA_TOKEN."
        assert str(wanted.value) == wants
        # The token changed while an app server runs: its next read says so too, not a traceback.
        proxy.token = "rotated-token"
        with pytest.raises(StoreUnavailableError, match=r"refused the token \(HTTP 401\): check KB_CHROMA_TOKEN\.$"):
            store.active()


def test_an_address_that_is_not_a_chroma_server_says_so_and_names_kb_chroma_url(tmp_path: Path) -> None:
    """Another web server at KB_CHROMA_URL (its 404 page, or a page for every path) was
    "Cannot reach the Chroma server at …: <its body>. Is it running?"."""
    site = tmp_path / "site"
    site.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    with ThreadingHTTPServer((HOST, 0), handler) as web:
        threading.Thread(target=web.serve_forever, daemon=True).start()
        url = f"http://{HOST}:{web.server_address[1]}"
        settings = Settings(data_dir=tmp_path / "kb", chroma_url=url)
        try:
            with pytest.raises(StoreUnavailableError) as missing:
                Store(settings)
            assert str(missing.value) == (
                f"{url} is not a Chroma server (HTTP 404 for /api/v2/auth/identity): check KB_CHROMA_URL."
            )
            (site / "api" / "v2" / "auth").mkdir(parents=True)
            (site / "api" / "v2" / "auth" / "identity").write_text("<html>A blog</html>", encoding="utf-8")
            with pytest.raises(StoreUnavailableError) as page:
                Store(settings)
            not_json = f"{url} is not a Chroma server (its answer is not Chroma's JSON): check KB_CHROMA_URL."
            assert str(page.value) == not_json
        finally:
            web.shutdown()


def test_https_to_a_plain_http_chroma_server_says_the_tls_handshake_failed(
    server: ChromaServer, tmp_path: Path
) -> None:
    url = server.url.replace("http://", "https://")
    with pytest.raises(StoreUnavailableError) as handshake:
        Store(Settings(data_dir=tmp_path / "kb", chroma_url=url))
    message = str(handshake.value)
    assert message.startswith(f"The TLS handshake with {url} failed ("), message
    assert message.endswith("): is the server http rather than https? Check KB_CHROMA_URL."), message


def test_no_index_under_a_prefix_names_the_server_and_the_prefix(server: ChromaServer, tmp_path: Path) -> None:
    """The "No index yet" error named neither the server nor the prefix: a typo in either went unseen."""
    settings = Settings(data_dir=tmp_path / "kb", chroma_url=server.url, collection_prefix="other")
    with pytest.raises(IndexMissingError) as missing:
        KnowledgeBase(settings).retriever.index()
    assert str(missing.value) == (
        f"No index yet on the Chroma server at {server.url} under the collection prefix 'other' "
        "(KB_COLLECTION_PREFIX): run `python ingest.py` (or `kb ingest`) first."
    )


def test_an_interrupted_ingest_through_the_server_goes_on_from_what_it_embedded(
    server: ChromaServer, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "kb", chroma_url=server.url, collection_prefix="resumed")
    store, real = Store(settings), get_embedder(settings)
    written: list[int] = []

    class Interrupted:
        name, dimension = real.name, real.dimension

        def encode(self, texts: list[str], is_query: bool = False) -> Any:
            if not is_query:
                written.append(len(texts))
                if len(written) > 2:  # two articles written whole (each is one batch)
                    raise KeyboardInterrupt
            return real.encode(texts, is_query=is_query)

        def sparse(self, texts: list[str]) -> Any:
            return real.sparse(texts)

    with pytest.raises(KeyboardInterrupt):
        ingest(SEEDS, settings, store, Interrupted())  # type: ignore[arg-type]
    report = ingest(SEEDS, settings, Store(settings), real)
    assert len(report.added) == 5 and len(report.resumed) == 2
    assert Store(settings).generations() == [report.generation]
