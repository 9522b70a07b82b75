"""The database workloads' data and work: TechEmpower's World table, as pure functions.

pg_queries and mysql_queries run the same scenarios (point lookups, a slow server, 20 queries
per request, bulk load, read-modify-write) against different servers; keeping the seed data,
the work lists and the answers here means both measure exactly the same work, and `expected`
computes every scenario's checksum without a database.

    world(id, randomnumber)  WORLD_ROWS rows, never written
    rmw(id, randomnumber)    copy of world that read-modify-write updates; restored every round
    bulk(id, randomnumber)   what bulk load writes into; emptied every round
"""

from __future__ import annotations

from typing import Any

from harness.model.checksum import fold
from harness.model.workload import Params, Scenario

WORLD_ROWS = 10_000


def random_number(world_id: int) -> int:
    """Deterministic stand-in for TechEmpower's random 1..10000: Knuth's multiplicative hash,
    here a permutation of 1..10000, so `expected` needs no database."""
    return (world_id * 2654435761 + 12345) % WORLD_ROWS + 1


# What a correctly seeded world table sums to (sum of id * randomnumber): a cheap content
# check, so a reused schema or database is reseeded only when it is wrong.
WORLD_SIGNATURE = sum(i * random_number(i) for i in range(1, WORLD_ROWS + 1))


# The SQL both servers understand as written (%s placeholders: psycopg, psycopg2, PyMySQL,
# aiomysql, asyncmy; asyncpg numbers them).
WORLD_LOOKUP = "SELECT id, randomnumber FROM world WHERE id = %s"
WORLD_RMW_READ = "SELECT randomnumber FROM rmw WHERE id = %s FOR UPDATE"
WORLD_RMW_WRITE = "UPDATE rmw SET randomnumber = %s WHERE id = %s"


def world_reset_statements(op: str) -> list[str]:
    """What puts back the tables a round of `op` wrote, so every round does the same work."""
    if op == "copy":
        return ["TRUNCATE bulk"]
    if op == "rmw":
        return ["TRUNCATE rmw", "INSERT INTO rmw SELECT id, randomnumber FROM world"]
    return []


def world_rows() -> list[tuple[int, int]]:
    return [(i, random_number(i)) for i in range(1, WORLD_ROWS + 1)]


def world_id(i: int) -> int:
    """The i-th id of a work list: stride 7919 (coprime with 10,000) visits every row once
    before repeating, so work lists spread over the table instead of hitting a few pages."""
    return (i * 7919) % WORLD_ROWS + 1


def next_number(old: int, delta: int) -> int:
    return (old + delta - 1) % WORLD_ROWS + 1


def world_work(params: Params) -> list[Any]:
    """The work list: one item per op(), the same for every twin of every database."""
    op, n = params["op"], params["n"]
    if op in ("lookup", "sleep"):
        return [world_id(i) for i in range(n)]
    if op == "multi":
        q = params["queries"]
        return [tuple(world_id(i * q + j) for j in range(q)) for i in range(n)]
    if op == "copy":
        # C chunks of n/C rows: every twin sends the same C bulk statements; the sequential
        # twin sends them one after another, the others all at once (one per worker). One
        # statement of all rows would leave the concurrent twins nothing to overlap; a chunk
        # per worker is how a loader would use a pool of C.
        size = n // params["concurrency"]
        return [(start + 1, tuple((i, random_number(i)) for i in range(start + 1,
                                                                         start + size + 1)))
                for start in range(0, size * params["concurrency"], size)]
    if op == "rmw":
        # Each transaction updates a distinct row (so the rows it reads are those the reset
        # put back, whatever the interleaving) and the checksum is deterministic.
        if n > WORLD_ROWS:
            raise ValueError(f"read-modify-write needs n <= {WORLD_ROWS} (one row per item)")
        return [(world_id(i), i % 97 + 1) for i in range(n)]
    raise ValueError(f"unknown op {op!r}")


def world_ops_per_item(params: Params) -> int:
    """Queries per request for the 20-queries scenario, rows per statement for bulk load."""
    if params["op"] == "multi":
        return int(params["queries"])
    if params["op"] == "copy":
        return int(params["n"]) // int(params["concurrency"])
    return 1


def world_answer(op: str, item: Any) -> Any:
    """What one op() must return, computed from the seed data alone."""
    if op in ("lookup", "sleep"):
        return (item, random_number(item))
    if op == "multi":
        return tuple((i, random_number(i)) for i in item)
    if op == "copy":
        first, rows = item
        return (first, len(rows))
    wid, delta = item
    old = random_number(wid)
    return (wid, old, next_number(old, delta))


def world_expected(params: Params) -> int:
    """The checksum every twin of a database scenario must return."""
    return fold(world_answer(params["op"], item) for item in world_work(params))


# Sizes, on the 2-core reference machine: default rounds take ~0.1-0.4 s (point lookups 2,000
# queries, 20-queries 4,000, read-modify-write 1,000 transactions), long enough to dwarf timer
# noise while a workload stays near a minute; bulk load is 10,000 rows and the sequential
# slow-db twin takes N*L = 2 s by design (the yardstick). `quick` runs a tenth. C=10 where the
# database's CPU is the limit (more backends only contend for 2 cores); C=20 for the slow
# database, where concurrency hides latency; C=4 chunks for bulk load (ingest is CPU-bound on
# the server, more chunks would just queue).
WORLD_TINY: dict[str, Any] = {"n": 8, "concurrency": 2, "queries": 3}


def world_scenarios(sleep: str, bulk: str) -> tuple[Scenario, ...]:
    """The five database scenarios, word for word the same on every server but for how it
    sleeps (`pg_sleep`, `SLEEP()`) and how it bulk-loads (`COPY`, multi-row INSERTs)."""
    return (
        Scenario("point-lookups", {"op": "lookup", "n": 2000, "concurrency": 10},
                 "single-row primary-key SELECTs: pure driver overhead; on 2 cores async may "
                 "lose"),
        Scenario("slow-db", {"op": "sleep", "n": 200, "concurrency": 20, "latency_ms": 10},
                 f"each query takes L ms on the server ({sleep}): concurrency should pay"),
        Scenario("20-queries", {"op": "multi", "n": 200, "queries": 20, "concurrency": 10},
                 "each request issues 20 separate single-row SELECTs (TechEmpower queries=20)"),
        Scenario("bulk-load", {"op": "copy", "n": 10_000, "concurrency": 4},
                 f"10,000 rows through {bulk}, as C chunks"),
        Scenario("read-modify-write", {"op": "rmw", "n": 1000, "concurrency": 10},
                 "short transactions: SELECT ... FOR UPDATE, then UPDATE, of distinct rows"),
    )
