"""The `bench` command (typer): parse, call the engine, render, pick the exit code.

Exit codes: 0 ok, 1 a benchmark failed (or, for `check`, a real regression), 2 bad input,
130 interrupted. Bad input is always one line on stderr, before anything is measured or written.

May import every other package: this is where the pipeline is assembled.
"""

from __future__ import annotations

import signal
import sys

import typer

from harness.cli.clean_cmds import clean
from harness.cli.compare_cmds import check, compare
from harness.cli.console import err
from harness.cli.profile_cmds import profile
from harness.cli.report_cmds import report
from harness.cli.run_cmds import list_workloads, run, run_all, show
from harness.cli.sweep_cmds import sweep

app = typer.Typer(
    help="Measure what moving I/O code from sync to async Python buys: every workload has a "
         "sync and an async twin, run against local peers and timed by pytest-benchmark.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
app.command("list")(list_workloads)
app.command()(run)
app.command("all")(run_all)
app.command()(sweep)
app.command()(show)
app.command()(compare)
app.command()(check)
app.command()(clean)
app.command()(report)
app.command()(profile)


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
