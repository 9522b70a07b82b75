"""The pytest plugin: one pytest-benchmark benchmark per workload x twin x scenario.

`bench run` hands this plugin the selected cases; it parametrises `harness/bench_cases.py`
with them, starts the peers a case needs on first use, times each twin in pedantic mode with
the profile's rounds, and records what the report needs in `extra_info`. The twinbench block of
the run file is added through pytest-benchmark's own JSON hook, so an interrupted session still
writes what it measured.
"""

from __future__ import annotations

import gc
import warnings
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
from harness.run.cost import RoundBracket, RoundCounter, RoundsMeter, ThreadOwners
from harness.run.events import Listener
from harness.run.interleave import GroupResult, RoundsRule, fixed_rounds, measure_group
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
    # Twins of a client scenario take turns round by round (harness.run.interleave), their
    # rounds as `rounds_rule` decides (None: the profile's, fixed).
    interleave: bool = True
    rounds_rule: RoundsRule | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    _by_nodeid: dict[str, Case] = field(default_factory=dict)
    _groups: dict[str, GroupResult] = field(default_factory=dict)

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
        cases = [self._by_nodeid[i.nodeid] for i in session.items if i.nodeid in self._by_nodeid]
        self.listener.planned([c.id for c in cases])
        self.listener.cases_planned(cases, self.profile)

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
        if self.counting is not None and case.twin.side != "client":
            pytest.skip(f"server twins are not counted: {NOT_COUNTED}")
        if self._interleaved(case):
            group = self._groups.get(case.group)
            if group is None:  # the scenario's first item measures all of its twins
                group = self._groups[case.group] = self._measure_group(case.group, benchmark)
            why = group.alone(case)
            if why is None:
                group.replay(case, benchmark)
                return
            warnings.warn(f"set up beside its scenario's other twins it failed ({why}); "
                          "measured alone, after them", RuntimeWarning, stacklevel=1)
        rounds_override = self.listener.before_case(case)
        run = CaseRun(self, case)
        wanted = rounds_override or self.profile.rounds
        rounds = min(wanted, case.scenario.max_rounds or wanted)  # a scenario's cap holds
        benchmark.group = case.group
        try:
            run.start(rounds)
            benchmark.pedantic(run.timed_round, setup=run.reset, teardown=run.after_round,
                               rounds=rounds, warmup_rounds=run.warmup, iterations=1)
            extra = run.bench.extra_info()
        finally:
            run.teardown()  # drivers tolerate a set-up that failed half-way
        run.finish(benchmark, extra)

    # -- twins of a scenario measured interleaved (harness.run.interleave) ---------------------

    def _interleaved(self, case: Case) -> bool:
        """Twins of a scenario with a sibling, in a plain timed run: an A/B side, a counted
        worker or a profile measures one case at a time."""
        if not self.interleave or self.counting is not None or self.profiler is not None:
            return False
        return sum(c.group == case.group for c in self.cases) > 1

    def _measure_group(self, group: str, benchmark: Any) -> GroupResult:
        cases = [c for c in self.cases if c.group == group]
        # A scenario judged by a metric (an open-loop one's p99) keeps the profile's rounds:
        # its rounds' times say nothing, and a round's p99 is a tail, one spike of which made
        # a paired interval over five rounds useless (measured: 0.17x-2.x where the rounds
        # plainly differed 2x); its verdict takes the rank-based comparison of all rounds.
        rule = ((self.rounds_rule if not cases[0].scenario.judged_by else None)
                or fixed_rounds(self.profile.rounds))
        owners = ThreadOwners()
        return measure_group(
            [CaseRun(self, c, owners) for c in cases], rule, listener=self.listener,
            max_rounds=cases[0].scenario.max_rounds,
            # pytest-benchmark's round runner (its pedantic loop), with its timer and options
            runner=lambda fn: benchmark._make_runner(fn, (), {}),
            finish=lambda run, bench, extra: run.finish(bench, extra))


