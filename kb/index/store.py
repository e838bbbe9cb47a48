"""Chroma storage, embedded (``PersistentClient``) or remote (``HttpClient``).

An index is a *generation*: one collection of chunks and one of cleaned
documents. Ingest builds a new generation aside and then flips the ``active``
pointer in a small meta collection, so readers always see a whole index: a
failed or killed ingest leaves the previous one answering. The replaced
generation is removed by the next ingest, not at the switch, so readers that
had just read the old pointer can finish. The app owns the
embedder; Chroma only stores vectors (no embedding function is ever given to
it, so it never downloads one).
"""

from __future__ import annotations

import base64
import errno
import functools
import json
import logging
import os
import re
import shutil
import sqlite3
import ssl
import threading
import time
import types
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import httpx
import numpy as np
from chromadb.errors import AuthorizationError, ChromaAuthError, InternalError, NotFoundError

from kb.errors import (
    INDEX_UNAVAILABLE,
    BackendUnavailableError,
    DataDirError,
    IndexMissingError,
    ModelMismatchError,
)
from kb.index.embed import SparseVector
from kb.models import Chunk, Document
from kb.settings import Settings
from kb.text.sentences import sentences_of

log = logging.getLogger(__name__)

# A Chroma server that accepts connections and never answers must not hang a
# question or a health check: chromadb's HTTP client waits forever. Writes of
# a batch of passages take seconds at most (about 4 s for 500 at 100,000
# passages in the benchmark), so a reply is awaited this long.
CHROMA_TIMEOUT_SECONDS = 30.0
CHROMA_CONNECT_SECONDS = 5.0
# A health check (a load balancer's waits a few seconds) and the warm-up first ask this
# long for the server's heartbeat, which answers at once: a silent server is told so in seconds.
CHROMA_HEARTBEAT_SECONDS = 2.0

# What Chroma says when a client's view of a vector index's files has gone stale.
STALE_VECTOR_INDEX = "Nothing found on disk"

_ACTIVE_ID = "active"
# The meta record that holds a generation's answerability calibration.
_CALIBRATION_ID = "{kind}-g{generation}"
# The kinds of calibration kept per generation: answerability, and the support check of generated answers.
_CALIBRATION_KINDS = ("calibration", "support")

F = TypeVar("F", bound=Callable[..., Any])


class StoreUnavailableError(BackendUnavailableError):
    """The Chroma server cannot be reached, or stopped answering."""

    public_message = INDEX_UNAVAILABLE


def _guarded(method: F) -> F:
    """A store call that survives a Chroma server restarted on other storage
    (its cached collection handles name collections that are gone: they are
    looked up again, once) and turns a lost server into a message."""

    @functools.wraps(method)
    def call(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            try:
                return method(self, *args, **kwargs)
            except NotFoundError:
                if not self._handles:
                    raise
                with self._lock:
                    self._handles.clear()
                return method(self, *args, **kwargs)
            except InternalError as exc:
                if not self._reopened(exc):
                    raise
                return method(self, *args, **kwargs)
        except httpx.TransportError as exc:
            raise _unavailable(self.settings, exc) from exc
        except BaseException as exc:
            if self.settings.chroma_url:
                if _misdirected(exc):  # a token refused, or an answer that is not Chroma's
                    raise _unavailable(self.settings, exc) from exc
                raise
            if not store_failure(exc):
                raise
            raise data_dir_error(self.settings.data_dir, exc) from exc

    return call  # type: ignore[return-value]


# What the owner of a data dir is told when the embedded index cannot be used.
READ_ONLY = (
    "The data dir {dir} cannot be written ({reason}): give the user running omnikb write access to it "
    "(chmod, chown, chattr -i), or set KB_DATA_DIR to a writable copy."
)
DAMAGED = (
    "The index in the data dir {dir} is damaged ({reason}): move the dir aside "
    "(mv {dir} {dir}.damaged) and run `kb ingest` to build it again."
)
FULL = "The data dir {dir} has no room left ({reason}): free some space on its disk and run the command again."
_FULL_WORDS = ("disk is full", "no space left", "quota exceeded")
_READ_ONLY_WORDS = ("readonly", "read-only", "permission denied", "operation not permitted", "unable to open")
_CHROMA_CODE = re.compile(r"^.*\(code: \d+\)\s*")


def store_failure(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the embedded index's files rather than from omnikb:
    SQLite's errors (through Chroma's Rust core or not), the file system's, or a native
    library's panic (pyo3's ``PanicException`` is a ``BaseException``). Ctrl-C and exits are not."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        return False
    return not isinstance(exc, Exception) or isinstance(exc, (InternalError, sqlite3.Error, OSError))


