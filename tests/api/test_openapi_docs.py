"""The OpenAPI document shows an example for what every operation takes and answers, and
documents the refusals every protected operation can give."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from dispatch.settings import Settings

# Standard OAuth2 form posts, whose fields every client library knows.
FORM_OPERATIONS = {("post", "/api/v1/auth/token")}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def _has_example(node: Any, schemas: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    if isinstance(node, dict):
        if "example" in node or "examples" in node:
            return True
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return name not in seen and _has_example(schemas.get(name, {}), schemas, seen | {name})
        return any(_has_example(value, schemas, seen) for value in node.values())
    if isinstance(node, list):
        return any(_has_example(value, schemas, seen) for value in node)
    return False


def _operations(spec: dict[str, Any]):  # type: ignore[no-untyped-def]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def test_every_request_body_has_an_example(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    missing = [
        f"{method.upper()} {path}"
        for method, path, operation in _operations(spec)
        if "requestBody" in operation
        and (method, path) not in FORM_OPERATIONS
        and not _has_example(operation["requestBody"], schemas)
    ]
    assert not missing, missing


def test_every_json_answer_has_an_example(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    missing = []
    for method, path, operation in _operations(spec):
        for status, answer in operation["responses"].items():
            content = answer.get("content", {}).get("application/json")
            if status.startswith("2") and content and not _has_example(content, schemas):
                missing.append(f"{method.upper()} {path} {status}")
    assert not missing, missing


def test_every_operation_has_a_summary(spec: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path}"
        for method, path, operation in _operations(spec)
        if not operation.get("summary")
    ]
    assert not missing, missing


def test_protected_operations_document_401_and_403(spec: dict[str, Any]) -> None:
    """401 for everyone without a valid token; 403 wherever a role is required (every
    protected operation but who-am-I)."""
    missing = []
    for method, path, operation in _operations(spec):
        if not operation.get("security"):
            continue
        expected = {"401"} if path == "/api/v1/me" else {"401", "403"}
        if not expected <= set(operation["responses"]):
            missing.append(f"{method.upper()} {path}")
    assert not missing, missing