class CaseRun:
    """One case bound to its peers and set up: the callbacks around each of its rounds (warm-ups
    included), and what its benchmark entry says once its rounds are done. The plugin times
    its rounds with pytest-benchmark's pedantic mode, or with pytest-benchmark's own round
    runner when the twins of a scenario take turns (harness.run.interleave)."""

    def __init__(self, plugin: TwinbenchPlugin, case: Case, owners: ThreadOwners | None = None):
        self.plugin, self.case = plugin, case
        # Set up beside its scenario's other twins: its own threads and per-round RSS only.
        self.owners = owners
        self.warmup = plugin.profile.warmup_rounds
        self.checksums: list[int] = []
        self.bench: Any = None
        self.meter: RoundsMeter | None = None
        self.twin_cpu: Any = None
        self.params: dict[str, Any] = {}

    def start(self, rounds: int) -> None:
        """Peers, parameters, the bound twin and its set-up; pytest.skip/fail when it cannot
        run (a peer unavailable or dead, CannotRun)."""
        plugin, case = self.plugin, self.case
        workload = case.workload
        try:
            peers = {name: plugin.peers.get(name, case.id) for name in workload.peers}
        except PeerUnavailable as exc:
            pytest.skip(str(exc))
        except PeerFailed as exc:
            pytest.fail(f"peer failed: {exc}", pytrace=False)
        self.params = (counted_params(workload, case.scenario, plugin.profile)
                       if plugin.counting is not None
                       else workload.params_for(case.scenario, plugin.profile.scale))
        self.bench = case.twin.bind(BenchContext(
            params=self.params, peers=peers, loop=plugin.loop, warmup_rounds=self.warmup,
            # valgrind's rounds are ~50x longer: the probe would be ~50x more of their count
            loop_health=plugin.counting is None, stalls=plugin.stalls,
            stall_threshold_s=plugin.stall_threshold_s))
        self.twin_cpu = getattr(self.bench, "twin_cpu_seconds", None)  # a server twin's own
        owners = self.owners
        self.meter = (RoundsMeter(plugin.peers, self.warmup, workload.peers,
                                  counting=plugin.counting, profiler=plugin.profiler,
                                  label=case.id, rss_per_round=owners is not None,
                                  threads=(None if owners is None
                                           else lambda: owners.count(case.id)))
                      if self.twin_cpu is None
                      else RoundsMeter(plugin.peers, self.warmup, workload.peers,
                                       twin_cpu=self.twin_cpu, in_process=False))
        plugin.listener.case_start(case, rounds + self.warmup)
        try:
            self.bench.setup()
        except CannotRun as exc:
            pytest.skip(str(exc))

    def reset(self) -> None:  # untimed, before every round
        assert self.meter is not None
        self.plugin.listener.before_round(self.case)
        if self.owners is not None:  # in turn: a peer that died in another twin's round
            try:
                self.plugin.peers.use(self.case.workload.peers, self.case.id)
            except PeerFailed as exc:
                pytest.fail(f"peer failed: {exc}", pytrace=False)
        self.bench.reset()
        if self.plugin.counting is not None:
            # Every counted round starts from a collected heap, so the collections its
            # allocations trigger fall in the same places each time (measured: a round
            # that a gen-2 collection fell in counted 2.5-4.5% more).
            gc.collect()
        self.meter.open()

    def after_round(self) -> None:  # untimed, after every round
        assert self.meter is not None
        self.meter.close()
        self.plugin.listener.round_done(self.case)

    def timed_round(self) -> None:
        assert self.meter is not None
        self.checksums.append(self.meter.timed(self.bench.round))

    def warmup_round(self) -> None:
        """Untimed and unchecked: the profile's share of a round where the twin's driver can
        run one (a client twin: the head of its work list, harness.drivers.client), else a
        whole round."""
        share = self.plugin.profile.warmup_share
        partial_round = getattr(self.bench, "warmup_round", None)
        if partial_round is not None and share < 1:
            partial_round(share)
        else:
            self.bench.round()

    def teardown(self) -> None:
        if self.bench is not None:
            self.bench.teardown()

    def finish(self, benchmark: Any, extra: dict[str, Any]) -> None:
        """The benchmark's extra_info, and the checks of the work it did (pytest.fail)."""
        case, meter, params = self.case, self.meter, self.params
        assert meter is not None
        workload = case.workload
        extra.update(meter.info(own_process=self.twin_cpu is None, ops=self.bench.ops))
        if case.twin.io_differs:
            extra["io_differs"] = dict(case.twin.io_differs)
        if case.twin.core:
            extra["core"] = case.twin.core
        if case.twin.library:
            extra["library"] = case.twin.library
        benchmark.extra_info.update(case_info(
            case.key, kind=case.twin.kind, label=case.twin.describe(params),
            judged_by=case.scenario.judged_by, params=params, ops=self.bench.ops,
            checksum=self.checksums[-1], ideal_s=ideal_seconds(params),
            median=benchmark.stats.stats.median, loop=self.bench.loop,
            peer_busy=meter.busy(), measured=extra,
        ))
        if len(set(self.checksums)) != 1:
            pytest.fail(f"{case.twin.name} returned different checksums across rounds",
                        pytrace=False)
        if workload.expected is not None:
            want = workload.expected(params)
            if self.checksums[-1] != want:
                pytest.fail(f"{case.twin.name} checksum {self.checksums[-1]:016x} != "
                            f"expected {want:016x}: the twin did not do the scenario's work",
                            pytrace=False)
        self.plugin.listener.measured(case, benchmark_json(case, benchmark))


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
