"""pg_queries' twins against the throwaway PostgreSQL: the expected answers, and rounds that
leave the tables as they found them."""

from __future__ import annotations

from harness.peers.postgres import PostgresPeer
from tests.helpers.postgres import assert_twins_return_expected, run_twin, tiny
from workloads.pg_queries import WORKLOAD


def test_every_twin_returns_the_expected_checksum(pg_server: PostgresPeer) -> None:
    assert_twins_return_expected(pg_server)


def test_writing_scenarios_are_reset_between_rounds(pg_server: PostgresPeer) -> None:
    params = tiny(WORKLOAD.scenario("read-modify-write"))
    run_twin(WORKLOAD, "asyncpg", params, pg_server, rounds=3)
    with pg_server.connect() as conn:
        changed = conn.execute("SELECT count(*) FROM rmw r JOIN world w USING (id) "
                               "WHERE r.randomnumber <> w.randomnumber").fetchone()
    assert changed == (params["n"],)  # one round's worth of updates, not three


