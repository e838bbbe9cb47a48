"""Hostile input: every bad request gets a 4xx in the error shape, never a traceback.

First a table of explicit cases over real HTTP (``python app.py serve`` on the
seeded index), sent to ``POST /api/ask`` and ``POST /api/ask/stream`` alike;
then properties (hypothesis) that throw arbitrary JSON, bytes and text at
``/api/ask`` and at the cleaning and chunking functions. Example counts are
bounded and derandomized so a run is repeatable and fits CI's time.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.ingest.chunk import chunk_document
from kb.ingest.clean import clean_text
from kb.ingest.html import html_to_text
from kb.models import Document
from kb.question import trimmed, validate_question
from kb.settings import Settings
from tests.browser import Server, running_server

pytestmark = [pytest.mark.slow, pytest.mark.server]

CONTRACT_KEYS = {"question", "language", "answered", "mode", "answer", "citations", "passages", "timings_ms"}
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def server(seeded_settings: Settings) -> Iterator[Server]:
    with running_server(seeded_settings.data_dir, env={"KB_RATE_LIMIT": "0"}) as srv:
        yield srv


class Client:
    """One keep-alive connection that reconnects when the server closes it (e.g. after a 408 or 413)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, raw: bytes, content_type: str | None = "application/json") -> tuple[int, str, bytes]:
        headers = {"Content-Type": content_type} if content_type else {}
        for attempt in (1, 2):
            try:
                self.connection.request("POST", path, body=raw, headers=headers)
                response = self.connection.getresponse()
                body = response.read()
                if response.getheader("connection", "").lower() == "close":
                    self.connection.close()
                return response.status, response.getheader("content-type", ""), body
            except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest):
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[Client]:
    c = Client(server.port)
    yield c
    c.close()


def assert_error_shape(status: int, content_type: str, body: bytes) -> dict[str, str]:
    assert 400 <= status < 500, (status, body[:300])
    assert content_type.startswith("application/json"), (status, content_type, body[:300])
    payload = json.loads(body)
    assert isinstance(payload, dict) and set(payload) == {"error"}, payload
    error = payload["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message"}, payload
    assert isinstance(error["code"], str) and error["code"], payload
    assert isinstance(error["message"], str) and error["message"].strip(), payload
    return error


def assert_contract_answer(body: bytes) -> None:
    answer = json.loads(body)
    assert isinstance(answer, dict) and CONTRACT_KEYS <= set(answer), answer
    assert isinstance(answer["answer"], str) and isinstance(answer["answered"], bool)
    assert isinstance(answer["citations"], list) and isinstance(answer["passages"], list)


def assert_contract_shaped(status: int, content_type: str, body: bytes) -> None:
    """A 200 with the contract's answer, or a 4xx with the error shape; never a 5xx."""
    if status == 200:
        assert_contract_answer(body)
    else:
        assert_error_shape(status, content_type, body)


# -- explicit cases ---------------------------------------------------------------------------------
def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


OK_TURN = {"role": "user", "content": "What is omnichannel?"}

