"""A data dir that cannot be written, or whose index is damaged: one line that names
the dir and what to do (CLI: exit 7; API: 503 in the error shape, the line in the
server's log), never a traceback, and nothing already stored changes.

Copies of a real ingested data dir: one that refuses writes for real (``chattr +i``
as root, where permissions do not stop writes; ``chmod a-w`` otherwise), one whose
SQLite header is overwritten ("file is not a database"), one whose pages are
("database disk image is malformed").
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kb.errors import INDEX_UNAVAILABLE, DataDirError
from kb.settings import Settings
from tests.browser import request, running_server
from tests.conftest import SEEDS
from tests.test_cli import kb

pytestmark = [pytest.mark.slow, pytest.mark.server]

SOURCE = "000_9473cab8017bbeac.txt"
KINDS = ("read-only", "not-a-database", "malformed")


def _refuse_writes(data: Path) -> None:
    if os.geteuid() != 0:
        for path in [data, *data.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
    else:
        done = subprocess.run(["chattr", "-R", "+i", str(data)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"no way to refuse root's writes here (chattr +i: {done.stderr.strip()})")
    try:
        (data / "chroma" / "probe").touch()
    except OSError:
        return
    pytest.fail("the read-only copy takes writes")


def _allow_writes(data: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-R", "-i", str(data)], capture_output=True, check=False)
    for path in [data, *data.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def _damage(database: Path, offset: int) -> None:
    size = database.stat().st_size
    with open(database, "r+b") as handle:
        handle.seek(offset)
        handle.write(bytes((i * 37 + 11) % 256 for i in range(size - offset)))


@pytest.fixture(scope="module")
def damaged(seeded_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    copies: dict[str, Path] = {}
    for kind in KINDS:
        data = tmp_path_factory.mktemp(kind) / "kb"
        shutil.copytree(seeded_settings.data_dir, data)
        copies[kind] = data
    _damage(copies["not-a-database"] / "chroma" / "chroma.sqlite3", 0)
    _damage(copies["malformed"] / "chroma" / "chroma.sqlite3", 4096)
    try:
        _refuse_writes(copies["read-only"])
        yield copies
    finally:
        _allow_writes(copies["read-only"])


def _contents(data: Path) -> dict[str, str]:
    files = (p for p in data.rglob("*") if p.is_file())
    return {str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _assert_the_message(kind: str, data: Path, message: str) -> None:
    assert "\n" not in message and str(data) in message, message
    if kind == "read-only":
        assert "cannot be written" in message and "write access" in message, message
    else:
        assert "damaged" in message and "move the dir aside" in message and "kb ingest" in message, message


@pytest.mark.parametrize("kind", KINDS)
def test_the_cli_says_in_one_line_what_to_do_and_changes_nothing(kind: str, damaged: dict[str, Path]) -> None:
    data = damaged[kind]
    before = _contents(data)
    commands = [
        ("health",),
        ("ask", "What is omnichannel?"),
        ("sources",),
        ("show", SOURCE),
        ("ingest", str(SEEDS), "--quiet"),
    ]
    for args in commands:
        result = kb(*args, data_dir=data)
        assert result.returncode == DataDirError.exit_code == 7, (args, result.stderr)
        assert "Traceback" not in result.stderr and result.stderr.startswith("error: "), (args, result.stderr)
        _assert_the_message(kind, data, result.stderr.removeprefix("error: ").rstrip("\n"))
    as_json = kb("ask", "--json", "What is omnichannel?", data_dir=data)
    assert as_json.returncode == 7 and json.loads(as_json.stdout)["error"]["code"] == "data_dir_unusable"
    after = _contents(data)
    assert {name: after.get(name) for name in before} == before  # nothing stored lost or rewritten


@pytest.mark.parametrize("kind", KINDS)
def test_the_api_answers_503_in_the_error_shape(kind: str, damaged: dict[str, Path]) -> None:
    data = damaged[kind]
    before = _contents(data)
    with running_server(data) as server:
        for path, body in (
            ("/api/health", None),
            ("/api/sources", None),
            (f"/api/sources/{SOURCE}", None),
            ("/api/ask", {"question": "What is omnichannel?"}),
        ):
            status, _, payload = request(server.url + path, "POST" if body else "GET", body)
            assert status == 503, (path, payload)
            assert isinstance(payload, dict) and set(payload) == {"error"}, (path, payload)
            assert payload["error"]["code"] == "data_dir_unusable", (path, payload)
            # The dir, and what to do with it, are the operator's: a client is told the index is unavailable.
            assert payload["error"]["message"] == INDEX_UNAVAILABLE, (path, payload)
        log = server.log()
    assert "Traceback" not in log, log
    told = [line.split("data_dir_unusable: ", 1)[1] for line in log.splitlines() if "data_dir_unusable: " in line]
    assert len(told) >= 4, log
    for message in told:
        _assert_the_message(kind, data, message)
    after = _contents(data)
    assert {name: after.get(name) for name in before} == before


class PanicException(BaseException):
    """Stands in for pyo3's ``PanicException`` (a Rust panic in a native library), which
    no damaged copy here provoked: a ``BaseException``, not an ``Exception``."""


class _PanickingClient:
    """A real embedded Chroma client whose collection lookups panic."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        if name in ("get_collection", "get_or_create_collection", "list_collections"):
            raise PanicException("called `Result::unwrap()` on an `Err` value")
        return getattr(self.client, name)


