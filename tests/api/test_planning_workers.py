"""Planning jobs on Celery workers: with a broker configured the API hands a plan request to a
`dispatch worker` process through Redis, and reports its progress and result from the
database; with the broker down, a plan request fails within seconds with 503 and Retry-After."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from dispatch import workers
from dispatch.settings import Settings
from tests.api.conftest import FRIDAY, World
from tests.api.test_planning_api import Headers, poll
from tests.conftest import REDIS_URL as REDIS
from tests.conftest import redis_or_skip
from tests.faults.conftest import Workers

pytestmark = pytest.mark.slow


@pytest.fixture
def broker(world: World, tmp_path: Path) -> Iterator[Settings]:
    """Settings with a broker, and one `dispatch worker` on a queue of this test's own."""
    redis_or_skip()
    started = Workers(
        Settings(
            database_url=world.url, broker_url=REDIS, broker_queue=f"test-{uuid.uuid4().hex[:8]}"
        ),
        tmp_path,
    )
    try:
        started.start(1)
        yield started.settings
    finally:
        started.stop()
        print(started.tail())


def test_a_worker_process_runs_the_job_the_api_hands_over(
    broker: Settings, headers: Headers, world: World
) -> None:
    app = create_app(broker, executor=workers.executor_for(broker))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post(
            "/api/v1/plans",
            json={"region": world.region, "starts_on": FRIDAY.isoformat(), "time_limit_seconds": 1},
            headers=headers("dora"),
        )
        assert answer.status_code == 202, answer.text
        assert isinstance(app.state.executor, workers.CeleryExecutor)
        # Bounded: the worker starts, imports the solver and plans within two minutes.
        job = poll(client, headers, answer.headers["Location"], tries=2400)
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0
    assert job["plans"], job


def test_a_plan_request_with_the_broker_down_fails_in_seconds_with_retry_advice(
    client: TestClient, headers: Headers, world: World
) -> None:
    down = Settings(database_url=world.url, broker_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(down, executor=workers.executor_for(down))) as offline:
        answer = offline.post(
            "/api/v1/plans",
            json={"region": world.region, "starts_on": FRIDAY.isoformat()},
            headers=headers("dora"),
        )
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert int(answer.headers["Retry-After"]) > 0
        job_id = answer.json()["errors"][0]["value"]
    # The job the request made is failed, saying why, not left queued for ever.
    job = client.get(f"/api/v1/jobs/{job_id}", headers=headers("dora")).json()
    assert job["status"] == "failed"
    assert "could not be started" in job["message"]
