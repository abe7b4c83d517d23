"""Browser tests: the demo server (`dispatch demo`, seeded, on SQLite and on PostgreSQL) driven
by Debian's Chromium through Playwright. A page that asks for anything outside the server, or
throws a script error, fails its test. Screenshots go to test-results/screenshots/."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import free_port, new_database, stop_group

CHROMIUM = Path(os.environ.get("DISPATCH_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
STARTUP_LIMIT_SECONDS = 120
DISPATCHER = ("dispatcher", "demo-dispatcher-2026")
TECHNICIAN_PASSWORD = "demo-technician-2026"

pytestmark = pytest.mark.browser


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must run the browser tests")
    pytest.skip(message)


@dataclass
class Server:
    base: str
    database_url: str
    log: Path


@pytest.fixture(scope="session", params=("sqlite", "postgresql"))
def demo_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`dispatch demo` on a free port: migrated, seeded with the demo company, serving."""
    _chromium_or_skip()
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"browser-{backend}")
    url, drop = new_database(backend, tmp)
    port = free_port()
    log = tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    # A short solver limit keeps "optimise" in the tests to seconds.
    env |= {"DISPATCH_DATABASE_URL": url, "DISPATCH_SOLVER_TIME_LIMIT_SECONDS": "2"}
    dispatch = Path(sys.executable).with_name("dispatch")
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(dispatch), "demo", "--port", str(port)],
            cwd=tmp,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"dispatch demo exited:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dispatch demo did not answer in {STARTUP_LIMIT_SECONDS} s")
            time.sleep(0.2)
        yield Server(base=base, database_url=url, log=log)
    finally:
        stop_group(process)
        drop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What a page did that it should not: requests leaving the server, script errors."""

    outside: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)


def _open_context(browser, server: Server, watch: Watch, **options):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=server.base, **options)
    own = urlsplit(server.base).netloc

    def guard(route) -> None:  # type: ignore[no-untyped-def]
        target = urlsplit(route.request.url)
        if target.scheme in ("data", "blob") or target.netloc == own:
            route.continue_()
        else:
            watch.outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def open_page(browser, demo_server: Server) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """open_page(path, viewport=..., **context options) -> a Playwright page at ``path``; each
    call is a fresh browser context (its own session storage, so its own sign-in)."""
    watches: list[Watch] = []
    contexts = []

    def opener(path: str, **options):  # type: ignore[no-untyped-def]
        watch = Watch()
        context = _open_context(browser, demo_server, watch, **options)
        contexts.append(context)
        watches.append(watch)
        page = context.new_page()
        page.on("pageerror", lambda error: watch.script_errors.append(str(error)))
        page.goto(path)
        return page

    yield opener
    for context in contexts:
        context.close()
    for watch in watches:
        assert not watch.outside, f"pages asked for resources outside the server: {watch.outside}"
        assert not watch.script_errors, f"script errors: {watch.script_errors}"


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, demo_server: Server):  # type: ignore[no-untyped-def]
    """screenshot(page, name): a full-page PNG in test-results/screenshots/, per database."""
    backend = "postgresql" if demo_server.database_url.startswith("postgresql") else "sqlite"

    def take(page, name: str) -> Path:  # type: ignore[no-untyped-def]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{backend}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def sign_in(page, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Through the page's own sign-in form."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


# The console's tests: the API as a dispatcher, the demo's region and day 0 ----------------


@pytest.fixture
def office(demo_server) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    """An HTTP client signed in as the demo dispatcher."""
    with httpx.Client(base_url=demo_server.base, timeout=30) as client:
        answer = client.post(
            "/api/v1/auth/token", data={"username": DISPATCHER[0], "password": DISPATCHER[1]}
        )
        answer.raise_for_status()
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield client


@pytest.fixture
def region(office: httpx.Client) -> dict[str, Any]:
    """The demo's first region (by code)."""
    return _ok(office.get("/api/v1/regions"))["items"][0]


@pytest.fixture
def day0(office: httpx.Client, region: dict[str, Any]) -> str:
    """The seed's day 0: the first local day from today on that visits of the region open."""
    today = datetime.now(ZoneInfo(region["timezone"])).date().isoformat()
    visits = _ok(office.get("/api/v1/visits", params={"region": region["code"], "limit": 500}))
    return min(v["earliest_date"] for v in visits["items"] if v["earliest_date"] >= today)


def _ok(answer):  # type: ignore[no-untyped-def]
    assert answer.is_success, f"{answer.request.method} {answer.request.url}: {answer.text}"
    return answer.json()