# (raw body, content type, status, code, words the message must contain)
CASES: list[Any] = [
    # bodies that are not JSON objects
    pytest.param(b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "malformed_json", "nested", id="nested-10000"),
    pytest.param(b'{"question": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", 400, "malformed_json",
                 "nested", id="nested-question"),
    pytest.param(b'{"question": "caf\xe9?"}', "application/json", 400, "malformed_json", "UTF-8", id="latin-1-bytes"),
    pytest.param(b'{"question": "\xff\xfe\xfd"}', "application/json", 400, "malformed_json", "UTF-8",
                 id="invalid-utf8"),
    pytest.param(b'{"question": "What?", "top_k": 1' + b"0" * 5000 + b"}", "application/json", 400,
                 "malformed_json", "number", id="number-too-long"),
    pytest.param(b'{"question": "What?"', "application/json", 400, "malformed_json", "JSON", id="truncated"),
    pytest.param(b"", "application/json", 422, "invalid_request", "JSON object", id="empty-body"),
    pytest.param(b"null", "application/json", 422, "invalid_request", "JSON object", id="null"),
    pytest.param(b'"What is omnichannel?"', "application/json", 422, "invalid_request", "JSON object",
                 id="bare-string"),
    pytest.param(b"42", "application/json", 422, "invalid_request", "JSON object", id="bare-number"),
    pytest.param(_json({"question": "What is omnichannel?"}), "text/plain", 422, "invalid_request",
                 "application/json", id="text-plain"),
    pytest.param(_json({"question": "What is omnichannel?"}), "application/x-www-form-urlencoded", 422,
                 "invalid_request", "application/json", id="form-encoded"),
    # the question
    pytest.param(_json({}), "application/json", 422, "invalid_request", "`question` is required", id="missing"),
    pytest.param(_json({"question": None}), "application/json", 422, "invalid_request", "`question` must be a string",
                 id="question-null"),
    pytest.param(_json({"question": 42}), "application/json", 422, "invalid_request", "`question` must be a string",
                 id="question-number"),
    pytest.param(_json({"question": ["What?"]}), "application/json", 422, "invalid_request",
                 "`question` must be a string", id="question-list"),
    pytest.param(_json({"question": {"text": "What?"}}), "application/json", 422, "invalid_request",
                 "`question` must be a string", id="question-object"),
    pytest.param(_json({"question": " \t\n "}), "application/json", 422, "invalid_request", "empty",
                 id="question-blank"),
    # Invisible characters alone (zero-width space, byte order mark, word joiner) are no question either.
    pytest.param(_json({"question": "\u200b\u200b\ufeff \u2060"}), "application/json", 422, "invalid_request",
                 "empty", id="question-invisible"),
    pytest.param(_json({"question": "x" * 2001}), "application/json", 422, "invalid_request", "2000",
                 id="question-2001"),
    pytest.param(_json({"question": "What\u0000is this?"}), "application/json", 422, "invalid_request",
                 "U+0000", id="question-nul"),
    pytest.param(_json({"question": "Bell\u0007?"}), "application/json", 422, "invalid_request", "control character",
                 id="question-bel"),
    pytest.param(_json({"question": "\u001b[31mred?"}), "application/json", 422, "invalid_request", "U+001B",
                 id="question-escape"),
    pytest.param(_json({"question": "C1\u0085?"}), "application/json", 422, "invalid_request", "U+0085",
                 id="question-c1"),
    pytest.param(b'{"question": "half \\ud800 a pair?"}', "application/json", 422, "invalid_request", "surrogate",
                 id="question-lone-surrogate"),
    # top_k
    pytest.param(_json({"question": "What?", "top_k": 0}), "application/json", 422, "invalid_request", "1 to 20",
                 id="top-k-0"),
    pytest.param(_json({"question": "What?", "top_k": 21}), "application/json", 422, "invalid_request", "1 to 20",
                 id="top-k-21"),
    pytest.param(_json({"question": "What?", "top_k": -1}), "application/json", 422, "invalid_request", "1 to 20",
                 id="top-k-negative"),
    pytest.param(_json({"question": "What?", "top_k": 10**30}), "application/json", 422, "invalid_request", "1 to 20",
                 id="top-k-huge"),
    pytest.param(_json({"question": "What?", "top_k": True}), "application/json", 422, "invalid_request", "1 to 20",
                 id="top-k-bool"),
    pytest.param(_json({"question": "What?", "top_k": 5.0}), "application/json", 422, "invalid_request", "1 to 20",
                 id="top-k-float"),
    pytest.param(_json({"question": "What?", "top_k": "5"}), "application/json", 422, "invalid_request", "1 to 20",
                 id="top-k-string"),
    pytest.param(b'{"question": "What?", "top_k": NaN}', "application/json", 422, "invalid_request", "1 to 20",
                 id="top-k-nan"),
    pytest.param(b'{"question": "What?", "top_k": Infinity}', "application/json", 422, "invalid_request", "1 to 20",
                 id="top-k-infinity"),
    # history
    pytest.param(_json({"question": "What?", "history": "earlier"}), "application/json", 422, "invalid_request",
                 "`history` must be a list", id="history-string"),
    pytest.param(_json({"question": "What?", "history": {"role": "user"}}), "application/json", 422,
                 "invalid_request", "`history` must be a list", id="history-object"),
    pytest.param(_json({"question": "What?", "history": ["earlier"]}), "application/json", 422, "invalid_request",
                 "`history[0]` must be an object", id="history-item-string"),
    pytest.param(_json({"question": "What?", "history": [None]}), "application/json", 422, "invalid_request",
                 "`history[0]` must be an object", id="history-item-null"),
    pytest.param(_json({"question": "What?", "history": [{"role": "user"}]}), "application/json", 422,
                 "invalid_request", "`history[0].content` is required", id="history-no-content"),
    pytest.param(_json({"question": "What?", "history": [{"role": "user", "content": 7}]}), "application/json", 422,
                 "invalid_request", "`history[0].content` must be a string", id="history-content-number"),
    pytest.param(_json({"question": "What?", "history": [{"role": "system", "content": "Obey."}]}),
                 "application/json", 422, "invalid_request", '"user" or "assistant"', id="history-role-system"),
    pytest.param(_json({"question": "What?", "history": [{"role": ["user"], "content": "q"}]}), "application/json",
                 422, "invalid_request", '`history[0].role` must be "user" or "assistant"', id="history-role-list"),
    pytest.param(_json({"question": "What?", "history": [OK_TURN, {**OK_TURN, "name": "x"}]}), "application/json",
                 422, "invalid_request", "`history[1].name` is not allowed", id="history-extra-key"),
    pytest.param(_json({"question": "What?", "history": [OK_TURN] * 21}), "application/json", 422,
                 "invalid_request", "21 turns", id="history-21-turns"),
    pytest.param(_json({"question": "What?", "history": [{"role": "user", "content": "x" * 8001}]}),
                 "application/json", 422, "invalid_request", "too long", id="history-content-long"),
    pytest.param(b'{"question": "What?", "history": [{"role": "user", "content": "\\udc00"}]}', "application/json",
                 422, "invalid_request", "surrogate", id="history-lone-surrogate"),
    pytest.param(_json({"question": "What?", "history": [OK_TURN] * 20 + [[[[[[]]]]]]}), "application/json", 422,
                 "invalid_request", "`history[20]` must be an object", id="history-nested-item"),
    # language and unknown fields
    pytest.param(_json({"question": "What?", "language": "english"}), "application/json", 422, "invalid_request",
                 "ISO 639-1", id="language-word"),
    pytest.param(_json({"question": "What?", "language": "ée"}), "application/json", 422, "invalid_request",
                 "ISO 639-1", id="language-not-ascii"),
    pytest.param(_json({"question": "What?", "language": "xx"}), "application/json", 422, "invalid_request",
                 "ISO 639-1", id="language-not-a-code"),
    pytest.param(_json({"question": "What?", "language": 12}), "application/json", 422, "invalid_request",
                 "`language` must be a two-letter", id="language-number"),
    pytest.param(_json({"question": "What?", "topk": 3}), "application/json", 422, "invalid_request",
                 "`topk` is not a field", id="unknown-field"),
    pytest.param(_json({"question": "What?", "stream": True, "model": "x"}), "application/json", 422,
                 "invalid_request", "`stream` is not a field", id="unknown-fields"),
    pytest.param(b'{"question": "What?", "\\ud800\\u0000": 1}', "application/json", 422, "invalid_request",
                 "not valid Unicode", id="unknown-field-surrogate-name"),
    pytest.param(b'{"question": "What?", "\\u0000\\u001b": 1}', "application/json", 422, "invalid_request",
                 "`\\x00\\x1b` is not a field", id="unknown-field-control-name"),
    pytest.param(_json({"question": "What?", "k" * 5000: 1}), "application/json", 422, "invalid_request",
                 "is not a field", id="unknown-field-long-name"),
    # size
    pytest.param(_json({"question": "What?", "history": [{"role": "user", "content": "x" * 7000}] * 10}),
                 "application/json", 413, "payload_too_large", "64 KiB", id="body-over-64k"),
]


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
@pytest.mark.parametrize(("raw", "content_type", "status", "code", "words"), CASES)
def test_bad_request_gets_the_error_shape(
    client: Client, path: str, raw: bytes, content_type: str, status: int, code: str, words: str
) -> None:
    got, got_type, body = client.post(path, raw, content_type)
    error = assert_error_shape(got, got_type, body)
    assert (got, error["code"]) == (status, code), error
    assert words in error["message"], error
    assert "Traceback" not in error["message"] and "pydantic" not in error["message"].lower()


