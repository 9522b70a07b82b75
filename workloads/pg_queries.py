"""pg_queries: the database-client case — psycopg 3 (sync, thread pool, async), asyncpg (tuned
and default pool) and aiopg.

Every twin runs the same parameterised SQL against the same PostgreSQL (the `postgres` peer, in
its private schema), with the same pool size C, autocommit outside explicit transactions, and
pools opened and filled before timing. The tables, seed data and work lists are
`harness.world_*` (shared with mysql_queries), pure functions of the parameters, so `expected`
computes every scenario's checksum without a database.

Fairness notes:
- psycopg connections are autocommit: otherwise each query pays an implicit BEGIN and the pool
  a COMMIT on return, round trips asyncpg does not make. aiopg's connections are always
  autocommit (psycopg2's asynchronous mode).
- asyncpg's pool runs `RESET ALL; UNLISTEN *; ...` on every release, a round trip psycopg_pool
  and aiopg do not make; the `asyncpg` twin gets the same cheap release as the others (roll
  back a left-open transaction only), and `asyncpg-default` keeps asyncpg's own, as a user gets
  it out of the box.
- aiopg looks up the hstore type on every new connection unless told not to
  (`enable_hstore=False`, set): a query no other driver makes, seen in the statement counts.
- Both drivers prepare repeated statements by themselves (asyncpg at once, psycopg after 5
  uses); the warm-up round covers that on both sides. psycopg2 (aiopg) never prepares.
- psycopg and asyncpg COPY in binary format (asyncpg's only one). aiopg cannot COPY at all
  (psycopg2's asynchronous mode refuses it), so it skips bulk load, saying so, rather than
  timing different SQL under the same scenario name.
- `tls=1`: over TCP on 127.0.0.1 with TLS, every driver verifying the server's certificate
  and name against the run's CA (libpq's `sslmode=verify-full` for psycopg and aiopg, an SSL
  context for asyncpg); only the throwaway server has a certificate from that CA.
- `connect=1`: no pool at all — every operation connects, runs its query and closes, as a
  serverless function does; `asyncpg-default` is then the `asyncpg` twin again, and skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import aiopg
import asyncpg
import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from harness import (
    WORLD_LOOKUP,
    WORLD_RMW_READ,
    WORLD_RMW_WRITE,
    WORLD_ROWS,
    WORLD_SIGNATURE,
    WORLD_TINY,
    BenchContext,
    CannotRun,
    Scenario,
    Sweep,
    Twin,
    Workload,
    awarm,
    client_twin,
    next_number,
    warm,
    world_expected,
    world_ops_per_item,
    world_reset_statements,
    world_rows,
    world_scenarios,
    world_work,
)

COLUMNS = ("id", "randomnumber")

# --- schema set-up and per-round reset (untimed, one plain psycopg connection) ---------------

SCHEMA_DDL = """
CREATE TABLE IF NOT EXISTS world (id integer PRIMARY KEY, randomnumber integer NOT NULL);
CREATE TABLE IF NOT EXISTS rmw (id integer PRIMARY KEY, randomnumber integer NOT NULL)
    WITH (autovacuum_enabled = off);
CREATE TABLE IF NOT EXISTS bulk (id integer PRIMARY KEY, randomnumber integer NOT NULL)
    WITH (autovacuum_enabled = off);
