"""`bench profile`: where one benchmark's timed rounds spend their time, function by function."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from harness.cli.console import bad_input_exits, console, err
from harness.cli.options import (
    DsnOpt,
    ForceOpt,
    LoopOpt,
    MysqlDsnOpt,
    ProfileOpt,
    TmpdirOpt,
    WorkloadsOpt,
)
from harness.cli.progress import progress_for
from harness.config import workload_sources
from harness.errors import BadInput
from harness.model.registry import Selection, discover, select
from harness.render.fmt import fmt_seconds, plain
from harness.render.run import render_outcomes
from harness.results.files import output_path
from harness.run.profiler import CLOCKS, FORMATS, FunctionCost, profiling
from harness.run.profiles import profile_named
from harness.run.runner import RunRequest, execute


def _table(title: str, rows: list[FunctionCost]) -> Table:
    table = Table(title=title, title_justify="left")
    for header in ("function", "where", "calls", "own", "total"):
        table.add_column(header, justify="right" if header in ("calls", "own", "total")
                         else "left", overflow="fold")
    for row in rows:
        table.add_row(plain(row.name), plain(row.where), f"{row.calls:,}",
                      fmt_seconds(row.own_s), fmt_seconds(row.total_s))
    return table


def profile(
    workload: Annotated[str, typer.Argument(help="The workload (see `bench list`).")],
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Its scenario.")],
    twin: Annotated[str, typer.Option("--twin", "-t", help="Its twin.")],
    profile: ProfileOpt = "default",
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Also save the profile here, for snakeviz / python -m pstats "
                               "(--format pstat) or KCachegrind (--format callgrind).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="pstat | callgrind")] = "pstat",
    clock: Annotated[str, typer.Option(
        "--clock", help="cpu (what each function cost) | wall (where the time went, waits "
                        "included)")] = "cpu",
    top: Annotated[int, typer.Option("--top", help="Functions listed per table.")] = 15,
    force: ForceOpt = False, loop: LoopOpt = "asyncio", pg_dsn: DsnOpt = None,
    mysql_dsn: MysqlDsnOpt = None, tmpdir: TmpdirOpt = None,
    workload_path: WorkloadsOpt = None,
) -> None:
    """Profile one benchmark's timed rounds (not set-up, warm-up or resets) with yappi, which
    sees every thread of a thread-pool twin and tells coroutines apart, and print its
    costliest functions by own and by cumulative time."""
    with bad_input_exits():
        if fmt not in FORMATS:
            raise BadInput(f"unknown format {fmt!r}; choose from: {', '.join(FORMATS)}")
        if clock not in CLOCKS:
            raise BadInput(f"unknown clock {clock!r}; choose from: {', '.join(CLOCKS)}")
        if not 1 <= top <= 500:
            raise BadInput(f"--top must be 1 to 500, not {top}")
        out = output_path(output, "--output", force=force) if output is not None else None
        chosen = profile_named(profile)
        sources = workload_sources(workload_path)
        registry = discover(sources, wanted=(workload,))
        selection = Selection((workload,), (twin,), (scenario,))
        cases = select(registry, selection, chosen.name)
        if not cases:
            raise BadInput(f"{workload} has no scenario {scenario!r} in profile {profile!r}; "
                           "try --profile full")
        request = RunRequest(selection=selection, profile=profile, loop=loop, pg_dsn=pg_dsn,
                             mysql_dsn=mysql_dsn, tmpdir=tmpdir, sources=sources)
    try:
        with profiling(clock) as profiler, progress_for(err) as progress:
            result = execute(request, progress, profiler=profiler)
            if result.run is None or not result.run.benchmarks:
                render_outcomes(result.outcomes.values(), err)
                raise typer.Exit(result.exit_code or 1)
            label = cases[0].twin.describe(result.run.benchmarks[0].params)
            console.print(f"[bold]{plain(cases[0].id)}[/]: yappi, {clock} clock, "
                          f"{profiler.rounds} timed round(s) of {plain(label)}",
                          highlight=False)
            console.print(_table("by own time (in the function itself)",
                                 profiler.top(top, "own")))
            console.print(_table("by total time (with everything it called)",
                                 profiler.top(top, "total")))
            if out is not None:
                profiler.save(out, fmt)
                console.print(f"wrote [bold]{plain(out)}[/] ({fmt})")
    except KeyboardInterrupt:
        err.print("[yellow]interrupted; peers stopped[/]")
        raise typer.Exit(130) from None
