"""Every registered workload, every twin, every scenario, at tiny size against the real peers.

Parametrised from the registry, so a new workload module is exercised without anyone writing
a test for it; the checks are the product's promise: the twins do the same work.
"""

from __future__ import annotations

import pytest
from twins import run_rounds

from harness.peers import PeerPool, PeerUnavailable
from harness.registry import KINDS, SYNC_KINDS, Scenario, Workload, discover

REGISTRY = discover()
SCENARIOS = [
    pytest.param(w, s, id=f"{w.name}-{s.name}") for w in REGISTRY.values() for s in w.scenarios
    if "default" in s.profiles  # the full-only scale scenarios are too big for a unit test
]




def test_every_workload_is_exercised() -> None:
    exercised = {p.values[0].name for p in SCENARIOS}
    assert exercised == set(REGISTRY), "a registered workload has no scenario the tests run"


@pytest.mark.parametrize("workload", REGISTRY.values(), ids=list(REGISTRY))
def test_workload_declaration(workload: Workload) -> None:
    kinds = {t.kind for t in workload.twins}
    assert kinds <= set(KINDS)
    assert kinds & SYNC_KINDS and "async" in kinds, "a workload needs sync and async twins"
    names = [t.name for t in workload.twins]
    assert len(names) == len(set(names))
    assert len({s.name for s in workload.scenarios}) == len(workload.scenarios)
    assert workload.tiny, "declare tiny parameters so the test suite stays fast"


@pytest.mark.parametrize(("workload", "scenario"), SCENARIOS)
def test_twins_agree(workload: Workload, scenario: Scenario, peer_pool: PeerPool) -> None:
    try:
        peers = {name: peer_pool.get(name) for name in workload.peers}
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    params = {**scenario.params, **workload.tiny}
    results = {t.name: run_rounds(workload, t.name, params, peers)[0] for t in workload.twins}
    for name, checksums in results.items():
        assert len(set(checksums)) == 1, f"{name} is not repeatable across rounds: {checksums}"
    distinct = {name: c[0] for name, c in results.items()}
    assert len(set(distinct.values())) == 1, f"twins disagree: {distinct}"
    if workload.expected is not None:
        assert next(iter(distinct.values())) == workload.expected(params)
