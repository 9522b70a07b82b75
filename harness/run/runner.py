"""Builds and runs the pytest invocation behind `bench run` / `bench all`.

pytest runs in this process with our plugin object, an empty ini (the user's pytest settings
must not leak into measurements) and pytest's own terminal output off: progress comes from the
listener. Peers live in a `PeerPool` owned here, outside pytest, so they are stopped however the
session ends: normally, on a failed benchmark, or on Ctrl-C.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from harness.drivers.health import STALL_S
from harness.errors import BadInput
from harness.leftovers import owned_tempdir
from harness.model.case import CaseKey
from harness.model.registry import Selection, discover, select
from harness.model.workload import Workload
from harness.peers import PeerPool
from harness.procs import restore_interrupts
from harness.results.merge import merge_passes
from harness.results.meta import metadata_block
from harness.results.runfile import (
    Outcome,
    Run,
    benchmark_infos,
    drop_benchmarks,
    key_of,
    outcomes_of,
    parse_run,
    set_complete,
    set_outcomes,
    set_sweep,
)
from harness.run import bench_cases
from harness.run.cost import RoundBracket, RoundCounter
from harness.run.events import Listener
from harness.run.interleave import RoundsRule
from harness.run.plugin import TwinbenchPlugin, workloads_json
from harness.run.profiles import check_loop, profile_named
from harness.run.sweep import SweepSpec, plan

# More passes than anyone can wait for (a default-profile pass of `bench all` takes minutes):
# a typo, refused up front rather than run for days.
MAX_PASSES = 100


@dataclass(frozen=True)
class RunRequest:
    selection: Selection = field(default_factory=Selection)
    profile: str = "default"
    loop: str = "asyncio"
    pg_dsn: str | None = None
    mysql_dsn: str | None = None
    # Where the files peer makes its private directory (None: a disk-backed temp dir).
    tmpdir: str | None = None
    passes: int = 1
    # Where workloads come from besides the built-in package (--workloads, [tool.twinbench]).
    sources: tuple[str, ...] = ()
    # A sweep: the selected workload's scenarios are replaced by the grid's points.
    sweep: SweepSpec | None = None
    # Rounds per benchmark instead of the profile's (an interleaved A/B session sets them).
    rounds: int | None = None
    warmup_rounds: int | None = None
    # Also count each client twin's instructions, system calls and I/O under valgrind
    # (harness.run.count), after the timed passes; with `timed` off, only count.
    count: bool = False
    timed: bool = True
    # Where async twins held their loop (harness.drivers.health: a watchdog samples stacks),
    # and how long a hold makes a stall.
    stalls: bool = False
    stall_threshold_s: float = STALL_S
    # Twins of a client scenario take turns round by round (harness.run.interleave); an A/B
    # side, which pairs its rounds with the other version's instead, measures one at a time.
    interleave: bool = True
    # The smallest speedup a verdict calls (recorded in the run; analysis.sequential).
    min_effect: float | None = None


@dataclass
class RunResult:
    run: Run | None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.failed]

    @property
    def count_failures(self) -> dict[str, str]:
        """Cases the counted phase could not count, and why (their timed rounds stand)."""
        if self.run is None:
            return {}
        return dict((self.run.meta.get("count") or {}).get("failures") or {})

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed or self.count_failures else 0


def execute(request: RunRequest, listener: Listener | None = None,
            registry: dict[str, Workload] | None = None,
            counting: RoundCounter | None = None,
            profiler: RoundBracket | None = None,
            rounds_rule: RoundsRule | None = None) -> RunResult:
    """Run the selected benchmarks, `request.passes` times over; bad input raises BadInput
    before anything starts. Passes share the peers and merge into one run (harness.passes).
    With `request.count`, the client twins are then counted too (harness.run.count); in a
    counted worker, `counting` brackets each timed round; `profiler` (bench profile) does too.
    `rounds_rule` decides how many rounds interleaved twins get (the analysis' stopping rule,
    passed in by the CLI); without it, or with `request.rounds`, the profile's fixed count."""
    profile = profile_named(request.profile)
    if request.rounds is not None or request.warmup_rounds is not None:
        # `--rounds N`: N for every twin, one look (what the progress estimate reads too)
        profile = replace(profile, rounds=request.rounds or profile.rounds,
                          looks=(request.rounds,) if request.rounds else profile.looks,
                          warmup_rounds=(profile.warmup_rounds if request.warmup_rounds is None
                                         else request.warmup_rounds))

    if request.sweep is not None and counting is None:  # a counted worker keeps its rounds
        profile = request.sweep.measured_with(profile)
    check_loop(request.loop)
    check_passes(request.passes)
    registry = (registry if registry is not None else
                discover(request.sources, wanted=request.selection.workloads
                         or ((request.sweep.workload,) if request.sweep else ())))
    sweep = None
    if request.sweep is not None:
        if request.sweep.workload not in registry:
            raise BadInput(f"unknown workload {request.sweep.workload}; choose from: "
                           + ", ".join(sorted(registry)))
        sweep = plan(registry[request.sweep.workload], request.sweep, profile)
        registry = {sweep.workload.name: sweep.workload}
    cases = select(registry, request.selection, profile.name)
    if not cases:
        raise BadInput("nothing to run: the selection matches no scenario in profile "
                       f"{profile.name!r}")
    selection = {"workloads": list(request.selection.workloads),
                 "twins": list(request.selection.twins),
                 "scenarios": list(request.selection.scenarios)}
    if request.count:
        from harness.run.count import check_can_count

        check_can_count()
    # A counted worker's peers need not prove their capacity: nothing it measures is a time.
    capacity = 0.0 if counting is not None else profile.capacity_seconds
    options: dict[str, Any] = {"http_capacity_seconds": capacity,
                               "pg_dsn": request.pg_dsn, "mysql_dsn": request.mysql_dsn,
                               "tmpdir": request.tmpdir}
    listener = listener or Listener()
    docs: list[dict[str, Any]] = []
    outcomes: dict[str, Outcome] = {}  # the last pass's, when no pass produced a document
    interrupted = False
    with PeerPool(options) as peers, _calm_afterwards():
        peers.preflight({name for case in cases for name in case.workload.peers})
        for index in range(1, (request.passes if request.timed else 0) + 1):
            listener.pass_start(index, request.passes)
            plugin = TwinbenchPlugin(
                cases=cases, profile=profile, peers=peers, loop=request.loop,
                listener=listener,
                metadata=lambda: metadata_block(profile=profile.name, loop=request.loop,
                                                selection=selection,
                                                min_effect=request.min_effect),
                counting=counting, profiler=profiler, stalls=request.stalls,
                stall_threshold_s=request.stall_threshold_s, interleave=request.interleave,
                rounds_rule=rounds_rule if request.rounds is None else None,
            )
            doc, code = _one_pass(plugin)
            outcomes = dict(plugin.outcomes)
            if doc is not None:
                _check_twins_agree(doc, outcomes)
                set_outcomes(doc, outcomes.values())
                set_complete(doc, code != pytest.ExitCode.INTERRUPTED)
                docs.append(doc)
            if code == pytest.ExitCode.INTERRUPTED:
                interrupted = True
                break
    warnings = list(peers.close_errors)
    merged = merge_passes(docs) if docs else None
    if request.count and not interrupted:
        from harness.run.count import ForCases, count_cases, with_counts

        # The client twins that did not fail or skip when timed; server twins are not counted.
        bad = {o.case_id for o in outcomes.values() if o.outcome != "passed"}
        counted = count_cases(request, ForCases(listener, cases),
                              cases=[c.id for c in cases
                                     if c.twin.side == "client" and c.id not in bad])
        warnings += counted.warnings
        interrupted = counted.interrupted
        timed = merged is not None
        merged = with_counts(merged, counted, metadata_block(
            profile=profile.name, loop=request.loop, selection=selection),
            workloads_json(cases))
        if merged is not None and not timed:
            outcomes = {o.case_id: o for o in outcomes_of(merged["twinbench"]).values()}
            _check_twins_agree(merged, outcomes)
            set_outcomes(merged, outcomes.values())
    run = None
    if merged is not None:
        set_complete(merged, not interrupted)
        if sweep is not None:
            set_sweep(merged, sweep.block())
        run = parse_run(merged, allow_empty=True)
        outcomes = run.outcomes
    return RunResult(run=run, outcomes=outcomes, interrupted=interrupted, warnings=warnings)


