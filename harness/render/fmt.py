"""Numbers and parameters as text, the same in every table and report; text from a run file
made safe to print."""

from __future__ import annotations

import re
from collections.abc import Mapping
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
