"""One benchmark's identity: workload, scenario and twin.

`CaseKey` is the only place the two spellings are made: `str(key)` "workload:scenario:twin"
matches benchmarks across runs (and threshold globs), `key.test_id` "workload-scenario-twin" is
the pytest id and what a run file's `outcomes` are keyed by.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.model.workload import Scenario, Twin, Workload


@dataclass(frozen=True, order=True)
class CaseKey:
    workload: str
    scenario: str
    twin: str

    def __str__(self) -> str:
        return f"{self.workload}:{self.scenario}:{self.twin}"

    @property
    def test_id(self) -> str:
        return f"{self.workload}-{self.scenario}-{self.twin}"

    @property
    def group(self) -> str:
        """The scenario this case belongs to (pytest-benchmark's group)."""
        return f"{self.workload}:{self.scenario}"

    def with_twin(self, twin: str) -> CaseKey:
        return CaseKey(self.workload, self.scenario, twin)


@dataclass(frozen=True)
class Case:
    """One benchmark to run: a workload's twin on one scenario."""

    workload: Workload
    twin: Twin
    scenario: Scenario

    @property
    def key(self) -> CaseKey:
        return CaseKey(self.workload.name, self.scenario.name, self.twin.name)

    @property
    def id(self) -> str:
        return self.key.test_id

    @property
    def group(self) -> str:
        return self.key.group