def check_passes(passes: int, what: str = "--passes", least: int = 1) -> None:
    if not least <= passes <= MAX_PASSES:
        raise BadInput(f"{what} must be between {least} and {MAX_PASSES}, not {passes}")


@contextmanager
def _calm_afterwards() -> Iterator[None]:
    """Once the run has stopped, Ctrl-C interrupts again (the plugin made it only hurry the
    shutdown once the run caught one: harness.procs)."""
    try:
        yield
    finally:
        restore_interrupts()


@contextmanager
def _no_plugin_autoload() -> Iterator[None]:
    """PYTEST_DISABLE_PLUGIN_AUTOLOAD for one pytest session (pytest >= 8.0 reads it there;
    the flag of the same name is 8.4's), restored after it."""
    before = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = before


def _one_pass(plugin: TwinbenchPlugin) -> tuple[dict[str, Any] | None, pytest.ExitCode | int]:
    """One pytest session over every selected case: its run document and exit code."""
    with owned_tempdir("twinbench-") as tmp:
        json_path = tmp / "run.json"
        ini = tmp / "pytest.ini"
        ini.write_text("[pytest]\n")
        # pytest-benchmark and ours only: the measuring process loads no plugin that some
        # installed package registers (anyio's, pyreqwest's mocks...), whatever is installed.
        args = [
            str(Path(bench_cases.__file__)),
            "-c", str(ini), "--rootdir", str(tmp), "-p", "pytest_benchmark.plugin",
            "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:randomly",
            "--benchmark-json", str(json_path), "--benchmark-quiet",
            "--benchmark-sort", "name",
        ]
        with warnings.catch_warnings():  # nothing ran: we say so, in our words
            warnings.filterwarnings("ignore", "Not saving anything, no benchmarks have been run")
            with _no_plugin_autoload():
                code = pytest.main(args, plugins=[plugin])
        if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
            raise RuntimeError(f"pytest could not run the benchmarks (exit code {int(code)})")
        doc = json.loads(json_path.read_text()) if json_path.exists() else None
    return doc, code


