"""Numbers and parameters as text, the same in every table and report; text from a run file
made safe to print."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rich.markup import escape

RANGE = "\u2013"  # an en dash between the ends of an interval

PARAM_NAMES = {"n": "N", "concurrency": "C", "latency_ms": "L", "size": "size"}


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


def fmt_percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def fmt_signed_percent(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:+.1%}"
    return "+0.0%" if text == "-0.0%" else text


def fmt_bytes(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB" if abs(value) >= 2**20 else f"{value / 1024:,.1f} KiB"


def fmt_metric(value: Any, unit: str) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)  # a twin's own text, or a damaged file
    if unit == "s":
        return fmt_seconds(value)
    if unit == "rate":
        return fmt_rate(value)
    if unit == "bytes":
        return fmt_bytes(value)
    if unit == "fraction":
        return fmt_percent(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def fmt_count(value: float | None) -> str:
    """A count of instructions or events: 377k, 3.45M, 0.02."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.3g}"


def describe_param(key: str, value: Any) -> str:
    """One parameter as a reader writes it: "L=20 ms", "C=50", "cpu_us=200 µs"."""
    unit = " ms" if key.endswith("_ms") else " µs" if key.endswith("_us") else ""
    return f"{PARAM_NAMES.get(key, key)}={value}{unit}"


def describe_params(params: Mapping[str, Any]) -> str:
    return ", ".join(describe_param(k, v) for k, v in params.items())


def fmt_range(low: float, high: float, suffix: str = "x") -> str:
    """An interval of ratios, its ends joined by an en dash, e.g. 0.95 to 1.02 times."""
    return f"{low:.2f}{RANGE}{high:.2f}{suffix}"


# C0 and C1 controls (ESC starts an ANSI sequence, CR overwrites a line) and the bidirectional
# overrides that make text read differently from what it says.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(value: object, markup: bool = True) -> str:
    """Text from a run file or a twin (machine, twin, label, an error message) as plain text:
    control characters out, so a file cannot drive the terminal, and, for rich (`markup`),
    brackets escaped, so that a label "[red]" is shown, not obeyed ("[/]" would even crash
    the rendering). Markdown and JSON want `markup=False`."""
    text = _CONTROL.sub(lambda m: " " if m.group() in "\t\n\r" else "", str(value))
    return escape(text) if markup else text
@dataclass(frozen=True)
class TableText:
    """A table as text, before anything draws it. The terminal (rich) and the HTML report both
    draw these same cells, so the numbers in the two can never disagree."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    marks: list[str] = field(default_factory=list)  # per row: a word a renderer styles, or ""
    align: str = ""  # per column: "l" (names) or "r" (numbers); columns beyond it are "r"
    caption: str = ""

    def left(self, column: int) -> bool:
        return self.align[column:column + 1] == "l"

    def mark(self, row: int) -> str:
        return self.marks[row] if row < len(self.marks) else ""

    def without_empty_columns(self) -> TableText:
        """Leave out the columns that have nothing to say (every cell "—"), never the first."""
        keep = [i for i in range(len(self.headers))
                if i < 1 or any(cells[i] != "—" for cells in self.rows)]
        return replace(self, headers=[self.headers[i] for i in keep],
                       rows=[[cells[i] for i in keep] for cells in self.rows],
                       align="".join("l" if self.left(i) else "r" for i in keep))
