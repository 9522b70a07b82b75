"""mysql_queries: the MariaDB/MySQL client case — PyMySQL and mysqlclient (1 connection,
thread pool) vs aiomysql and asyncmy.

pg_queries' scenarios, where MySQL has them: point lookups, a slow server (SLEEP()), 20 queries
per request, bulk load (multi-row INSERT: the drivers' executemany folds the rows into as few
statements as fit, the same way in all three), read-modify-write transactions. The data, work
lists and answers are `harness.world_*`, the same as pg_queries', so `expected` needs no server.

Fairness notes:
- Every connection is autocommit (PyMySQL and aiomysql default to autocommit off, which would
  open a transaction per query and make aiomysql's pool close every returned connection).
- The same pool size C everywhere, opened and warmed before timing; releases make no round
  trip on any side (aiomysql and asyncmy only check the transaction status locally, the
  PyMySQL pool here is a queue).
- PyMySQL is pure Python, aiomysql is PyMySQL's protocol code on asyncio, asyncmy is a Cython
  rewrite of it, mysqlclient (`MySQLdb`) is C on libmariadb and releases the GIL while it
  waits — the sync driver most sync users pick, so the best sync twin is the best a sync
  programmer would write: the table shows what the I/O model costs and what the
  implementation does. mysqlclient builds from source against libmariadb's headers (Debian:
  `apt install libmariadb-dev pkg-config`, then `pip install mysqlclient`); without it, its
  twins skip saying so.

The workload needs a MariaDB/MySQL: the harness starts a throwaway one from the binaries on the
machine (`mariadbd`, `mysqld`), or uses `--mysql-dsn`; otherwise it is skipped, saying how to
get one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import queue
from collections.abc import Iterator, Sequence
from typing import Any

import aiomysql
import asyncmy
import pymysql

from harness import (
    WORLD_LOOKUP,
    WORLD_RMW_READ,
    WORLD_RMW_WRITE,
    WORLD_ROWS,
    WORLD_SIGNATURE,
    WORLD_TINY,
    BenchContext,
    CannotRun,
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

# --- schema set-up and per-round reset (untimed, one plain PyMySQL connection) ---------------

TABLES = ("world", "rmw", "bulk")


def prepare(peer: Any) -> None:
    """Create the tables and seed `world` once per database (idempotent, checked by content)."""
    with peer.connect() as conn, conn.cursor() as cur:
        for table in TABLES:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {table} (id INT PRIMARY KEY, "
                        "randomnumber INT NOT NULL) ENGINE=InnoDB")
        cur.execute("SELECT COUNT(*), COALESCE(SUM(id * randomnumber), 0) FROM world")
        row = cur.fetchone()
        if row is not None and (int(row[0]), int(row[1])) == (WORLD_ROWS, WORLD_SIGNATURE):
            return
        cur.execute("TRUNCATE world")
        cur.executemany("INSERT INTO world (id, randomnumber) VALUES (%s, %s)", world_rows())
        cur.execute("ANALYZE TABLE world")
        cur.fetchall()


def items(ctx: BenchContext) -> list[Any]:
    prepare(ctx.peers["mysql"])
    return world_work(ctx.params)


def reset(ctx: BenchContext) -> None:
    """Put back what a round wrote, so every round does the same work (same for every twin)."""
    statements = world_reset_statements(ctx.params["op"])
    if statements:
        with ctx.peers["mysql"].connect() as conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)


# --- SQL: %s placeholders for all three drivers ------------------------------------------------

LOOKUP, RMW_READ, RMW_WRITE = WORLD_LOOKUP, WORLD_RMW_READ, WORLD_RMW_WRITE
# SLEEP() in the select list runs once per row returned: exactly once for a primary-key match.
SLEEP = "SELECT id, randomnumber, SLEEP(%s) FROM world WHERE id = %s"
BULK = "INSERT INTO bulk (id, randomnumber) VALUES (%s, %s)"


def _pool_size(ctx: BenchContext) -> int:
    return int(ctx.params["concurrency"])


def _sleep_s(ctx: BenchContext) -> float:
    return float(ctx.params.get("latency_ms", 0)) / 1000


NO_MYSQLCLIENT = ("mysqlclient is not installed: apt install libmariadb-dev pkg-config (or "
                  "your system's MySQL client headers), then pip install mysqlclient")


def _no_mysqlclient() -> str | None:
    return None if importlib.util.find_spec("MySQLdb") else NO_MYSQLCLIENT


def _sync_driver(name: str, peer: Any) -> tuple[Any, dict[str, Any]]:
    """The DB-API module and its connection keywords: PyMySQL's tuned ones, or mysqlclient's
    (imported here: it is optional, built against the machine's client library)."""
    if name == "pymysql":
        return pymysql, peer.pymysql_params
    try:
        import MySQLdb
    except ImportError:
        raise CannotRun(NO_MYSQLCLIENT) from None
    return MySQLdb, peer.params


class _QueuePool:
    """PyMySQL and mysqlclient have no pool: C connections in a queue, handed out and taken
    back as they are (no reset round trip, like the async drivers' pools)."""

    def __init__(self, driver: Any, params: dict[str, Any], size: int):
        self.conns: list[Any] = []
        try:
            for _ in range(size):
                self.conns.append(driver.connect(**params, autocommit=True))
        except BaseException:
            self.close()  # the ones made before the failure
            raise
        self.free: queue.Queue[Any] = queue.Queue()
        for conn in self.conns:
            self.free.put(conn)

    def get(self) -> Any:
        return self.free.get()

    def put(self, conn: Any) -> None:
        self.free.put(conn)

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        conn = self.free.get()
        try:
            yield conn
        finally:
            self.free.put(conn)

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):  # the driver's own error, whichever it is
                conn.close()