def _check_twins_agree(doc: dict[str, Any], outcomes: dict[str, Outcome]) -> None:
    """All twins of one scenario must return the same checksum; dissenters fail.

    Failed twins are dropped from the run first: their timings measured something other than
    the scenario's work and must not reach a table or a verdict. When no checksum has a strict
    majority there is no telling which twin is right, so all of them fail.
    """
    def failed(key: CaseKey) -> bool:
        outcome = outcomes.get(key.test_id)
        return outcome is not None and outcome.failed

    drop_benchmarks(doc, failed)
    by_group: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for entry in benchmark_infos(doc):
        by_group[key_of(entry).group].append(entry)
    dissenters: set[CaseKey] = set()
    def proof(info: Mapping[str, Any]) -> str:
        """The checksum, and with `cpu_us` the proof of the CPU work after each op."""
        return "/".join(filter(None, (info["checksum"], info.get("cpu_proof"))))

    def dissent(infos: list[Mapping[str, Any]], value: Callable[[Mapping[str, Any]], str],
                what: str) -> None:
        """The twins whose `value` is not the strict majority's fail, saying `what`."""
        counts = Counter(value(info) for info in infos)
        if len(counts) < 2:
            return
        (top, top_count), (_, runner_up) = counts.most_common(2)
        for info in infos:
            if value(info) != top or top_count == runner_up:
                key = key_of(info)
                dissenters.add(key)
                outcomes[key.test_id] = Outcome(
                    key.test_id, "failed",
                    f"{what} {value(info)} disagrees with the other twins' "
                    f"({', '.join(sorted(counts))})")

    for infos in by_group.values():
        dissent(infos, proof, "checksum")
    # The same work makes the same I/O: requests and statements per operation must agree too
    # (to the nearest one per round), unless a twin declares why its differ (Twin.io_differs).
    for infos in by_group.values():
        for counter in FAIR_IO:
            counted = [i for i in infos if key_of(i) not in dissenters
                       and counter in (i.get("io_per_op") or {})
                       and counter not in (i.get("io_differs") or {})]
            dissent(counted, functools.partial(_per_op_text, counter=counter),
                    f"{counter} per operation")
    drop_benchmarks(doc, dissenters.__contains__)


# What every twin of a scenario must make the same number of (harness.run.cost: io_per_op).
FAIR_IO = ("requests", "statements")


def _per_op_text(info: Mapping[str, Any], counter: str) -> str:
    """A counter per operation, to the nearest event per round of the twin's ops."""
    ops = max(int(info.get("ops") or 1), 1)
    per_round = round(float(info["io_per_op"][counter]) * ops)
    return f"{per_round / ops:.4g}"


def request_like(meta: Mapping[str, Any], pg_dsn: str | None = None, passes: int = 1,
                 sources: tuple[str, ...] = (), mysql_dsn: str | None = None,
                 tmpdir: str | None = None) -> RunRequest:
    """A run request measuring what a saved run measured: its profile, loop and selection."""
    profile = str(meta.get("profile") or "default")
    loop = str(meta.get("loop") or "asyncio")
    profile_named(profile)
    check_loop(loop)
    chosen = meta.get("selection") or {}

    def names(key: str) -> tuple[str, ...]:
        value = chosen.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadInput(f"baseline selection.{key} is not a list of names")
        return tuple(value)

    selection = Selection(names("workloads"), names("twins"), names("scenarios"))
    sweep = SweepSpec.from_json(meta["sweep"]) if meta.get("sweep") else None
    return RunRequest(selection=selection, profile=profile, loop=loop, pg_dsn=pg_dsn,
                      mysql_dsn=mysql_dsn, tmpdir=tmpdir, passes=passes, sources=sources,
                      sweep=sweep)
