"""How a workload and its twins are declared.

A workload is one module that defines a module-level `WORKLOAD`. The harness binds each twin to
a scenario (its parameters, scaled by the profile) and to the peers the workload asked for, and
gets back a `Bench`: set-up and tear-down outside the timed region, `round()` inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Kind = Literal["sync", "threads", "async"]
KINDS: tuple[Kind, ...] = ("sync", "threads", "async")
SYNC_KINDS: frozenset[str] = frozenset({"sync", "threads"})
ALL_PROFILES = frozenset({"quick", "default", "full"})
CORES = ("C", "Cython", "Rust", "Python")

Params = Mapping[str, Any]


class CannotRun(Exception):
    """A bench cannot run on this machine (e.g. too few open files allowed); the message says
    why. Raised from `setup`, it reports the benchmark as skipped, not failed."""


class Bench(Protocol):
    """One twin bound to one scenario, ready to be timed.

    `setup` and `teardown` run once, outside the timed region (sessions, pools, event loop);
    `reset` runs before every round, untimed (e.g. truncate a table a round writes to);
    `round` is the timed work and returns the order-independent checksum of what it did.
    `loop` names the event loop the twin ran on (None for sync twins). A bench whose twin runs
    in another process also offers `twin_cpu_seconds()`, that process's CPU time so far, so
    its cost is charged to the twin, not to the idle measuring process.
    """

    ops: int
    loop: str | None

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
    # An async twin's loop health over its timed rounds (harness.drivers.health): off in a
    # counted run, whose rounds run under valgrind; `stalls` also records where it was held.
    loop_health: bool = True
    stalls: bool = False
    stall_threshold_s: float = 0.010


def check_core(twin: str, core: str) -> None:
    if core and core not in CORES:
        raise ValueError(f"twin {twin!r}: core must be one of {', '.join(CORES)}, not {core!r}")


@dataclass(frozen=True)
class Twin:
    """One implementation of a workload.

    `label` is a format string over the scenario's parameters, e.g. "requests + {concurrency}
    threads", so a verdict names the contender as it actually ran. `impl` is what the twin is
    made of (a client class, a server module), for tests that check twins are mirrored.
    `profiles` limits where it runs unless named with --twin: a variant (another library's
    async client, the same server on uvloop) can stay out of the quick smoke run.
    `io_differs` declares, per I/O counter ("requests", "statements"), why this twin's I/O per
    operation differs from its scenario's other twins on purpose (e.g. a library's default
    pool resetting each connection); undeclared, a difference fails the twin like a wrong
    checksum (twins must do the same work).
    `core` says what does the twin's parsing and I/O (one of CORES: "C", "Cython", "Rust",
    "Python"), so nobody reads a C-versus-Python gap as sync-versus-async; `library` names the
    I/O library, so that a scenario's twins of one library in both models (httpx's Client and
    AsyncClient, curl-cffi's Session and AsyncSession, psycopg's) show what the async model
    alone buys, the library held fixed (harness.analysis.matchup). `missing()` says why the
    twin cannot run on this machine (an optional library not installed), or None; `bench
    list` shows it, and the twin itself skips with the same line (CannotRun).
    """

    name: str
    kind: Kind
    label: str
    bind: Callable[[BenchContext], Bench]
    impl: Any = None
    side: Literal["client", "server"] = "client"  # where the twin's work runs
    profiles: frozenset[str] = ALL_PROFILES
    io_differs: Mapping[str, str] = field(default_factory=dict)
    core: str = ""
    library: str = ""
    missing: Callable[[], str | None] | None = None

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
    scenario's wall time is fixed by its schedule, so latency is what tells twins apart.
    `scaled=False` says the size is final and the profile must not scale it again (a sweep
    point sized in waves of C has scaled the waves instead)."""

    name: str
    params: Params
    description: str = ""
    profiles: frozenset[str] = ALL_PROFILES
    max_rounds: int | None = None
    judged_by: str | None = None
    scaled: bool = True


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
class Sweep:
    """A default map for `bench sweep`: a base scenario and the grid its parameters span.

    `waves`, when set, sizes every point to that many waves of C operations (n = waves · C;
    a profile scales the waves, to at least one): the ideal time is then waves·L everywhere,
    so a point's cost grows with the latency, not with the concurrency, and C never exceeds
    N. `twins` narrows the default selection (e.g. leaving out a sequential twin that would
    take N·L at every point); `--twin` still chooses any.
    """

    scenario: str
    grid: Mapping[str, tuple[Any, ...]]
    twins: tuple[str, ...] = ()
    waves: int | None = None


@dataclass(frozen=True)
class Workload:
    """A workload: its twins, scenarios and the peers it needs.

    `size_param` names the parameter a profile scales (quick runs fewer operations);
    `tiny` overrides parameters for the test suite's integration runs;
    `expected` optionally gives the checksum every twin must return, computed independently
    of any twin (the strongest check that twins did the work, not merely the same work);
    `metrics` are extra_info keys the report shows as columns after the timing ones;
    `sweeps` are the maps `bench sweep` draws by default (the first is the default one);
    `check_params` says what is wrong with a set of parameters (one line, e.g. "players must
    be at least 1"), or None: a sweep refuses a grid point it rejects as bad input.
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
    sweeps: tuple[Sweep, ...] = ()
    check_params: Callable[[Params], str | None] | None = None

    @property
    def client_side(self) -> bool:
        """Every twin runs its work in the measuring process (the harness owns its loop)."""
        return all(t.side == "client" for t in self.twins)

    def parameters(self) -> list[str]:
        """Every parameter name its scenarios use, in first-use order."""
        return list(dict.fromkeys(k for s in self.scenarios for k in s.params))

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
        if self.size_param and self.size_param in params and scale != 1 and scenario.scaled:
            params[self.size_param] = max(self.min_size, round(params[self.size_param] * scale))
        return params
