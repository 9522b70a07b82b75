"""One run in the terminal: a table per scenario, the verdict line, peers, outcomes, warnings.

Every text that comes from the run file goes through `plain` (harness.render.fmt): a file
must not be able to colour, move or clear the terminal, nor crash rich with markup."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.analysis.summary import BUSY_WARNING, ScenarioSummary, busiest, summarize
from harness.render.fmt import (
    describe_params,
    fmt_metric,
    fmt_percent,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    plain,
)
from harness.results.runfile import Outcome, Run


def verdict_line(summary: ScenarioSummary) -> str:
    """The best async twin against the best sync twin, losing or winning."""
    speedup = summary.async_speedup
    if speedup is None or summary.best_sync is None or summary.best_async is None:
        return "no verdict: this scenario needs a sync and an async twin that did all the work"
    where = describe_params(summary.params)
    if summary.judged_by:
        better, worse = f"lower {summary.judged_by}", f"higher {summary.judged_by}"
    else:
        better, worse = "faster", "slower"
    how = f"{speedup:.2f}x {better}" if speedup >= 1 else f"{1 / speedup:.2f}x {worse}"
    return (f"{summary.best_async.label} is {how} than the best sync twin "
            f"({summary.best_sync.label}) at {where}")


def _table(title: str, headers: list[str], rows: list[list[str]], bold: list[bool],
           text_columns: int) -> Table:
    """A table without the columns that have nothing to say (all "—"); the first
    `text_columns` are names, the rest right-aligned numbers."""
    table = Table(title=plain(title), title_justify="left")
    keep = [i for i in range(len(headers)) if i < 1 or any(cells[i] != "—" for cells in rows)]
    for i in keep:
        table.add_column(plain(headers[i]), justify="left" if i < text_columns else "right",
                         no_wrap=True)
    for cells, strong in zip(rows, bold, strict=True):
        table.add_row(*(plain(cells[i]) for i in keep), style="bold green" if strong else None)
    return table


def scenario_tables(summary: ScenarioSummary, metrics: Sequence[dict[str, str]] = ()
                    ) -> list[Table]:
    """The timing table (best sync and best async in bold) and, for workloads that declare
    metrics (latency percentiles, memory...), a second table of those, so neither is too wide
    to read. Columns with nothing to say (no sequential twin, no latency) are left out."""
    judged = f" (judged by {summary.judged_by})" if summary.judged_by else ""
    title = (f"{summary.workload} · {summary.scenario} — {describe_params(summary.params)}"
             f"{judged}")
    bold = [row.record is summary.best_async or row.record is summary.best_sync
            for row in summary.rows]
    timing = [[r.record.twin, r.record.kind, fmt_seconds(r.record.median),
               fmt_seconds(r.record.iqr), fmt_percent(r.record.pass_spread),
               fmt_rate(r.record.ops_per_s),
               fmt_ratio(r.vs_sequential), fmt_ratio(r.vs_best_sync),
               fmt_percent(r.record.efficiency)] for r in summary.rows]
    tables = [_table(title, ["twin", "kind", "median", "IQR", "pass spread", "ops/s", "vs seq",
                             "vs best sync", "eff. vs ideal"], timing, bold, text_columns=2)]
    if metrics:
        measured = [[r.record.twin, *(fmt_metric(r.record.extra.get(m["key"]),
                                                 m.get("unit", "count")) for m in metrics)]
                    for r in summary.rows]
        tables.append(_table(f"  {summary.scenario}: measured at the client and the server",
                             ["twin", *(m["header"] for m in metrics)], measured, bold,
                             text_columns=1))
    return tables


def peer_lines(run: Run) -> list[str]:
    """Each peer's capacity and how busy it was: evidence it did not set the pace."""
    lines = []
    for name, info in sorted(run.meta.get("peers", {}).items()):
        if not isinstance(info, dict):
            continue
        if name == "http" and info.get("capacity_rps"):
            per_cpu = info.get("capacity_per_cpu_s")
            lines.append(f"HTTP peer capacity at L=0: {fmt_rate(info['capacity_rps'])} req/s to "
                         "one load process"
                         + (f", {fmt_rate(per_cpu)} req per CPU-second of the peer" if per_cpu
                            else ""))
        elif info.get("summary"):
            lines.append(f"{plain(name)}: {plain(info['summary'])}")
        busy, record = busiest(run, name)
        if record is not None:
            warn = ("  [bold red]near saturation: the peer may have set the pace[/]"
                    if busy > BUSY_WARNING else "")
            lines.append(f"  {plain(name)} peer was at most {busy:.0%} busy (one core = 100%), "
                         f"during {plain(record.key)}{warn}")
    return lines


