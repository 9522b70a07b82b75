"""Options shared by several `bench` commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
    "--force", help="Overwrite an existing saved label, --json or --html file.")]
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
WorkloadsOpt = Annotated[list[str] | None, typer.Option(
    "--workloads", "-w",
    help="Also load workloads from this module, .py file or directory (repeatable; also "
         "`workloads = [...]` under [tool.twinbench] in ./pyproject.toml).")]
HtmlOpt = Annotated[Path | None, typer.Option(
    "--html", help="Also write the report as one self-contained HTML page here: charts and "
                   "tables, opens offline (see `bench report`). Checked before anything runs; "
                   "an existing file is overwritten only with --force.")]
