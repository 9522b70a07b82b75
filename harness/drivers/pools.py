"""Warming a twin's connection pool before timing, the same way on every driver.

A pool that opens connections lazily, or whose connections have not run a query yet (server
caches, prepared statements, the driver's type cache), would charge that to the first timed
round of whichever twin has it; holding all of them at once and pinging each makes every pool
start its rounds in the same state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


def warm(acquire: Callable[[], Any], release: Callable[[Any], Any], size: int,
         ping: Callable[[Any], Any]) -> None:
    """Every one of the pool's `size` connections exists and has run a query: hold them all
    at once (so the pool cannot hand out the same one twice), ping each, give them back."""
    conns = [acquire() for _ in range(size)]
    try:
        for conn in conns:
            ping(conn)
    finally:
        for conn in conns:
            release(conn)


async def awarm(acquire: Callable[[], Awaitable[Any]], release: Callable[[Any], Any],
                size: int, ping: Callable[[Any], Awaitable[Any]]) -> None:
    """`warm`, for an async pool (`release` may return an awaitable or not: aiopg's and
    aiomysql's are plain calls, asyncpg's and psycopg's coroutines)."""
    conns = [await acquire() for _ in range(size)]
    try:
        for conn in conns:
            await ping(conn)
    finally:
        for conn in conns:
            released = release(conn)
            if isinstance(released, Awaitable):
                await released
