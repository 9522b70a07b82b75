"""Turns a run into verdicts: per-scenario arithmetic (pure, tested) and its rich rendering.

Speedups are ratios of medians. "vs seq" compares with the sequential sync twin, "vs best sync"
with the fastest of the sync and thread-pool twins: async has to beat the best sync code, not
only the naive one. Efficiency is ideal time ceil(N/C)·L over the measured median.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.registry import SYNC_KINDS
from harness.results import BenchRecord, Run

PARAM_NAMES = {"n": "N", "concurrency": "C", "latency_ms": "L", "size": "size"}


@dataclass(frozen=True)
class Row:
    record: BenchRecord
    vs_sequential: float | None
    vs_best_sync: float | None


@dataclass(frozen=True)
class ScenarioSummary:
    workload: str
    scenario: str
    params: dict[str, Any]
    rows: tuple[Row, ...]
    best_sync: BenchRecord | None
    best_async: BenchRecord | None
    judged_by: str | None = None  # an extra_info key; None means wall time

    def score(self, record: BenchRecord) -> float:
        return score(record, self.judged_by)

    @property
    def async_speedup(self) -> float | None:
        """Best sync twin's score over best async twin's (> 1: async is better)."""
        if self.best_sync is None or self.best_async is None:
            return None
        denominator = self.score(self.best_async)
        return self.score(self.best_sync) / denominator if denominator > 0 else None

    def verdict(self) -> str:
        speedup = self.async_speedup
        if speedup is None or self.best_sync is None or self.best_async is None:
            return ("no verdict: this scenario needs a sync and an async twin that did all "
                    "the work")
        where = describe_params(self.params)
        if self.judged_by:
            better, worse = f"lower {self.judged_by}", f"higher {self.judged_by}"
        else:
            better, worse = "faster", "slower"
        how = f"{speedup:.2f}x {better}" if speedup >= 1 else f"{1 / speedup:.2f}x {worse}"
        return (f"{self.best_async.label} is {how} than the best sync twin "
                f"({self.best_sync.label}) at {where}")


def describe_params(params: dict[str, Any]) -> str:
    parts = []
    for key, value in params.items():
        name = PARAM_NAMES.get(key, key)
        unit = " ms" if key.endswith("_ms") else ""
        parts.append(f"{name}={value}{unit}")
    return ", ".join(parts)


def score(record: BenchRecord, judged_by: str | None) -> float:
    """What a verdict compares (lower is better): wall time, or the scenario's chosen metric."""
    if judged_by is None:
        return record.median
    value = record.extra.get(judged_by)
    return float(value) if isinstance(value, int | float) else float("inf")


def did_all_the_work(record: BenchRecord) -> bool:
    """Overload scenarios record dropped work as a result; such a twin cannot be "best",
    since failing fast looks quick."""
    return record.extra.get("served", 1) >= 1


def summarize(run: Run) -> list[ScenarioSummary]:
    """Group a run's benchmarks by workload and scenario, in the order they ran."""
    groups: dict[tuple[str, str], list[BenchRecord]] = {}
    for record in run.benchmarks:
        groups.setdefault((record.workload, record.scenario), []).append(record)
    return [_summarize_group(records) for records in groups.values()]


def _summarize_group(records: list[BenchRecord]) -> ScenarioSummary:
    judged_by = records[0].extra.get("judged_by")

    def best(candidates: list[BenchRecord]) -> BenchRecord | None:
        complete = [r for r in candidates if did_all_the_work(r)]
        return min(complete, key=lambda r: score(r, judged_by)) if complete else None

    sequential = next((r for r in records if r.kind == "sync"), None)
    best_sync = best([r for r in records if r.kind in SYNC_KINDS])
    best_async = best([r for r in records if r.kind not in SYNC_KINDS])

    def ratio(base: BenchRecord | None, record: BenchRecord) -> float | None:
        if base is None:
            return None
        mine = score(record, judged_by)
        return score(base, judged_by) / mine if 0 < mine < float("inf") else None

    rows = tuple(Row(r, ratio(sequential, r), ratio(best_sync, r)) for r in records)
    first = records[0]
    return ScenarioSummary(first.workload, first.scenario, first.params, rows, best_sync,
                           best_async, judged_by)