def data_dir_error(data_dir: Path, exc: BaseException) -> DataDirError:
    """One line for the owner: the dir, what went wrong, and what to do (fix its permissions,
    or move it aside and ingest again)."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    reason = _CHROMA_CODE.sub("", lines[0])[:200] or type(exc).__name__
    shown = data_dir.absolute()
    chroma = data_dir / "chroma"
    unwritable = any(p.exists() and not os.access(p, os.W_OK) for p in (data_dir, chroma, chroma / "chroma.sqlite3"))
    read_only = (
        unwritable
        or (isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS))
        or any(word in reason.lower() for word in _READ_ONLY_WORDS)
    )
    full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or any(
        word in reason.lower() for word in _FULL_WORDS
    )
    log.debug("data dir %s unusable", shown, exc_info=exc)
    text = FULL if full else READ_ONLY if read_only else DAMAGED
    return DataDirError(text.format(dir=shown, reason=reason))


# What a person is told when the Chroma server at KB_CHROMA_URL cannot be used, by what went wrong.
UNREACHABLE = "Cannot reach the Chroma server at {url}: {reason}. Is it running?"
TOKEN_REFUSED = "The Chroma server at {url} refused the token (HTTP {status}): check KB_CHROMA_TOKEN."
TOKEN_WANTED = "The Chroma server at {url} asks for a token (HTTP {status}): set KB_CHROMA_TOKEN."
NOT_CHROMA = "{url} is not a Chroma server ({what}): check KB_CHROMA_URL."
TLS_FAILED = "The TLS handshake with {url} failed ({reason}): {hint}"
_TLS_PLAIN = "is the server http rather than https? Check KB_CHROMA_URL."
_TLS_CERTIFICATE = "this machine does not trust the server's certificate."
# Statuses that say the address answers, but not as a Chroma server's API does.
_NOT_CHROMA_STATUSES = frozenset({404, 405})


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from or while handling: chromadb wraps what httpx
    raised (a refused connection, an HTTP status, a TLS error) in errors of its own."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def _http_failure(chain: list[BaseException]) -> tuple[int, httpx.Response | None] | None:
    """The HTTP status a call failed with, and the response when there is one: a proxy's or
    another server's (chromadb raises its body as text), or none for an authorization error
    in Chroma's own words."""
    for link in chain:
        if isinstance(link, httpx.HTTPStatusError):
            return link.response.status_code, link.response
        if isinstance(link, (AuthorizationError, ChromaAuthError)):
            return link.code(), None
    return None


def _not_json(chain: list[BaseException]) -> bool:
    return any(isinstance(link, json.JSONDecodeError) for link in chain)


def _misdirected(exc: BaseException) -> bool:
    """Whether a remote store call failed because the server refused the token or does
    not answer as Chroma does (not a Chroma error about the request itself)."""
    chain = _chain(exc)
    failure = _http_failure(chain)
    return (failure is not None and failure[0] in (401, 403, *_NOT_CHROMA_STATUSES)) or _not_json(chain)


# What a client over HTTP is told when the server did not answer in time (the address is the operator's).
SILENT = "The index is unavailable: its server did not answer within {seconds:g} s. The operator has been told."


def _unavailable(settings: Settings, exc: BaseException, waited: float | None = None) -> StoreUnavailableError:
    """The error for a Chroma server that cannot be used: ``_unreachable``'s sentence for the
    operator; for a client over HTTP, that the index is unavailable, and for how long it was
    awaited when it did not answer. ``waited``: the seconds a reply was awaited (chromadb's)."""
    seconds = _waited(exc, waited)
    public = SILENT.format(seconds=seconds) if seconds is not None else None
    return StoreUnavailableError(_unreachable(settings, exc, waited), public=public)


def _waited(exc: BaseException, waited: float | None) -> float | None:
    """How long an answer was awaited, when ``exc`` says none came in time (None otherwise)."""
    chain = _chain(exc)
    if not any(isinstance(link, httpx.TimeoutException) for link in chain):
        return None
    if waited is not None:
        return waited
    connecting = any(isinstance(link, httpx.ConnectTimeout) for link in chain)
    return CHROMA_CONNECT_SECONDS if connecting else CHROMA_TIMEOUT_SECONDS