"""


def prepare(peer: Any) -> None:
    """Create the tables and seed `world` once per schema (idempotent, checked by content)."""
    with peer.connect() as conn:
        conn.execute(SCHEMA_DDL)
        row = conn.execute("SELECT count(*), coalesce(sum(id::bigint * randomnumber), 0) "
                           "FROM world").fetchone()
        if row is not None and tuple(row) == (WORLD_ROWS, WORLD_SIGNATURE):
            return
        with conn.transaction():
            conn.execute("TRUNCATE world")
            with conn.cursor().copy("COPY world (id, randomnumber) FROM STDIN") as copy:
                for row in world_rows():
                    copy.write_row(row)
        conn.execute("ANALYZE world")


def items(ctx: BenchContext) -> list[Any]:
    prepare(ctx.peers["postgres"])
    return world_work(ctx.params)


def reset(ctx: BenchContext) -> None:
    """Put back what a round wrote, so every round does the same work (same for every twin)."""
    statements = world_reset_statements(ctx.params["op"])
    if statements:
        with ctx.peers["postgres"].connect() as conn:
            for statement in statements:
                conn.execute(statement)


# --- SQL: written once in psycopg's %s style; asyncpg gets the same text numbered $1, $2... --

LOOKUP, RMW_READ, RMW_WRITE = WORLD_LOOKUP, WORLD_RMW_READ, WORLD_RMW_WRITE
SLEEP = "SELECT w.id, w.randomnumber FROM pg_sleep(%s), world w WHERE w.id = %s"
COPY_BULK = "COPY bulk (id, randomnumber) FROM STDIN (FORMAT BINARY)"


def numbered(query: str) -> str:
    counter = iter(range(1, 100))
    return re.sub("%s", lambda _: f"${next(counter)}", query)


A_LOOKUP, A_SLEEP, A_RMW_READ, A_RMW_WRITE = map(numbered, (LOOKUP, SLEEP, RMW_READ, RMW_WRITE))


def _pool_size(ctx: BenchContext) -> int:
    return int(ctx.params["concurrency"])


def _tls(ctx: BenchContext) -> bool:
    return bool(ctx.params.get("tls"))


def _connect_each(ctx: BenchContext) -> bool:
    return bool(ctx.params.get("connect"))


class _ConnectEach:
    """`connect=1`, psycopg: no pool, a connection of its own for every operation."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            yield conn

    def close(self, timeout: float = 0) -> None:
        pass


class _AsyncConnectEach:
    """`connect=1`, psycopg async."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        try:
            yield conn
        finally:
            await conn.close()

    async def close(self, timeout: float = 0) -> None:
        pass


class _AsyncpgConnectEach:
    """`connect=1`, asyncpg: `acquire()` connects, its end closes."""

    def __init__(self, params: dict[str, Any]):
        self.params = params

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(**self.params)
        try:
            yield conn
        finally:
            await conn.close()

    async def close(self) -> None:
        pass

    def terminate(self) -> None:
        pass


class _AiopgConnectEach:
    """`connect=1`, aiopg."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[aiopg.Connection]:
        conn = await aiopg.connect(self.conninfo, enable_hstore=False)
        try:
            yield conn
        finally:
            await conn.close()

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass

    def terminate(self) -> None:
        pass


def _sleep_s(ctx: BenchContext) -> float:
    return float(ctx.params.get("latency_ms", 0)) / 1000


class _OneConnection:
    """The sequential twin's "pool": its single connection, with a pool's interface."""

    def __init__(self, conn: psycopg.Connection[Any]):
        self.conn = conn

    def getconn(self) -> psycopg.Connection[Any]:
        return self.conn

    def putconn(self, conn: psycopg.Connection[Any]) -> None:
        pass

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        yield self.conn

    def close(self, timeout: float = 0) -> None:
        self.conn.close()


# --- the clients: the same five operations on each driver, mirrored -----------------------------
# Every client defines open, op, close, then lookup, sleep, multi, copy, rmw, in this order;
# tests/workloads/test_mirrored.py checks it. A diff of two of them shows only the driver calls.


