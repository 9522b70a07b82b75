"""Every registered workload, every twin, every scenario, at tiny size against the real peers.

Parametrised from the registry, so a new workload module is exercised without anyone writing
a test for it; the checks are the product's promise: the twins do the same work. The helpers
are `harness.testing`'s, the same a team uses for twins kept in its own repository.
"""

from __future__ import annotations

import pytest

from harness.model.registry import discover
from harness.model.workload import Scenario, Workload
from harness.peers import PeerPool
from harness.testing import check_declaration, check_twins_agree, tiny_cases

REGISTRY = discover()
SCENARIOS = tiny_cases(REGISTRY)


def test_every_workload_is_exercised() -> None:
    exercised = {p.values[0].name for p in SCENARIOS}
    assert exercised == set(REGISTRY), "a registered workload has no scenario the tests run"


@pytest.mark.parametrize("workload", REGISTRY.values(), ids=list(REGISTRY))
def test_workload_declaration(workload: Workload) -> None:
    check_declaration(workload)


@pytest.mark.parametrize(("workload", "scenario"), SCENARIOS)
def test_twins_agree(workload: Workload, scenario: Scenario, peer_pool: PeerPool) -> None:
    check_twins_agree(workload, scenario, peer_pool)
