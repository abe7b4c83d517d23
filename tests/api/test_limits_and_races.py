"""Oversized bodies are refused before they are parsed, and concurrent conflicting edits of one
object end with one winner and clear refusals for the others, nothing half-applied."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from dispatch.settings import Settings
from tests.api.conftest import PROBLEM, World

Headers = Callable[[str], dict[str, str]]
LIMIT = 4096


@pytest.fixture
def small_client(world: World) -> Iterator[TestClient]:
    with TestClient(
        create_app(Settings(database_url=world.url, max_upload_bytes=LIMIT)),
        raise_server_exceptions=False,
    ) as client:
        yield client


def _huge_request(world: World) -> dict:
    return {
        "customer": world.customers[0],
        "contract": world.contracts[0],
        "site": world.sites[0],
        "channel": "phone",
        "contact_name": "Anna",
        "description": "x" * (LIMIT * 2),
    }


def test_a_body_declared_too_large_is_refused(
    small_client: TestClient, headers: Headers, world: World
) -> None:
    answer = small_client.post(
        "/api/v1/requests", json=_huge_request(world), headers=headers("dora")
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["errors"][0]["field"] == "body"
    assert answer.json()["errors"][0]["value"].startswith("Content-Length: ")


def test_a_streamed_body_without_length_is_cut_off(
    small_client: TestClient, headers: Headers, world: World
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"description": "'
        for _ in range(10):
            yield b"y" * 1024
        yield b'"}'

    answer = small_client.post(
        "/api/v1/requests",
        content=chunks(),
        headers=headers("dora") | {"Content-Type": "application/json"},
    )
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["errors"][0]["field"] == "body"
    listed = small_client.get(
        "/api/v1/requests", params={"limit": 500}, headers=headers("dora")
    ).json()
    assert not any(r["description"].startswith("yyy") for r in listed["items"])


def test_concurrent_edits_of_one_technician_have_one_winner(
    client: TestClient, headers: Headers, world: World
) -> None:
    code = world.technicians["tim"]
    url = f"/api/v1/technicians/{code}"
    etag = client.get(url, headers=headers("dora")).headers["ETag"]
    auth = headers("dora") | {"If-Match": etag}

    def edit(n: int) -> tuple[int, str]:
        answer = client.patch(url, json={"phone": f"+7 000 {n:03d}"}, headers=auth)
        return answer.status_code, f"+7 000 {n:03d}"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(edit, range(6)))
    won = [phone for status, phone in outcomes if status == 200]
    assert len(won) == 1, outcomes
    assert {status for status, _ in outcomes} <= {200, 409, 412}, outcomes
    final = client.get(url, headers=headers("dora")).json()
    assert final["phone"] == won[0]
    assert f'"{final["revision"]}"' != etag