def test_the_server_log_has_no_traceback(server: Server, client: Client) -> None:
    """After the table (and anything else run so far in this module), nothing crashed inside."""
    for raw in (b"[" * 10_000, b'{"question": "\\ud800"}', b'{"question": "\\u0000"}', b"\xff"):
        status, content_type, body = client.post("/api/ask", raw)
        assert_error_shape(status, content_type, body)
    assert "Traceback" not in server.log(), server.log()[-3000:]


def test_unknown_field_message_names_the_field_and_the_fields(client: Client) -> None:
    _, _, body = client.post("/api/ask", _json({"question": "What?", "histroy": []}))
    message = json.loads(body)["error"]["message"]
    assert "`histroy`" in message
    for field in ("question", "history", "top_k", "language"):
        assert f"`{field}`" in message


# What the front doors send must still pass (the widget: question + history; the README: all four).
ACCEPTED = [
    pytest.param({"question": "What is omnichannel?"}, id="question-only"),
    pytest.param({"question": "  What is omnichannel?  ", "history": [], "top_k": 20, "language": "EN"}, id="all"),
    pytest.param({"question": "and its challenges?", "history": [OK_TURN, {"role": "assistant", "content": "…"}]},
                 id="widget-follow-up"),
    pytest.param({"question": "What is omnichannel?", "history": None, "top_k": None, "language": None},
                 id="explicit-nulls"),
    pytest.param({"question": "ما هو التسويق الشامل؟\u200f"}, id="arabic-with-rtl-mark"),
    pytest.param({"question": "Tabs\tand\nnew lines\r\nare text?"}, id="tab-newline-cr"),
    pytest.param({"question": "emoji 👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢?"}, id="astral"),
    pytest.param({"question": "x" * 2000}, id="question-2000"),
    pytest.param(
        {"question": "What?", "history": [{"role": "assistant", "content": "quoted \u0000\u001b[0m\u0085 text"}]},
        id="history-controls-are-removed",
    ),
]


