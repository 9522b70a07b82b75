"""What runs inside the child processes of a server-side twin: the server and the load generator.

A server-side workload module is run twice as a child: `python -m MODULE serve --twin NAME ...`
(the server under test, which calls `announce(port=...)` once it listens) and
`python -m MODULE load ...` (the load generator, driven over stdin/stdout by
`harness.server_twin`). Keeping the load in its own process means the client's CPU is never
charged to the server, and the harness process stays idle while a round runs.

The load generator answers one JSON line per command line:
    {"cmd": "connect", "port": P}  open the C connections (untimed; they serve every round
                                   until a round loses some)
    {"cmd": "run"}                 one timed round of requests; latencies kept per round
    {"cmd": "close"}               close the connections (untimed)
    {"cmd": "stats", "path": F, "skip": K}
                                   write the latencies of every round but the first K to F
                                   (native doubles), so the timed round never ships them;
                                   reply with each of those rounds' p50 and p99, and the
                                   pooled p50, p99 and max of every other sample series the
                                   session keeps (its optional `series`, e.g. a game's
                                   input-to-visible latency beside its tick lateness)
Failures are counts in the replies, never exceptions: a server that stops keeping up is a
result. Every count under "counts" is a failure (refused, timed out, lost, duplicated...).

`LoadParams` reads a scenario's load parameters, `connect_all` opens C connections at once and
sorts the failures, and `Schedule` is the open-loop clock (wrk2's method, see its docstring):
every load generator uses these three, so "when a request was due" and "what its latency
counts from" have one definition. `RequestLoad` is the generic request/response driver,
closed- or open-loop; protocol clients live in the workload modules.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import os
import resource
import sys
import time
from array import array
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from harness.drivers.aio import close_loop, new_loop
from harness.drivers.latency import percentile
from harness.model.checksum import MASK, digest
from harness.procs import nofile_shortfall

Params = Mapping[str, Any]  # read only
clock = time.perf_counter
T = TypeVar("T")


# -- small shared helpers ---------------------------------------------------------------------

def raise_nofile(need: int) -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit (the default soft 1024 is too few for
    C=1000); SystemExit with a one-line reason when the hard limit is below `need`."""
    problem = nofile_shortfall(need)
    if problem:
        raise SystemExit(f"error: {problem}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, need, 1 << 16)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def announce(**info: Any) -> None:
    """The one ready line ServerProcess waits for."""
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()


def run_loop(main: Awaitable[Any], loop_kind: str = "asyncio") -> Any:
    """Run a server's main coroutine on the twin's own loop implementation."""
    loop = new_loop(loop_kind)
    try:
        return loop.run_until_complete(main)
    finally:
        close_loop(loop)


# -- the load generator's command loop ---------------------------------------------------------

class LoadSession(Protocol):
    """One scenario's load: `run` fills `latencies` (seconds) for the round it ran.

    A session may also keep `series`, a dict of other samples of the round it ran (name ->
    seconds), summarised the same way (see `stats`); `series_of` reads it.
    """

    latencies: array[float]

    async def connect(self, port: int) -> dict[str, Any]: ...

    async def run(self) -> dict[str, Any]: ...

    async def close(self) -> dict[str, Any]: ...


def series_of(session: LoadSession) -> dict[str, array[float]]:
    """The session's extra sample series of the round it just ran (none by default)."""
    series = getattr(session, "series", None)
    return {str(k): array("d", v) for k, v in series.items()} if series else {}


def command_loop(session: LoadSession) -> None:
    """Serve the harness's commands until stdin closes (see the module docstring)."""
    # uvloop when present, for every twin alike: the cheaper the client, the more of the
    # machine is left to the server under test.
    try:
        import uvloop  # noqa: F401

        loop = new_loop("uvloop")
    except ImportError:
        loop = new_loop("asyncio")
    rounds: list[tuple[array[float], dict[str, array[float]]]] = []
    announce(ready=True, pid=os.getpid())
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                reply = _command(loop, session, json.loads(line), rounds)
            except Exception as exc:  # the harness turns this into a one-line failure
                reply = {"error": f"load generator: {type(exc).__name__}: {exc}"}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.wait_for(session.close(), 10))
        close_loop(loop)


def _command(loop: asyncio.AbstractEventLoop, session: LoadSession, cmd: dict[str, Any],
             rounds: list[tuple[array[float], dict[str, array[float]]]]) -> dict[str, Any]:
    op = cmd.get("cmd")
    if op == "connect":
        return loop.run_until_complete(session.connect(int(cmd["port"])))
    if op == "run":
        cpu, wall = time.process_time(), clock()
        reply = loop.run_until_complete(session.run())
        # Over the same interval, so cpu / wall is how busy the load generator was.
        reply["cpu"], reply["wall"] = time.process_time() - cpu, clock() - wall
        rounds.append((session.latencies, series_of(session)))
        return reply
    if op == "close":
        return loop.run_until_complete(session.close())
    if op == "stats":
        data: array[float] = array("d")
        per_round: dict[str, list[float | None]] = {"p50_s": [], "p99_s": []}
        pooled: dict[str, list[float]] = {}
        for latencies, series in rounds[int(cmd.get("skip", 0)):]:
            data.extend(latencies)
            ranked = sorted(latencies)
            per_round["p50_s"].append(percentile(ranked, 50))
            per_round["p99_s"].append(percentile(ranked, 99))
            for name, values in series.items():
                pooled.setdefault(name, []).extend(values)
        with open(cmd["path"], "wb") as out:
            data.tofile(out)
        summaries = {name: {"count": len(values), **{
            key: percentile(ranked, q) for key, q in (("p50", 50), ("p99", 99), ("max", 100))}}
            for name, values in pooled.items() for ranked in [sorted(values)]}
        return {"count": len(data), "per_round": per_round, "series": summaries}
    return {"error": f"load generator: unknown command {op!r}"}


