"""A load generator cheap enough to share the machine with the server it loads: raw asyncio
(uvloop when installed) over keep-alive HTTP/1.1 connections, closed loop or open loop, run in
its own process. It imports nothing of the app, so that process starts in a blink."""

from __future__ import annotations

import asyncio
import importlib.util
import multiprocessing
import time
import urllib.parse
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass

from benchmarks.uvicorn_server import Server, cpu_snapshot

# An HTTP client library spends about 1 ms of CPU per request (aiohttp did, here): on the same
# 2 cores as the server that is most of what the server is measured to need. This one builds
# each request's bytes once and reads only the status line and Content-Length of the answer,
# a few tens of microseconds per request.

Target = tuple[str, dict[str, str]]  # path and headers


@dataclass
class Outcome:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[str, int]
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    database_cpu_seconds: float = 0.0
    other_cpu_seconds: float = 0.0  # the rest of the machine: other processes, interrupts

    @property
    def rps(self) -> float:
        """200 answers a second."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def request_bytes(host: str, target: Target) -> bytes:
    path, headers = target
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with at most one request on it (no pipelining: a
    browser or an app does not pipeline either)."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.started = 0.0  # when the request on it was due; 0.0 while idle
        self.end = -1  # where the answer ends in the buffer, once its head is read
        self.status = ""
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, started: float, request: bytes, timeout: float) -> None:
        self.started = started
        self.transport.write(request)  # type: ignore[union-attr]
        self.timer = self.load.loop.call_later(timeout, self.finish, "TimeoutError", False)

    def data_received(self, data: bytes) -> None:
        if not self.started:
            return  # nothing asked for
        buffer = self.buffer
        buffer += data
        if self.end < 0:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(buffer[:head_end]).lower()
            self.status = head[9:12].decode("latin-1")
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                # Chunked or ended by closing: beyond this parser, so an error rather than a
                # wait for an end it would not see.
                self.finish("no-length", reusable=False)
                return
            stop = head.find(b"\r\n", at + 17)
            self.end = head_end + 4 + int(head[at + 17 : stop if stop > 0 else None])
        if len(buffer) >= self.end:
            self.finish(self.status, reusable=len(buffer) == self.end)

    def finish(self, status: str, reusable: bool = True) -> None:
        """The request is over: answered, or not and then the connection is given up (its
        state is unknown: an answer may still be on the way)."""
        if self.timer:
            self.timer.cancel()
        started, self.started = self.started, 0.0
        self.buffer.clear()
        self.end = -1
        if not reusable:
            self.transport.abort()  # type: ignore[union-attr]
        self.load.answered(self if reusable else None, started, status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.started:
            self.finish(type(exc).__name__ if exc else "ServerDisconnected", reusable=False)
        self.load.lost(self)


class _Load:
    """A run's connections (at most ``limit``, opened as needed, replaced when lost), the
    requests waiting for one, and what came back. Requests go round the targets in turn."""

    def __init__(
        self, base: str, targets: list[Target], limit: int, timeout: float, refill: bool
    ) -> None:
        self.loop = asyncio.get_running_loop()
        netloc = urllib.parse.urlsplit(base).netloc
        host, _, port = netloc.rpartition(":")
        self.address = (host, int(port))
        self.requests = [request_bytes(netloc, target) for target in targets]
        self.sent = 0
        self.limit = limit
        self.timeout = timeout
        # Closed loop: an answer sends the next request at once, until stopped.
        self.refill = refill
        self.connections = 0  # open or opening
        self.idle: deque[_Connection] = deque()
        self.waiting: deque[float] = deque()  # due times of requests without a connection yet
        self.outstanding = 0  # requests waiting or in flight
        self.stopped = False
        self.done = self.loop.create_future()
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()

    async def connect(self, n: int) -> None:
        """Up to ``n`` connections opened before the clock starts, one at a time: uvicorn's
        workers share one listening socket and the first to wake accepts all it finds, so a
        burst of connects often lands on a single worker (32 of 32 in 2 of 6 tries here) and
        leaves the other idle; 2 ms apart they split about evenly. One that fails is retried
        (and counted) when a request needs it."""
        for _ in range(min(n, self.limit)):
            try:
                _, connection = await self._create()
            except OSError:
                continue
            self.connections += 1
            self.idle.append(connection)
            await asyncio.sleep(0.002)

    def _create(self):  # type: ignore[no-untyped-def]
        return self.loop.create_connection(lambda: _Connection(self), *self.address)

    def submit(self, due: float) -> None:
        self.outstanding += 1
        self.waiting.append(due)
        if self.idle:
            self._release(self.idle.popleft())
        elif self.connections < self.limit:
            self.connections += 1
            self.loop.create_task(self._create()).add_done_callback(self._opened)

    def _release(self, connection: _Connection) -> None:
        """A free connection takes the oldest waiting request, else waits for one. Idle
        connections are reused oldest first, so the load spreads over all of them (and over
        the workers that accepted them) rather than piling on the most recent."""
        while self.waiting:
            due = self.waiting.popleft()
            left = due + self.timeout - time.perf_counter()
            if left > 0:
                request = self.requests[self.sent % len(self.requests)]
                self.sent += 1
                connection.send(due, request, left)
                return
            # The timeout runs from when the request was due: it ran out in the queue.
            self.answered(None, due, "TimeoutError", at=due + self.timeout)
        self.idle.append(connection)

    def _opened(self, task: asyncio.Task) -> None:
        if (failure := task.exception()) is None:
            self._release(task.result()[1])
            return
        self.connections -= 1
        if self.waiting:  # a refused connection fails the request that was to use it
            self.answered(None, self.waiting.popleft(), type(failure).__name__)
        self._replace()

    def answered(
        self, connection: _Connection | None, due: float, status: str, at: float = 0.0
    ) -> None:
        now = time.perf_counter()
        self._record(at or now, due, status)
        if connection:
            self._release(connection)
        if self.refill and not self.stopped:
            self.submit(now)

    def lost(self, connection: _Connection) -> None:
        self.connections -= 1
        if connection in self.idle:  # the server closed it while idle
            self.idle.remove(connection)
        self._replace()

    def _replace(self) -> None:
        if self.waiting and self.connections < self.limit:
            self.connections += 1
            self.loop.create_task(self._create()).add_done_callback(self._opened)

    def _record(self, now: float, due: float, status: str) -> None:
        self.latencies.append((now - due) * 1000)
        self.statuses[status] += 1
        self.outstanding -= 1
        if self.stopped and not self.outstanding and not self.done.done():
            self.done.set_result(None)

    def stop(self) -> None:
        self.stopped = True
        if not self.outstanding and not self.done.done():
            self.done.set_result(None)

    def close(self) -> None:
        for connection in self.idle:
            connection.transport.close()  # type: ignore[union-attr]


async def _closed_loop(
    base: str, targets: list[Target], seconds: float, concurrency: int, timeout: float
) -> tuple[list[float], Counter, float]:
    """``concurrency`` connections, each sending its next request as soon as it has the
    answer; latency from the send."""
    load = _Load(base, targets, concurrency, timeout, refill=True)
    await load.connect(concurrency)
    began = time.perf_counter()
    load.loop.call_later(seconds, load.stop)
    for _ in range(concurrency):
        load.submit(began)
    await load.done
    wall = time.perf_counter() - began
    load.close()
    return load.latencies, load.statuses, wall


async def _open_loop(
    base: str,
    targets: list[Target],
    seconds: float,
    rate: float,
    max_in_flight: int,
    timeout: float,
    connections: int,
) -> tuple[list[float], Counter, float]:
    """``rate`` requests a second on a fixed schedule; each latency runs from its scheduled
    send, so time spent waiting for a free connection counts (no coordinated omission), and
    so does a late timer (up to about 1 ms): that slack is counted against the server."""
    load = _Load(base, targets, max_in_flight, timeout, refill=False)
    # Many clients, already connected: more connections are opened only when all are busy.
    await load.connect(connections)
    total = int(seconds * rate)
    scheduled = 0
    began = time.perf_counter()

    def tick() -> None:
        nonlocal scheduled
        due = min(total, int((time.perf_counter() - began) * rate) + 1)
        while scheduled < due:
            load.submit(began + scheduled / rate)
            scheduled += 1
        if scheduled < total:
            # uvloop truncates a timer's delay to whole milliseconds: under 1 ms it would fire
            # at once and spin, costing more CPU than the requests do.
            wait = began + scheduled / rate - time.perf_counter()
            load.loop.call_later(max(wait, 0.001), tick)
        else:
            load.stop()

    tick()
    await load.done
    wall = time.perf_counter() - began
    load.close()
    return load.latencies, load.statuses, wall


def _drive(connection, server_pid: int, base: str, targets: list[Target], spec: dict) -> None:  # type: ignore[no-untyped-def]
    """The load process: runs one load and sends back what it saw, with the CPU time spent
    over just the run (not this process's start)."""
    if importlib.util.find_spec("uvloop"):
        import uvloop

        uvloop.install()
    if spec["mode"] == "closed":
        run = _closed_loop(base, targets, spec["seconds"], spec["concurrency"], spec["timeout"])
    else:
        run = _open_loop(
            base,
            targets,
            spec["seconds"],
            spec["rate"],
            spec["max_in_flight"],
            spec["timeout"],
            spec["connections"],
        )
    before = cpu_snapshot(server_pid, spec["database"])
    started_cpu = time.process_time()
    latencies, statuses, wall = asyncio.run(run)
    client = time.process_time() - started_cpu
    after = cpu_snapshot(server_pid, spec["database"])
    server, database, machine = (b - a for a, b in zip(before, after, strict=True))
    cpu = (client, server, database, machine - client - server - database)
    connection.send((latencies, dict(statuses), wall, cpu))
    connection.close()


def drive(server: Server, targets: list[Target], **spec: object) -> Outcome:
    """One load run from a separate process, and the CPU time spent over it."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(
        target=_drive, args=(sending, server.process.pid, server.base, targets, spec)
    )
    process.start()
    sending.close()
    latencies, statuses, wall, (client, server_, database, other) = receiving.recv()
    process.join()
    errors = sum(n for status, n in statuses.items() if status != "200")
    return Outcome(
        requests=len(latencies),
        errors=errors,
        seconds=wall,
        latencies_ms=latencies,
        statuses=statuses,
        client_cpu_seconds=client,
        server_cpu_seconds=server_,
        database_cpu_seconds=database,
        other_cpu_seconds=other,
    )