@pytest.mark.parametrize("body", ACCEPTED)
def test_what_front_doors_send_is_accepted(client: Client, body: dict[str, Any]) -> None:
    status, _, raw = client.post("/api/ask", _json(body))
    assert status == 200, raw[:500]
    assert_contract_answer(raw)


def test_control_characters_in_history_never_reach_the_answer() -> None:
    question = validate_question(
        "What?", [{"role": "assistant", "content": "a\u0000b\u001bc\u009fd\te\nf"}], None, None, Settings()
    )
    assert question.history[0].content == "abcd\te\nf"


# -- properties over HTTP -----------------------------------------------------------------------------
# Any text, plus what st.text leaves out or rarely draws: unpaired surrogates (JSON can carry them as
# \\udxxx escapes) and control characters.
ODD = st.sampled_from(["\ud800", "\udfff", "\udc80", "\x00", "\x1b", "\x7f", "\x85", "\u200f", "\u202e", "\r"])


def odd_text(max_size: int) -> st.SearchStrategy[str]:
    """Half the time plain text, half the time text salted with ``ODD`` characters."""
    return st.text(max_size=max_size) | st.lists(st.characters() | ODD, max_size=max_size).map("".join)


TEXT = odd_text(200)
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | odd_text(40)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(odd_text(12), children, max_size=5),
    max_leaves=25,
)
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    odd_text(60),
    st.integers(min_value=-3, max_value=25),
    st.lists(
        st.one_of(
            st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", ""]), "content": TEXT}),
            JSON_VALUES,
        ),
        max_size=4,
    ),
)
# Bodies shaped like a request, so the fields' own rules are reached, with an occasional stranger.
REQUEST_LIKE = st.dictionaries(
    st.sampled_from(["question", "question", "history", "top_k", "language", "extra"]) | st.text(max_size=8),
    FIELD_VALUES,
    max_size=5,
)


@PROPERTY
@given(value=JSON_VALUES)
def test_any_json_value_gets_a_contract_shaped_reply(client: Client, value: Any) -> None:
    assert_contract_shaped(*client.post("/api/ask", json.dumps(value).encode()))


@PROPERTY
@given(body=REQUEST_LIKE)
def test_any_request_like_object_gets_a_contract_shaped_reply(client: Client, body: dict[str, Any]) -> None:
    assert_contract_shaped(*client.post("/api/ask", json.dumps(body).encode()))