def _unreachable(settings: Settings, exc: BaseException, waited: float | None = None) -> str:
    """One sentence on why the Chroma server at ``KB_CHROMA_URL`` cannot be used: a refused
    token, an address that is not a Chroma server, a failed TLS handshake, or no answer
    (within ``waited`` seconds, chromadb's timeouts by default)."""
    url = settings.chroma_url
    chain = _chain(exc)
    seconds = _waited(exc, waited)
    if seconds is not None:
        return UNREACHABLE.format(url=url, reason=f"no answer within {seconds:g} s")
    tls = next((link for link in chain if isinstance(link, ssl.SSLError)), None)
    if tls is not None:
        return _tls_failed(url, tls)
    failure = _http_failure(chain)
    if failure is not None:
        status, response = failure
        if status in (401, 403):
            return (TOKEN_REFUSED if settings.chroma_token else TOKEN_WANTED).format(url=url, status=status)
        if response is not None and status in _NOT_CHROMA_STATUSES:
            return NOT_CHROMA.format(url=url, what=f"HTTP {status} for {response.request.url.path}")
        if response is not None:
            return UNREACHABLE.format(url=url, reason=f"HTTP {status} {response.reason_phrase}".strip())
    if _not_json(chain):
        return NOT_CHROMA.format(url=url, what="its answer is not Chroma's JSON")
    # The transport's own words ("[Errno 111] Connection refused"), not chromadb's wrapping
    # of them ("Could not connect to a Chroma server. Are you sure it is running?").
    transport = next((link for link in chain if isinstance(link, httpx.TransportError)), exc)
    return UNREACHABLE.format(url=url, reason=_one_line(transport))


def _tls_failed(url: str | None, error: ssl.SSLError) -> str:
    """An https URL to a plain-http server ("wrong version number"), or a certificate not trusted."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return TLS_FAILED.format(url=url, reason=error.verify_message or _one_line(error), hint=_TLS_CERTIFICATE)
    reason = (error.reason or "").replace("_", " ").lower() or _one_line(error)
    return TLS_FAILED.format(url=url, reason=reason, hint=_TLS_PLAIN)


def _one_line(exc: BaseException) -> str:
    """``exc``'s message on one line, without a closing full stop (the sentence goes on)."""
    return " ".join(str(exc).split()).rstrip(".")[:300] or type(exc).__name__


# Rows one write to Chroma takes (well below a Chroma server's batch limit).
_BATCH = 500
# Rows a read of a whole collection takes at a time.
_PAGE = 5000


@dataclass(frozen=True)
class ActiveIndex:
    generation: int
    embedding_model: str
    dimension: int
    folder: str = ""  # the folder it was ingested from, absolute
    # Tells an index from another of the same number (a Chroma server's storage replaced).
    activated_at: float = 0.0


@dataclass(frozen=True)
class StoredDocument:
    source: str
    title: str
    language: str
    characters: int
    content_hash: str
    translation_of: str | None
    url: str | None = None
    # How its passages were cut ("550/250": KB_CHUNK_MAX_CHARS/KB_CHUNK_MIN_CHARS); "" when not recorded.
    chunking: str = ""
    # How many passages it was written with; None when not recorded.
    passages: int | None = None


@dataclass(frozen=True)
class StoredPassages:
    """A generation's passages and what is kept of each, row for row."""

    chunks: list[Chunk]
    vectors: np.ndarray
    # Each passage's latent terms; None where the model has no sparse head.
    sparse: list[SparseVector | None]
    # Each passage's sentences' vectors (``sentences_of``), as queries; None in an index made without them.
    sentences: list[np.ndarray | None]

    def sentence_vectors(self) -> dict[str, np.ndarray]:
        """Each sentence's vector, by the sentence (``sentences_of``); none of a
        passage kept without them (an index made before they were)."""
        found: dict[str, np.ndarray] = {}
        for chunk, matrix in zip(self.chunks, self.sentences, strict=True):
            sentences = sentences_of(chunk.text)
            if matrix is not None and len(matrix) == len(sentences):
                found.update(zip(sentences, matrix, strict=True))
        return found


def make_client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        parsed = urlparse(settings.chroma_url)  # its shape is checked by Settings
        headers = _token_headers(settings)
        _bound_chroma_http()
        try:
            return chromadb.HttpClient(
                host=str(parsed.hostname),
                port=_port(settings.chroma_url),
                ssl=parsed.scheme == "https",
                headers=headers or None,
                settings=chroma_settings,
            )
        except Exception as exc:
            raise _unavailable(settings, exc) from exc
    try:
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except BaseException as exc:
        if not store_failure(exc):
            raise
        _forget_system(settings.chroma_path)
        raise data_dir_error(settings.data_dir, exc) from exc


def _port(url: str) -> int:
    parsed = urlparse(url)
    return parsed.port or (443 if parsed.scheme == "https" else 8000)


def _token_headers(settings: Settings) -> dict[str, str]:
    """``KB_CHROMA_TOKEN`` as a Chroma server, or a proxy in front of it, may read it."""
    if not settings.chroma_token:
        return {}
    return {"Authorization": f"Bearer {settings.chroma_token}", "X-Chroma-Token": settings.chroma_token}


