"""A sweep in the terminal: the grid of async-over-best-sync speedups, coloured by verdict,
and one crossover line per row of the grid; then the same for the async model alone, where
the workload has twins of one library in both models."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.analysis.sequential import Call
from harness.analysis.sweep import Crossover, SweepResult
from harness.render.fmt import describe_param, describe_params

STYLES = {Call.FASTER: "bold green", Call.SLOWER: "bold red", Call.TIE: "yellow",
          Call.CANNOT_TELL: "dim"}
MARKS = {Call.FASTER: "", Call.SLOWER: "", Call.TIE: " ~", Call.CANNOT_TELL: " ?"}


LEGEND = ("cells: best async twin's speedup over the best sync twin; green faster, red slower, "
          "~ within noise, ? too few rounds to tell, — not measured")
MODEL_LEGEND = ("cells: the fastest same-library async twin's speedup over its own library's "
                "best sync twin (e.g. curl-cffi-async over curl-cffi-threads): what the async "
                "model buys with the implementation held fixed; colours as above")


def cell(result: SweepResult, values: dict[str, Any]) -> tuple[str, Call | None]:
    """A grid point's text and the verdict that colours it (None: not measured)."""
    point = result.point(values)
    if point is None or point.matchup is None:
        return "—", None
    m = point.matchup
    return f"{m.point:.2f}x{MARKS[m.call]}", m.call


def layout(result: SweepResult) -> tuple[str | None, list[dict[str, Any]]]:
    """How a sweep is drawn: columns the primary axis, rows the next axis (None when there is
    one axis), and one grid per combination of the values of any other axes."""
    axes = dict(result.axes)
    # rows: the next axis swept over several values; a one-value axis titles its grid
    others = sorted((a for a, _ in result.axes if a != result.primary),
                    key=lambda a: len(axes[a]) == 1)
    rest = others[1:]
    return (others[0] if others else None,
            [dict(zip(rest, combo, strict=True)) for combo in product(*(axes[a] for a in rest))])


def subject(result: SweepResult) -> str:
    return ("the async model alone (a library's async twin over its own sync twin)"
            if result.model else "best async twin over best sync twin")


def describe_grid(result: SweepResult, fixed: dict[str, Any]) -> str:
    return (f"{result.workload} · {result.scenario}: {subject(result)}"
            + (f" at {describe_params(fixed)}" if fixed else ""))


@dataclass(frozen=True)
class GridText:
    """One grid of the map as text: the terminal and the HTML report draw the same cells."""

    title: str
    corner: str  # the rows' axis
    columns: list[str]
    rows: list[tuple[str, list[tuple[str, Call | None]]]]


def grid_texts(result: SweepResult) -> list[GridText]:
    axes = dict(result.axes)
    rows_axis, grids_fixed = layout(result)
    out = []
    for fixed in grids_fixed:
        rows = []
        for y in (axes[rows_axis] if rows_axis else (None,)):
            head = describe_param(rows_axis, y) if rows_axis else ""
            rows.append((head, [cell(result, {**fixed, **({rows_axis: y} if rows_axis else {}),
                                              result.primary: x})
                                for x in axes[result.primary]]))
        out.append(GridText(describe_grid(result, fixed), rows_axis or "",
                            [describe_param(result.primary, x) for x in axes[result.primary]],
                            rows))
    return out


def grids(result: SweepResult) -> list[Table]:
    """Columns: the primary axis; rows: the next axis; one grid per value of any other."""
    tables = []
    for grid in grid_texts(result):
        table = Table(title=Text(grid.title), title_justify="left", min_width=len(grid.title))
        table.add_column(grid.corner, no_wrap=True)
        for column in grid.columns:
            table.add_column(column, justify="right", no_wrap=True)
        for head, cells in grid.rows:
            table.add_row(Text(head), *(Text(text, style=STYLES[call]) if call else
                                        Text(text, style="dim") for text, call in cells))
        tables.append(table)
    return tables


def skipped_line(result: SweepResult) -> str:
    """The points that were not measured and why (the first three), or ""."""
    skipped = [p for p in result.points if p.scenario is None]
    if not skipped:
        return ""
    return f"{len(skipped)} point(s) skipped: " + "; ".join(
        f"{describe_params(p.values)}: {p.reason}" for p in skipped[:3])


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


def render_sweep(result: SweepResult, console: Console, model: SweepResult | None = None
                 ) -> None:
    """The map, its crossovers and, when the workload has same-library pairs, the map of the
    async model alone (`model`) after it."""
    for table in grids(result):
        console.print()
        console.print(table)
    console.print(Text(MODEL_LEGEND if result.model else LEGEND, style="dim"))
    skipped = skipped_line(result)
    if skipped:
        console.print(Text(skipped, style="dim"))
    console.print()
    console.print(Text(f"crossover along {result.primary}:", style="bold"))
    for c in result.crossovers:
        console.print(Text("  " + crossover_line(c)), soft_wrap=True)
    if model is not None:
        render_sweep(model, console)
