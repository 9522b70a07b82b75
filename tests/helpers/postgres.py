"""Running pg_queries' twins against a PostgreSQL peer, for the peer's and the workload's tests."""

from __future__ import annotations

from typing import Any

from harness.model.workload import CannotRun, Scenario, Workload
from harness.peers.postgres import PostgresPeer
from harness.testing import run_rounds
from workloads.pg_queries import WORKLOAD


def run_twin(workload: Workload, twin: str, params: dict[str, Any], peer: PostgresPeer,
             rounds: int = 2) -> list[int]:
    return run_rounds(workload, twin, params, {"postgres": peer}, rounds)[0]


def tiny(scenario: Scenario) -> dict[str, Any]:
    return {**scenario.params, **WORKLOAD.tiny}


def assert_twins_return_expected(peer: PostgresPeer) -> list[str]:
    """Every twin that can run a scenario returns its expected checksum; the
    scenario/twin pairs that cannot (CannotRun from set-up) are returned."""
    cannot = []
    for scenario in WORKLOAD.scenarios:
        params = tiny(scenario)
        want = WORKLOAD.expected(params) if WORKLOAD.expected else None
        for twin in WORKLOAD.twins:
            try:
                got = run_twin(WORKLOAD, twin.name, params, peer)
            except CannotRun:
                cannot.append(f"{scenario.name}/{twin.name}")
                continue
            assert got == [want, want], f"{scenario.name}/{twin.name}: {got} != {want}"
    return cannot
