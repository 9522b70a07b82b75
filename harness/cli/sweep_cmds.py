"""`bench sweep`: where async starts to pay, over latency × concurrency × CPU per operation."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from harness.analysis.matchup import rounds_for_verdict
from harness.cli.console import bad_input_exits, err
from harness.cli.options import (
    CountOpt,
    DsnOpt,
    ForceOpt,
    HtmlOpt,
    JsonOpt,
    LoopOpt,
    MinEffectOpt,
    PassesOpt,
    ProfileOpt,
    SaveOpt,
    StrictOpt,
    TwinOpt,
    WorkloadsOpt,
)
from harness.cli.progress import fmt_duration
from harness.cli.run_cmds import run_request
from harness.config import load_config, workload_sources
from harness.model.registry import RegistryError, Selection, discover
from harness.results.files import check_outputs
from harness.run.count import check_can_count
from harness.run.profiles import Profile, profile_named
from harness.run.runner import RunRequest
from harness.run.sweep import default_spec, estimate_seconds, parse_vary, plan


def sweep(
    workload: Annotated[str, typer.Argument(help="The workload to sweep (see `bench list`).")],
    scenario: Annotated[str | None, typer.Option(
        "--scenario", "-s", help="The base scenario (default: the workload's declared sweep, "
                                 "else its first scenario).")] = None,
    vary: Annotated[list[str] | None, typer.Option(
        "--vary", help="NAME=V1,V2,... or NAME=LO..HI*FACTOR / LO..HI+STEP (repeatable; the "
                       "grid is the product). Any parameter of the workload's scenarios, "
                       "and cpu_us (CPU work per operation, client workloads). Default: the "
                       "workload's declared grid.")] = None,
    twin: TwinOpt = None, profile: ProfileOpt = "default", passes: PassesOpt = 1,
    save: SaveOpt = None, force: ForceOpt = False, json: JsonOpt = None,
    loop: LoopOpt = "asyncio", pg_dsn: DsnOpt = None,
    max_points: Annotated[int, typer.Option(
        "--max-points", help="Refuse a grid with more points than this.")] = 100,
    workload_path: WorkloadsOpt = None, strict: StrictOpt = False, html: HtmlOpt = None,
    count: CountOpt = False, min_effect: MinEffectOpt = None,
) -> None:
    """Measure every point of a grid and draw where async starts (or stops) paying."""
    # Every point is an ordinary benchmark of every selected twin (same fairness rules and
    # checksums); the map shows each point's best async over best sync speedup, coloured by
    # verdict, and one crossover line per row of the grid.
    with bad_input_exits():
        chosen = profile_named(profile)
        sources = workload_sources(workload_path)
        effect = load_config(min_effect=min_effect).min_effect
        registry = discover(sources)
        if workload not in registry:
            raise RegistryError(f"unknown workload {workload}; choose from: "
                                + ", ".join(sorted(registry)))
        declared = registry[workload]
        axes = [parse_vary(v) for v in vary or ()]
        spec, default_twins = default_spec(declared, scenario, axes)
        # A map of "?" answers nothing: with one pass, measure each point with at least the
        # rounds a verdict needs (quick's 3 never can), so the quick sweep still draws the line;
        # with several, the passes are the replicates.
        spec = replace(spec, rounds=rounds_for_verdict() if passes == 1 else None)
        chosen = spec.measured_with(chosen)
        planned = plan(declared, spec, chosen, max_points)
        twins = tuple(twin or default_twins)
        known = {t.name for t in declared.twins}
        bad = [t for t in twins if t not in known]
        if bad:
            raise RegistryError(f"unknown twin {', '.join(bad)}; choose from: "
                                + ", ".join(sorted(known)))
        twin_count = len(twins or known)
        seconds = estimate_seconds(planned, twins, chosen) * passes
        # before the estimate line: bad input stays one line (run_request checks them again)
        check_outputs(save=save, json_path=json, html=html, force=force)
        if count:
            check_can_count()
    shape = " × ".join(f"{a.name} ({len(a.values)})" for a in spec.axes)
    err.print(f"sweeping {workload} · {spec.scenario} over {shape}: {len(planned.points)} "
              f"points × {twin_count} twins = {len(planned.points) * twin_count} benchmarks"
              + (f", {len(planned.skipped)} point(s) skipped" if planned.skipped else "")
              + f", {_rounds(chosen)} each; about {fmt_duration(seconds)} (a rough "
                "estimate)",
              highlight=False)
    request = RunRequest(selection=Selection((workload,), twins), profile=profile, loop=loop,
                         pg_dsn=pg_dsn, passes=passes, sources=sources, sweep=spec,
                         count=count, min_effect=effect)
    run_request(request, save, force, json, strict, html)


def _rounds(profile: Profile) -> str:
    """How many rounds a point's twins get."""
    looks = profile.looks
    if len(looks) > 1:
        return f"{looks[0]}-{looks[-1]} rounds (as the answer needs)"
    return f"{profile.rounds} rounds"
