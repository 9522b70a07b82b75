"""pg_queries' twins against the throwaway PostgreSQL: the expected answers, and rounds that
leave the tables as they found them."""

from __future__ import annotations

from harness.model.workload import BenchContext
from harness.peers.postgres import PostgresPeer
from tests.helpers.postgres import assert_twins_return_expected, run_twin, tiny
from workloads.pg_queries import WORKLOAD, AsyncpgClient


def test_every_twin_returns_the_expected_checksum(pg_server: PostgresPeer) -> None:
    # aiopg cannot run one scenario: psycopg2's asynchronous mode has no COPY; and without a
    # pool asyncpg-default would be asyncpg again. A build without SSL cannot run TLS ones.
    cannot = assert_twins_return_expected(pg_server)
    if pg_server.tls_conninfo is None:  # every twin of the TLS scenarios cannot
        cannot = [c for c in cannot
                  if c.split("/")[0] not in ("point-lookups-tls", "new-connections")]
        assert cannot == ["bulk-load/aiopg"]
    else:
        assert cannot == ["bulk-load/aiopg", "new-connections/asyncpg-default"]


def test_asyncpg_default_pool_resets_sessions_on_release_and_the_tuned_one_does_not(
        pg_server: PostgresPeer) -> None:
    """What tells the two asyncpg twins apart: the default pool's RESET ALL round trip on
    every release (a session setting made by one op is gone by the next), which the tuned
    pool skips, as psycopg_pool and aiopg do."""
    import asyncio

    async def setting_survives(tuned: bool) -> bool:
        client = AsyncpgClient(tuned=tuned)
        ctx = BenchContext(params={**tiny(WORKLOAD.scenario("point-lookups")),
                                   "concurrency": 1}, peers={"postgres": pg_server})
        await client.open(ctx)
        try:
            async with client.pool.acquire() as conn:
                await conn.execute("SET work_mem = '7MB'")
            async with client.pool.acquire() as conn:
                return bool(await conn.fetchval("SHOW work_mem") == "7MB")
        finally:
            await client.close()

    assert asyncio.run(setting_survives(tuned=True)) is True
    assert asyncio.run(setting_survives(tuned=False)) is False


def test_writing_scenarios_are_reset_between_rounds(pg_server: PostgresPeer) -> None:
    params = tiny(WORKLOAD.scenario("read-modify-write"))
    run_twin(WORKLOAD, "asyncpg", params, pg_server, rounds=3)
    with pg_server.connect() as conn:
        changed = conn.execute("SELECT count(*) FROM rmw r JOIN world w USING (id) "
                               "WHERE r.randomnumber <> w.randomnumber").fetchone()
    assert changed == (params["n"],)  # one round's worth of updates, not three