def _ping(cur: Any) -> Any:
    return cur.execute(LOOKUP, (1,))


# --- the clients: the same five operations on each driver, mirrored -----------------------------
# Every client defines open, op, close, then lookup, sleep, multi, copy, rmw, in this order;
# tests/workloads/test_mirrored.py checks it. A diff of two of them shows only the driver calls.


class SyncClient:
    """PyMySQL or mysqlclient (DB-API, the same calls): one connection (the sequential twin)
    or a pool of C shared by C threads."""

    def __init__(self, pooled: bool = False, driver: str = "pymysql"):
        self.pooled = pooled
        self.driver = driver

    def open(self, ctx: BenchContext) -> None:
        self.sleep_s, self.work = _sleep_s(ctx), getattr(self, ctx.params["op"])
        size = _pool_size(ctx) if self.pooled else 1
        self.pool = _QueuePool(*_sync_driver(self.driver, ctx.peers["mysql"]), size)
        warm(self.pool.get, self.pool.put, size, lambda c: _ping(c.cursor()))

    def op(self, item: Any) -> Any:
        with self.pool.connection() as conn, conn.cursor() as cur:
            return self.work(conn, cur, item)

    def close(self) -> None:
        self.pool.close()

    def lookup(self, conn: Any, cur: Any, wid: int) -> Any:
        cur.execute(LOOKUP, (wid,))
        return cur.fetchone()

    def sleep(self, conn: Any, cur: Any, wid: int) -> Any:
        cur.execute(SLEEP, (self.sleep_s, wid))
        return cur.fetchone()[:2]

    def multi(self, conn: Any, cur: Any, wids: Sequence[int]) -> Any:
        rows = []
        for wid in wids:
            cur.execute(LOOKUP, (wid,))
            rows.append(cur.fetchone())
        return tuple(rows)

    def copy(self, conn: Any, cur: Any, chunk: tuple[int, Sequence[Any]]) -> Any:
        first, rows = chunk
        return (first, cur.executemany(BULK, rows))

    def rmw(self, conn: Any, cur: Any, item: tuple[int, int]) -> Any:
        wid, delta = item
        conn.begin()
        try:
            cur.execute(RMW_READ, (wid,))
            (old,) = cur.fetchone()
            new = next_number(old, delta)
            cur.execute(RMW_WRITE, (new, wid))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return (wid, old, new)


