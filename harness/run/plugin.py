"""The pytest plugin: one pytest-benchmark benchmark per workload x twin x scenario.

`bench run` hands this plugin the selected cases; it parametrises `harness/bench_cases.py`
with them, starts the peers a case needs on first use, times each twin in pedantic mode with
the profile's rounds, and records what the report needs in `extra_info`. The twinbench block of
the run file is added through pytest-benchmark's own JSON hook, so an interrupted session still
writes what it measured.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest

from harness.drivers.health import STALL_S
from harness.model.case import Case
from harness.model.physics import ideal_seconds
from harness.model.workload import BenchContext, CannotRun
from harness.peers import PeerFailed, PeerPool, PeerUnavailable
from harness.procs import hurry_on_interrupt
from harness.results.runfile import (
    Outcome,
    TwinJson,
    WarningJson,
    WorkloadJson,
    attach_block,
    case_info,
)
from harness.run.capture import capture
from harness.run.cost import RoundBracket, RoundCounter, RoundsMeter
from harness.run.events import Listener
from harness.run.profiles import Profile, counted_params


@dataclass
class TwinbenchPlugin:
    cases: list[Case]
    profile: Profile
    peers: PeerPool
    loop: str = "asyncio"
    listener: Listener = field(default_factory=Listener)
    metadata: Callable[[], dict[str, Any]] = dict
    # In a counted worker (under valgrind): what brackets each timed round (run.callgrind).
    counting: RoundCounter | None = None
    # `bench profile`: a profiler switched on around each timed round (run.profiler).
    profiler: RoundBracket | None = None
    # Where an async twin held its loop (harness.drivers.health), and what counts as held.
    stalls: bool = False
    stall_threshold_s: float = STALL_S
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    _by_nodeid: dict[str, Case] = field(default_factory=dict)

    # -- collection ----------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "twin_case" in metafunc.fixturenames:
            metafunc.parametrize("twin_case", self.cases, ids=[c.id for c in self.cases])

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            callspec = getattr(item, "callspec", None)
            if callspec is not None:
                self._by_nodeid[item.nodeid] = callspec.params["twin_case"]

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.listener.session_start(len(session.items))
        self.listener.planned([self._by_nodeid[i.nodeid].id for i in session.items
                               if i.nodeid in self._by_nodeid])

    @pytest.fixture
    def twinbench(self) -> TwinbenchPlugin:
        return self

    # -- progress and outcomes -----------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case = self._by_nodeid.get(report.nodeid)
        if case is None:
            return
        if report.when == "call" or report.outcome != "passed":
            if report.skipped:
                detail = _skip_reason(report)
            elif report.failed:
                detail = _failure_line(report)
            else:
                detail = ""
            if case.id in self.outcomes and self.outcomes[case.id].outcome != "passed":
                return  # keep the first failure (e.g. call) over a later teardown report
            self.outcomes[case.id] = Outcome(case.id, str(report.outcome), detail)
            self.listener.case_end(case, report.outcome, detail)

    def pytest_configure(self, config: pytest.Config) -> None:
        self._config = config

    def pytest_keyboard_interrupt(self) -> None:
        """Drop the benchmark cut short by Ctrl-C, so the benchmarks that finished are saved.

        pytest-benchmark registers a benchmark before its first round; one cut short has too
        few rounds (maybe none) and none of our extra_info. From here on the run is stopping,
        and another Ctrl-C only hurries that (harness.procs).
        """
        hurry_on_interrupt()
        session = getattr(self._config, "_benchmarksession", None)
        if session is not None:
            session.benchmarks[:] = [b for b in session.benchmarks
                                     if b.stats is not None and b.stats.data
                                     and "workload" in b.extra_info]

    def pytest_benchmark_update_json(self, output_json: dict[str, Any]) -> None:
        attach_block(output_json, self.metadata(), peers=self.peers.describe(),
                     workloads=workloads_json(self.cases), outcomes=self.outcomes.values())

    # -- the benchmark itself ------------------------------------------------------------------

    def measure(self, case: Case, benchmark: Any) -> None:
        """One case, with what it warned or logged on the side collected (harness.run.capture)
        and, when it failed because a peer died, the death named rather than its symptom."""
        with capture(benchmark.extra_info):
            try:
                self._measure(case, benchmark)
            except Exception:
                try:
                    self.peers.check_alive(case.workload.peers)
                except PeerFailed as exc:
                    pytest.fail(str(exc), pytrace=False)
                raise
        benchmark.extra_info["warnings"] = [*benchmark.extra_info.get("warnings", ()),
                                            *loop_warnings(benchmark.extra_info)]
        if not benchmark.extra_info["warnings"]:
            del benchmark.extra_info["warnings"]

    def _measure(self, case: Case, benchmark: Any) -> None:
        workload = case.workload
        if self.counting is not None and case.twin.side != "client":
            pytest.skip(f"server twins are not counted: {NOT_COUNTED}")
        rounds_override = self.listener.before_case(case)
        try:
            peers = {name: self.peers.get(name, case.id) for name in workload.peers}
        except PeerUnavailable as exc:
            pytest.skip(str(exc))
        except PeerFailed as exc:
            pytest.fail(f"peer failed: {exc}", pytrace=False)
        params = (counted_params(workload, case.scenario, self.profile)
                  if self.counting is not None
                  else workload.params_for(case.scenario, self.profile.scale))
        ideal = ideal_seconds(params)
        wanted = rounds_override or self.profile.rounds
        rounds = min(wanted, case.scenario.max_rounds or wanted)  # a scenario's cap holds
        warmup = self.profile.warmup_rounds
        bench = case.twin.bind(BenchContext(
            params=params, peers=peers, loop=self.loop, warmup_rounds=warmup,
            # valgrind's rounds are ~50x longer: the probe would be ~50x more of their count
            loop_health=self.counting is None, stalls=self.stalls,
            stall_threshold_s=self.stall_threshold_s))
        checksums: list[int] = []
        twin_cpu = getattr(bench, "twin_cpu_seconds", None)  # a server twin's own process
        meter = (RoundsMeter(self.peers, warmup, workload.peers, counting=self.counting,
                             profiler=self.profiler, label=case.id) if twin_cpu is None
                 else RoundsMeter(self.peers, warmup, workload.peers, twin_cpu=twin_cpu,
                                  in_process=False))
        self.listener.case_start(case, rounds + warmup)

        def reset() -> None:  # untimed, before every round
            self.listener.before_round(case)
            bench.reset()
            if self.counting is not None:
                # Every counted round starts from a collected heap, so the collections its
                # allocations trigger fall in the same places each time (measured: a round
                # that a gen-2 collection fell in counted 2.5-4.5% more).
                gc.collect()
            meter.open()

        def after_round() -> None:  # untimed, after every round
            meter.close()
            self.listener.round_done(case)

        def timed_round() -> None:
            checksums.append(meter.timed(bench.round))

        benchmark.group = case.group
        try:
            try:
                bench.setup()
            except CannotRun as exc:
                pytest.skip(str(exc))
            benchmark.pedantic(timed_round, setup=reset, teardown=after_round, rounds=rounds,
                               warmup_rounds=warmup, iterations=1)
            extra = bench.extra_info()
        finally:
            bench.teardown()  # drivers tolerate a set-up that failed half-way

        extra.update(meter.info(own_process=twin_cpu is None, ops=bench.ops))
        if case.twin.io_differs:
            extra["io_differs"] = dict(case.twin.io_differs)
        if case.twin.core:
            extra["core"] = case.twin.core
        if case.twin.library:
            extra["library"] = case.twin.library
        benchmark.extra_info.update(case_info(
            case.key, kind=case.twin.kind, label=case.twin.describe(params),
            judged_by=case.scenario.judged_by, params=params, ops=bench.ops,
            checksum=checksums[-1], ideal_s=ideal, median=benchmark.stats.stats.median,
            loop=bench.loop, peer_busy=meter.busy(), measured=extra,
        ))
        if len(set(checksums)) != 1:
            pytest.fail(f"{case.twin.name} returned different checksums across rounds",
                        pytrace=False)
        if workload.expected is not None:
            want = workload.expected(params)
            if checksums[-1] != want:
                pytest.fail(f"{case.twin.name} checksum {checksums[-1]:016x} != expected "
                            f"{want:016x}: the twin did not do the scenario's work",
                            pytrace=False)
        self.listener.measured(case, benchmark_json(case, benchmark))


def loop_warnings(info: Mapping[str, Any]) -> list[WarningJson]:
    """What a twin's loop health says is wrong, as the warnings `--strict` counts."""
    out: list[WarningJson] = []
    stalls = int(info.get("loop_stalls") or 0)
    if stalls:
        threshold = float(info.get("loop_stall_threshold_s") or STALL_S)
        longest = float(info.get("loop_lag_max_s") or 0)
        where = ("" if info.get("stall_sites") is not None
                 else "; run with --stalls to see where")
        out.append({"kind": "loop", "count": stalls,
                    "message": f"held its event loop for more than {threshold * 1e3:g} ms "
                               f"(the longest {longest * 1e3:.1f} ms late){where}"})
    leaked = int(info.get("tasks_leaked") or 0)
    if leaked:
        out.append({"kind": "loop", "count": leaked,
                    "message": "left task(s) pending after its timed rounds that were not "
                               "there before them (a leak)"})
    return out


