"""How a workload and its twins are declared and discovered.

A workload is one module in the `workloads` package that defines a module-level `WORKLOAD`.
The harness binds each twin to a scenario (its parameters, scaled by the profile) and to the
peers the workload asked for, and gets back a `Bench`: set-up and tear-down outside the timed
region, `round()` inside it. Everything the plugin, runner and report need is here, so that
adding a workload means adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from harness.errors import BadInput

Kind = Literal["sync", "threads", "async"]
KINDS: tuple[Kind, ...] = ("sync", "threads", "async")
SYNC_KINDS: frozenset[str] = frozenset({"sync", "threads"})

Params = Mapping[str, Any]


class Bench(Protocol):
    """One twin bound to one scenario, ready to be timed.

    `setup` and `teardown` run once, outside the timed region (sessions, pools, event loop);
    `reset` runs before every round, untimed (e.g. truncate a table a round writes to);
    `round` is the timed work and returns the order-independent checksum of what it did.
    """

    ops: int

    def setup(self) -> None: ...

    def reset(self) -> None: ...

    def round(self) -> int: ...

    def teardown(self) -> None: ...

    def extra_info(self) -> dict[str, Any]:
        """Measurements beyond wall time (latency percentiles, RSS...), read after the rounds."""
        ...


@dataclass(frozen=True)
class BenchContext:
    """What a twin is bound to: the scenario's parameters, the started peers, the loop choice."""

    params: Params
    peers: Mapping[str, Any]
    loop: str = "asyncio"
    warmup_rounds: int = 0


@dataclass(frozen=True)
class Twin:
    """One implementation of a workload.

    `label` is a format string over the scenario's parameters, e.g. "requests + {concurrency}
    threads", so a verdict names the contender as it actually ran.
    """

    name: str
    kind: Kind
    label: str
    bind: Callable[[BenchContext], Bench]

    def describe(self, params: Params) -> str:
        try:
            return self.label.format(**params)
        except (KeyError, IndexError, ValueError):
            return self.label


@dataclass(frozen=True)
class Scenario:
    """A named parameter set. `profiles` limits where it runs (e.g. a 10k-connection scenario
    only under `full`); `max_rounds` caps the profile's rounds where one round is long (e.g.
    10,000 connections to a server that cannot keep up). `judged_by` names an extra_info
    measurement (lower is better) that decides the verdict instead of wall time: an open-loop
    scenario's wall time is fixed by its schedule, so latency is what tells twins apart."""

    name: str
    params: Params
    description: str = ""
    profiles: frozenset[str] = frozenset({"quick", "default", "full"})
    max_rounds: int | None = None
    judged_by: str | None = None


@dataclass(frozen=True)
class Metric:
    """An `extra_info` measurement the report shows as a column (e.g. p99 latency).

    `unit` picks the formatting: "s" (a duration in seconds), "rate" (per second), "bytes",
    "count" or "fraction".
    """

    key: str
    header: str
    unit: str = "count"


@dataclass(frozen=True)
class Workload:
    """A workload: its twins, scenarios and the peers it needs.

    `size_param` names the parameter a profile scales (quick runs fewer operations);
    `tiny` overrides parameters for the test suite's integration runs;
    `expected` optionally gives the checksum every twin must return, computed independently
    of any twin (the strongest check that twins did the work, not merely the same work);
    `metrics` are extra_info keys the report shows as columns after the timing ones.
    """

    name: str
    description: str
    twins: tuple[Twin, ...]
    scenarios: tuple[Scenario, ...]
    peers: tuple[str, ...] = ()
    size_param: str | None = "n"
    min_size: int = 1
    tiny: Params = field(default_factory=dict)
    expected: Callable[[Params], int] | None = None
    metrics: tuple[Metric, ...] = ()

    def twin(self, name: str) -> Twin:
        for twin in self.twins:
            if twin.name == name:
                return twin
        raise LookupError(name)

    def scenario(self, name: str) -> Scenario:
        for scenario in self.scenarios:
            if scenario.name == name:
                return scenario
        raise LookupError(name)

    def params_for(self, scenario: Scenario, scale: float) -> dict[str, Any]:
        """The scenario's parameters with the size scaled by the profile."""
        params = dict(scenario.params)
        if self.size_param and self.size_param in params and scale != 1:
            params[self.size_param] = max(self.min_size, round(params[self.size_param] * scale))
        return params


class RegistryError(BadInput, LookupError):
    """A name given by the user matches nothing; the message lists the valid choices."""


def discover(package: str = "workloads") -> dict[str, Workload]:
    """Import every module of the workloads package and collect its `WORKLOAD`."""
    pkg = importlib.import_module(package)
    found: dict[str, Workload] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        workload = getattr(module, "WORKLOAD", None)
        if not isinstance(workload, Workload):
            continue
        if workload.name in found:
            raise RegistryError(f"workload {workload.name!r} is declared twice")
        found[workload.name] = workload
    return found


def case_id(workload: str, scenario: str, twin: str) -> str:
    """How one benchmark is named in pytest ids and in a run's outcomes."""
    return f"{workload}-{scenario}-{twin}"


@dataclass(frozen=True)
class Case:
    """One benchmark: a workload's twin on one scenario."""

    workload: Workload
    twin: Twin
    scenario: Scenario

    @property
    def id(self) -> str:
        return case_id(self.workload.name, self.scenario.name, self.twin.name)

    @property
    def group(self) -> str:
        return f"{self.workload.name}:{self.scenario.name}"


@dataclass(frozen=True)
class Selection:
    """What the user asked to run; empty tuples mean "all"."""

    workloads: tuple[str, ...] = ()
    twins: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    # Exact case ids, on top of the three filters: `bench check` re-measures single suspects.
    cases: tuple[str, ...] = ()


def _unknown(what: str, bad: list[str], valid: list[str]) -> RegistryError:
    names = ", ".join(bad)
    return RegistryError(f"unknown {what} {names}; choose from: {', '.join(sorted(valid))}")


def select(
    registry: Mapping[str, Workload], selection: Selection, profile: str
) -> list[Case]:
    """Expand a selection into cases, in registry order; unknown names raise RegistryError."""
    bad = [w for w in selection.workloads if w not in registry]
    if bad:
        raise _unknown("workload", bad, list(registry))
    workloads = [registry[w] for w in (selection.workloads or registry)]
    all_twins = {t.name for w in workloads for t in w.twins}
    all_scenarios = {s.name for w in workloads for s in w.scenarios}
    bad = [t for t in selection.twins if t not in all_twins]
    if bad:
        raise _unknown("twin", bad, list(all_twins))
    bad = [s for s in selection.scenarios if s not in all_scenarios]
    if bad:
        raise _unknown("scenario", bad, list(all_scenarios))
    return list(_cases(workloads, selection, profile))


def _cases(workloads: list[Workload], selection: Selection, profile: str) -> Iterator[Case]:
    for workload in workloads:
        for scenario in workload.scenarios:
            if selection.scenarios and scenario.name not in selection.scenarios:
                continue
            if profile not in scenario.profiles:
                continue
            for twin in workload.twins:
                if selection.twins and twin.name not in selection.twins:
                    continue
                case = Case(workload, twin, scenario)
                if selection.cases and case.id not in selection.cases:
                    continue
                yield case