def render_run(run: Run, console: Console) -> None:
    meta = run.meta
    git = meta.get("git") or {}
    machine = meta.get("machine") or {}
    passes = int(meta.get("passes") or 1)
    console.print(
        f"[bold]twinbench[/] profile [cyan]{plain(meta.get('profile'))}[/], loop "
        f"{plain(meta.get('loop'))}, "
        + (f"{passes} passes, " if passes > 1 else "")
        + f"commit {plain(str(git.get('commit') or '?')[:10])}"
        f"{' (dirty)' if git.get('dirty') else ''}, "
        f"{machine.get('cores')} cores · {plain(machine.get('cpu'))}"
    )
    if passes > 1:
        console.print("[dim]median and IQR over every round of every pass; pass spread: "
                      "slowest pass median over fastest[/]")
    if not meta.get("complete", True):
        console.print("[bold yellow]incomplete run: interrupted before every benchmark ran[/]")
    workloads = meta.get("workloads", {})
    for summary in summarize(run):
        console.print()
        metrics = workloads.get(summary.workload, {}).get("metrics", [])
        for table in scenario_tables(summary, metrics):
            console.print(table)
        console.print(Text(plain("→ " + verdict_line(summary), markup=False), style="bold"))
    lines = peer_lines(run)
    if lines:
        console.print()
        for line in lines:
            console.print(line)
    render_outcomes(run.outcomes.values(), console)
    render_warnings(run, console)


def render_outcomes(outcomes: Iterable[Outcome], console: Console) -> None:
    """One line per distinct reason: fifteen cases failed by one dead peer are one line."""
    reasons: dict[tuple[str, str], list[str]] = {}
    for o in outcomes:
        if o.outcome != "passed":
            reasons.setdefault((o.outcome, o.detail), []).append(o.case_id)
    if not reasons:
        return
    console.print()
    for (outcome, detail), cases in reasons.items():
        colour = "red" if outcome == "failed" else "yellow"
        who = cases[0] if len(cases) == 1 else f"{cases[0]} and {len(cases) - 1} more"
        console.print(f"[{colour}]{plain(outcome)}[/] {plain(who)}: {plain(detail)}",
                      highlight=False)


def render_warnings(run: Run, console: Console, limit: int = 3) -> None:
    """What benchmarks warned, logged or could not raise (harness.run.capture), after the
    tables: each is a reason to doubt that benchmark, and `--strict` fails on any."""
    noisy = [b for b in run.benchmarks if b.warnings]
    if not noisy:
        return
    console.print()
    console.print(f"[bold yellow]{run.warning_count} warning(s) during {len(noisy)} "
                  "benchmark(s)[/] (--strict fails the run on them):", highlight=False)
    for b in noisy:
        for w in b.warnings[:limit]:
            console.print(f"  {plain(b.key)}: {w['count']} x {plain(w['kind'])} "
                          f"{plain(w['message'])}", highlight=False, soft_wrap=True)
        if len(b.warnings) > limit:
            console.print(f"  {plain(b.key)}: … and {len(b.warnings) - limit} more kinds",
                          highlight=False)