class PsycopgClient:
    """psycopg 3, sync: one connection (the sequential twin) or a ConnectionPool of C
    connections shared by C threads."""

    def __init__(self, pooled: bool = False):
        self.pooled = pooled

    def open(self, ctx: BenchContext) -> None:
        self.sleep_s, self.work = _sleep_s(ctx), getattr(self, ctx.params["op"])
        conninfo = ctx.peers["postgres"].conninfo_for(_tls(ctx))
        size = _pool_size(ctx) if self.pooled else 1
        self.pool: ConnectionPool[Any] | _OneConnection | _ConnectEach
        if _connect_each(ctx):
            self.pool = _ConnectEach(conninfo)
            return
        if self.pooled:
            shared: ConnectionPool[Any] = ConnectionPool(
                conninfo, min_size=size, max_size=size, kwargs={"autocommit": True}, open=True)
            shared.wait(timeout=30)
            pool: ConnectionPool[Any] | _OneConnection = shared
        else:
            pool = _OneConnection(psycopg.connect(conninfo, autocommit=True))
        self.pool = pool
        warm(pool.getconn, pool.putconn, size, lambda c: c.execute(LOOKUP, (1,)))

    def op(self, item: Any) -> Any:
        with self.pool.connection() as conn:
            return self.work(conn, item)

    def close(self) -> None:
        self.pool.close(timeout=5)

    def lookup(self, conn: psycopg.Connection[Any], wid: int) -> Any:
        return conn.execute(LOOKUP, (wid,)).fetchone()

    def sleep(self, conn: psycopg.Connection[Any], wid: int) -> Any:
        return conn.execute(SLEEP, (self.sleep_s, wid)).fetchone()

    def multi(self, conn: psycopg.Connection[Any], wids: Sequence[int]) -> Any:
        return tuple([conn.execute(LOOKUP, (wid,)).fetchone() for wid in wids])

    def copy(self, conn: psycopg.Connection[Any], chunk: tuple[int, Sequence[Any]]) -> Any:
        first, rows = chunk
        with conn.cursor() as cur:
            with cur.copy(COPY_BULK) as copy:
                copy.set_types(["int4", "int4"])
                for row in rows:
                    copy.write_row(row)
            return (first, cur.rowcount)

    def rmw(self, conn: psycopg.Connection[Any], item: tuple[int, int]) -> Any:
        wid, delta = item
        with conn.transaction():
            row = conn.execute(RMW_READ, (wid,)).fetchone()
            assert row is not None
            new = next_number(row[0], delta)
            conn.execute(RMW_WRITE, (new, wid))
        return (wid, row[0], new)


class PsycopgAsyncClient:
    """psycopg 3, async: an AsyncConnectionPool of C connections shared by C tasks."""

    async def open(self, ctx: BenchContext) -> None:
        self.sleep_s, self.work = _sleep_s(ctx), getattr(self, ctx.params["op"])
        conninfo, size = ctx.peers["postgres"].conninfo_for(_tls(ctx)), _pool_size(ctx)
        if _connect_each(ctx):
            self.pool: AsyncConnectionPool[Any] | _AsyncConnectEach = _AsyncConnectEach(conninfo)
            return
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            conninfo, min_size=size, max_size=size, kwargs={"autocommit": True}, open=False)
        self.pool = pool
        await pool.open(wait=True, timeout=30)
        await awarm(pool.getconn, pool.putconn, size, lambda c: c.execute(LOOKUP, (1,)))

    async def op(self, item: Any) -> Any:
        async with self.pool.connection() as conn:
            return await self.work(conn, item)

    async def close(self) -> None:
        await self.pool.close(timeout=5)

    async def lookup(self, conn: psycopg.AsyncConnection[Any], wid: int) -> Any:
        return await (await conn.execute(LOOKUP, (wid,))).fetchone()

    async def sleep(self, conn: psycopg.AsyncConnection[Any], wid: int) -> Any:
        return await (await conn.execute(SLEEP, (self.sleep_s, wid))).fetchone()

    async def multi(self, conn: psycopg.AsyncConnection[Any], wids: Sequence[int]) -> Any:
        return tuple([await (await conn.execute(LOOKUP, (wid,))).fetchone() for wid in wids])

    async def copy(self, conn: psycopg.AsyncConnection[Any],
                   chunk: tuple[int, Sequence[Any]]) -> Any:
        first, rows = chunk
        async with conn.cursor() as cur:
            async with cur.copy(COPY_BULK) as copy:
                copy.set_types(["int4", "int4"])
                for row in rows:
                    await copy.write_row(row)
            return (first, cur.rowcount)

    async def rmw(self, conn: psycopg.AsyncConnection[Any], item: tuple[int, int]) -> Any:
        wid, delta = item
        async with conn.transaction():
            row = await (await conn.execute(RMW_READ, (wid,))).fetchone()
            assert row is not None
            new = next_number(row[0], delta)
            await conn.execute(RMW_WRITE, (new, wid))
        return (wid, row[0], new)


async def _release_only(conn: asyncpg.Connection) -> None:
    """asyncpg pool release without the RESET ALL round trip (see the module docstring)."""


