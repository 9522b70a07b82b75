"""`bench run`, `bench all`, `bench list` and `bench show`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Annotated

import typer
from rich.table import Table

from harness.analysis.sequential import RoundsPlan
from harness.cli.clean_cmds import announce_reclaimed
from harness.cli.console import bad_input_exits, console, err, resolve_run_path
from harness.cli.options import (
    CountOpt,
    DsnOpt,
    ForceOpt,
    HtmlOpt,
    JsonOpt,
    LoopOpt,
    MinEffectOpt,
    MysqlDsnOpt,
    PassesOpt,
    ProfileOpt,
    RoundsOpt,
    SaveOpt,
    ScenarioOpt,
    StallsOpt,
    StallThresholdOpt,
    StrictOpt,
    TmpdirOpt,
    TwinOpt,
    WorkloadsOpt,
)
from harness.cli.progress import progress_for
from harness.cli.report_cmds import write_report
from harness.config import DEFAULT_MIN_EFFECT, load_config, workload_sources
from harness.errors import BadInput
from harness.model.registry import Selection, discover
from harness.model.workload import ALL_PROFILES, SYNC_KINDS, Twin
from harness.render.fmt import describe_params, plain
from harness.render.html import run_page
from harness.render.run import render_run
from harness.results.files import Outputs, check_outputs, load_run, save_run
from harness.results.runfile import Run
from harness.run.count import check_can_count
from harness.run.plugin import NOT_COUNTED
from harness.run.profiles import PROFILES, check_loop, check_rounds, profile_named
from harness.run.runner import RunRequest, RunResult, check_passes, execute


def _request(workloads: list[str], twins: list[str] | None, scenarios: list[str] | None,
             profile: str, loop: str, pg_dsn: str | None, passes: int,
             workload_path: list[str] | None, mysql_dsn: str | None,
             tmpdir: str | None, count: bool = False, stalls: bool = False,
             stall_threshold_ms: float = 10.0, rounds: int | None = None,
             min_effect: str | None = None) -> RunRequest:
    with bad_input_exits():
        sources = workload_sources(workload_path)
        check_stall_threshold(stall_threshold_ms)
        check_rounds(rounds)
        effect = load_config(min_effect=min_effect).min_effect
    selection = Selection(tuple(workloads), tuple(twins or ()), tuple(scenarios or ()))
    return RunRequest(selection=selection, profile=profile, loop=loop, pg_dsn=pg_dsn,
                      mysql_dsn=mysql_dsn, tmpdir=tmpdir, passes=passes, sources=sources,
                      count=count, stalls=stalls, stall_threshold_s=stall_threshold_ms / 1000,
                      rounds=rounds, min_effect=effect)


def rounds_rule(request: RunRequest) -> RoundsPlan | None:
    """How many rounds interleaved twins get: the profile's looks, stopped by the analysis'
    rule once the answer is settled (None with `--rounds`: a fixed count)."""
    if request.rounds is not None:
        return None
    profile = profile_named(request.profile)
    if request.sweep is not None:
        profile = request.sweep.measured_with(profile)
    return RoundsPlan(looks=profile.looks, min_effect=request.min_effect or DEFAULT_MIN_EFFECT,
                      precision=profile.precision, seconds=profile.scenario_seconds,
                      adaptive=len(profile.looks) > 1)


def check_stall_threshold(ms: float) -> None:
    if not 0.5 <= ms <= 10_000:
        raise BadInput(f"--stall-threshold must be 0.5 to 10000 ms, not {ms:g}")


def run_request(request: RunRequest, save: str | None, force: bool, json_path: str | None,
                strict: bool = False, html: str | None = None) -> None:
    """Measure, render, save, exit: what `run`, `all` and `sweep` share."""
    with bad_input_exits():  # everything the user typed is checked before anything runs
        profile_named(request.profile)
        check_loop(request.loop)
        check_passes(request.passes)
        if request.count:
            check_can_count()
        outputs = check_outputs(save=save, json_path=json_path, html=html, force=force)
        announce_reclaimed(request.pg_dsn)
        try:
            with progress_for(console, err) as progress:
                result = execute(request, progress, rounds_rule=rounds_rule(request))
        except KeyboardInterrupt:
            err.print("[yellow]interrupted; peers stopped[/]")
            raise typer.Exit(130) from None
    _finish(result, outputs, strict)


def _finish(result: RunResult, outputs: Outputs, strict: bool) -> None:
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {plain(warning)}", highlight=False)
    run = result.run
    if run is None or not run.benchmarks:  # nothing worth a file; the reasons were shown
        counts = Counter(o.outcome for o in result.outcomes.values())
        how = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        err.print(f"[red]no benchmark produced a result[/]{f' ({how})' if how else ''}",
                  highlight=False)
        raise typer.Exit(result.exit_code or 1)
    render_run(run, console)
    if outputs.target is not None:
        # An interrupted run is kept, but never under the label itself; its .partial twin was
        # checked up front like every other output.
        target = outputs.partial if result.interrupted else outputs.target
        assert target is not None
        path = save_run(run.doc, target, force=outputs.force, make_dir=True)
        console.print(f"saved [bold]{plain(path)}[/]")
    if outputs.json is not None:
        path = save_run(run.doc, outputs.json, force=outputs.force)
        console.print(f"wrote [bold]{plain(path)}[/]")
    # Last: a report that fails to render cannot cost the run, which is saved by now.
    name = (outputs.target.stem if outputs.target is not None
            else outputs.json.name if outputs.json is not None else "this run")
    write_report(outputs.html, lambda: run_page(name, run))
    if result.interrupted:
        err.print("[yellow]interrupted: the table shows what finished[/]")
    raise typer.Exit(max(result.exit_code, strict_exit(run, strict)))


def strict_exit(run: Run, strict: bool) -> int:
    """1 if `--strict` and a benchmark warned (listed after the tables), else 0."""
    if strict and run.warning_count:
        err.print(f"[red]--strict: {run.warning_count} warning(s) during the benchmarks[/]",
                  highlight=False)
        return 1
    return 0


def same_library_twins(twins: Iterable[Twin]) -> dict[str, list[str]]:
    """The twins of each library that has twins in both models, by library."""
    by_library: dict[str, list[Twin]] = {}
    for t in twins:
        if t.library:
            by_library.setdefault(t.library, []).append(t)
    return {lib: [t.name for t in mine] for lib, mine in by_library.items()
            if len({t.kind in SYNC_KINDS for t in mine}) == 2}


def list_workloads(workloads: WorkloadsOpt = None) -> None:
    """List workloads, their twins and scenarios."""
    with bad_input_exits():
        registry = discover(workload_sources(workloads))
    for workload in registry.values():
        table = Table(title=f"{workload.name} — {workload.description}", title_justify="left",
                      show_header=True)
        table.add_column("scenario")
        table.add_column("parameters")
        table.add_column("profiles")
        for s in workload.scenarios:
            table.add_row(s.name, describe_params(dict(s.params)), ", ".join(sorted(s.profiles)))
        console.print(table)
        twins = ", ".join(
            f"{t.name} [dim]({t.kind}" + (f" · {t.core}" if t.core else "")
            + ("" if t.profiles == ALL_PROFILES else f"; {', '.join(sorted(t.profiles))}")
            + ")[/]" for t in workload.twins)
        peers = ", ".join(workload.peers) or "none"
        console.print(f"  twins: {twins}\n  peers: {peers}")
        pairs = same_library_twins(workload.twins)
        if pairs:
            console.print("  [dim]one library in both models (the async model alone): "
                          + plain("; ".join(f"{lib}: {', '.join(names)}"
                                            for lib, names in pairs.items())) + "[/]")
        for t in workload.twins:
            why = t.missing() if t.missing is not None else None
            if why:
                console.print(f"  [yellow]{plain(t.name)} cannot run here[/]: {plain(why)}")
        servers = [t.name for t in workload.twins if t.side != "client"]
        if servers:
            console.print(f"  [dim]--count counts no server twin ({plain(', '.join(servers))})"
                          f": {plain(NOT_COUNTED)}[/]")
        declared = [f"{t.name} ({k}: {v})" for t in workload.twins
                    for k, v in t.io_differs.items()]
        if declared:
            console.print(f"  [dim]I/O per operation differs on purpose: "
                          f"{plain('; '.join(declared))}[/]")
        console.print()
    console.print("profiles: " + "; ".join(f"[bold]{p.name}[/] {p.description}"
                                           for p in PROFILES.values()))


def run(
    workloads: Annotated[list[str], typer.Argument(help="Workloads to run (see `bench list`).")],
    twin: TwinOpt = None, scenario: ScenarioOpt = None, profile: ProfileOpt = "default",
    save: SaveOpt = None, force: ForceOpt = False, json: JsonOpt = None,
    loop: LoopOpt = "asyncio", pg_dsn: DsnOpt = None, passes: PassesOpt = 1,
    workload_path: WorkloadsOpt = None, mysql_dsn: MysqlDsnOpt = None,
    tmpdir: TmpdirOpt = None, strict: StrictOpt = False, html: HtmlOpt = None,
    count: CountOpt = False, stalls: StallsOpt = False,
    stall_threshold: StallThresholdOpt = 10.0, rounds: RoundsOpt = None,
    min_effect: MinEffectOpt = None,
) -> None:
    """Run the named workloads and print a table per scenario."""
    run_request(_request(workloads, twin, scenario, profile, loop, pg_dsn, passes, workload_path,
                         mysql_dsn, tmpdir, count, stalls, stall_threshold, rounds,
                         min_effect), save, force, json, strict, html)


def run_all(
    twin: TwinOpt = None, scenario: ScenarioOpt = None, profile: ProfileOpt = "default",
    save: SaveOpt = None, force: ForceOpt = False, json: JsonOpt = None,
    loop: LoopOpt = "asyncio", pg_dsn: DsnOpt = None, passes: PassesOpt = 1,
    workload_path: WorkloadsOpt = None, mysql_dsn: MysqlDsnOpt = None,
    tmpdir: TmpdirOpt = None, strict: StrictOpt = False, html: HtmlOpt = None,
    count: CountOpt = False, stalls: StallsOpt = False,
    stall_threshold: StallThresholdOpt = 10.0, rounds: RoundsOpt = None,
    min_effect: MinEffectOpt = None,
) -> None:
    """Run every workload (a workload whose peer is unavailable is reported as skipped)."""
    run_request(_request([], twin, scenario, profile, loop, pg_dsn, passes, workload_path,
                         mysql_dsn, tmpdir, count, stalls, stall_threshold, rounds,
                         min_effect), save, force, json, strict, html)


def show(path: Annotated[str, typer.Argument(help="A run file, or a label under results/.")],
         details: Annotated[bool, typer.Option(
             "--details", help="For a sweep, also every point's tables.")] = False) -> None:
    """Render a saved run (a sweep as its map)."""
    with bad_input_exits():
        run_file = load_run(resolve_run_path(path))
    render_run(run_file, console, details)
