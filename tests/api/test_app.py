"""The app factory: health, OpenAPI docs, and problem+json for every error."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from dispatch import db
from dispatch.settings import Settings
from schedules.errors import ConflictError, InvalidError

PROBLEM = "application/problem+json"


def _client(url: str) -> TestClient:
    return TestClient(create_app(Settings(database_url=url)), raise_server_exceptions=False)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with _client(database_url) as client:
        yield client


def test_healthz_reports_database_and_schema(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == body["database"] == "ok"
    assert body["schema_revision"] == db.head_revision()


def test_healthz_names_the_fix_when_the_schema_is_not_migrated(empty_database_url: str) -> None:
    with _client(empty_database_url) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert "dispatch db upgrade" in response.json()["detail"]


def test_healthz_is_503_with_retry_advice_when_the_database_is_down() -> None:
    with _client("postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=2") as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["detail"].startswith("database unreachable")


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/healthz" in spec["paths"]
    assert "503" in spec["paths"]["/healthz"]["get"]["responses"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_unknown_path_is_a_problem(client: TestClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["instance"] == "/no/such/thing"


def _app_with_probe_routes(url: str) -> FastAPI:
    """The real app plus routes that fail on purpose, to see how errors come out."""
    app = create_app(Settings(database_url=url))

    @app.get("/probe/count")
    def count(n: int) -> int:
        return n

    @app.get("/probe/invalid")
    def invalid() -> None:
        raise InvalidError("duration must be positive", field="duration_minutes", value=-5)

    @app.get("/probe/conflict")
    def conflict() -> None:
        raise ConflictError("visit changed meanwhile")

    @app.get("/probe/crash")
    def crash() -> None:
        raise RuntimeError("secret internal detail")

    return app


@pytest.fixture
def probe(database_url: str) -> Iterator[TestClient]:
    with TestClient(_app_with_probe_routes(database_url), raise_server_exceptions=False) as client:
        yield client


def test_invalid_query_names_field_and_value(probe: TestClient) -> None:
    response = probe.get("/probe/count", params={"n": "seven"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["errors"] == [
        {"field": "query.n", "value": "seven", "message": body["errors"][0]["message"]}
    ]
    assert "query.n" in body["detail"]
    assert "'seven'" in body["detail"]


def test_domain_errors_map_to_statuses_with_field_and_value(probe: TestClient) -> None:
    invalid = probe.get("/probe/invalid")
    assert invalid.status_code == 422
    assert invalid.json()["errors"] == [
        {"field": "duration_minutes", "value": -5, "message": "duration must be positive"}
    ]
    assert probe.get("/probe/conflict").status_code == 409


def test_unexpected_errors_are_500_problems_without_internals(probe: TestClient) -> None:
    response = probe.get("/probe/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "secret internal detail" not in response.text


def test_a_server_process_keeps_what_it_made_at_start_out_of_collections(tmp_path: Path) -> None:
    """The server's entry point freezes the objects of its start (a full collection over them
    stalled every request for ~150 ms); an app made with create_app, as tests and embedding
    programs do, leaves the collector alone."""
    script = (
        "import gc\n"
        "from api.app import create_app, create_app_from_env\n"
        "from dispatch.settings import Settings\n"
        "create_app(Settings())\n"
        "print(gc.get_freeze_count())\n"
        "create_app_from_env()\n"
        "print(gc.get_freeze_count())\n"
    )
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")},
        "DISPATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'dispatch.db'}",
    }
    ran = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    plain, served = (int(line) for line in ran.stdout.split())
    assert plain == 0
    assert served > 50_000