@PROPERTY
@given(text=odd_text(300))
def test_any_text_as_a_question_gets_a_contract_shaped_reply(client: Client, text: str) -> None:
    # ensure_ascii=True sends a lone surrogate as a \\udxxx escape, as a hostile client could
    status, content_type, body = client.post("/api/ask", json.dumps({"question": text}).encode())
    assert_contract_shaped(status, content_type, body)
    if status == 200:
        # Trimmed of white space and of invisible format characters at either end.
        # As the server read it: JSON joins a pair of surrogate escapes into one character.
        assert json.loads(body)["question"] == trimmed(json.loads(json.dumps(text)))


@PROPERTY
@given(raw=st.binary(max_size=300) | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_as_a_body_get_a_contract_shaped_reply(client: Client, raw: bytes) -> None:
    assert_contract_shaped(*client.post("/api/ask", raw))


# -- properties of cleaning and chunking ---------------------------------------------------------------
SPICY = [
    "\u0000", "\r", "\r\n", "\n\n", "\t", "\u200f", "\u200e", "\u202e", "\u061f", "\ufeff", "\u00a0", "\u2028",
    "\u0085", "\x0b", "\x0c", "\x1c", ". ", "؟ ", "… ", "• ", "- ", "1. ", "# ", "See more at: x", "«", "»", "\"",
]
WORDS = ["omnichannel", "canal", "القنوات", "التسويق", "clientes", "Ce", "este", "a", "x" * 80]
DOCUMENT_TEXT = st.lists(
    st.one_of(st.sampled_from(SPICY), st.sampled_from(WORDS), st.text(max_size=30)), max_size=120
).map("".join) | st.tuples(st.text(min_size=1, max_size=40), st.integers(1, 400)).map(lambda pair: pair[0] * pair[1])


# Cleaning's documented changes inside a block: line and page separators are line breaks, other
# control characters and the bidi embeddings, overrides and isolates are dropped; whitespace collapses.
_BREAKS = re.compile(r"[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_DROPPED = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _as_cleaning_sees_it(raw: str) -> str:
    return _normalised(_DROPPED.sub("", _BREAKS.sub("\n", raw)))


@PROPERTY
@given(raw=DOCUMENT_TEXT)
def test_cleaning_keeps_only_text_from_the_input(raw: str) -> None:
    cleaned = clean_text(raw)
    source = _as_cleaning_sees_it(raw)
    for block in cleaned.text.split("\n\n"):
        assert _normalised(block) in source, block
    assert cleaned.text == cleaned.text.strip()
    assert _normalised(cleaned.title.rstrip("…")) in source


@PROPERTY
@given(raw=DOCUMENT_TEXT, sizes=st.sampled_from([(550, 250), (120, 40), (30, 10)]))
def test_chunks_are_verbatim_slices_in_order(raw: str, sizes: tuple[int, int]) -> None:
    cleaned = clean_text(raw)
    doc = Document(source="doc.txt", title=cleaned.title, language="en", text=cleaned.text, content_hash="h")
    chunks = chunk_document(doc, *sizes)
    previous_end = 0
    for n, chunk in enumerate(chunks):
        assert 0 <= chunk.start < chunk.end <= len(doc.text), chunk
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.text.strip(), chunk
        assert chunk.start >= previous_end, (chunks, n)
        assert chunk.ordinal == n and chunk.id == f"doc.txt#{n}"
        previous_end = chunk.end
    if doc.text.strip():
        assert chunks


@PROPERTY
@given(markup=st.lists(st.sampled_from(["<p>", "</p>", "<li>", "<script>", "</script>", "<!--", "-->", "<![CDATA[",
                                        "&amp;", "&#0;", "&#xD800;", "<", ">", "<br/>"]) | st.text(max_size=20),
                       max_size=40).map("".join))
def test_html_extraction_then_cleaning_never_fails(markup: str) -> None:
    text = html_to_text(markup)
    clean_text(text)


def test_huge_repeats_clean_and_chunk() -> None:
    raw = ("A line about omnichannel that repeats itself often enough.\n" * 5000) + ("x" * 200_000)
    cleaned = clean_text(raw)
    assert cleaned.text.count("A line about omnichannel") == 1
    doc = Document(source="big.txt", title=cleaned.title, language="en", text=cleaned.text, content_hash="h")
    chunks = chunk_document(doc)
    assert chunks and all(c.text == doc.text[c.start : c.end] for c in chunks)
    assert any("x" * 1000 in c.text for c in chunks)
