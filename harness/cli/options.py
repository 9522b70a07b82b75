"""Options shared by several `bench` commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

ProfileOpt = Annotated[str, typer.Option(
    "--profile", "-p", help="quick (smoke, <1 min) | default (rounds as the answer needs, "
                            "3-20) | full (5-40 rounds, large scenarios).")]
RoundsOpt = Annotated[int | None, typer.Option(
    "--rounds", metavar="N", help="Time every twin N rounds (3-1000) instead of as many as "
                                  "the answer needs (the profile's looks and caps).")]
MinEffectOpt = Annotated[str | None, typer.Option(
    "--min-effect", metavar="PCT",
    help="The smallest speedup worth calling (default 5%, or min-effect under "
         "[tool.twinbench]): a scenario is \"faster\"/\"slower\" only when its whole 95% "
         "interval lies beyond it, a \"tie\" when the whole interval lies within it, and "
         "\"cannot tell\" otherwise. Interleaved twins stop their rounds once that verdict "
         "is settled.")]
TwinOpt = Annotated[list[str] | None, typer.Option(
    "--twin", "-t", help="Only these twins (repeatable); see `bench list`.")]
ScenarioOpt = Annotated[list[str] | None, typer.Option(
    "--scenario", "-s", help="Only these scenarios (repeatable); see `bench list`.")]
SaveOpt = Annotated[str | None, typer.Option(
    "--save", help="Save the run as results/LABEL.json (pytest-benchmark JSON + metadata); "
                   "if interrupted, what finished goes to results/LABEL.partial.json.")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Overwrite an existing saved label (or its .partial), --json or --html "
                    "file.")]
# A str, not a Path: typer would turn '' into '.', and the error would name the wrong thing.
JsonOpt = Annotated[str | None, typer.Option(
    "--json", help="Also write the run file to this path (its directory must exist).")]
HtmlOpt = Annotated[str | None, typer.Option(
    "--html", help="Also write the report as one self-contained HTML page here: charts and "
                   "tables, opens offline (see `bench report`). Checked before anything runs; "
                   "an existing file is overwritten only with --force.")]
StrictOpt = Annotated[bool, typer.Option(
    "--strict", help="Fail (exit 1) if any benchmark warned, logged a warning or an error, or "
                     "raised an exception Python could only print (for CI).")]
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
WorkloadsOpt = Annotated[list[str] | None, typer.Option(
    "--workloads", "-w",
    help="Also load workloads from this module, .py file or directory (repeatable; also "
         "`workloads = [...]` under \\[tool.twinbench] in ./pyproject.toml).")]
MysqlDsnOpt = Annotated[str | None, typer.Option(
    "--mysql-dsn", envvar="TWINBENCH_MYSQL_DSN", show_envvar=True,
    help="Use this MariaDB/MySQL server, e.g. mysql://user:pw@host:3306/ or "
         "mysql://user@localhost/?unix_socket=/run/mysqld/mysqld.sock (only a private "
         "twinbench_* database is created there, and dropped at exit) instead of starting a "
         "throwaway one.")]
TmpdirOpt = Annotated[str | None, typer.Option(
    "--tmpdir", envvar="TWINBENCH_TMPDIR", show_envvar=True,
    help="Where file_io makes its private directory (default: a disk-backed temp dir, never "
         "a tmpfs; name a tmpfs here to measure one).")]
CountOpt = Annotated[bool, typer.Option(
    "--count",
    help="Also count what each client twin's operation costs, after the timed rounds: its "
         "instructions and system calls (its work run again in a worker under valgrind's "
         "callgrind, 3 rounds at 10% of the size) and the I/O it made (requests, connections, "
         "statements). Counts repeat to well under 1% where times scatter by 10-30%. Needs "
         "valgrind.")]
StallsOpt = Annotated[bool, typer.Option(
    "--stalls",
    help="Also record where each async twin held its event loop longer than the stall "
         "threshold: a watchdog thread samples the loop's Python stack while it is held, and "
         "the tables list the top 'blocking here' lines (the watchdog competes for the GIL, so "
         "it is off by default; lag, stall counts and leaked tasks are always measured).")]
StallThresholdOpt = Annotated[float, typer.Option(
    "--stall-threshold", metavar="MS",
    help="How long an async twin may hold its event loop before it counts as a stall "
         "(asyncio's debug mode warns at 100 ms).")]