# -- child entry point -------------------------------------------------------------------------

def child_main(serve: Callable[[str, Params], None], load: Callable[[Params], LoadSession],
               argv: list[str] | None = None) -> None:
    """`python -m MODULE serve --twin NAME --params JSON --fds N` or `... load ...`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("serve", "load"))
    parser.add_argument("--twin", default="")
    parser.add_argument("--params", default="{}")
    parser.add_argument("--fds", type=int, default=256)
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    raise_nofile(args.fds)
    if args.role == "serve":
        serve(args.twin, params)
    else:
        command_loop(load(params))


# -- request/response load -------------------------------------------------------------------

class Conn(Protocol):
    """One client connection of a request/response protocol.

    `request(i)` sends request i and returns a future of the answer's bytes; the driver may
    fail that future with TimeoutError, after which it closes the connection.
    """

    def request(self, index: int) -> asyncio.Future[bytes]: ...

    def close(self) -> None: ...


_CONN_ERRORS = (OSError, EOFError, asyncio.IncompleteReadError)


@dataclass(frozen=True)
class LoadParams:
    """A scenario's load parameters, read the same way by every load generator."""

    n: int
    concurrency: int
    rate: float  # 0: closed loop
    timeout: float  # one request (or fan-out) may take this long
    connect_timeout: float
    round_timeout: float  # no request goes out after this much of a round

    @classmethod
    def of(cls, params: Params) -> LoadParams:
        return cls(n=int(params["n"]), concurrency=max(1, int(params.get("concurrency", 1))),
                   rate=float(params.get("rate") or 0),
                   timeout=float(params.get("timeout_s", 10)),
                   connect_timeout=float(params.get("connect_timeout_s", 10)),
                   round_timeout=float(params.get("round_timeout_s", 120)))


def sort_connects(results: Sequence[Any]) -> tuple[list[Any], dict[str, int]]:
    """Connections from `gather(..., return_exceptions=True)`: None where the attempt failed,
    and the failures counted as refused, timed out or other."""
    conns: list[Any] = []
    counts = {"refused": 0, "connect_timeouts": 0, "connect_errors": 0}
    for result in results:
        if not isinstance(result, BaseException):
            conns.append(result)
            continue
        if not isinstance(result, Exception):
            raise result  # KeyboardInterrupt, SystemExit
        conns.append(None)
        if isinstance(result, ConnectionRefusedError) or (
                isinstance(result, OSError) and result.errno == errno.ECONNREFUSED):
            counts["refused"] += 1
        elif isinstance(result, TimeoutError):
            counts["connect_timeouts"] += 1
        else:
            counts["connect_errors"] += 1
    return conns, counts


async def connect_all(open_one: Callable[[], Awaitable[T]], count: int, timeout: float
                      ) -> tuple[list[T | None], dict[str, Any]]:
    """Open `count` connections all at once, like a thundering herd (a server slow to accept
    shows here), each within `timeout`: the connections (None where one failed) and the reply
    the harness records, {"connected", "elapsed", "counts"}."""
    start = clock()
    results = await asyncio.gather(*(asyncio.wait_for(open_one(), timeout)
                                     for _ in range(count)), return_exceptions=True)
    elapsed = clock() - start
    conns, counts = sort_connects(results)
    connected = sum(c is not None for c in conns)
    return conns, {"connected": connected, "elapsed": elapsed, "counts": counts}


@dataclass
class Schedule:
    """The open-loop clock (wrk2's method): request i is due at t0 + i/rate, whatever the
    server does.

    `start(i, busy_until)` is where request i's latency counts from. If the connection it goes
    out on was still busy with the server past the due time (waiting for the previous answer,
    or a send the server was not reading), the request was held back by the server and its
    latency counts from when it was *due*: a server that stalls is charged for every request
    it held back (no coordinated omission). Otherwise it counts from the actual send, and the
    lateness of that send is the load generator's own timer slack (about 1 ms): it is
    recorded as `lag`, and only then — a held-back send's lateness is the server's, already
    in its latency, and would inflate the generator's own figure.
    """

    rate: float
    t0: float = 0.0
    lags: list[float] = field(default_factory=list)

    def begin(self) -> float:
        self.t0 = clock()
        self.lags = []
        return self.t0

    def due(self, index: int) -> float:
        return self.t0 + index / self.rate

    async def wait(self, index: int) -> float:
        """Sleep until request `index` is due; its due time."""
        due = self.due(index)
        now = clock()
        if now < due:
            await asyncio.sleep(due - now)
        return due

    def start(self, due: float, busy_until: float) -> float:
        sent = clock()
        if busy_until > due:
            return due
        self.lags.append(sent - due)
        return sent

    def lag_p99(self) -> float | None:
        return percentile(sorted(self.lags), 99)