# -- rendering ----------------------------------------------------------------------------------

def fmt_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def _fmt_percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def fmt_metric(value: Any, unit: str) -> str:
    if value is None or isinstance(value, str):
        return "—" if value is None else value
    if unit == "s":
        return fmt_seconds(value)
    if unit == "rate":
        return fmt_rate(value)
    if unit == "bytes":
        return f"{value / 2**20:,.1f} MiB" if abs(value) >= 2**20 else f"{value / 1024:,.1f} KiB"
    if unit == "fraction":
        return _fmt_percent(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _table(title: str, headers: list[str], rows: list[list[str]], bold: list[bool],
           text_columns: int) -> Table:
    """A table without the columns that have nothing to say (all "—"); the first
    `text_columns` are names, the rest right-aligned numbers."""
    table = Table(title=title, title_justify="left")
    keep = [i for i in range(len(headers)) if i < 1 or any(cells[i] != "—" for cells in rows)]
    for i in keep:
        table.add_column(headers[i], justify="left" if i < text_columns else "right",
                         no_wrap=True)
    for cells, strong in zip(rows, bold, strict=True):
        table.add_row(*(cells[i] for i in keep), style="bold green" if strong else None)
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
               fmt_seconds(r.record.iqr), _fmt_percent(r.record.pass_spread),
               fmt_rate(r.record.ops_per_s),
               fmt_ratio(r.vs_sequential), fmt_ratio(r.vs_best_sync),
               _fmt_percent(r.record.efficiency)] for r in summary.rows]
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


BUSY_WARNING = 0.8


def busiest(run: Run, peer: str) -> tuple[float, BenchRecord | None]:
    """The highest CPU share a peer used during any one benchmark, and which one."""
    best: tuple[float, BenchRecord | None] = (0.0, None)
    for record in run.benchmarks:
        busy = (record.extra.get("peer_busy") or {}).get(peer)
        if busy is not None and busy > best[0]:
            best = (busy, record)
    return best


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
            lines.append(f"{name}: {info['summary']}")
        busy, record = busiest(run, name)
        if record is not None:
            warn = ("  [bold red]near saturation: the peer may have set the pace[/]"
                    if busy > BUSY_WARNING else "")
            lines.append(f"  {name} peer was at most {busy:.0%} busy (one core = 100%), "
                         f"during {record.key}{warn}")
    return lines


def render_run(run: Run, console: Console) -> None:
    meta = run.meta
    git = meta.get("git") or {}
    machine = meta.get("machine") or {}
    passes = int(meta.get("passes") or 1)
    console.print(
        f"[bold]twinbench[/] profile [cyan]{meta.get('profile')}[/], loop {meta.get('loop')}, "
        + (f"{passes} passes, " if passes > 1 else "")
        + f"commit {str(git.get('commit') or '?')[:10]}"
        f"{' (dirty)' if git.get('dirty') else ''}, "
        f"{machine.get('cores')} cores · {machine.get('cpu')}"
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
        console.print(Text("→ " + summary.verdict(), style="bold"))
    lines = peer_lines(run)
    if lines:
        console.print()
        for line in lines:
            console.print(line)
    render_outcomes(run.outcomes, console)


def render_outcomes(outcomes: dict[str, dict[str, str]], console: Console) -> None:
    problems = {k: o for k, o in outcomes.items() if o.get("outcome") != "passed"}
    if not problems:
        return
    console.print()
    for case_id, o in problems.items():
        colour = "red" if o["outcome"] == "failed" else "yellow"
        console.print(f"[{colour}]{o['outcome']}[/] {case_id}: {o.get('detail', '')}",
                      highlight=False)
