"""scrape's twins against the real HTTP peer: each crawl fetches every reachable page once and
nothing else, whatever the driver."""

from __future__ import annotations

import pytest

from harness.model.site import site_reachable
from harness.model.workload import BenchContext
from harness.peers import PeerPool
from workloads.scrape import WORKLOAD


@pytest.mark.parametrize("twin", [t.name for t in WORKLOAD.twins])
def test_a_crawl_visits_each_reachable_page_once(twin: str, peer_pool: PeerPool) -> None:
    params = {**WORKLOAD.scenario("no-latency").params, "n": 65, "size": 128,
              "concurrency": 4}
    reachable = site_reachable(params["n"], params["degree"])
    assert 1 < len(reachable) < params["n"]  # the walk is not trivially "every page"
    bench = WORKLOAD.twin(twin).bind(BenchContext(params=params,
                                                  peers={"http": peer_pool.get("http")}))
    bench.setup()
    try:
        checksum = bench.round()
    finally:
        bench.teardown()
    assert bench.ops == len(reachable)
    assert WORKLOAD.expected is not None and checksum == WORKLOAD.expected(params)