class AsyncpgClient:
    """asyncpg: a pool of C connections shared by C tasks. `tuned` replaces the pool's
    release-time reset (`RESET ALL; UNLISTEN *; ...`, a round trip per release) with nothing,
    as the other drivers' pools do; untuned is asyncpg out of the box."""

    def __init__(self, tuned: bool = True):
        self.tuned = tuned

    async def open(self, ctx: BenchContext) -> None:
        self.sleep_s, self.work = _sleep_s(ctx), getattr(self, ctx.params["op"])
        params, size = ctx.peers["postgres"].asyncpg_params_for(_tls(ctx)), _pool_size(ctx)
        if _connect_each(ctx):
            if not self.tuned:
                raise CannotRun("without a pool (connect=1) asyncpg-default is the asyncpg "
                                "twin again")
            self.pool: asyncpg.Pool | _AsyncpgConnectEach = _AsyncpgConnectEach(params)
            return
        extra: dict[str, Any] = {}
        if self.tuned and "reset" in inspect.signature(asyncpg.create_pool).parameters:
            extra["reset"] = _release_only  # asyncpg >= 0.30
        # min_size=C: create_pool opens all C connections before returning.
        pool = await asyncpg.create_pool(min_size=size, max_size=size, **extra, **params)
        self.pool = pool
        await awarm(pool.acquire, pool.release, size, lambda c: c.fetchrow(A_LOOKUP, 1))

    async def op(self, item: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await self.work(conn, item)

    async def close(self) -> None:
        try:  # close() waits for acquired connections; do not hang on an interrupted round
            await asyncio.wait_for(self.pool.close(), 10)
        except TimeoutError:
            self.pool.terminate()

    async def lookup(self, conn: asyncpg.Connection, wid: int) -> Any:
        return tuple(await conn.fetchrow(A_LOOKUP, wid))

    async def sleep(self, conn: asyncpg.Connection, wid: int) -> Any:
        return tuple(await conn.fetchrow(A_SLEEP, self.sleep_s, wid))

    async def multi(self, conn: asyncpg.Connection, wids: Sequence[int]) -> Any:
        return tuple([tuple(await conn.fetchrow(A_LOOKUP, wid)) for wid in wids])

    async def copy(self, conn: asyncpg.Connection, chunk: tuple[int, Sequence[Any]]) -> Any:
        first, rows = chunk
        status = await conn.copy_records_to_table("bulk", records=rows, columns=COLUMNS)
        return (first, int(status.split()[-1]))  # "COPY 2500"

    async def rmw(self, conn: asyncpg.Connection, item: tuple[int, int]) -> Any:
        wid, delta = item
        async with conn.transaction():
            old = await conn.fetchval(A_RMW_READ, wid)
            new = next_number(old, delta)
            await conn.execute(A_RMW_WRITE, new, wid)
        return (wid, old, new)


NO_COPY = ("aiopg cannot COPY (psycopg2's asynchronous connections refuse it), so it has no "
           "bulk load to time")


async def _aiopg_ping(conn: aiopg.Connection) -> None:
    async with conn.cursor() as cur:
        await cur.execute(LOOKUP, (1,))


class AiopgClient:
    """aiopg (psycopg2 in asynchronous mode): a pool of C connections shared by C tasks. Its
    release makes no round trip (it only checks the transaction status locally)."""

    async def open(self, ctx: BenchContext) -> None:
        if ctx.params["op"] == "copy":
            raise CannotRun(NO_COPY)
        self.sleep_s, self.work = _sleep_s(ctx), getattr(self, ctx.params["op"])
        conninfo, size = ctx.peers["postgres"].conninfo_for(_tls(ctx)), _pool_size(ctx)
        if _connect_each(ctx):
            self.pool: aiopg.Pool | _AiopgConnectEach = _AiopgConnectEach(conninfo)
            return
        pool = await aiopg.create_pool(conninfo, minsize=size, maxsize=size, timeout=30,
                                       enable_hstore=False)
        self.pool = pool
        await awarm(pool.acquire, pool.release, size, _aiopg_ping)

    async def op(self, item: Any) -> Any:
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            return await self.work(cur, item)

    async def close(self) -> None:
        self.pool.close()
        try:
            await asyncio.wait_for(self.pool.wait_closed(), 10)
        except TimeoutError:
            self.pool.terminate()

    async def lookup(self, cur: aiopg.Cursor, wid: int) -> Any:
        await cur.execute(LOOKUP, (wid,))
        return await cur.fetchone()

    async def sleep(self, cur: aiopg.Cursor, wid: int) -> Any:
        await cur.execute(SLEEP, (self.sleep_s, wid))
        return await cur.fetchone()

    async def multi(self, cur: aiopg.Cursor, wids: Sequence[int]) -> Any:
        rows = []
        for wid in wids:
            await cur.execute(LOOKUP, (wid,))
            rows.append(await cur.fetchone())
        return tuple(rows)

    async def copy(self, cur: aiopg.Cursor, chunk: tuple[int, Sequence[Any]]) -> Any:
        raise CannotRun(NO_COPY)

    async def rmw(self, cur: aiopg.Cursor, item: tuple[int, int]) -> Any:
        wid, delta = item
        async with cur.begin():
            await cur.execute(RMW_READ, (wid,))
            (old,) = await cur.fetchone()
            new = next_number(old, delta)
            await cur.execute(RMW_WRITE, (new, wid))
        return (wid, old, new)


def _twins() -> tuple[Twin, ...]:
    common: dict[str, Any] = {"reset": reset, "ops_per_item": world_ops_per_item}
    # psycopg[binary] and asyncpg speak the protocol in Cython; aiopg is psycopg2's C on libpq.
    # psycopg is one library in both models: what the async model alone buys.
    psycopg_: dict[str, Any] = {**common, "core": "Cython", "library": "psycopg"}
    asyncpg_: dict[str, Any] = {**common, "core": "Cython", "library": "asyncpg"}
    return (
        client_twin("psycopg", "sync", "psycopg (1 connection)", PsycopgClient, items,
                    **psycopg_),
        client_twin("psycopg-threads", "threads",
                    "psycopg + {concurrency} threads (pool of {concurrency})",
                    functools.partial(PsycopgClient, pooled=True), items, **psycopg_),
        client_twin("asyncpg", "async",
                    "asyncpg (pool of {concurrency}, release without RESET)", AsyncpgClient,
                    items, **asyncpg_),
        client_twin("asyncpg-default", "async",
                    "asyncpg (pool of {concurrency}, default: RESET ALL on release)",
                    functools.partial(AsyncpgClient, tuned=False), items, **asyncpg_,
                    io_differs={"statements": "asyncpg's default pool resets each connection "
                                              "on release (RESET ALL, UNLISTEN *, CLOSE ALL, "
                                              "pg_advisory_unlock_all): what a user gets out "
                                              "of the box, shown beside the tuned twin"}),
        client_twin("psycopg-async", "async", "psycopg async (pool of {concurrency})",
                    PsycopgAsyncClient, items, **psycopg_),
        client_twin("aiopg", "async", "aiopg (pool of {concurrency})", AiopgClient, items,
                    **common, core="C", library="aiopg"),
    )


# Sizes and concurrency: harness.world_scenarios, shared with mysql_queries. `quick` runs a
# tenth: ~10 s for all 30 benchmarks including the server start.
WORKLOAD = Workload(
    name="pg_queries",
    description="PostgreSQL client: psycopg 3 (1 connection / thread pool / async) vs asyncpg "
                "(tuned and default pool) and aiopg against a real server.",
    twins=_twins(),
    scenarios=(
        *world_scenarios(sleep="pg_sleep", bulk="COPY"),
        Scenario("point-lookups-tls", {"op": "lookup", "n": 2000, "concurrency": 10, "tls": 1},
                 "point lookups over TLS on 127.0.0.1, every driver verifying the server",
                 profiles=frozenset({"default", "full"})),
        Scenario("new-connections", {"op": "lookup", "n": 200, "concurrency": 10, "tls": 1,
                                     "connect": 1},
                 "connect over TLS, one lookup, close: what a serverless function does",
                 profiles=frozenset({"default", "full"})),
    ),
    peers=("postgres",),
    min_size=4,
    tiny=WORLD_TINY,
    expected=world_expected,
    # The map of a slow database: query latency x pool size, 8 waves of C queries a point.
    sweeps=(Sweep("slow-db", {"latency_ms": (1, 2, 5, 10, 20), "concurrency": (1, 2, 5, 10, 20)},
                  twins=("psycopg-threads", "asyncpg", "psycopg-async"), waves=8),),
)
