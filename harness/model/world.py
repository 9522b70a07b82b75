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
from harness.model.workload import Params

WORLD_ROWS = 10_000


def random_number(world_id: int) -> int:
    """Deterministic stand-in for TechEmpower's random 1..10000: Knuth's multiplicative hash,
    here a permutation of 1..10000, so `expected` needs no database."""
    return (world_id * 2654435761 + 12345) % WORLD_ROWS + 1


# What a correctly seeded world table sums to (sum of id * randomnumber): a cheap content
# check, so a reused schema or database is reseeded only when it is wrong.
WORLD_SIGNATURE = sum(i * random_number(i) for i in range(1, WORLD_ROWS + 1))


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
