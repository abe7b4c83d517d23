"""Signing in: OAuth2 password flow, short-lived JWT access tokens, rotating refresh tokens
that revoke their chain when replayed, roles, and a limit on failed attempts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import sqlalchemy as sa
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from api.auth import access_token, require
from dispatch import accounts, db
from dispatch.models import LoginFailure, Role, User
from dispatch.settings import Settings
from tests.conftest import new_database
from tests.factories import make_technician, make_user

PROBLEM = "application/problem+json"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def app_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, drop = new_database(backend, tmp_path_factory.mktemp("auth"))
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.transaction(engine) as session:
        digest = accounts.hash_password(PASSWORD)
        make_user(session, username="ada", role=Role.admin, password_hash=digest)
        make_user(session, username="dora", role=Role.dispatcher, password_hash=digest)
        tech = make_technician(session)
        make_user(
            session, username="tom", role=Role.technician, technician_id=tech.id,
            password_hash=digest,
        )  # fmt: skip
        make_user(session, username="gone", password_hash=digest, is_active=False)
    engine.dispose()
    yield url
    drop()


@pytest.fixture
def client(app_url: str) -> Iterator[TestClient]:
    """The app on the module's database, with no failed sign-ins counted yet (the count is
    in the database and would otherwise carry over from test to test)."""
    engine = db.make_engine(app_url)
    with db.transaction(engine) as session:
        session.execute(sa.delete(LoginFailure))
    engine.dispose()
    app = create_app(Settings(database_url=app_url, login_max_failures=3))

    @app.get("/only-admins", dependencies=[Depends(require(Role.admin))])
    def only_admins() -> dict[str, bool]:
        return {"ok": True}

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def sign_in(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("username", "role"), [("ada", "admin"), ("dora", "dispatcher"), ("tom", "technician")]
)
def test_sign_in_and_who_am_i(client: TestClient, username: str, role: str) -> None:
    response = sign_in(client, username)
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 15 * 60
    me = client.get("/api/v1/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert (me.json()["username"], me.json()["role"]) == (username, role)
    assert (me.json()["technician_id"] is not None) == (role == "technician")


@pytest.mark.parametrize(
    ("username", "password"), [("dora", "wrong"), ("nobody", PASSWORD), ("gone", PASSWORD)]
)
def test_bad_credentials_say_the_same_thing(
    client: TestClient, username: str, password: str
) -> None:
    response = sign_in(client, username, password)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == "wrong username or password"


def test_failed_sign_ins_are_limited(client: TestClient) -> None:
    for _ in range(3):
        assert sign_in(client, "ada", "guess").status_code == 401
    limited = sign_in(client, "ada")  # even the right password waits
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.headers["content-type"] == PROBLEM
    assert sign_in(client, "dora").status_code == 200  # other accounts are unaffected


def test_the_limit_holds_whichever_server_process_answers(app_url: str) -> None:
    """Failures are counted in the database: two apps on one database (as two server
    processes are) share the count, and a success clears it."""
    settings = Settings(database_url=app_url, login_max_failures=2)
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        assert sign_in(first, "dora", "guess").status_code == 401
        assert sign_in(first, "dora").status_code == 200  # a success forgets the failure
        assert sign_in(first, "dora", "guess").status_code == 401
        assert sign_in(second, "dora", "guess").status_code == 401
        limited = sign_in(second, "dora")
        assert limited.status_code == 429
        assert sign_in(first, "dora").status_code == 429


def test_failures_leave_the_count_when_the_window_passes(app_url: str) -> None:
    limit = accounts.SignInLimit(2, timedelta(minutes=5))
    key = ("window-test", "192.0.2.7")
    start = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    engine = db.make_engine(app_url)
    try:
        with db.transaction(engine) as session:
            limit.failed(session, key, start)
            limit.failed(session, key, start + timedelta(minutes=1))
            assert limit.wait(session, key, start + timedelta(minutes=2)) == 180
            assert limit.wait(session, key, start + timedelta(minutes=4, seconds=30)) == 30
            assert limit.wait(session, key, start + timedelta(minutes=6)) == 0
            limit.failed(session, key, start + timedelta(minutes=7))  # drops the two old ones
            rows = session.exec(select(LoginFailure).where(LoginFailure.username == key[0]))
            assert [r.failed_at for r in rows] == [start + timedelta(minutes=7)]
            limit.succeeded(session, key)
    finally:
        engine.dispose()


def test_tokens_that_do_not_open_doors(client: TestClient, app_url: str) -> None:
    settings = Settings(database_url=app_url)
    assert client.get("/api/v1/me").status_code == 401
    pair = sign_in(client, "dora").json()
    forged = jwt.encode(
        jwt.decode(pair["access_token"], options={"verify_signature": False}) | {"role": "admin"},
        "another key of at least thirty-two characters",
        "HS256",
    )
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    user = User(
        id=int(claims["sub"]), username="dora", full_name="", password_hash="",
        role=Role.dispatcher,
    )  # fmt: skip
    expired, _ = access_token(user, settings, datetime.now(UTC) - timedelta(hours=1))
    for token, detail in (
        (forged, "not valid"),
        (expired, "expired"),
        (pair["refresh_token"], "not valid"),
        ("garbage", "not valid"),
    ):
        response = client.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 401, token
        assert detail in response.json()["detail"]


def test_roles_are_enforced(client: TestClient) -> None:
    admin = sign_in(client, "ada").json()["access_token"]
    dispatcher = sign_in(client, "dora").json()["access_token"]
    assert client.get("/only-admins", headers=bearer(admin)).status_code == 200
    refused = client.get("/only-admins", headers=bearer(dispatcher))
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]


def test_refresh_rotates_and_a_replay_revokes_the_chain(client: TestClient) -> None:
    first = sign_in(client, "tom").json()
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    newer = second.json()
    assert newer["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(newer["access_token"])).status_code == 200
    # The first token comes back (stolen, or a confused client): the whole chain is revoked.
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": newer["refresh_token"]})
    assert after.status_code == 401


def test_logout_ends_the_refresh_chain(client: TestClient) -> None:
    pair = sign_in(client, "dora").json()
    assert (
        client.post(
            "/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}
        ).status_code
        == 204
    )
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401


def test_malformed_refresh_request_names_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": "short"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.refresh_token"
