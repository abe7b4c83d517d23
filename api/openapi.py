"""The OpenAPI document as the API behaves: every error answer is documented as RFC 9457
``application/problem+json`` with one shared Problem schema."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

PROBLEM_JSON = "application/problem+json"
REF = "#/components/schemas/{model}"


class FieldError(BaseModel):
    field: str = Field(examples=["body.home_lat"])
    value: Any = Field(examples=[123.4])
    message: str = Field(examples=["Input should be less than or equal to 90"])


class Problem(BaseModel):
    """An error answer (RFC 9457)."""

    type: str = Field("about:blank", examples=["about:blank"])
    title: str = Field(examples=["Invalid input"])
    status: int = Field(examples=[422])
    detail: str | None = Field(None, examples=["body.home_lat: Input should be ... (value 123.4)"])
    instance: str | None = Field(None, examples=["/api/v1/technicians"])
    errors: list[FieldError] | None = Field(None, description="Each field at fault.")


def install(app: FastAPI) -> None:
    """Generate the document once, then document every 4xx/5xx answer as a Problem."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = FastAPI.openapi(app)
            _problems(spec)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = document  # type: ignore[method-assign]


def _problems(spec: dict[str, Any]) -> None:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    definition = Problem.model_json_schema(ref_template=REF)
    schemas.update(definition.pop("$defs", {}))
    schemas["Problem"] = definition
    content = {PROBLEM_JSON: {"schema": {"$ref": REF.format(model="Problem")}}}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                if status[0] in "45":
                    answer["content"] = content
    # FastAPI's own validation-error shapes are never sent: the Problem replaces them.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
