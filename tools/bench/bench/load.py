"""The load generator: signed webhook deliveries over plain HTTP/1.1 on loopback.

A small asyncio client instead of an HTTP library: one connection per request
(``Connection: close``, as gunicorn's sync workers answer anyway), the request written in
one piece, the answer read to the end. It spends a fraction of what aiohttp spends per
request, which matters when the load generator shares two cores with the server it
measures.

Two shapes of load:

* :func:`open_loop` sends at a fixed offered rate whatever the answers do (a send is never
  delayed by a slow answer); latency counts from the moment each send was due, so queueing
  in the server shows up in it.
* :func:`closed_loop` keeps ``connections`` requests in flight, each sent as soon as the
  previous answer arrived: the server runs flat out, and the answers per second in the
  measured window are its saturation throughput.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from fakestripe.signing import sign

REQUEST_TIMEOUT = 30.0

#: ``next_body()`` gives the body of the next delivery (a fresh event id each time).
Bodies = Callable[[], str]


@dataclass
class Result:
    """What one phase of load measured: answers, errors, latencies (seconds)."""

    name: str
    sent: int = 0
    accepted: int = 0
    #: every answer of the phase, ramp-up and tail included (``sent`` counts the window)
    answered: int = 0
    elapsed: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Accepted (2xx) answers per second over the phase."""
        return self.accepted / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        """The ``q`` quantile of the accepted answers' latency, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def errors_text(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "none"


class Target:
    """Where deliveries go: ``http://127.0.0.1:<port><path>``, signed with ``secret``."""

    def __init__(self, host: str, port: int, path: str, secret: str) -> None:
        self.host = host
        self.port = port
        self.path = path
        self.secret = secret
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nUser-Agent: opensec-bench\r\n"
        )

    def request(self, body: str) -> bytes:
        data = body.encode()
        return (
            f"{self.head}Stripe-Signature: {sign(data, self.secret)}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode() + data

    async def post(self, body: str) -> int:
        """Deliver one body; the answer's HTTP status."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(self.request(body))
            answer = await reader.read()  # to the end: the server closes the connection
        finally:
            writer.close()
        if not answer.startswith(b"HTTP/1."):
            raise ConnectionError("no HTTP answer")
        return int(answer[9:12])


async def _send(target: Target, body: str) -> int | str:
    """The answer's HTTP status, or the name of the error that stopped the request."""
    try:
        return await asyncio.wait_for(target.post(body), REQUEST_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        return exc.__class__.__name__


def _record(result: Result, outcome: int | str, latency: float) -> None:
    result.sent += 1
    if isinstance(outcome, int) and 200 <= outcome < 300:
        result.accepted += 1
        result.latencies.append(latency)
    else:
        result.error(str(outcome))


async def _open_loop(
    target: Target, next_body: Bodies, rate: float, count: int, name: str
) -> Result:
    result = Result(name)
    start = time.perf_counter() + 0.1

    async def one(due: float, body: str) -> None:
        outcome = await _send(target, body)
        _record(result, outcome, time.perf_counter() - due)

    tasks = []
    for i in range(count):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due, next_body())))
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - start
    return result


def open_loop(target: Target, next_body: Bodies, *, rate: float, count: int, name: str) -> Result:
    """``count`` deliveries at ``rate`` per second; latency from each send's due time."""
    return asyncio.run(_open_loop(target, next_body, rate, count, name))


async def _closed_loop(
    target: Target, next_body: Bodies, connections: int, seconds: float, ramp: float, name: str
) -> Result:
    result = Result(name, elapsed=seconds)
    begin = time.perf_counter() + ramp  # the window: after the ramp-up...
    end = begin + seconds  # ...until here

    async def client() -> None:
        while (sent_at := time.perf_counter()) < end:
            outcome = await _send(target, next_body())
            done = time.perf_counter()
            result.answered += 1
            if begin <= done <= end:
                _record(result, outcome, done - sent_at)

    await asyncio.gather(*(client() for _ in range(connections)))
    return result


def closed_loop(
    target: Target, next_body: Bodies, *, connections: int, seconds: float, name: str
) -> Result:
    """``connections`` requests in flight for ``seconds`` (after a 1 s ramp-up, not counted):
    answers per second in the window are the saturation throughput."""
    return asyncio.run(_closed_loop(target, next_body, connections, seconds, 1.0, name))


def event_ids(prefix: str) -> Iterator[str]:
    """``evt_<prefix>_000001``, ... : distinct ids, so that no delivery is a duplicate."""
    return (f"evt_{prefix}_{n:07d}" for n in itertools.count(1))
