"""``/openapi.json`` describes what the API answers: its errors in the contract's shape
(docs/contract.md), never FastAPI's ``{"detail": […]}``, and the answer object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kb.settings import Settings
from kb.web.api import create_api

ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    data_dir = Path(tmp_path_factory.mktemp("openapi")) / "kb"
    return TestClient(create_api(Settings(data_dir=data_dir)))  # no index: errors need none


@pytest.fixture(scope="module")
def spec(app: TestClient) -> dict[str, Any]:
    response = app.get("/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = response.json()
    return spec


def schema_of(spec: dict[str, Any], path: str, method: str, status: str) -> str:
    response = spec["paths"][path][method]["responses"][status]
    ref: str = response["content"]["application/json"]["schema"]["$ref"]
    return ref


def test_no_route_declares_fastapis_validation_error(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ValidationError" not in spec["components"]["schemas"]


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_a_question_declares_its_errors_in_the_contract_shape(spec: dict[str, Any], path: str) -> None:
    for status in ("400", "413", "422", "429", "503"):
        assert schema_of(spec, path, "post", status) == ERROR_REF, status


def test_a_source_declares_404_and_not_422(spec: dict[str, Any]) -> None:
    responses = spec["paths"]["/api/sources/{source}"]["get"]["responses"]
    assert "422" not in responses
    assert schema_of(spec, "/api/sources/{source}", "get", "404") == ERROR_REF


def test_the_answer_object_has_a_schema(spec: dict[str, Any]) -> None:
    ref = schema_of(spec, "/api/ask", "post", "200")
    answer = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"question", "language", "answered", "mode", "answer", "citations", "passages", "timings_ms"} <= set(
        answer["properties"]
    )
    passage = spec["components"]["schemas"]["Passage"]
    assert {"id", "source", "text", "start", "end", "score", "url"} <= set(passage["properties"])


def test_the_errors_declared_are_the_errors_answered(app: TestClient, spec: dict[str, Any]) -> None:
    error = spec["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"]
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message"}
    answered = [
        app.post("/api/ask", json={"question": 5}),  # 422
        app.post("/api/ask", content=b'{"question": ', headers={"Content-Type": "application/json"}),  # 400
        app.post("/api/ask/stream", json={"question": "why?", "top_k": 0}),  # 422
        app.post("/api/ask", content=b"x" * (65 * 1024), headers={"Content-Type": "application/json"}),  # 413
    ]
    assert [r.status_code for r in answered] == [422, 400, 422, 413]
    for response in answered:
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