class RequestLoad:
    """N requests over C connections, closed-loop or, with `rate`, open-loop.

    Request i goes on connection i mod C, so every connection carries the same share.
    Closed loop: each connection sends its next request as soon as the answer arrives;
    latency is send to answer. Open loop (wrk2's method): request i is due at t0 + i/rate
    whatever the server does. If its connection is still waiting for the previous answer when
    it falls due, the request goes out late and its latency counts from when it was due, so a
    server that stalls is charged for every request it held back (no coordinated omission).
    If the connection was idle, latency counts from the actual send: the load generator's own
    timer slack (about 1 ms) is its own, not the server's, and is reported as `send_lag_p99`.

    A request that times out, or a connection that breaks, is counted and its connection
    closed; the rest of that connection's requests are counted as `unsent`. The round never
    raises for the server's failures.
    """

    def __init__(self, params: Params, open_conn: Callable[[int], Awaitable[Conn]],
                 expected: Callable[[int], bytes]):
        self.load = load = LoadParams.of(params)
        self.n, self.concurrency = load.n, load.concurrency
        self.timeout, self.round_timeout = load.timeout, load.round_timeout
        self.open_conn = open_conn
        self.expected = expected
        self.conns: list[Conn | None] = []
        self.latencies: array[float] = array("d")
        self._full_checksum: int | None = None

    def full_checksum(self) -> int:
        """The checksum of every request answered correctly (computed once)."""
        if self._full_checksum is None:
            self._full_checksum = sum(digest(self.expected(i)) for i in range(self.n)) & MASK
        return self._full_checksum

    async def connect(self, port: int) -> dict[str, Any]:
        await self.close()
        self.conns, reply = await connect_all(lambda: self.open_conn(port), self.concurrency,
                                              self.load.connect_timeout)
        return reply

    async def close(self) -> dict[str, Any]:
        for conn in self.conns:
            if conn is not None:
                conn.close()
        self.conns = []
        await asyncio.sleep(0)  # let the transports finish closing
        return {}

    async def run(self) -> dict[str, Any]:
        n, conc = self.n, self.concurrency
        latencies: array[float] = array("d")
        schedule = Schedule(self.load.rate)
        inflight: dict[int, tuple[asyncio.Future[bytes], float]] = {}
        tally = {"ok": 0, "answered": 0, "checksum": 0}
        counts = {"timeouts": 0, "conn_errors": 0, "wrong": 0, "unsent": 0}
        conns = list(self.conns) + [None] * (conc - len(self.conns))
        t0 = schedule.begin()
        deadline = t0 + self.round_timeout
        expected, rate = self.expected, self.load.rate

        async def worker(k: int, conn: Conn | None) -> None:
            share = range(k, n, conc)
            if conn is None:  # its connection was refused or timed out
                counts["unsent"] += len(share)
                return
            prev_done = t0  # the connection is busy until its previous answer arrives
            for done_count, i in enumerate(share):
                if rate:
                    start = schedule.start(await schedule.wait(i), prev_done)
                    sent = clock()
                else:
                    start = sent = clock()
                if sent > deadline:
                    counts["unsent"] += len(share) - done_count
                    return
                future = conn.request(i)
                inflight[k] = (future, sent)
                try:
                    body = await future
                except TimeoutError:
                    counts["timeouts"] += 1
                except _CONN_ERRORS:
                    counts["conn_errors"] += 1
                else:
                    prev_done = clock()
                    latencies.append(prev_done - start)
                    tally["answered"] += 1
                    tally["checksum"] += digest(body)
                    if body == expected(i):
                        tally["ok"] += 1
                    else:
                        counts["wrong"] += 1
                    continue
                finally:
                    inflight.pop(k, None)
                conn.close()
                counts["unsent"] += len(share) - done_count - 1
                return

        async def watchdog() -> None:
            """Fail requests older than the timeout: one timer for all, not one per request."""
            tick = min(0.05, self.timeout / 10)
            while True:
                await asyncio.sleep(tick)
                now = clock()
                for future, sent in list(inflight.values()):
                    if not future.done() and (now - sent > self.timeout or now > deadline):
                        future.set_exception(TimeoutError())

        guard = asyncio.ensure_future(watchdog())
        try:
            await asyncio.gather(*(worker(k, conns[k]) for k in range(conc)))
        finally:
            guard.cancel()
        elapsed = clock() - t0
        self.latencies = latencies
        full = self.full_checksum() if counts["wrong"] == 0 else None
        return {"ok": tally["ok"], "answered": tally["answered"], "attempted": n,
                "elapsed": elapsed, "checksum": tally["checksum"] & MASK,
                "full_checksum": full, "counts": counts,
                "send_lag_p99": schedule.lag_p99()}
