"""The README's first command: `dispatch demo` serves the seeded embedded database."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
STARTUP_LIMIT_SECONDS = 90


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_serves_seeded_sqlite(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    dispatch = Path(sys.executable).with_name("dispatch")
    started = time.monotonic()
    process = subprocess.Popen(
        [str(dispatch), "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        health = None
        while time.monotonic() - started < STARTUP_LIMIT_SECONDS and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, process.stdout.read().decode() if process.stdout else ""
        print(f"dispatch demo answered /healthz after {time.monotonic() - started:.1f} s")
        assert health.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
        with sqlite3.connect(tmp_path / "dispatch.db") as connection:
            (visits,) = connection.execute("SELECT count(*) FROM visit").fetchone()
        assert visits == 400
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
