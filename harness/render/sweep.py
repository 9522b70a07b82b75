"""A sweep in the terminal: the grid of async-over-best-sync speedups, coloured by verdict,
and one crossover line per row of the grid."""

from __future__ import annotations

from itertools import product
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.analysis.matchup import Call
from harness.analysis.sweep import Crossover, SweepResult
from harness.render.fmt import describe_param, describe_params

STYLES = {Call.FASTER: "bold green", Call.SLOWER: "bold red", Call.TIE: "yellow",
          Call.CANNOT_TELL: "dim"}
MARKS = {Call.FASTER: "", Call.SLOWER: "", Call.TIE: " ~", Call.CANNOT_TELL: " ?"}


def _cell(result: SweepResult, values: dict[str, Any]) -> Text:
    point = result.point(values)
    if point is None or point.matchup is None:
        return Text("—", style="dim")
    m = point.matchup
    return Text(f"{m.point:.2f}x{MARKS[m.call]}", style=STYLES[m.call])


def grids(result: SweepResult) -> list[Table]:
    """Columns: the primary axis; rows: the next axis; one grid per value of any other."""
    axes = dict(result.axes)
    others = [a for a, _ in result.axes if a != result.primary]
    rows_axis = others[0] if others else None
    rest = others[1:]
    tables = []
    for combo in product(*(axes[a] for a in rest)):
        fixed = dict(zip(rest, combo, strict=True))
        title = (f"{result.workload} · {result.scenario}: best async twin over best sync twin"
                 + (f" at {describe_params(fixed)}" if fixed else ""))
        table = Table(title=Text(title), title_justify="left", min_width=len(title))
        table.add_column(rows_axis or "", no_wrap=True)
        for x in axes[result.primary]:
            table.add_column(describe_param(result.primary, x), justify="right", no_wrap=True)
        for y in (axes[rows_axis] if rows_axis else (None,)):
            head = describe_param(rows_axis, y) if rows_axis else ""
            cells = [_cell(result, {**fixed, **({rows_axis: y} if rows_axis else {}),
                                    result.primary: x}) for x in axes[result.primary]]
            table.add_row(Text(head), *cells)
        tables.append(table)
    return tables


def crossover_line(c: Crossover) -> str:
    where = describe_params(c.fixed) + ": " if c.fixed else ""
    span = (f"{describe_param(c.axis, c.values[0])} to "
            f"{describe_param(c.axis, c.values[-1]).split('=', 1)[1]}")
    if c.everywhere:
        return f"{where}async wins everywhere swept ({span}){_untested(c)}"
    if c.never:
        return f"{where}async never wins in the swept range ({span}){_untested(c)}"
    parts = []
    for change in c.changes:
        verb = "starts to pay" if change.starts else "stops paying"
        high = describe_param(c.axis, change.high).split("=", 1)[1]
        text = f"async {verb} between {describe_param(c.axis, change.low)} and {high}"
        if change.at is not None:
            at = describe_param(c.axis, f"{change.at:.3g}").split("=", 1)[1]
            text += f" (speedup crosses 1 at about {at})"
        parts.append(text)
    return where + "; ".join(parts) + _untested(c)


def _untested(c: Crossover) -> str:
    return ("  (point estimates: too few rounds for a verdict; use the default profile)"
            if c.untested else "")


def render_sweep(result: SweepResult, console: Console) -> None:
    for table in grids(result):
        console.print()
        console.print(table)
    console.print("[dim]cells: best async twin's speedup over the best sync twin; green "
                  "faster, red slower, ~ within noise, ? too few rounds to tell, — not "
                  "measured[/]")
    skipped = [p for p in result.points if p.scenario is None]
    if skipped:
        console.print(Text(f"{len(skipped)} point(s) skipped: " + "; ".join(
            f"{describe_params(p.values)}: {p.reason}" for p in skipped[:3]), style="dim"))
    console.print()
    console.print(Text(f"crossover along {result.primary}:", style="bold"))
    for c in result.crossovers:
        console.print(Text("  " + crossover_line(c)), soft_wrap=True)
