"""The `bench` command (typer): parse, call the engine, render, pick the exit code.

Exit codes: 0 ok, 1 a benchmark failed (or, for `check`, a real regression), 2 bad input,
130 interrupted. Bad input is always one line on stderr, before anything is measured or written.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli_compare import check, compare
from harness.console import bad_input_exits, console, err, resolve_run_path
from harness.errors import BadInput
from harness.plugin import PROFILES
from harness.progress import RichProgress
from harness.registry import Selection, discover
from harness.report import describe_params, render_run
from harness.results import label_path, load_run, save_run
from harness.runner import RunRequest, RunResult, check_loop, execute, profile_named

app = typer.Typer(
    help="Measure what moving I/O code from sync to async Python buys: every workload has a "
         "sync and an async twin, run against local peers and timed by pytest-benchmark.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
ProfileOpt = Annotated[str, typer.Option(
    "--profile", "-p", help="quick (smoke, <1 min) | default (10 rounds) | full (20 rounds, "
                            "large scenarios).")]
TwinOpt = Annotated[list[str] | None, typer.Option(
    "--twin", "-t", help="Only these twins (repeatable); see `bench list`.")]
ScenarioOpt = Annotated[list[str] | None, typer.Option(
    "--scenario", "-s", help="Only these scenarios (repeatable); see `bench list`.")]
SaveOpt = Annotated[str | None, typer.Option(
    "--save", help="Save the run as results/LABEL.json (pytest-benchmark JSON + metadata).")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Overwrite an existing saved label or --json file.")]
JsonOpt = Annotated[Path | None, typer.Option(
    "--json", help="Also write the run file to this path.")]
LoopOpt = Annotated[str, typer.Option(
    "--loop", help="Event loop for async twins: asyncio | uvloop.")]
PassesOpt = Annotated[int, typer.Option(
    "--passes",
    help="Run the whole selection this many times over and merge the passes into one run. "
         "A benchmark's passes are minutes apart, so their spread is the run-to-run noise "
         "`bench check` gates against (record baselines with 3 or more).")]
DsnOpt = Annotated[str | None, typer.Option(
    "--pg-dsn", envvar="TWINBENCH_PG_DSN", show_envvar=True,
    help="Use this PostgreSQL server (only a private twinbench_* schema is touched) instead "
         "of starting a throwaway one.")]


def _run(selection: Selection, profile: str, save: str | None, force: bool,
         json_path: Path | None, loop: str, pg_dsn: str | None, passes: int) -> None:
    with bad_input_exits():
        profile_named(profile)
        check_loop(loop)
        target = label_path(save) if save else None
        for path in (target, json_path):
            if path is not None and path.exists() and not force:
                raise BadInput(f"{path} exists; pass --force to overwrite it")
        request = RunRequest(selection=selection, profile=profile, loop=loop, pg_dsn=pg_dsn,
                             passes=passes)
        try:
            with RichProgress(console) as progress:
                result = execute(request, progress)
        except KeyboardInterrupt:
            err.print("[yellow]interrupted; peers stopped[/]")
            raise typer.Exit(130) from None
    _finish(result, target, force, json_path)


def _finish(result: RunResult, target: Path | None, force: bool, json_path: Path | None) -> None:
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
    if result.interrupted:
        err.print("[yellow]interrupted: the table shows what finished[/]")
    raise typer.Exit(result.exit_code)


@app.command("list")
def list_workloads() -> None:
    """List workloads, their twins and scenarios."""
    for workload in discover().values():
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


@app.command()
def run(
    workloads: Annotated[list[str], typer.Argument(help="Workloads to run (see `bench list`).")],
    twin: TwinOpt = None, scenario: ScenarioOpt = None, profile: ProfileOpt = "default",
    save: SaveOpt = None, force: ForceOpt = False, json: JsonOpt = None,
    loop: LoopOpt = "asyncio", pg_dsn: DsnOpt = None, passes: PassesOpt = 1,
) -> None:
    """Run the named workloads and print a table per scenario."""
    selection = Selection(tuple(workloads), tuple(twin or ()), tuple(scenario or ()))
    _run(selection, profile, save, force, json, loop, pg_dsn, passes)


@app.command("all")
def run_all(
    twin: TwinOpt = None, scenario: ScenarioOpt = None, profile: ProfileOpt = "default",
    save: SaveOpt = None, force: ForceOpt = False, json: JsonOpt = None,
    loop: LoopOpt = "asyncio", pg_dsn: DsnOpt = None, passes: PassesOpt = 1,
) -> None:
    """Run every workload (a workload whose peer is unavailable is reported as skipped)."""
    selection = Selection((), tuple(twin or ()), tuple(scenario or ()))
    _run(selection, profile, save, force, json, loop, pg_dsn, passes)


@app.command()
def show(path: Annotated[str, typer.Argument(help="A run file, or a label under results/.")]
         ) -> None:
    """Render a saved run."""
    with bad_input_exits():
        run_file = load_run(resolve_run_path(path))
    render_run(run_file, console)


app.command()(compare)
app.command()(check)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # A parent shell may start us with SIGINT ignored (background jobs); Ctrl-C must still stop
    # a run cleanly, and so must a SIGTERM from a CI runner: both unwind and stop the peers.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        app()
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