def test_a_native_panic_in_the_store_is_the_data_dir_message(seeded_settings: Settings) -> None:
    from kb.index.store import Store, make_client

    store = Store(seeded_settings, client=_PanickingClient(make_client(seeded_settings)))
    with pytest.raises(DataDirError, match="is damaged"):
        store.active()
    with pytest.raises(DataDirError, match="is damaged"):
        store.generations()


def test_a_native_panic_anywhere_is_an_error_in_the_shape_not_a_plain_text_500(
    seeded_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kb import cli
    from kb.service import KnowledgeBase
    from kb.web.api import create_api
    from tests.test_guard import serve

    def panic(*args: Any, **kwargs: Any) -> Any:
        raise PanicException("called `Option::unwrap()` on a `None` value")

    kb_ = KnowledgeBase(seeded_settings)
    monkeypatch.setattr(kb_, "document", panic)
    with serve(create_api(seeded_settings, kb_)) as url:
        status, _, payload = request(f"{url}/api/sources/{SOURCE}")
    assert status == 500 and payload["error"]["code"] == "internal_error", payload
    monkeypatch.setitem(cli.COMMANDS, "sources", panic)
    assert cli.main(["--data-dir", str(seeded_settings.data_dir), "sources"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "PanicException" in err, err
    # Ctrl-C and exits are not caught as panics.
    monkeypatch.setitem(cli.COMMANDS, "sources", lambda *a: (_ for _ in ()).throw(SystemExit(9)))
    with pytest.raises(SystemExit):
        cli.main(["--data-dir", str(seeded_settings.data_dir), "sources"])


def test_a_full_disk_is_not_called_damaged(tmp_path: Path) -> None:
    """No full disk here: the errors SQLite (through Chroma) and the kernel raise for one."""
    import errno

    from chromadb.errors import InternalError

    from kb.index.store import data_dir_error

    for exc in (
        InternalError("error returned from database: (code: 13) database or disk is full"),
        OSError(errno.ENOSPC, "No space left on device"),
    ):
        message = str(data_dir_error(tmp_path, exc))
        assert "no room left" in message and "free some space" in message and "damaged" not in message


class _StaleCollection:
    """A real collection whose queries fail as a long-lived reader's did after
    ``kb ingest`` wrote the same data dir from another process: intermittently
    (about one re-ingest in thirty with the seeds), so not reproducible on demand."""

    def __init__(self, collection: Any, message: str) -> None:
        self.collection, self.message = collection, message

    def query(self, *args: Any, **kwargs: Any) -> Any:
        from chromadb.errors import InternalError

        raise InternalError(self.message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)


class _StaleClient:
    def __init__(self, client: Any, message: str) -> None:
        self.client, self.message = client, message

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.client, name)
        if name in ("get_collection", "get_or_create_collection"):
            return lambda *a, **k: _StaleCollection(found(*a, **k), self.message)
        return found


def _clients(real: Any, messages: list[str]) -> Any:
    """``make_client``: a client whose queries fail with each of ``messages`` in turn, then real ones."""
    left = iter(messages)

    def make(settings: Settings) -> Any:
        message = next(left, None)
        return real(settings) if message is None else _StaleClient(real(settings), message)

    return make


STALE = "Error executing plan: Internal error: Error creating hnsw segment reader: Nothing found on disk"


def test_a_reader_whose_view_of_the_index_went_stale_opens_it_again(
    seeded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is whole (a restart answered): the reader opens its client again and
    answers, instead of telling the owner to move the data dir aside. Another internal
    error, or the same one again once reopened, is still the data dir's message."""
    from kb.index import store as store_module
    from kb.index.embed import get_embedder

    real = store_module.make_client
    vector = get_embedder(seeded_settings).encode(["What is omnichannel?"], is_query=True)[0].tolist()
    for messages, answers in (([STALE], True), ([STALE, STALE], False), (["Error executing plan: disk I/O"], False)):
        monkeypatch.setattr(store_module, "make_client", _clients(real, messages))
        store = store_module.Store(seeded_settings)
        generation = store.require_active(get_embedder(seeded_settings).name).generation
        if answers:
            assert len(store.dense_search(generation, vector, 5)) == 5
        else:
            with pytest.raises(DataDirError, match="is damaged"):
                store.dense_search(generation, vector, 5)
