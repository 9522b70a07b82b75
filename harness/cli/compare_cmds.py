"""`bench compare` and `bench check`.

Every input is validated — formats, thresholds, run files, output paths — before anything is
measured, so a typo costs one line and exit 2, not a ten-minute run. Exit codes of `check`:
0 pass, 1 a significant regression beyond threshold or a failed twin, 2 bad input, 130 Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.analysis.compare import CompareResult, compare_runs
from harness.analysis.gate import GateResult, decide, extra_pairs, to_confirm
from harness.cli.clean_cmds import announce_reclaimed
from harness.cli.console import bad_input_exits, console, err, resolve_run_path
from harness.cli.options import (
    CountOpt,
    DsnOpt,
    ForceOpt,
    HtmlOpt,
    LoopOpt,
    MysqlDsnOpt,
    ProfileOpt,
    SaveOpt,
    ScenarioOpt,
    StrictOpt,
    TmpdirOpt,
    TwinOpt,
    WorkloadsOpt,
)
from harness.cli.progress import progress_for
from harness.cli.report_cmds import write_report
from harness.cli.run_cmds import strict_exit
from harness.config import Config, load_config, workload_sources
from harness.errors import BadInput
from harness.model.registry import Selection
from harness.render.compare import FORMATS, render_table, to_json, to_markdown
from harness.render.fmt import plain
from harness.render.html import compare_page
from harness.render.run import render_warnings
from harness.results.files import (
    check_outputs,
    load_run,
    output_path,
    save_run,
)
from harness.results.runfile import Run, parse_run
from harness.run import refs
from harness.run.ab import Side, SideFailed, count_ab, measure_ab
from harness.run.confirm import measure_and_confirm
from harness.run.count import CountFailed, check_can_count, with_counts
from harness.run.runner import RunRequest, check_passes, request_like

MODES = ("auto", "absolute", "ratio")
# ABBA pairs of rounds per benchmark in an interleaved check: about as many rounds as a plain
# default-profile run of the same selection on each side (see README "How good the gate is").
DEFAULT_PAIRS = 12
# The signed-rank test's smallest two-sided p is 2 / 2**n: below 0.01 from 8 pairs on.
MIN_PAIRS = 8

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
        result = judge(_load(base), _load(current), load_config(), mode, base, current)
    _emit(result, fmt)


def judge(base: Run, current: Run, config: Config, mode: str, base_name: str,
          current_name: str, estimate: bool = False) -> CompareResult:
    """The comparison `compare` and `check` make, every channel with its configuration."""
    return compare_runs(base, current, thresholds=config.thresholds, mode=mode,
                        base_name=base_name, current_name=current_name, estimate=estimate,
                        instructions=config.instructions, accept_io=config.io_accepted)


def check(
    workloads: Annotated[list[str] | None, typer.Argument(
        help="With --against: the workloads to measure (default: all).")] = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="The committed run to gate against (a path or a label).")] = None,
    against: Annotated[str | None, typer.Option(
        "--against", help="Gate against another version of this code: a git revision "
                          "(branch, tag, commit, e.g. origin/main), measured now beside the "
                          "working tree, round by round in ABBA order.")] = None,
    current_ref: Annotated[str | None, typer.Option(
        "--current-ref", help="With --against: measure this revision instead of the working "
                              "tree.")] = None,
    against_requirements: Annotated[list[str] | None, typer.Option(
        "--against-requirements",
        help="Gate the same code with other pins, e.g. 'aiohttp==3.10.11' (repeatable): "
             "what upgrading a library costs.")] = None,
    current: Annotated[str | None, typer.Option(
        "--current", help="A run to check; without it the baseline's benchmarks are run now "
                          "with its profile, loop and selection.")] = None,
    max_regression: Annotated[str | None, typer.Option(
        "--max-regression", help="Largest tolerated slowdown, e.g. 10% or 0.1 (default: "
                                 "\\[tool.twinbench] max-regression, else 10%). "
                                 "Per-benchmark thresholds in \\[tool.twinbench.thresholds] "
                                 "still apply.")
    ] = None,
    markdown: Annotated[str | None, typer.Option(
        "--markdown", help="Also write the report as markdown here (e.g. "
                           "\"$GITHUB_STEP_SUMMARY\").")] = None,
    json_path: Annotated[str | None, typer.Option(
        "--json", help="Write the run measured now to this path (pytest-benchmark JSON, "
                       "e.g. for github-action-benchmark's `pytest` tool); overwritten if "
                       "it exists; with --against, the current side's.")] = None,
    base_json: Annotated[str | None, typer.Option(
        "--base-json", help="With --against: write the base side's run here.")] = None,
    html: HtmlOpt = None,
    save: SaveOpt = None,
    force: ForceOpt = False,
    fmt: FormatOpt = "table",
    mode: ModeOpt = "auto",
    twin: TwinOpt = None,
    scenario: ScenarioOpt = None,
    profile: ProfileOpt = "default",
    loop: LoopOpt = "asyncio",
    pg_dsn: DsnOpt = None,
    passes: Annotated[int, typer.Option(
        "--passes",
        help="Passes over the benchmarks measured now (more passes: smaller detectable "
             "change, longer check).")] = 1,
    pairs: Annotated[int, typer.Option(
        "--pairs", help="With --against: ABBA pairs of rounds per benchmark (more: smaller "
                        "detectable change, longer check).")] = DEFAULT_PAIRS,
    confirm: Annotated[int, typer.Option(
        "--confirm",
        help="Extra passes (with --against: extra sets of --pairs pairs) of just the "
             "benchmarks that came out beyond their threshold, before any verdict is "
             "believed; 0 trusts the first measurement.")] = 2,
    extend: Annotated[float, typer.Option(
        "--extend", metavar="SECONDS",
        help="With --against: give the benchmarks still too noisy after --pairs to see a "
             "change at their threshold as many more pairs as their noise needs and this "
             "many seconds of their rounds pay for (cheap noisy benchmarks gain most); "
             "0: never.")] = 0.0,
    clean_cache: Annotated[bool, typer.Option(
        "--clean-cache", help="Remove the worktrees and virtualenvs --against keeps between "
                              "checks, and exit.")] = False,
    workload_path: WorkloadsOpt = None,
    mysql_dsn: MysqlDsnOpt = None,
    tmpdir: TmpdirOpt = None,
    strict: StrictOpt = False,
    count: CountOpt = False,
    timed: Annotated[bool, typer.Option(
        "--time/--no-time",
        help="With --count: --no-time gates on the counted channels only (instructions and "
             "I/O per operation), which takes a fraction of a timed check.")] = True,
    max_instructions_regression: Annotated[str | None, typer.Option(
        "--max-instructions-regression",
        help="With --count: largest tolerated increase of instructions per operation, e.g. "
             "2% (default: \\[tool.twinbench] max-instructions-regression, else 1%). "
             "A change of requests, connections or statements per operation fails the gate "
             "unless listed in \\[tool.twinbench] accept-io-changes.")] = None,
) -> None:
    """Gate on a baseline: exit 1 only on a significant slowdown beyond threshold."""
    # A failed twin also exits 1; every verdict is listed either way. Runs from different
    # machines are gated on in-run ratios (each twin against its scenario's sync twin).
    # --against measures both versions now, on this machine, interleaved round by round,
    # and gates on the pairs.
    with bad_input_exits():
        if clean_cache:
            for removed in refs.clean(_root_or_none()):
                err.print(f"removed {removed}", highlight=False)
            raise typer.Exit(0)
        _check_choices(fmt, mode)
        chosen = [n for n, v in (("--baseline", baseline), ("--against", against),
                                 ("--against-requirements", against_requirements)) if v]
        if len(chosen) != 1:
            raise BadInput("check against one thing: --baseline RUN, --against REF or "
                           "--against-requirements PIN" + (f" (not {' and '.join(chosen)})"
                                                           if chosen else ""))
        check_passes(passes)
        check_passes(confirm, "--confirm", least=0)
        if not 0 <= extend <= 3600:
            raise BadInput(f"--extend must be 0 to 3600 seconds, not {extend:g}")
        if not MIN_PAIRS <= pairs <= 1000:
            raise BadInput(f"--pairs must be {MIN_PAIRS} to 1000, not {pairs} (fewer pairs "
                           "can never be significant at alpha 0.01)")
        if not timed and not count:
            raise BadInput("--no-time leaves nothing to measure; add --count to gate on the "
                           "counted channels")
        if count and current is not None:
            raise BadInput("--count measures now; with --current nothing is measured (the "
                           "counts the two files hold are compared anyway)")
        if count:
            check_can_count()
        config = load_config(max_regression=max_regression,
                             max_instructions=max_instructions_regression)
        markdown_path = (output_path(markdown, "--markdown", force=False, overwrite=True)
                         if markdown is not None else None)
        html_path = output_path(html, "--html", force=force) if html is not None else None
        if baseline is None:
            if current is not None:
                raise BadInput("--current checks a saved run; with --against both sides are "
                               "measured now")
            selection = Selection(tuple(workloads or ()), tuple(twin or ()),
                                  tuple(scenario or ()))
            request = RunRequest(selection=selection, profile=profile, loop=loop,
                                 pg_dsn=pg_dsn, mysql_dsn=mysql_dsn, tmpdir=tmpdir,
                                 sources=tuple(workload_path or ()))
            outputs = _ab_outputs(save, json_path, base_json, force)
            announce_reclaimed(pg_dsn)
            request = replace(request, count=count, timed=timed)
            result = _against(request, against, current_ref, tuple(against_requirements or ()),
                              config, mode, pairs, confirm, outputs, extend)
        else:
            if workloads or twin or scenario or current_ref or base_json or save or extend:
                raise BadInput("--baseline re-runs what the baseline measured; workloads, "
                               "--twin, --scenario, --current-ref, --base-json, --save and "
                               "--extend go with --against")
            result = _against_baseline(baseline, current, config, mode, pg_dsn, passes,
                                       confirm, json_path, workload_path, mysql_dsn, tmpdir,
                                       count, timed)
        gate = decide(result, config.thresholds)
    _emit(result, fmt, gate)
    if markdown_path is not None:
        markdown_path.write_text(to_markdown(result, gate))
    write_report(html_path, lambda: compare_page(result, gate))
    render_warnings(result.current, err)
    raise typer.Exit(max(gate.exit_code, strict_exit(result.current, strict)))


def _root_or_none() -> Path | None:
    try:
        return refs.project_root()
    except BadInput:
        return None


def _against_baseline(baseline: str, current: str | None, config: Config, mode: str,
                      pg_dsn: str | None, passes: int, confirm: int, json_path: str | None,
                      workload_path: list[str] | None, mysql_dsn: str | None,
                      tmpdir: str | None, count: bool = False, timed: bool = True
                      ) -> CompareResult:
    base_run = _load(baseline)
    if json_path is not None and current is not None:
        raise BadInput("--json saves the run measured now; with --current nothing is "
                       "measured")
    out = check_outputs(json_path=json_path, force=True).json

    def against_baseline(run: Run, name: str = "measured now",
                         estimate: bool = False) -> CompareResult:
        return judge(base_run, run, config, mode, baseline, name, estimate)

    if current is not None:
        return against_baseline(_load(current), current)
    request = replace(request_like(base_run.meta, pg_dsn, passes,
                                   workload_sources(workload_path, config),
                                   mysql_dsn=mysql_dsn, tmpdir=tmpdir),
                      count=count, timed=timed)
    announce_reclaimed(pg_dsn)
    return _measure(request, against_baseline, confirm, out)


def _ab_outputs(save: str | None, json_path: str | None, base_json: str | None,
                force: bool) -> dict[str, list[Path]]:
    """Where each side's run file goes (--save LABEL writes LABEL.json and LABEL.base.json),
    checked before anything is measured."""
    # --json/--base-json are overwritten (as with --baseline: CI reruns write them again);
    # saved labels only with --force.
    current = check_outputs(save=save, json_path=json_path, force=force, json_force=True)
    base = check_outputs(save=f"{save}.base" if save else None, json_path=base_json,
                         force=force, json_force=True)
    out: dict[str, list[Path]] = {
        "current": [p for p in (current.target, current.json) if p is not None],
        "base": [p for p in (base.target, base.json) if p is not None]}
    if len({p.resolve() for paths in out.values() for p in paths}) < sum(map(len, out.values())):
        raise BadInput("--json, --base-json and --save would write the same file")
    return out


def _against(request: RunRequest, against: str | None, current_ref: str | None,
             pins: tuple[str, ...], config: Config, mode: str, pairs: int,
             confirm: int, outputs: dict[str, list[Path]], extend: float = 0.0
             ) -> CompareResult:
    root = refs.project_root()
    if against is not None:
        sha = refs.resolve(root, against)
        base = refs.side_at("base", root, sha, f"{against} ({sha[:10]})", root)
        if current_ref is not None:
            sha2 = refs.resolve(root, current_ref)
            current = refs.side_at("current", root, sha2, f"{current_ref} ({sha2[:10]})", root)
        else:
            current = refs.side_here("current", root, "the working tree")
    else:
        if current_ref is not None:
            raise BadInput("--current-ref goes with --against")
        base = refs.side_here("base", root, "the installed requirements")
        current = refs.side_here("current", root, "with " + ", ".join(pins), pins)

    def compare(b: Run, c: Run, estimate: bool = False) -> CompareResult:
        return judge(b, c, config, mode, base.label, current.label, estimate)

    def suspects(b: Run, c: Run) -> tuple[tuple[str, ...], str]:
        return to_confirm(compare(b, c, estimate=True))  # point estimates: no scipy here

    def more_pairs(b: Run, c: Run) -> tuple[dict[str, int], str]:
        return extra_pairs(compare(b, c, estimate=True), b, c, seconds=extend)

    def on_end(side: str, event: dict[str, Any]) -> None:
        if side == "current" or event.get("outcome") != "passed":
            detail = f" ({event.get('detail')})" if event.get("detail") else ""
            err.print(f"{side}: {event['case']}: {event['outcome']}{detail}", highlight=False,
                      markup=False)

    runs: tuple[Run, Run] | None = None
    if request.timed:
        more = f" (noisy ones: up to {extend:g} s more)" if extend else ""
        err.print(f"measuring {base.label} against {current.label}, interleaved: {pairs} ABBA "
                  f"pairs of rounds per benchmark{more}, profile {request.profile}, "
                  f"workloads {', '.join(request.selection.workloads) or 'all'}",
                  highlight=False)
        with _both_sides():
            measured = measure_ab(base, current, replace(request, count=False), pairs=pairs,
                                  warmup=1, confirm=confirm, suspects=suspects,
                                  extend=more_pairs if extend else None, on_end=on_end,
                                  announce=lambda text: err.print(text, highlight=False))
        if measured is None or measured.interrupted:
            err.print("[yellow]interrupted: nothing was checked[/]")
            raise typer.Exit(130)
        for warning in measured.warnings:
            err.print(f"[yellow]warning:[/] {warning}", highlight=False, markup=False)
        runs = (measured.base, measured.current)
    if request.count:
        runs = _count_both(base, current, request, runs, on_end)
    assert runs is not None
    for side, run in (("base", runs[0]), ("current", runs[1])):
        for path in outputs[side]:
            err.print(f"wrote {plain(save_run(run.doc, path, force=True, make_dir=True))}",
                      highlight=False)
    return compare(*runs)


@contextmanager
def _both_sides() -> Iterator[None]:
    """Ctrl-C, or a side that cannot run, ends a check the same way at any stage."""
    try:
        yield
    except KeyboardInterrupt:
        err.print("[yellow]interrupted; both sides stopped[/]")
        raise typer.Exit(130) from None
    except (SideFailed, CountFailed) as exc:
        err.print(f"[red]error:[/] {plain(exc)}", highlight=False)
        raise typer.Exit(1) from None


def _count_both(base: Side, current: Side, request: RunRequest, timed: tuple[Run, Run] | None,
                on_end: Callable[[str, dict[str, Any]], None]) -> tuple[Run, Run]:
    """Both sides counted at once (harness.run.ab.count_ab), into their timed runs or, with
    --no-time, as runs of their own."""
    err.print(f"counting {base.label} and {current.label} under valgrind, side by side: "
              f"profile {request.profile}, workloads "
              f"{', '.join(request.selection.workloads) or 'all'}", highlight=False)
    with _both_sides():
        counted = count_ab(base, current, request, on_end=on_end)
    if any(c.interrupted for c in counted):
        err.print("[yellow]interrupted: nothing was checked[/]")
        raise typer.Exit(130)
    out = []
    for index, (side, got) in enumerate(zip((base, current), counted, strict=True)):
        for warning in got.warnings:
            err.print(f"[yellow]warning:[/] {side.name}: {warning}", highlight=False,
                      markup=False)
        doc = with_counts(timed[index].doc if timed else None, got)
        if doc is None:
            err.print(f"[red]error:[/] the {side.name} side ({plain(side.label)}) counted "
                      "nothing" + (f": {plain(got.warnings[0])}" if got.warnings else ""),
                      highlight=False)
            raise typer.Exit(1)
        out.append(parse_run(doc, allow_empty=True))
    return out[0], out[1]


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
        err.print(f"[yellow]warning:[/] {plain(warning)}", highlight=False)
    if outcome.interrupted:
        err.print("[yellow]interrupted: nothing was checked[/]")
        raise typer.Exit(130)
    if outcome.run is None:
        err.print("[red]no benchmark produced a result[/]")
        raise typer.Exit(1)
    if json_path is not None:
        err.print(f"wrote {plain(save_run(outcome.run.doc, json_path, force=True))}",
                  highlight=False)
    return against_baseline(outcome.run)