def workloads_json(cases: Iterable[Case]) -> dict[str, WorkloadJson]:
    """The run file describes its own extra columns and the twins it selected, so `bench show`
    needs no registry."""
    out: dict[str, WorkloadJson] = {}
    for c in cases:
        entry = out.setdefault(c.workload.name, {
            "description": c.workload.description,
            "metrics": [asdict(m) for m in c.workload.metrics],  # type: ignore[misc]
            "twins": {}})
        twin: TwinJson = {"kind": c.twin.kind}
        if c.twin.core:
            twin["core"] = c.twin.core
        if c.twin.library:
            twin["library"] = c.twin.library
        entry["twins"][c.twin.name] = twin
    return out


# Why a server twin has no instruction count (`bench list` says it too).
NOT_COUNTED = ("under valgrind a server runs ~50x slower than the load the harness drives at "
               "it, and then batches requests differently (more per loop iteration): its "
               "count would describe another regime than its timed rounds")


def benchmark_json(case: Case, benchmark: Any) -> dict[str, Any]:
    """One benchmark's entry as the run file will hold it (pytest-benchmark's statistics of
    its rounds, our extra_info), for a listener that passes it on before the session ends."""
    stats = benchmark.stats.stats
    return {"name": case.id, "group": case.group,
            "stats": {"data": list(stats.data), "median": stats.median, "q1": stats.q1,
                      "q3": stats.q3, "iterations": 1},
            "extra_info": dict(benchmark.extra_info)}


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _failure_line(report: pytest.TestReport) -> str:
    """The last meaningful line of a failure: the exception, not the traceback."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        first = str(crash.message).splitlines()[0] if crash.message else "failed"
        return first.removeprefix("Failed: ")  # pytest.fail's prefix to our own message
    text = report.longreprtext.strip().splitlines()
    return text[-1] if text else "failed"
