"""Builds and runs the pytest invocation behind `bench run` / `bench all`.

pytest runs in this process with our plugin object, an empty ini (the user's pytest settings
must not leak into measurements) and pytest's own terminal output off: progress comes from the
listener. Peers live in a `PeerPool` owned here, outside pytest, so they are stopped however the
session ends: normally, on a failed benchmark, or on Ctrl-C.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import bench_cases
from harness.aio import LOOPS
from harness.errors import BadInput
from harness.passes import merge_passes
from harness.peers import PeerPool
from harness.plugin import PROFILES, Listener, Outcome, Profile, TwinbenchPlugin
from harness.registry import Selection, Workload, discover, select
from harness.registry import case_id as registry_case_id
from harness.results import Run, metadata_block, parse_run


@dataclass(frozen=True)
class RunRequest:
    selection: Selection = field(default_factory=Selection)
    profile: str = "default"
    loop: str = "asyncio"
    pg_dsn: str | None = None
    passes: int = 1


@dataclass
class RunResult:
    run: Run | None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.outcome == "failed"]

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0


def profile_named(name: str) -> Profile:
    if name not in PROFILES:
        raise BadInput(f"unknown profile {name!r}; choose from: {', '.join(PROFILES)}")
    return PROFILES[name]


def check_loop(loop: str) -> None:
    if loop not in LOOPS:
        raise BadInput(f"unknown event loop {loop!r}; choose from: {', '.join(LOOPS)}")
    if loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            raise BadInput("--loop uvloop needs the uvloop package (pip install uvloop)") from None


def execute(request: RunRequest, listener: Listener | None = None,
            registry: dict[str, Workload] | None = None) -> RunResult:
    """Run the selected benchmarks, `request.passes` times over; bad input raises BadInput
    before anything starts. Passes share the peers and merge into one run (harness.passes)."""
    profile = profile_named(request.profile)
    check_loop(request.loop)
    if request.passes < 1:
        raise BadInput(f"--passes must be at least 1, not {request.passes}")
    registry = registry if registry is not None else discover()
    cases = select(registry, request.selection, profile.name)
    if not cases:
        raise BadInput("nothing to run: the selection matches no scenario in profile "
                       f"{profile.name!r}")
    selection = {"workloads": list(request.selection.workloads),
                 "twins": list(request.selection.twins),
                 "scenarios": list(request.selection.scenarios)}
    options: dict[str, Any] = {"http_capacity_seconds": profile.capacity_seconds,
                               "pg_dsn": request.pg_dsn}
    listener = listener or Listener()
    docs: list[dict[str, Any]] = []
    outcomes: dict[str, Outcome] = {}  # the last pass's, when no pass produced a document
    interrupted = False
    with PeerPool(options) as peers:
        peers.preflight({name for case in cases for name in case.workload.peers})
        for index in range(1, request.passes + 1):
            listener.pass_start(index, request.passes)
            plugin = TwinbenchPlugin(
                cases=cases, profile=profile, peers=peers, loop=request.loop,
                listener=listener,
                metadata=lambda: metadata_block(profile=profile.name, loop=request.loop,
                                                selection=selection),
            )
            doc, code = _one_pass(plugin)
            outcomes = dict(plugin.outcomes)
            if doc is not None:
                _check_twins_agree(doc, outcomes)
                doc["twinbench"]["outcomes"] = {k: {"outcome": o.outcome, "detail": o.detail}
                                                for k, o in outcomes.items()}
                doc["twinbench"]["complete"] = code != pytest.ExitCode.INTERRUPTED
                docs.append(doc)
            if code == pytest.ExitCode.INTERRUPTED:
                interrupted = True
                break
    warnings = list(peers.close_errors)
    run = None
    if docs:
        merged = merge_passes(docs)
        merged["twinbench"]["complete"] = not interrupted
        run = parse_run(merged)
        outcomes = {k: Outcome(k, o["outcome"], o.get("detail", ""))
                    for k, o in run.outcomes.items()}
    return RunResult(run=run, outcomes=outcomes, interrupted=interrupted, warnings=warnings)


def _one_pass(plugin: TwinbenchPlugin) -> tuple[dict[str, Any] | None, pytest.ExitCode | int]:
    """One pytest session over every selected case: its run document and exit code."""
    with tempfile.TemporaryDirectory(prefix="twinbench-") as tmp:
        json_path = Path(tmp) / "run.json"
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")
        args = [
            str(Path(bench_cases.__file__)),
            "-c", str(ini), "--rootdir", tmp,
            "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:randomly",
            "--benchmark-json", str(json_path), "--benchmark-quiet",
            "--benchmark-sort", "name",
        ]
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
    def case_id(info: dict[str, Any]) -> str:
        return registry_case_id(info["workload"], info["scenario"], info["twin"])

    def failed(info: dict[str, Any]) -> bool:
        outcome = outcomes.get(case_id(info))
        return outcome is not None and outcome.outcome == "failed"

    doc["benchmarks"] = [b for b in doc["benchmarks"] if not failed(b["extra_info"])]
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for bench in doc["benchmarks"]:
        by_group[bench["group"]].append(bench["extra_info"])
    dissenters: set[str] = set()
    for infos in by_group.values():
        counts = Counter(info["checksum"] for info in infos)
        if len(counts) < 2:
            continue
        (top, top_count), (_, runner_up) = counts.most_common(2)
        for info in infos:
            if info["checksum"] != top or top_count == runner_up:
                dissenters.add(case_id(info))
                outcomes[case_id(info)] = Outcome(
                    case_id(info), "failed",
                    f"checksum {info['checksum']} disagrees with the other twins' "
                    f"({', '.join(sorted(counts))})",
                )
    doc["benchmarks"] = [b for b in doc["benchmarks"]
                         if case_id(b["extra_info"]) not in dissenters]