class AiomysqlClient:
    """aiomysql (or asyncmy, its Cython rewrite, with the same API): a pool of C connections
    shared by C tasks."""

    def __init__(self, driver: Any = aiomysql):
        self.driver = driver

    async def open(self, ctx: BenchContext) -> None:
        self.sleep_s, self.work = _sleep_s(ctx), getattr(self, ctx.params["op"])
        params, size = dict(ctx.peers["mysql"].params), _pool_size(ctx)
        if self.driver is aiomysql:
            params["db"] = params.pop("database")  # aiomysql's name for it
        self.pool = await self.driver.create_pool(minsize=size, maxsize=size, autocommit=True,
                                                  **params)

        async def ping(conn: Any) -> None:
            async with conn.cursor() as cur:
                await _ping(cur)
        await awarm(self.pool.acquire, self.pool.release, size, ping)

    async def op(self, item: Any) -> Any:
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            return await self.work(conn, cur, item)

    async def close(self) -> None:
        self.pool.close()
        try:  # wait_closed() waits for acquired connections: not forever after a Ctrl-C
            await asyncio.wait_for(self.pool.wait_closed(), 10)
        except TimeoutError:
            self.pool.terminate()

    async def lookup(self, conn: Any, cur: Any, wid: int) -> Any:
        await cur.execute(LOOKUP, (wid,))
        return await cur.fetchone()

    async def sleep(self, conn: Any, cur: Any, wid: int) -> Any:
        await cur.execute(SLEEP, (self.sleep_s, wid))
        return (await cur.fetchone())[:2]

    async def multi(self, conn: Any, cur: Any, wids: Sequence[int]) -> Any:
        rows = []
        for wid in wids:
            await cur.execute(LOOKUP, (wid,))
            rows.append(await cur.fetchone())
        return tuple(rows)

    async def copy(self, conn: Any, cur: Any, chunk: tuple[int, Sequence[Any]]) -> Any:
        first, rows = chunk
        return (first, await cur.executemany(BULK, rows))

    async def rmw(self, conn: Any, cur: Any, item: tuple[int, int]) -> Any:
        wid, delta = item
        await conn.begin()
        try:
            await cur.execute(RMW_READ, (wid,))
            (old,) = await cur.fetchone()
            new = next_number(old, delta)
            await cur.execute(RMW_WRITE, (new, wid))
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise
        return (wid, old, new)


def _twins() -> tuple[Twin, ...]:
    common: dict[str, Any] = {"reset": reset, "ops_per_item": world_ops_per_item}
    return (
        client_twin("pymysql", "sync", "PyMySQL (1 connection)", SyncClient, items,
                    **common, core="Python", library="PyMySQL"),
        client_twin("pymysql-threads", "threads",
                    "PyMySQL + {concurrency} threads (pool of {concurrency})",
                    functools.partial(SyncClient, pooled=True), items, **common,
                    core="Python", library="PyMySQL"),
        client_twin("mysqlclient", "sync", "mysqlclient (1 connection)",
                    functools.partial(SyncClient, driver="mysqlclient"), items, **common,
                    core="C", library="mysqlclient", missing=_no_mysqlclient),
        client_twin("mysqlclient-threads", "threads",
                    "mysqlclient + {concurrency} threads (pool of {concurrency})",
                    functools.partial(SyncClient, pooled=True, driver="mysqlclient"), items,
                    **common, core="C", library="mysqlclient", missing=_no_mysqlclient),
        client_twin("aiomysql", "async", "aiomysql (pool of {concurrency})", AiomysqlClient,
                    items, **common, core="Python", library="aiomysql"),
        client_twin("asyncmy", "async", "asyncmy (pool of {concurrency})",
                    functools.partial(AiomysqlClient, driver=asyncmy), items, **common,
                    core="Cython", library="asyncmy"),
    )


# pg_queries' scenarios and sizes (harness.world_scenarios), so the two tables read side by
# side. `quick` runs a tenth.
WORKLOAD = Workload(
    name="mysql_queries",
    description="MariaDB/MySQL client: PyMySQL and mysqlclient (1 connection / thread pool) "
                "vs aiomysql and "
                "asyncmy against a real server (needs a local MariaDB/MySQL or --mysql-dsn).",
    twins=_twins(),
    scenarios=world_scenarios(sleep="SLEEP()", bulk="multi-row INSERTs (executemany)"),
    peers=("mysql",),
    min_size=4,
    tiny=WORLD_TINY,
    expected=world_expected,
)
