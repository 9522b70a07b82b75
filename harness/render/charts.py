"""The report's figures, drawn by matplotlib off-screen and returned as inline SVG text.

Why this way: the report must open offline from a CI artifact, so every chart is part of the
page — SVG written into the HTML, no image file, no script, no web font. Text stays text
(`svg.fonttype` none: the browser draws it with a local sans-serif), which keeps the page small
and lets a reader search it; the exact numbers are in the tables beside each chart.

matplotlib is imported inside the functions only: `bench run` imports this module to know
about `--html`, and must not load matplotlib (or numpy) before its measuring is over. Figures
are plain `Figure`s on the Agg canvas, never pyplot: no GUI backend, no global figure state.
mathtext is off, so a `$` in a twin's name is just a dollar sign, and every tick label is
written by the same formatters as the terminal tables (`harness.render.fmt`).
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from harness.analysis.compare import Delta, Status
from harness.analysis.counted import InstructionDelta
from harness.analysis.matchup import Matchup
from harness.analysis.sequential import Call
from harness.analysis.stats import quartiles
from harness.analysis.summary import ScenarioSummary, score_spread
from harness.analysis.sweep import SweepResult
from harness.analysis.trend import TrendGroup
from harness.render.fmt import describe_param, describe_params, fmt_seconds
from harness.render.run import metric_name
from harness.render.sweep import cell, describe_grid
from harness.results.runfile import BenchRecord

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

# Okabe-Ito: told apart with the common colour-vision deficiencies, and in greyscale print.
KIND_COLOURS = {"sync": "#D55E00", "threads": "#0072B2", "async": "#009E73"}
OTHER_KIND = "#777777"
CALL_COLOURS = {Call.FASTER: "#1a9850", Call.SLOWER: "#d73027", Call.TIE: "#fee08b"}
# "cannot tell" (too few rounds): a pale tint of the way the point estimate leans.
LEANS = {True: "#c7e9c0", False: "#fcbba1"}
CALL_NAMES = {Call.FASTER: "async faster", Call.SLOWER: "async slower",
              Call.TIE: "within noise (~)", Call.CANNOT_TELL: "cannot tell (?)"}
REGRESSION = "#c0392b"
IMPROVEMENT = "#1a9850"
NEUTRAL = "#555555"

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "legend.frameon": False,
    "legend.fontsize": 8,
}
WIDTH = 8.5  # inches: a readable line of the page at 96 dpi


@contextmanager
def _figure(salt: str, height: float, width: float = WIDTH) -> Iterator[Figure]:
    """A figure on the Agg canvas with the report's style. `salt` seeds the SVG's element ids:
    deterministic output, and ids that differ between the charts of one page."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rc: Any = {**_RC, "svg.hashsalt": salt}  # the stubs want literal keys
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(fig)
        yield fig


_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)


def _svg(fig: Figure, label: str) -> str:
    """The figure as an `<svg>` element for inline use: no XML prologue or doctype (they are
    not allowed inside HTML), no metadata block (it names URLs), labelled for screen readers."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Format": None, "Type": None, "Creator": None,
                                             "Date": None})
    text = _PROLOGUE.sub("", buf.getvalue(), count=1)
    return text.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" ', 1)


# -- axes ---------------------------------------------------------------------------------------

def _log_ticks(axis: Axis, low: float, high: float, fmt: Callable[[float], str],
               narrow: bool = False) -> None:
    """Log-scale ticks at 1-2-5 (or decades, over a wide range or on a narrow panel),
    labelled by `fmt`."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    decades = math.log10(high / low) if low > 0 else 0
    subs = (1.0,) if decades > (1 if narrow else 3) else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))
    axis.set_minor_formatter(NullFormatter())


