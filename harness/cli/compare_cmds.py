"""`bench compare` and `bench check`.

Every input is validated — formats, thresholds, run files, output paths — before anything is
measured, so a typo costs one line and exit 2, not a ten-minute run. Exit codes of `check`:
0 pass, 1 a significant regression beyond threshold or a failed twin, 2 bad input, 130 Ctrl-C.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from harness.analysis.compare import CompareResult, compare_runs
from harness.analysis.gate import GateResult, decide, to_confirm
from harness.cli.console import bad_input_exits, console, err, resolve_run_path, workload_sources
from harness.cli.options import HtmlOpt, WorkloadsOpt
from harness.cli.progress import progress_for
from harness.cli.report_cmds import check_output, write_report
from harness.config import load_config
from harness.errors import BadInput
from harness.render.compare import FORMATS, render_table, to_json, to_markdown
from harness.render.html import compare_page
from harness.results.files import load_run, save_run
from harness.results.runfile import Run
from harness.run.confirm import measure_and_confirm
from harness.run.runner import RunRequest, request_like

MODES = ("auto", "absolute", "ratio")

FormatOpt = Annotated[str, typer.Option(
    "--format", "-f", help="table | markdown (GitHub-flavoured) | json (stable keys).")]
ModeOpt = Annotated[str, typer.Option(
    "--mode", help="What verdicts are based on: auto (absolute times on the same machine, "
                   "in-run async/sync ratios across machines) | absolute | ratio.")]
RunArg = Annotated[str, typer.Argument(help="A run file, or a label under results/.")]


def _check_choices(fmt: str, mode: str) -> None:
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r}; choose from: {', '.join(FORMATS)}")
    if mode not in MODES:
        raise BadInput(f"unknown mode {mode!r}; choose from: {', '.join(MODES)}")


def _load(ref: str) -> Run:
    return load_run(resolve_run_path(ref))


def _writable(path: Path, what: str) -> None:
    """Refuse an output path up front rather than after the benchmarks have run."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise BadInput(f"{what} {path}: is a directory")
    if not parent.is_dir():
        raise BadInput(f"{what} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadInput(f"{what} {path}: not writable")


def _emit(result: CompareResult, fmt: str, gate: GateResult | None = None) -> None:
    if fmt == "json":
        typer.echo(to_json(result, gate))
    elif fmt == "markdown":
        typer.echo(to_markdown(result, gate))
    else:
        render_table(result, console, gate)


def compare(base: RunArg, current: RunArg, fmt: FormatOpt = "table",
            mode: ModeOpt = "auto") -> None:
    """Compare two runs benchmark by benchmark: medians, change, 95% CI, verdict."""
    # Also each run's async-over-best-sync speedup and how it moved, and benchmarks present in
    # one run only (added / removed). Always exits 0: gating is `bench check`'s job.
    with bad_input_exits():
        _check_choices(fmt, mode)
        thresholds = load_config().thresholds
        result = compare_runs(_load(base), _load(current), thresholds=thresholds, mode=mode,
                              base_name=base, current_name=current)
    _emit(result, fmt)


def check(
    baseline: Annotated[str, typer.Option(
        "--baseline", help="The committed run to gate against (a path or a label).")],
    current: Annotated[str | None, typer.Option(
        "--current", help="A run to check; without it the baseline's benchmarks are run now "
                          "with its profile, loop and selection.")] = None,
    max_regression: Annotated[str | None, typer.Option(
        "--max-regression", help="Largest tolerated slowdown, e.g. 10% or 0.1 (default: "
                                 "\\[tool.twinbench] max-regression, else 10%). "
                                 "Per-benchmark thresholds in \\[tool.twinbench.thresholds] "
                                 "still apply.")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(
        "--markdown", help="Also write the report as markdown here (e.g. "
                           "\"$GITHUB_STEP_SUMMARY\").")] = None,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="Write the run measured now to this path (pytest-benchmark JSON, "
                       "e.g. for github-action-benchmark's `pytest` tool).")] = None,
    html: HtmlOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --html file.")
                     ] = False,
    fmt: FormatOpt = "table",
    mode: ModeOpt = "auto",
    pg_dsn: Annotated[str | None, typer.Option(
        "--pg-dsn", envvar="TWINBENCH_PG_DSN", show_envvar=True,
        help="PostgreSQL server to use instead of a throwaway one.")] = None,
    passes: Annotated[int, typer.Option(
        "--passes",
        help="Passes over the benchmarks measured now (more passes: smaller detectable "
             "change, longer check).")] = 1,
    confirm: Annotated[int, typer.Option(
        "--confirm",
        help="Extra passes of just the benchmarks that came out beyond their threshold, "
             "before any verdict is believed; 0 trusts the first measurement.")] = 2,
    workload_path: WorkloadsOpt = None,
) -> None:
    """Gate on a baseline run: exit 1 only on a significant slowdown beyond threshold."""
    # A failed twin also exits 1; every verdict is listed either way. Runs from different
    # machines are gated on in-run ratios (each twin against its scenario's sync twin).
    with bad_input_exits():
        _check_choices(fmt, mode)
        if passes < 1 or confirm < 0:
            raise BadInput(f"--passes must be at least 1 and --confirm at least 0, not "
                           f"{passes} and {confirm}")
        config = load_config(max_regression=max_regression)
        thresholds = config.thresholds
        base_run = _load(baseline)
        if markdown is not None:
            _writable(markdown, "--markdown")
        if json_path is not None:
            if current is not None:
                raise BadInput("--json saves the run measured now; with --current nothing "
                               "is measured")
            _writable(json_path, "--json")
        check_output(html, force)

        def against_baseline(run: Run, name: str = "measured now",
                             estimate: bool = False) -> CompareResult:
            return compare_runs(base_run, run, thresholds=thresholds, mode=mode,
                                base_name=baseline, current_name=name, estimate=estimate)

        if current is not None:
            result = against_baseline(_load(current), current)
        else:
            request = request_like(base_run.meta, pg_dsn, passes,
                                   workload_sources(workload_path, config))
            result = _measure(request, against_baseline, confirm, json_path)
        gate = decide(result, thresholds)
    _emit(result, fmt, gate)
    if markdown is not None:
        markdown.write_text(to_markdown(result, gate))
    write_report(html, lambda: compare_page(result, gate))
    raise typer.Exit(gate.exit_code)


def _measure(request: RunRequest, against_baseline: Callable[..., CompareResult],
             confirm: int, json_path: Path | None) -> CompareResult:
    err.print(f"measuring now: profile {request.profile}, loop {request.loop}, "
              f"{request.passes} pass(es), workloads "
              f"{', '.join(request.selection.workloads) or 'all'}", highlight=False)

    def announce(text: str) -> None:
        err.print(text, highlight=False)

    def suspects(run: Run) -> tuple[tuple[str, ...], str]:
        # Point estimates only: more passes follow, and scipy stays out of this process.
        return to_confirm(against_baseline(run, estimate=True))

    try:
        with progress_for(err) as progress:  # stderr: stdout may be JSON or markdown
            outcome = measure_and_confirm(request, suspects, confirm=confirm,
                                          listener=progress, announce=announce)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted; peers stopped[/]")
        raise typer.Exit(130) from None
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if outcome.interrupted:
        err.print("[yellow]interrupted: nothing was checked[/]")
        raise typer.Exit(130)
    if outcome.run is None:
        err.print("[red]no benchmark produced a result[/]")
        raise typer.Exit(1)
    if json_path is not None:
        err.print(f"wrote {save_run(outcome.run.doc, json_path, force=True)}", highlight=False)
    return against_baseline(outcome.run)
