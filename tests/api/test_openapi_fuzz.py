"""Property-based fuzzing of every documented operation (schemathesis): whatever a client sends,
the API never answers 5xx, answers only the status codes it documents, and its bodies match
the documented schemas. Operations are read from the app's own OpenAPI document, so routers
added later are fuzzed without touching this file. Each operation runs once signed in as a
dispatcher and once as a technician, on SQLite and PostgreSQL.

The state the fuzzer changes (time entries, positions, status reports on whatever codes it
finds) stays in the module's database; nothing here relies on a particular row surviving it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.python import asgi

from api.app import create_app
from dispatch import jobs
from dispatch.settings import Settings
from routing import SolveParams
from tests.api.conftest import PASSWORD, World

# Hypothesis examples per operation in the fuzzing phase; the examples and coverage phases add
# a bounded number of deterministic cases (schema examples, boundaries, wrong types) on top.
MAX_EXAMPLES = 50
SEED = 20261127
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# Who the fuzzer signs in as: a dispatcher, and a technician for the technicians' own API.
ROLES = {"dispatcher": "dora", "technician": "tom"}

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        # The database is real and slow next to what Hypothesis expects; these health checks
        # measure the cost of generating and running examples, not the API's behaviour.
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            # A failure is reported as found; shrinking it could take minutes of requests.
            "no-shrink": True,
            "database": "none",
        },
        # Stateful runs follow OpenAPI links, which the API does not declare.
        "phases": {"stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    }
)
# The OpenAPI document does not depend on the database: read it once, at collection, so every
# operation becomes its own test; requests then go to the app of the module's database.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://")).openapi(), config=CONFIG
)


def _inline_jobs(engine: sa.Engine, settings: Settings) -> jobs.Executor:
    # Fuzzed plan requests run at once and deterministically instead of queueing solves of up
    # to max_plan_seconds each that the app's shutdown would then wait for.
    return jobs.InProcessExecutor(
        engine, settings, inline=True, params=lambda _: SolveParams.for_tests()
    )


@pytest.fixture(scope="module")
def fuzzed_app(world: World) -> Iterator[FastAPI]:
    """The app on the module's database, called in-process."""
    yield create_app(Settings(database_url=world.url), executor=_inline_jobs)
    # Schemathesis keeps each app's lifespan (and so its database engine) running until the
    # interpreter exits; end it before the module's database is dropped.
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def tokens(world: World) -> dict[str, str]:
    """An access token per fuzzed role (15 minutes, longer than a run)."""
    found = {}
    with TestClient(create_app(Settings(database_url=world.url))) as client:
        for role, username in ROLES.items():
            answer = client.post(
                "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            found[role] = answer.json()["access_token"]
    return found


@pytest.fixture(scope="module", params=ROLES)
def signed_in(request: pytest.FixtureRequest, tokens: dict[str, str]) -> dict[str, str]:
    """Bearer headers of the role under test. POST /api/v1/auth/logout revokes a refresh
    token, never the access token, so no operation can sign the fuzzer out: none is excluded."""
    return {"Authorization": f"Bearer {tokens[request.param]}"}


@schema.parametrize()
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, fuzzed_app: FastAPI, signed_in: dict[str, str]
) -> None:
    """No input makes an operation fail with 5xx, answer a status it does not document, or
    return a body that breaks its documented schema."""
    case.call_and_validate(app=fuzzed_app, headers=signed_in)