def heartbeat(settings: Settings, seconds: float = CHROMA_HEARTBEAT_SECONDS) -> None:
    """Raise ``StoreUnavailableError`` unless the Chroma server at ``KB_CHROMA_URL`` answers
    within ``seconds`` (any HTTP answer will do: a refused token is told by the call that
    follows). Without a lock and on a client of its own: a question or a warm-up waiting on a
    silent server does not hold it up. An embedded store has nothing to ask."""
    if not settings.chroma_url:
        return
    parsed = urlparse(settings.chroma_url)
    host = f"[{parsed.hostname}]" if ":" in str(parsed.hostname) else parsed.hostname
    url = f"{parsed.scheme}://{host}:{_port(settings.chroma_url)}/api/v2/heartbeat"
    try:
        httpx.get(url, headers=_token_headers(settings), timeout=seconds)
    except httpx.TransportError as exc:
        raise _unavailable(settings, exc, seconds) from exc


def _forget_system(path: Path) -> None:
    """chromadb keeps a client's system per path before it has started: one that failed
    to start is dropped, so that the next attempt (the dir mended) starts afresh."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(path), None)


def _bound_chroma_http() -> None:
    """chromadb's HTTP client is built with no timeout (it would wait forever
    for a silent server); its module is given an httpx whose clients have ours."""
    from chromadb.api import fastapi as chroma_http

    if getattr(chroma_http.httpx, "omnikb_bounded", False):
        return

    class BoundedClient(httpx.Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["timeout"] = httpx.Timeout(CHROMA_TIMEOUT_SECONDS, connect=CHROMA_CONNECT_SECONDS)
            super().__init__(*args, **kwargs)

    bounded = types.SimpleNamespace(**{name: getattr(httpx, name) for name in dir(httpx) if not name.startswith("__")})
    bounded.Client = BoundedClient
    bounded.omnikb_bounded = True
    chroma_http.httpx = bounded  # type: ignore[assignment]


NO_INDEX = "No index yet {where}: run `python ingest.py` (or `kb ingest`) first."


def no_index(settings: Settings, prefix: bool = True) -> IndexMissingError:
    """The "no index yet" error, naming where the index was looked for: the Chroma server or
    the data dir, and (``prefix``) the collection prefix, so that a typo in either shows
    (followed blindly, the message would embed the whole corpus again under the wrong name)."""
    where = (
        f"on the Chroma server at {settings.chroma_url}"
        if settings.chroma_url
        else f"in the data dir {settings.data_dir.absolute()}"
    )
    if prefix:
        where += f" under the collection prefix {settings.collection_prefix!r} (KB_COLLECTION_PREFIX)"
    return IndexMissingError(NO_INDEX.format(where=where))


def require_index_folder(settings: Settings) -> None:
    """For a command that only reads: an embedded index's folder must exist
    (opening it would create an empty one)."""
    if not settings.chroma_url and not settings.chroma_path.exists():
        raise no_index(settings, prefix=False)


class Store:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.settings = settings
        self.prefix = re.sub(r"[^a-zA-Z0-9_-]", "-", settings.collection_prefix) or "omnikb"
        self._client = client if client is not None else make_client(settings)
        self._owns_client = client is None
        self._lock = threading.RLock()
        # Collection handles by name: looking one up is a round trip to a Chroma server.
        self._handles: dict[str, Any] = {}

    def _reopened(self, exc: InternalError) -> bool:
        """Whether the embedded client was opened again after ``exc``, its view of the
        vector index files gone stale: another process (``kb ingest``) writing the same
        data dir leaves a long-lived reader's client unable to load a generation's
        vector index, though its files are there ("Error creating hnsw segment reader:
        Nothing found on disk"), until it is opened again. Only a client omnikb made."""
        if self.settings.chroma_url or not self._owns_client or STALE_VECTOR_INDEX not in str(exc):
            return False
        with self._lock:
            log.info("reopening the embedded index after: %s", str(exc).strip().splitlines()[0][:200])
            _forget_system(self.settings.chroma_path)
            self._client = make_client(self.settings)
            self._handles.clear()
        return True

    # -- names -------------------------------------------------------------
    def _meta(self, create: bool = True) -> Any:
        return self._handle(f"{self.prefix}-meta", create=create)

    def _name(self, generation: int, kind: str) -> str:
        return f"{self.prefix}-g{generation}-{kind}"

    def _collection(self, generation: int, kind: str) -> Any:
        return self._handle(self._name(generation, kind))

    def _handle(self, name: str, create: bool = False) -> Any:
        with self._lock:
            handle = self._handles.get(name)
            if handle is None:
                lookup = self._client.get_or_create_collection if create else self._client.get_collection
                handle = self._handles[name] = lookup(name, embedding_function=None)
            return handle

    def _forget(self, generation: int) -> None:
        with self._lock:
            for kind in ("chunks", "documents"):
                self._handles.pop(self._name(generation, kind), None)

    # -- the active generation --------------------------------------------
    @_guarded
    def active(self) -> ActiveIndex | None:
        # Only an ingest creates the meta collection: a read on an empty
        # Chroma server (or a colleague's, by a mistyped URL) writes nothing.
        try:
            result = self._meta(create=False).get(ids=[_ACTIVE_ID], include=["metadatas"])
        except NotFoundError:
            with self._lock:
                self._handles.pop(f"{self.prefix}-meta", None)
            try:
                result = self._meta(create=False).get(ids=[_ACTIVE_ID], include=["metadatas"])
            except NotFoundError:
                return None
        if not result["ids"]:
            return None
        meta = result["metadatas"][0]
        return ActiveIndex(
            int(meta["generation"]),
            str(meta["embedding_model"]),
            int(meta["dimension"]),
            str(meta.get("folder") or ""),
            float(meta.get("activated_at") or 0.0),
        )

    def require_active(self, embedding_model: str) -> ActiveIndex:
        active = self.active()
        if active is None:
            raise no_index(self.settings)
        if active.embedding_model != embedding_model:
            raise ModelMismatchError(
                f"The index was built with the embedding model {active.embedding_model!r}, "
                f"but this run uses {embedding_model!r}. Run `python ingest.py` to rebuild it, "
                f"or set KB_EMBEDDING_MODEL back to the model that built it."
            )
        return active

    @_guarded
    def activate(self, generation: int, embedding_model: str, dimension: int, folder: str = "") -> None:
        self._meta().upsert(
            ids=[_ACTIVE_ID],
            embeddings=[[1.0]],
            metadatas=[
                {
                    "generation": generation,
                    "embedding_model": embedding_model,
                    "dimension": dimension,
                    "folder": folder,
                    "activated_at": time.time(),
                }
            ],
        )

    # -- what a generation's index derives, stored with it ----------------
    @_guarded
    def save_calibration(
        self, generation: int, embedding_model: str, key: str, value: str, kind: str = "calibration"
    ) -> None:
        """Keep ``generation``'s answerability calibration (``value``, as the caller
        encodes it) in the store, beside the active record: every app server that
        shares the store reads it rather than computing it. ``key`` names how it
        was computed (the probes and constants); a record under another key is stale.
        ``kind``: which calibration (``_CALIBRATION_KINDS``)."""
        self._meta().upsert(
            ids=[_CALIBRATION_ID.format(kind=kind, generation=generation)],
            embeddings=[[1.0]],
            metadatas=[{"generation": generation, "embedding_model": embedding_model, "key": key, "value": value}],
        )

    @_guarded
    def calibration(self, generation: int, embedding_model: str, key: str, kind: str = "calibration") -> str | None:
        """What ``save_calibration`` kept for ``generation``, built by ``embedding_model``
        under ``key``; None when nothing was kept (an index older than the record)."""
        try:
            result = self._meta(create=False).get(
                ids=[_CALIBRATION_ID.format(kind=kind, generation=generation)], include=["metadatas"]
            )
        except NotFoundError:
            return None
        if not result["ids"]:
            return None
        meta = result["metadatas"][0]
        if meta.get("embedding_model") != embedding_model or meta.get("key") != key:
            return None
        value = meta.get("value")
        return value if isinstance(value, str) else None

    def drop_calibration(self, generation: int) -> None:
        try:
            self._meta(create=False).delete(
                ids=[_CALIBRATION_ID.format(kind=kind, generation=generation) for kind in _CALIBRATION_KINDS]
            )
        except Exception:  # noqa: BLE001 - no meta collection, or no record
            log.debug("no calibration kept for generation %s", generation)

    # -- generations ------------------------------------------------------
    @_guarded
    def generations(self) -> list[int]:
        found = set()
        pattern = re.compile(rf"^{re.escape(self.prefix)}-g(\d+)-(chunks|documents)$")
        for collection in self._client.list_collections():
            name = collection if isinstance(collection, str) else collection.name
            match = pattern.match(name)
            if match:
                found.add(int(match.group(1)))
        return sorted(found)

    @_guarded
    def new_generation(self, embedding_model: str) -> int:
        existing = self.generations()
        active = self.active()
        generation = max([*existing, active.generation if active else 0]) + 1
        for kind in ("chunks", "documents"):
            created = self._client.create_collection(
                self._name(generation, kind),
                metadata={"hnsw:space": "cosine", "embedding_model": embedding_model},
                embedding_function=None,
            )
            with self._lock:
                self._handles[self._name(generation, kind)] = created
        return generation

    @_guarded
    def unfinished(self, embedding_model: str) -> int | None:
        """The newest generation an ingest began after the active one and never
        activated (killed, interrupted, failed), made with ``embedding_model``; None if none."""
        active = self.active()
        for generation in sorted(self.generations(), reverse=True):
            if active is not None and generation <= active.generation:
                break
            try:
                made_with = (self._collection(generation, "chunks").metadata or {}).get("embedding_model")
            except NotFoundError:  # half of a pair of collections
                continue
            if made_with == embedding_model:
                return generation
        return None

    def drop_generation(self, generation: int) -> None:
        self._forget(generation)
        self.drop_calibration(generation)
        for kind in ("chunks", "documents"):
            try:
                self._client.delete_collection(self._name(generation, kind))
            except Exception:  # noqa: BLE001 - already gone
                log.debug("collection %s already gone", self._name(generation, kind))

    @_guarded
    def drop_inactive(self, keep: int | None = None) -> None:
        """Remove generations left by earlier ingests: the one the last ingest replaced (kept
        so that readers in flight could finish on it) and any a killed ingest half-built
        (but ``keep``)."""
        active = self.active()
        for generation in self.generations():
            if generation != keep and (active is None or generation != active.generation):
                self.drop_generation(generation)
        if not self.settings.chroma_url:
            sweep_vector_folders(self.settings.chroma_path)

    # -- writing ----------------------------------------------------------
    @_guarded
    def add_document(
        self,
        generation: int,
        doc: Document,
        chunks: Sequence[Chunk],
        embeddings: np.ndarray,
        sparse: Sequence[SparseVector] | None = None,
        sentences: Sequence[np.ndarray] | None = None,
        chunking: str = "",
    ) -> None:
        """Add ``doc`` and its passages: their vectors, latent terms (``sparse``) and
        their sentences' vectors (``sentences``: a matrix a passage, one row a
        sentence of ``sentences_of(chunk.text)``), each in the passages' order;
        ``chunking``: how they were cut.

        The passages are written first and the document last, with their number:
        a document in a generation an ingest left half-built is whole (``whole_documents``)."""
        chunk_collection = self._collection(generation, "chunks")
        for i in range(0, len(chunks), _BATCH):
            part = chunks[i : i + _BATCH]
            chunk_collection.add(
                ids=[c.id for c in part],
                documents=[c.text for c in part],
                embeddings=embeddings[i : i + _BATCH].tolist(),
                metadatas=[
                    _chunk_meta(
                        c,
                        sparse[i + j] if sparse is not None else None,
                        sentences[i + j] if sentences is not None else None,
                    )
                    for j, c in enumerate(part)
                ],
            )
        doc_vector = embeddings.mean(axis=0) if len(chunks) else np.zeros(embeddings.shape[1])
        doc_vector = doc_vector / max(float(np.linalg.norm(doc_vector)), 1e-12)
        meta: dict[str, Any] = {
            "title": doc.title,
            "language": doc.language,
            "content_hash": doc.content_hash,
            "characters": doc.characters,
            "passages": len(chunks),
        }
        if chunking:
            meta["chunking"] = chunking
        if doc.translation_of:
            meta["translation_of"] = doc.translation_of
        if doc.url:
            meta["url"] = doc.url
        self._collection(generation, "documents").add(
            ids=[doc.source], documents=[doc.text], embeddings=[doc_vector.tolist()], metadatas=[meta]
        )

    @_guarded
    def copy_documents(
        self,
        sources: Sequence[str],
        from_generation: int,
        to_generation: int,
        urls: Mapping[str, str | None] | None = None,
    ) -> None:
        """Carry documents over to another generation, vectors and all; with the
        link ``urls`` gives one (None: none) in place of the one it had (its text
        is the same, its address moved).

        In a few round trips whatever the number of documents (one a document, a
        blog of 400 posts took a minute to re-index after a one-line edit); the
        passages first and the documents last, as ``add_document`` writes them."""
        wanted = list(sources)
        relinked = urls or {}
        # The passages: the old generation read page by page, those of the documents carried.
        old_chunks = self._collection(from_generation, "chunks")
        new_chunks = self._collection(to_generation, "chunks")
        keep = set(wanted)
        pending: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
        for offset in range(0, old_chunks.count(), _PAGE):
            page = old_chunks.get(include=["documents", "metadatas", "embeddings"], limit=_PAGE, offset=offset)
            for row in zip(page["ids"], page["documents"], page["metadatas"], page["embeddings"], strict=True):
                if row[2] and row[2].get("source") in keep:
                    for rows, value in zip(pending.values(), row, strict=True):
                        rows.append(value)
                if len(pending["ids"]) >= _BATCH:
                    _add(new_chunks, pending)
        _add(new_chunks, pending)
        old_documents = self._collection(from_generation, "documents")
        new_documents = self._collection(to_generation, "documents")
        for i in range(0, len(wanted), _BATCH):
            docs = old_documents.get(ids=wanted[i : i + _BATCH], include=["documents", "metadatas", "embeddings"])
            metadatas = [
                _relinked(meta, relinked[ident]) if ident in relinked else meta
                for ident, meta in zip(docs["ids"], docs["metadatas"], strict=True)
            ]
            _add(
                new_documents,
                {
                    "ids": docs["ids"],
                    "documents": docs["documents"],
                    "metadatas": metadatas,
                    "embeddings": list(docs["embeddings"]),
                },
            )

    @_guarded
    def remove_documents(self, generation: int, sources: Sequence[str]) -> None:
        """Take ``sources`` and their passages out of ``generation``."""
        if sources:
            self._collection(generation, "chunks").delete(where={"source": {"$in": list(sources)}})
            self._collection(generation, "documents").delete(ids=list(sources))

    @_guarded
    def set_translation(self, generation: int, source: str, translation_of: str | None) -> None:
        """Record ``source`` as a translation of ``translation_of`` (None: of none)."""
        collection = self._collection(generation, "documents")
        current = collection.get(ids=[source], include=["metadatas"])
        if not current["ids"]:
            return
        meta = dict(current["metadatas"][0])
        meta["translation_of"] = translation_of or ""  # read back as None
        collection.update(ids=[source], metadatas=[meta])

    # -- reading ----------------------------------------------------------
    @_guarded
    def documents(self, generation: int) -> list[StoredDocument]:
        result = self._collection(generation, "documents").get(include=["metadatas"])
        docs = [
            StoredDocument(
                source=ident,
                title=str(meta["title"]),
                language=str(meta["language"]),
                characters=int(meta["characters"]),
                content_hash=str(meta["content_hash"]),
                translation_of=str(meta["translation_of"]) if meta.get("translation_of") else None,
                url=str(meta["url"]) if meta.get("url") else None,
                chunking=str(meta.get("chunking") or ""),
                passages=int(meta["passages"]) if meta.get("passages") is not None else None,
            )
            for ident, meta in zip(result["ids"], result["metadatas"], strict=True)
        ]
        return sorted(docs, key=lambda d: d.source)

    @_guarded
    def whole_documents(self, generation: int) -> list[StoredDocument]:
        """The documents of ``generation`` with every passage they were written with: in
        one an ingest left half-built, those it finished (an older index records no count)."""
        collection = self._collection(generation, "chunks")
        found: Counter[str] = Counter()
        for offset in range(0, collection.count(), _PAGE):
            page = collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
            found.update(str(meta.get("source")) for meta in page["metadatas"] if meta)
        return [d for d in self.documents(generation) if d.passages is not None and found.get(d.source) == d.passages]

    @_guarded
    def document(self, generation: int, source: str) -> Document | None:
        result = self._collection(generation, "documents").get(ids=[source], include=["documents", "metadatas"])
        if not result["ids"]:
            return None
        meta = result["metadatas"][0]
        return Document(
            source=source,
            title=str(meta["title"]),
            language=str(meta["language"]),
            text=str(result["documents"][0]),
            content_hash=str(meta["content_hash"]),
            translation_of=str(meta["translation_of"]) if meta.get("translation_of") else None,
            url=str(meta["url"]) if meta.get("url") else None,
        )

    def all_chunks(self, generation: int) -> tuple[list[Chunk], np.ndarray]:
        stored = self.passages(generation)
        return stored.chunks, stored.vectors

    @_guarded
    def passages(self, generation: int) -> StoredPassages:
        """Every passage of ``generation`` with what is kept of it, in the articles' order."""
        collection = self._collection(generation, "chunks")
        total = collection.count()
        chunks: list[Chunk] = []
        vectors: list[np.ndarray] = []
        sparse: list[SparseVector | None] = []
        sentences: list[np.ndarray | None] = []
        # A passage's link is its document's, kept once with the document.
        documents = self._collection(generation, "documents").get(include=["metadatas"])
        urls = {
            ident: str(meta["url"])
            for ident, meta in zip(documents["ids"], documents["metadatas"], strict=True)
            if meta and meta.get("url")
        }
        for offset in range(0, total, _PAGE):
            result = collection.get(include=["documents", "metadatas", "embeddings"], limit=_PAGE, offset=offset)
            for ident, text, meta, vector in zip(
                result["ids"], result["documents"], result["metadatas"], result["embeddings"], strict=True
            ):
                chunk = _chunk_from(ident, text, meta)
                chunks.append(replace(chunk, url=urls[chunk.source]) if chunk.source in urls else chunk)
                vectors.append(np.asarray(vector, dtype=np.float32))
                sparse.append(decode_sparse(meta.get("sparse")))
                sentences.append(decode_matrix(meta.get("sentences")))
        order = sorted(range(len(chunks)), key=lambda i: (chunks[i].source, chunks[i].ordinal))
        matrix = np.vstack([vectors[i] for i in order]) if vectors else np.zeros((0, 1), dtype=np.float32)
        return StoredPassages(
            chunks=[chunks[i] for i in order],
            vectors=matrix,
            sparse=[sparse[i] for i in order],
            sentences=[sentences[i] for i in order],
        )

    @_guarded
    def dense_search(self, generation: int, vector: Sequence[float], n: int) -> list[tuple[str, float]]:
        # One round trip: Chroma returns fewer than ``n`` results (none when empty) without a count first.
        try:
            result = self._collection(generation, "chunks").query(
                query_embeddings=[list(vector)], n_results=n, include=["distances"]
            )
        except NotFoundError:
            # Another process dropped and re-created this generation's collection: look it up again.
            self._forget(generation)
            result = self._collection(generation, "chunks").query(
                query_embeddings=[list(vector)], n_results=n, include=["distances"]
            )
        return [
            (ident, 1.0 - float(dist)) for ident, dist in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    @_guarded
    def chunk_count(self, generation: int) -> int:
        return int(self._collection(generation, "chunks").count())


def _relinked(meta: Mapping[str, Any], url: str | None) -> dict[str, Any]:
    """A document's metadata with ``url`` (None: none) in place of its link."""
    return {k: v for k, v in meta.items() if k != "url"} | ({"url": url} if url else {})


def _add(collection: Any, pending: dict[str, list[Any]]) -> None:
    """Add the ``pending`` rows to ``collection``, and empty them."""
    if pending["ids"]:
        collection.add(
            ids=pending["ids"],
            documents=pending["documents"],
            metadatas=pending["metadatas"],
            embeddings=np.asarray(pending["embeddings"]).tolist(),
        )
    for rows in pending.values():
        rows.clear()


def encode_sparse(vector: SparseVector) -> str:
    ids, weights = vector
    return " ".join(f"{int(i)}:{float(w):.4g}" for i, w in zip(ids, weights, strict=True))


def decode_sparse(value: Any) -> SparseVector | None:
    if not isinstance(value, str) or not value:
        return None
    pairs = [item.split(":") for item in value.split()]
    return (
        np.array([int(i) for i, _ in pairs], dtype=np.int32),
        np.array([float(w) for _, w in pairs], dtype=np.float32),
    )


def encode_matrix(matrix: np.ndarray) -> str:
    """A matrix of unit vectors as text (half precision, base64, its row length first)."""
    return f"{matrix.shape[1]}:" + base64.b64encode(np.asarray(matrix, dtype="<f2").tobytes()).decode("ascii")


def decode_matrix(value: Any) -> np.ndarray | None:
    """``encode_matrix``'s matrix, kept in half precision (a passage's sentences
    take five times its own vector's room; a product with a float32 vector is float32)."""
    if not isinstance(value, str) or ":" not in value:
        return None
    width, data = value.split(":", 1)
    return np.frombuffer(base64.b64decode(data), dtype="<f2").reshape(-1, int(width))


def _chunk_meta(
    chunk: Chunk, sparse: SparseVector | None = None, sentences: np.ndarray | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source": chunk.source,
        "title": chunk.title,
        "language": chunk.language,
        "heading": chunk.heading,
        "start": chunk.start,
        "end": chunk.end,
        "ordinal": chunk.ordinal,
    }
    if sparse is not None:
        meta["sparse"] = encode_sparse(sparse)
    if sentences is not None and len(sentences):
        meta["sentences"] = encode_matrix(sentences)
    return meta


def _chunk_from(ident: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=ident,
        source=str(meta["source"]),
        title=str(meta["title"]),
        language=str(meta["language"]),
        heading=str(meta.get("heading", "")),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        ordinal=int(meta["ordinal"]),
    )


def sweep_vector_folders(path: Path) -> int:
    """Remove the vector-index folders of an embedded Chroma that no collection owns; how many.

    Chroma 1.x deletes a collection from its database but leaves its vector index's
    folder on disk (chroma-core/chroma#5259), so every dropped generation would leave
    one behind for good. A folder is named by its segment's id; one whose id no segment
    has any more is left over (a collection's segments are recorded before its folder
    is made, so a folder being made is never taken for one)."""
    database = path / "chroma.sqlite3"
    if not database.is_file():
        return 0
    try:
        with sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True) as connection:
            owned = {str(row[0]) for row in connection.execute("SELECT id FROM segments")}
    except sqlite3.Error as exc:
        log.warning("vector folders not swept: %s", exc)
        return 0
    swept = 0
    for folder in path.iterdir():
        if folder.is_dir() and _SEGMENT_FOLDER.fullmatch(folder.name) and folder.name not in owned:
            shutil.rmtree(folder, ignore_errors=True)
            swept += 1
    if swept:
        log.info("removed %d vector-index folders no collection owns", swept)
    return swept


# A segment's folder: its id, a UUID.
_SEGMENT_FOLDER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
