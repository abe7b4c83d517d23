"""The paths phones poll (a technician's day, a customer's tracking link) under many requests
at once, and the shortcuts that make them cheap: signed-in accounts trusted for a few
seconds, verified tokens remembered, reads made on the event loop without a thread hop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from unittest import mock

import anyio
import anyio.to_thread
import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import select

from api.app import create_app
from api.auth import ACCOUNT_TTL_SECONDS, SignIns
from api.routers.mobile import Day
from dispatch import db
from dispatch.adapter import visit_skills
from dispatch.models import EventTopic, OutboxEvent, User, Visit, VisitSkill, VisitTimeWindow
from dispatch.settings import Settings
from tests.api.conftest import FRIDAY, World
from tests.factories import make_skill

DAY = f"/api/v1/me/day?date={FRIDAY.isoformat()}"
# More requests at once than anyio has threads (40) and the pool has connections.
AT_ONCE = 60


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def dressed(world: World) -> dict[str, list[tuple[datetime, datetime]]]:
    """Tom's first Friday visit needs two skills and has two time windows (stored latest
    first); the visit code -> its windows in time order."""
    engine = db.make_engine(world.url)
    code = world.routes[world.technicians["tom"]][0]
    windows = [
        (datetime(2026, 11, 27, 10, tzinfo=UTC), datetime(2026, 11, 27, 14, tzinfo=UTC)),
        (datetime(2026, 11, 27, 5, tzinfo=UTC), datetime(2026, 11, 27, 9, tzinfo=UTC)),
    ]
    with db.transaction(engine) as session:
        visit = session.exec(select(Visit).where(Visit.code == code)).one()
        for skill, level in ((make_skill(session), 3), (make_skill(session), 1)):
            session.add(VisitSkill(visit_id=visit.id, skill_id=skill.id, min_level=level))  # type: ignore[arg-type]
        for starts_at, ends_at in windows:
            session.add(VisitTimeWindow(visit_id=visit.id, starts_at=starts_at, ends_at=ends_at))  # type: ignore[arg-type]
    engine.dispose()
    return {code: sorted(windows)}


@pytest.fixture(scope="module")
def tracking_tokens(world: World) -> list[str]:
    engine = db.make_engine(world.url)
    with db.transaction(engine) as session:
        events = session.exec(
            select(OutboxEvent).where(OutboxEvent.topic == EventTopic.visit_scheduled)
        ).all()
    engine.dispose()
    return [e.payload["tracking_token"] for e in events]


def _all_at_once(url: str, requests: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    """``requests`` sent together to a fresh app, in one event loop, as a server would get
    them; each must be answered within a minute (a stuck pool would hold them far longer)."""
    app = create_app(Settings(database_url=url))

    async def main() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                with anyio.fail_after(60):
                    return await asyncio.gather(
                        *(http.get(path, headers=headers) for path, headers in requests)
                    )

    return asyncio.run(main())


def test_server_pool_has_a_connection_for_every_thread(world: World) -> None:
    engine = db.make_engine(world.url, server=True)
    try:
        pool = engine.pool
        capacity = pool.size() + pool._max_overflow  # type: ignore[attr-defined]

        async def threads() -> float:
            return anyio.to_thread.current_default_thread_limiter().total_tokens

        assert capacity >= anyio.run(threads)
    finally:
        engine.dispose()


def test_more_phones_than_threads_all_get_their_day(
    world: World, headers: Callable[[str], dict[str, str]]
) -> None:
    """More requests at once than threads and pooled connections: each reads in turn on the
    event loop, over its one read connection."""
    signed_in = [headers("tom"), headers("tim")]
    answers = _all_at_once(world.url, [(DAY, signed_in[i % 2]) for i in range(AT_ONCE)])
    assert [a.status_code for a in answers] == [200] * AT_ONCE
    routes = [world.routes[world.technicians[name]] for name in ("tom", "tim")]
    assert [[s["visit"] for s in a.json()["stops"]] for a in answers[:2]] == routes


def test_more_customers_than_threads_all_see_their_visit(
    world: World, tracking_tokens: list[str]
) -> None:
    paths = [f"/api/v1/track/{tracking_tokens[i % len(tracking_tokens)]}" for i in range(AT_ONCE)]
    answers = _all_at_once(world.url, [(path, {}) for path in paths])
    assert [a.status_code for a in answers] == [200] * AT_ONCE


def test_my_day_shows_skills_and_windows_as_stored(
    client: TestClient,
    world: World,
    headers: Callable[[str], dict[str, str]],
    dressed: dict[str, list[tuple[datetime, datetime]]],
) -> None:
    stops = client.get(DAY, headers=headers("tom")).json()["stops"]
    engine = db.make_engine(world.url)
    with db.transaction(engine) as session:
        ids = {
            v.code: v.id
            for v in session.exec(select(Visit).where(Visit.technician_id.is_not(None)))  # type: ignore[union-attr]
        }
        skills = visit_skills(session, list(ids.values()))  # type: ignore[arg-type]
    engine.dispose()
    assert len(stops) == len(world.routes[world.technicians["tom"]])
    for stop in stops:
        assert stop["skills"] == skills.get(ids[stop["visit"]], {})
        windows = [
            (datetime.fromisoformat(w["starts_at"]), datetime.fromisoformat(w["ends_at"]))
            for w in stop["time_windows"]
        ]
        assert windows == dressed.get(stop["visit"], [])
    assert len(next(s for s in stops if s["visit"] in dressed)["skills"]) == 2


def test_my_day_is_exactly_what_the_day_model_would_send(
    client: TestClient,
    headers: Callable[[str], dict[str, str]],
    dressed: dict[str, list[tuple[datetime, datetime]]],
) -> None:
    """My day is serialised from plain values, not from a Day: its JSON is byte for byte what
    Day would give for the same data (field order, UTC times with Z, enum values, NULLs)."""
    answer = client.get(DAY, headers=headers("tom"))
    assert answer.status_code == 200
    day = Day.model_validate_json(answer.content)
    assert any(stop.time_windows and stop.skills for stop in day.stops)
    assert any(stop.arrival_window for stop in day.stops)
    assert all(stop.planned_start.utcoffset() == timedelta(0) for stop in day.stops)  # type: ignore[union-attr]
    assert answer.content == day.model_dump_json().encode()


def test_days_and_links_are_read_without_a_thread_hop(
    world: World, headers: Callable[[str], dict[str, str]], tracking_tokens: list[str]
) -> None:
    """A fresh server (no account read yet) answers days and tracking links without handing
    anything to a worker thread: the hop costs more than the read (see api.deps)."""
    hops: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        hops.append(getattr(func, "__qualname__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    requests = [(DAY, headers("tom")), (DAY, headers("tim"))] + [
        (f"/api/v1/track/{token}", {}) for token in tracking_tokens[:3]
    ]
    with mock.patch.object(anyio.to_thread, "run_sync", counted):
        answers = _all_at_once(world.url, requests)
    assert [a.status_code for a in answers] == [200] * len(requests)
    assert hops == []


def _set_active(url: str, username: str, active: bool) -> None:
    engine = db.make_engine(url)
    with db.transaction(engine) as session:
        session.exec(select(User).where(User.username == username)).one().is_active = active
    engine.dispose()


def test_a_deactivated_account_is_refused_once_its_ttl_is_over(
    client: TestClient, world: World, headers: Callable[[str], dict[str, str]]
) -> None:
    """An account is trusted for ACCOUNT_TTL_SECONDS after it was read; forget() ends that
    at once."""
    signed_in = headers("tim")
    clock = Clock()
    sign_ins = client.app.state.sign_ins = SignIns(clock=clock)  # type: ignore[attr-defined]
    assert client.get(DAY, headers=signed_in).status_code == 200
    _set_active(world.url, "tim", False)
    try:
        assert client.get(DAY, headers=signed_in).status_code == 200
        clock.now += ACCOUNT_TTL_SECONDS
        refused = client.get(DAY, headers=signed_in)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "not active" in refused.json()["detail"]
        _set_active(world.url, "tim", True)
        assert client.get(DAY, headers=signed_in).status_code == 200
        _set_active(world.url, "tim", False)
        sign_ins.forget()
        assert client.get("/api/v1/me", headers=signed_in).status_code == 401
    finally:
        _set_active(world.url, "tim", True)


def test_a_token_verified_before_is_refused_once_it_expires(
    client: TestClient, headers: Callable[[str], dict[str, str]]
) -> None:
    signed_in = headers("tom")
    later = Clock(datetime.now(UTC).timestamp())
    client.app.state.sign_ins = SignIns(wall=later)  # type: ignore[attr-defined]
    assert client.get(DAY, headers=signed_in).status_code == 200
    later.now += 24 * 3600
    refused = client.get(DAY, headers=signed_in)
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("connections the server drops are PostgreSQL's")


@pytest.mark.usefixtures("postgres_only")
def test_a_dropped_connection_costs_one_request_a_503(
    client: TestClient, world: World, tracking_tokens: list[str]
) -> None:
    """The server engine does not ping each connection before use (a round trip per
    request): a connection the database dropped fails its request with 503 and Retry-After,
    and the pool replaces its connections for the next."""
    path = f"/api/v1/track/{tracking_tokens[0]}"
    assert client.get(path).status_code == 200
    name = make_url(world.url).database
    admin = sa.create_engine(world.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        killed = connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        ).scalar_one()
    admin.dispose()
    assert killed >= 1
    failed = client.get(path)
    assert failed.status_code == 503
    assert int(failed.headers["retry-after"]) > 0
    assert client.get(path).status_code == 200
