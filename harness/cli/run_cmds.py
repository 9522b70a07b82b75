"""`bench run`, `bench all`, `bench list` and `bench show`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli.console import bad_input_exits, console, err, resolve_run_path, workload_sources
from harness.cli.options import (
    DsnOpt,
    ForceOpt,
    HtmlOpt,
    JsonOpt,
    LoopOpt,
    PassesOpt,
    ProfileOpt,
    SaveOpt,
    ScenarioOpt,
    TwinOpt,
    WorkloadsOpt,
)
from harness.cli.progress import progress_for
from harness.cli.report_cmds import check_output, write_report
from harness.errors import BadInput
from harness.model.registry import Selection, discover
from harness.render.fmt import describe_params
from harness.render.html import run_page
from harness.render.run import render_run
from harness.results.files import label_path, load_run, save_run
from harness.run.profiles import PROFILES, check_loop, profile_named
from harness.run.runner import RunRequest, RunResult, execute


def _request(workloads: list[str], twins: list[str] | None, scenarios: list[str] | None,
             profile: str, loop: str, pg_dsn: str | None, passes: int,
             workload_path: list[str] | None) -> RunRequest:
    with bad_input_exits():
        sources = workload_sources(workload_path)
    selection = Selection(tuple(workloads), tuple(twins or ()), tuple(scenarios or ()))
    return RunRequest(selection=selection, profile=profile, loop=loop, pg_dsn=pg_dsn,
                      passes=passes, sources=sources)


def run_request(request: RunRequest, save: str | None, force: bool, json_path: Path | None,
                html: Path | None = None) -> None:
    """Measure, render, save, exit: what `run`, `all` and `sweep` share."""
    with bad_input_exits():
        profile_named(request.profile)
        check_loop(request.loop)
        target = label_path(save) if save else None
        for path in (target, json_path):
            if path is not None and path.exists() and not force:
                raise BadInput(f"{path} exists; pass --force to overwrite it")
        check_output(html, force)
        try:
            with progress_for(console, err) as progress:
                result = execute(request, progress)
        except KeyboardInterrupt:
            err.print("[yellow]interrupted; peers stopped[/]")
            raise typer.Exit(130) from None
    _finish(result, target, force, json_path, html)


def _finish(result: RunResult, target: Path | None, force: bool, json_path: Path | None,
            html: Path | None) -> None:
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    run = result.run
    if run is None:
        err.print("[red]no benchmark produced a result[/]")
        raise typer.Exit(result.exit_code or 1)
    render_run(run, console)
    if target is not None:
        if result.interrupted:  # keep a partial run, but never under the label itself
            target = target.with_name(target.stem + ".partial.json")
            force = True
        path = save_run(run.doc, target, force=force)
        console.print(f"saved [bold]{path}[/]")
    if json_path is not None:
        console.print(f"wrote [bold]{save_run(run.doc, json_path, force=force)}[/]")
    # Last: a report that fails to render cannot cost the run, which is saved by now.
    name = target.stem if target is not None else json_path.name if json_path else "this run"
    write_report(html, lambda: run_page(name, run))
    if result.interrupted:
        err.print("[yellow]interrupted: the table shows what finished[/]")
    raise typer.Exit(result.exit_code)


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
        twins = ", ".join(f"{t.name} [dim]({t.kind})[/]" for t in workload.twins)
        peers = ", ".join(workload.peers) or "none"
        console.print(f"  twins: {twins}\n  peers: {peers}\n")
    console.print("profiles: " + "; ".join(f"[bold]{p.name}[/] {p.description}"
                                           for p in PROFILES.values()))


def run(
    workloads: Annotated[list[str], typer.Argument(help="Workloads to run (see `bench list`).")],
    twin: TwinOpt = None, scenario: ScenarioOpt = None, profile: ProfileOpt = "default",
    save: SaveOpt = None, force: ForceOpt = False, json: JsonOpt = None,
    loop: LoopOpt = "asyncio", pg_dsn: DsnOpt = None, passes: PassesOpt = 1,
    workload_path: WorkloadsOpt = None, html: HtmlOpt = None,
) -> None:
    """Run the named workloads and print a table per scenario."""
    run_request(_request(workloads, twin, scenario, profile, loop, pg_dsn, passes, workload_path),
         save, force, json, html)


def run_all(
    twin: TwinOpt = None, scenario: ScenarioOpt = None, profile: ProfileOpt = "default",
    save: SaveOpt = None, force: ForceOpt = False, json: JsonOpt = None,
    loop: LoopOpt = "asyncio", pg_dsn: DsnOpt = None, passes: PassesOpt = 1,
    workload_path: WorkloadsOpt = None, html: HtmlOpt = None,
) -> None:
    """Run every workload (a workload whose peer is unavailable is reported as skipped)."""
    run_request(_request([], twin, scenario, profile, loop, pg_dsn, passes, workload_path),
         save, force, json, html)


def show(path: Annotated[str, typer.Argument(help="A run file, or a label under results/.")],
         details: Annotated[bool, typer.Option(
             "--details", help="For a sweep, also every point's tables.")] = False) -> None:
    """Render a saved run (a sweep as its map)."""
    with bad_input_exits():
        run_file = load_run(resolve_run_path(path))
    render_run(run_file, console, details)