def _value_axis(ax: Axes, which: str, values: Sequence[float],
                fmt: Callable[[float], str], narrow: bool = False) -> None:
    """Log scale when the values span a factor of 5 or more (times of twins that differ 40x
    must all be readable), else linear from zero; either way labelled by `fmt`."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    positive = [v for v in values if v > 0]
    axis = ax.xaxis if which == "x" else ax.yaxis
    if positive and max(positive) / min(positive) >= 5:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
        _log_ticks(axis, min(positive), max(positive), fmt, narrow)
    else:
        if which == "x":
            ax.set_xlim(left=0)
        else:
            ax.set_ylim(bottom=0)
        axis.set_major_locator(MaxNLocator(nbins=3 if narrow else 6))
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))


def _short(name: str, most: int = 40) -> str:
    """A name as a chart label: the tables beside the chart carry it whole."""
    return name if len(name) <= most else name[:most - 1] + "…"


def _times(v: float) -> str:
    return fmt_seconds(v) if v > 0 else "0"


def _factor(v: float) -> str:
    return f"{v:.3g}x"


# -- one scenario -------------------------------------------------------------------------------

def _cpu(record: BenchRecord) -> tuple[float, float, float] | None:
    """The CPU per operation the table prints (the median over the rounds), and its IQR."""
    passes = record.cpu_per_op_passes()
    if not passes or record.cpu_per_op is None:
        return None
    low, high = quartiles([x for p in passes for x in p])
    return record.cpu_per_op, low, high


def scenario_chart(summary: ScenarioSummary, title: str) -> str:
    """Every twin's median with its IQR as whiskers, coloured by kind; the ideal time
    ceil(N/C)·L as a line where there is one; CPU per operation in a panel beside it where
    recorded. `title` labels the chart for screen readers; the page shows it as the heading
    above."""
    rows = [(r.record, score_spread(r.record, summary.judged_by)) for r in summary.rows]
    shown = [(rec, s) for rec, s in rows if s is not None]
    cpus = {rec.twin: _cpu(rec) for rec, _ in shown}
    has_cpu = any(v is not None for v in cpus.values())
    best = {id(summary.best_sync), id(summary.best_async)}
    n = len(shown)
    what = "time" if summary.judged_by is None else metric_name(summary.judged_by)
    with _figure(f"scenario:{title}", height=1.3 + 0.32 * n) as fig:
        if has_cpu:
            ax, cpu_ax = fig.subplots(1, 2, sharey=True, width_ratios=(3, 1.2))
        else:
            ax, cpu_ax = fig.subplots(), None
        ys = list(range(n - 1, -1, -1))
        kinds_drawn: set[str] = set()
        for y, (rec, score) in zip(ys, shown, strict=True):
            assert score is not None
            centre, low, high = score
            colour = KIND_COLOURS.get(rec.kind, OTHER_KIND)
            ax.errorbar([centre], [y], xerr=[[centre - low], [high - centre]], fmt="o",
                        color=colour, ecolor=colour, elinewidth=2, capsize=3, markersize=6,
                        label=rec.kind if rec.kind not in kinds_drawn else None)
            kinds_drawn.add(rec.kind)
            ax.annotate(fmt_seconds(centre), (high, y), xytext=(5, 0),
                        textcoords="offset points", va="center", fontsize=8, color="#333")
            if cpu_ax is not None and (cpu := cpus[rec.twin]) is not None:
                mid, q1, q3 = cpu
                cpu_ax.errorbar([mid], [y], xerr=[[mid - q1], [q3 - mid]], fmt="s",
                                color=colour, ecolor=colour, elinewidth=2, capsize=3,
                                markersize=5)
        ideal = next((r.ideal_s for r, _ in shown if r.ideal_s), None)
        values = [v for _, s in shown if s for v in s]
        if ideal and summary.judged_by is None:
            ax.axvline(ideal, color="#222", linestyle="--", linewidth=1.2,
                       label=f"ideal ⌈N/C⌉·L = {fmt_seconds(ideal)}")
            values.append(ideal)
        _value_axis(ax, "x", values, _times)
        ax.set_yticks(ys, [_short(rec.twin) for rec, _ in shown])
        for tick, (rec, _) in zip(ax.get_yticklabels(), shown, strict=True):
            if id(rec) in best:
                tick.set_fontweight("bold")
        ax.set_ylim(-0.7, n - 0.3)
        ax.grid(axis="x", color="#e6e6e6")
        log = " (log scale)" if ax.get_xscale() == "log" else ""
        if summary.judged_by is None:
            ax.set_xlabel(f"time per round: median, whiskers the IQR{log}")
        else:  # the run's own figure; the rounds' spread when they recorded one each
            per_round = any(r.per_round(f"{summary.judged_by}_per_round") for r, _ in shown)
            ax.set_xlabel(f"{what} of the run" + (f"; whiskers: IQR of each round's {what}"
                                                  if per_round else "") + log)
        if cpu_ax is not None:
            cpu_values = [v for c in cpus.values() if c for v in c]
            _value_axis(cpu_ax, "x", cpu_values, _times, narrow=True)
            cpu_ax.set_xlabel("CPU per operation (median, IQR)")
            cpu_ax.grid(axis="x", color="#e6e6e6")
            cpu_ax.tick_params(axis="y", left=False)
        fig.legend(loc="outside lower center", ncols=4)
        return _svg(fig, f"{title}: {what} of each twin")


# -- a sweep ------------------------------------------------------------------------------------

def _cell_colour(m: Matchup | None) -> str:
    if m is None:
        return "#ffffff"
    if m.call is Call.CANNOT_TELL:
        return LEANS[m.point > 1]
    return CALL_COLOURS[m.call]


def _between(low: Any, high: Any, at: float | None) -> float:
    """Where `at` lies between two grid values, as a fraction, on the scale the crossover was
    interpolated on (log, unless an end is 0); the middle when there is no `at`."""
    lo, hi = float(low), float(high)
    if at is None or lo == hi:
        return 0.5
    if lo > 0 and hi > 0:
        return (math.log(at) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (at - lo) / (hi - lo)


def _same_row(fixed: dict[str, Any], grid: dict[str, Any]) -> bool:
    return all(fixed.get(k) == v for k, v in grid.items())


def sweep_heatmap(result: SweepResult, fixed: dict[str, Any], rows_axis: str | None) -> str:
    """The async-over-best-sync speedup at every grid point, coloured by verdict, with the
    crossover drawn where the verdict turns (at the interpolated place the speedup crosses 1
    when the two points straddle it)."""
    from matplotlib.patches import Patch, Rectangle

    axes = dict(result.axes)
    xs = list(axes[result.primary])
    ys = list(axes[rows_axis]) if rows_axis else [None]
    title = describe_grid(result, fixed)
    calls: set[Call] = set()
    leaning: set[tuple[Call, bool]] = set()
    with _figure(f"heatmap:{title}", height=1.6 + 0.45 * len(ys),
                 width=min(WIDTH, 2.2 + 0.95 * len(xs))) as fig:
        ax = fig.subplots()
        for row, y in enumerate(ys):
            for col, x in enumerate(xs):
                values = {**fixed, **({rows_axis: y} if rows_axis else {}), result.primary: x}
                point = result.point(values)
                m = point.matchup if point is not None else None
                ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, facecolor=_cell_colour(m),
                                       edgecolor="white", linewidth=2))
                text, call = cell(result, values)  # the terminal grid's very text
                strong = call in (Call.FASTER, Call.SLOWER)
                ax.text(col, row, text, ha="center", va="center", fontsize=8,
                        color="white" if strong else "#222")
                if m is not None:
                    calls.add(m.call)
                    leaning.add((m.call, m.point > 1))
        frontier = _draw_crossovers(ax, result, fixed, rows_axis, xs, ys)
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_ylim(len(ys) - 0.5, -0.5)
        ax.set_xticks(range(len(xs)), [describe_param(result.primary, x) for x in xs])
        ax.set_yticks(range(len(ys)),
                      [describe_param(rows_axis, y) if rows_axis else "" for y in ys])
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        if fixed:  # several grids: say which (the page's heading names the sweep)
            ax.set_title(_short(describe_params(fixed), 100), fontsize=9)
        handles: list[Artist] = [Patch(facecolor=CALL_COLOURS[c], label=CALL_NAMES[c])
                                 for c in (Call.FASTER, Call.SLOWER, Call.TIE) if c in calls]
        handles += [Patch(facecolor=LEANS[up], label=f"{CALL_NAMES[Call.CANNOT_TELL]}, "
                          f"async looks {'faster' if up else 'slower'}")
                    for up in (True, False) if (Call.CANNOT_TELL, up) in leaning]
        if frontier:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color="black", linewidth=2.5,
                                  label="crossover: where async starts (or stops) paying"))
        fig.legend(handles=handles, loc="outside lower center", ncols=3)
        return _svg(fig, f"{title}: speedup per grid point")


def _draw_crossovers(ax: Axes, result: SweepResult, fixed: dict[str, Any],
                     rows_axis: str | None, xs: list[Any], ys: list[Any]) -> bool:
    """A thick line through each row where its verdict turns, joined across rows into a
    frontier; True if anything was drawn."""
    drawn = False
    previous: tuple[int, float] | None = None
    for c in result.crossovers:
        if not _same_row(c.fixed, fixed):
            continue
        row = ys.index(c.fixed[rows_axis]) if rows_axis else 0
        places = [xs.index(ch.low) + _between(ch.low, ch.high, ch.at)
                  * (xs.index(ch.high) - xs.index(ch.low)) for ch in c.changes]
        for place in places:
            ax.plot([place, place], [row - 0.5, row + 0.5], color="black", linewidth=2.5,
                    solid_capstyle="butt")
            drawn = True
        if len(places) == 1:
            if previous is not None and previous[0] == row - 1:
                ax.plot([previous[1], places[0]], [row - 0.5, row - 0.5], color="black",
                        linewidth=2.5, solid_capstyle="projecting")
            previous = (row, places[0])
        else:
            previous = None
    return drawn


def _axis_values(key: str) -> Callable[[float], str]:
    def fmt(v: float) -> str:
        text = f"{v:.3g}" if not float(v).is_integer() else str(int(v))
        return describe_param(key, text).split("=", 1)[1]

    return fmt


def sweep_lines(result: SweepResult, fixed: dict[str, Any], rows_axis: str | None) -> str:
    """The speedup against the primary axis, one line per value of the rows' axis, with its
    95% band where the rounds allow one (filled markers: the verdict is significant), and
    y = 1 (async as fast as the best sync twin) marked."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axes = dict(result.axes)
    xs_all = sorted(axes[result.primary])
    ys = list(axes[rows_axis]) if rows_axis else [None]
    title = describe_grid(result, fixed)
    palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
               "#F0E442"]
    values: list[float] = [1.0]
    untested = banded = False
    with _figure(f"lines:{title}", height=3.6) as fig:
        ax = fig.subplots()
        for i, y in enumerate(ys):
            pts = []
            for x in xs_all:
                values_at = {**fixed, **({rows_axis: y} if rows_axis else {}), result.primary: x}
                p = result.point(values_at)
                if p is not None and p.matchup is not None:
                    pts.append((float(x), p.matchup))
            if not pts:
                continue
            colour = palette[i % len(palette)]
            px = [x for x, _ in pts]
            py = [m.point for _, m in pts]
            label = describe_param(rows_axis, y) if rows_axis else "speedup"
            ax.plot(px, py, color=colour, linewidth=1.8, label=label)
            for x, m in pts:
                filled = m.call in (Call.FASTER, Call.SLOWER)
                ax.plot([x], [m.point], marker="o", markersize=5, color=colour,
                        markerfacecolor=colour if filled else "white")
            band = [(x, m.speedup) for x, m in pts if m.speedup is not None]
            if len(band) >= 2:
                ax.fill_between([x for x, _ in band], [s.low for _, s in band],
                                [s.high for _, s in band], color=colour, alpha=0.18,
                                linewidth=0)
                values += [s.low for _, s in band] + [s.high for _, s in band]
                banded = True
            untested = untested or any(m.speedup is None or m.call is Call.CANNOT_TELL
                                       for _, m in pts)
            values += py
        ax.axhline(1.0, color="black", linewidth=1, linestyle="--",
                   label="y = 1: async as fast as the best sync twin")
        low, high = min(v for v in values if v > 0), max(values)
        ax.set_yscale("log")
        _log_ticks(ax.yaxis, low, high, _factor)
        ax.set_ylim(low / 1.15, high * 1.15)
        positives = [float(x) for x in xs_all if float(x) > 0]
        if positives and len(positives) < len(xs_all):
            ax.set_xscale("symlog", linthresh=min(positives), linscale=0.6)
        elif positives and max(positives) / min(positives) >= 10:
            ax.set_xscale("log")
        ax.set_xticks([float(x) for x in xs_all])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _axis_values(
            result.primary)(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_minor_locator(_no_ticks())
        ax.grid(color="#ececec")
        ax.set_xlabel(describe_param(result.primary, "…").split("=", 1)[0]
                      + f" ({result.primary})")
        ax.set_ylabel("best async over best sync (log scale)")
        notes = (["band: 95% interval"] if banded else []) + [
            "hollow: not significant" + (" or too few rounds to tell" if untested else "")]
        ax.set_title((f"{_short(describe_params(fixed), 60)}: " if fixed else "")
                     + "; ".join(notes), fontsize=9)
        fig.legend(loc="outside right upper", title=rows_axis or None)
        return _svg(fig, f"{title}: speedup against {result.primary}")


def _no_ticks() -> Any:
    from matplotlib.ticker import NullLocator

    return NullLocator()


# -- two runs -----------------------------------------------------------------------------------

def forest_chart(deltas: Sequence[Delta | InstructionDelta], title: str,
                 name: Callable[[Any], str],
                 words: tuple[str, str] = ("slower", "faster")) -> str | None:
    """Each compared benchmark's change with its 95% interval, on a log scale of the ratio
    (a halving and a doubling look equally big); the thresholds a verdict must cross drawn as
    dashed lines (per row when benchmarks have their own); regressions in red on a red band.
    `words` name the two directions (time's "slower"/"faster", instructions' "costlier"/
    "cheaper"). None when nothing was compared."""
    from matplotlib.lines import Line2D

    # (either channel's deltas: their statuses are both "compared" when they were)
    rows = [d for d in deltas if d.status == Status.COMPARED and d.comparison is not None]
    if not rows:
        return None
    n = len(rows)
    thresholds = {d.threshold for d in rows}
    with _figure(f"forest:{title}", height=1.4 + 0.26 * n) as fig:
        ax = fig.subplots()
        values = [1.0]
        for i, d in enumerate(rows):
            c = d.comparison
            assert c is not None
            y = n - 1 - i
            colour = (REGRESSION if d.regression else IMPROVEMENT
                      if c.verdict.value == "faster" else NEUTRAL)
            if d.regression:
                ax.axhspan(y - 0.5, y + 0.5, color=REGRESSION, alpha=0.10, linewidth=0)
            ax.errorbar([c.ratio], [y], xerr=[[c.ratio - c.ci_low], [c.ci_high - c.ratio]],
                        fmt="D" if d.regression else "o", color=colour, ecolor=colour,
                        elinewidth=1.6, capsize=2.5, markersize=5,
                        markerfacecolor="white" if d.underpowered else colour)
            if len(thresholds) > 1:
                for edge in (1 + d.threshold, 1 / (1 + d.threshold)):
                    ax.plot([edge, edge], [y - 0.4, y + 0.4], color=REGRESSION,
                            linewidth=1, linestyle=":")
            values += [c.ci_low, c.ci_high, 1 + d.threshold, 1 / (1 + d.threshold)]
        ax.axvline(1.0, color="black", linewidth=1)
        if len(thresholds) == 1:
            (t,) = thresholds
            for edge in (1 + t, 1 / (1 + t)):
                ax.axvline(edge, color=REGRESSION, linewidth=1, linestyle="--")
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

        ax.set_xscale("log")
        low, high = min(values) / 1.05, max(values) * 1.05
        ax.set_xlim(low, high)
        ax.xaxis.set_major_locator(FixedLocator(_ratio_ticks(low, high)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _change(v)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks(range(n - 1, -1, -1), [_short(name(d), 60) for d in rows])
        for tick, d in zip(ax.get_yticklabels(), rows, strict=True):
            if d.regression:
                tick.set_color(REGRESSION)
                tick.set_fontweight("bold")
        ax.set_ylim(-0.7, n - 0.3)
        ax.grid(axis="x", color="#ececec")
        ax.set_xlabel("change, current against base, with its 95% interval (log scale)")
        ax.set_title(_short(title, 100))
        handles = [
            Line2D([], [], color=REGRESSION, marker="D", linestyle="",
                   label=f"{words[0]}: regression"),
            Line2D([], [], color=IMPROVEMENT, marker="o", linestyle="", label=words[1]),
            Line2D([], [], color=NEUTRAL, marker="o", linestyle="", label="unchanged"),
            Line2D([], [], color=NEUTRAL, marker="o", markerfacecolor="white", linestyle="",
                   label="† cannot see a change at its threshold"),
            Line2D([], [], color=REGRESSION, linestyle="--" if len(thresholds) == 1 else ":",
                   label=_threshold_label(thresholds, words)),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=3)
        return _svg(fig, f"{title}: change of each benchmark")


def _threshold_label(thresholds: set[float], words: tuple[str, str]) -> str:
    if len(thresholds) == 1:
        (t,) = thresholds
        return f"threshold: {t:.0%} {words[0]} (or {words[1]})"
    return "each benchmark's threshold"


NICE_RATIOS = (0.1, 0.2, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25,
               4 / 3, 1.5, 2.0, 3.0, 4.0, 5.0, 10.0)


def _ratio_ticks(low: float, high: float, most: int = 9) -> list[float]:
    """Round changes (-50%, -20%, 0%, +25%, +100%...) inside [low, high], spread evenly on the
    log scale they are drawn on, no change always among them."""
    inside = [r for r in NICE_RATIOS if low <= r <= high] or [1.0]
    gap = math.log(high / low) / most if high > low > 0 else 0
    ticks = [1.0]
    for r in sorted(inside, key=lambda r: abs(math.log(r))):
        if all(abs(math.log(r / t)) >= gap for t in ticks):
            ticks.append(r)
    return sorted(ticks)


def _change(ratio: float) -> str:
    return "0%" if abs(ratio - 1) < 1e-9 else f"{ratio - 1:+.0%}"


# -- many runs ----------------------------------------------------------------------------------

def trend_chart(group: TrendGroup, names: Sequence[str], title: str) -> str:
    """Each twin's median in every run, in the order the runs were given, coloured by kind;
    whiskers the IQR. A twin missing from a run leaves a gap. `title` labels it for screen
    readers; the page shows it as the heading above."""
    markers = "osD^vP*X"
    with _figure(f"trend:{title}", height=3.2) as fig:
        ax = fig.subplots()
        xs = list(range(len(names)))
        values: list[float] = []
        per_kind: dict[str, int] = {}
        for series in group.series:
            k = per_kind.get(series.kind, 0)
            per_kind[series.kind] = k + 1
            colour = KIND_COLOURS.get(series.kind, OTHER_KIND)
            ys = [p.value if p is not None else math.nan for p in series.points]
            ax.plot(xs, ys, color=colour, marker=markers[k % len(markers)], linewidth=1.6,
                    markersize=5, label=_short(f"{series.twin} ({series.kind})"))
            for x, p in zip(xs, series.points, strict=True):
                if p is not None and p.high > p.low:
                    ax.plot([x, x], [p.low, p.high], color=colour, linewidth=1, alpha=0.7)
                if p is not None:
                    values += [p.low, p.value, p.high]
        _value_axis(ax, "y", values, _times)
        ax.set_xticks(xs, [_short(n, 24) for n in names])
        ax.set_xlim(-0.3, len(names) - 0.7)
        ax.grid(axis="y", color="#ececec")
        what = "time" if group.judged_by is None else metric_name(group.judged_by)
        ax.set_ylabel(f"{what} per round (median)")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        return _svg(fig, f"{title}: median of each twin in each run")
