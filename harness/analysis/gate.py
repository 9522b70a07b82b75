"""`bench check`'s decisions: pass or fail, and which benchmarks to re-measure first.

The gate fails (exit 1) only on evidence: a benchmark whose verdict is SLOWER — change beyond
its threshold, p < alpha and the CI above 1 (`stats.compare_passes`) — or a twin that failed
in the current run (a wrong checksum is a broken twin, not a slow one). Everything else (noise,
added or removed benchmarks, changed parameters, comparisons too weak to tell) is listed and
warned about but passes, so the gate stays quiet on noise.

Measured on this project's machines (scripts/gate_quality.py), most false alarms came from
noise shared by all rounds of a run — the machine was slower for a minute — which no test on
rounds can see. Hence the two defences: baselines recorded with several passes, so the test
weighs the pass-to-pass spread; and confirmation (harness.run.confirm), which re-measures only
the benchmarks that came out beyond their threshold before anything is believed. No
multiple-comparison correction across benchmarks: a stricter alpha does not address shared
drift; passes do. An interleaved check (`--against`) pairs the drift away instead, and what is
left is each benchmark's own round-to-round noise: `extra_pairs` spends `--extend` seconds
where that noise is high and a pair is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.analysis.compare import CompareResult, Delta, Mode, Status
from harness.analysis.counted import IO_NAMES, InstructionDelta, IoDelta
from harness.analysis.stats import pairs_needed
from harness.config import Thresholds
from harness.errors import BadInput
from harness.model.case import CaseKey
from harness.results.runfile import Run

# Fewer extra pairs than this are not worth a benchmark's second set-up and warm-up pair.
MIN_EXTRA_PAIRS = 3


@dataclass(frozen=True)
class GateResult:
    comparison: CompareResult
    thresholds: Thresholds

    @property
    def caught(self) -> list[tuple[str, str]]:
        """(channel, why) of every reason the gate fails — channel "time", "instructions",
        "I/O" or "failed" — empty when it passes."""
        out = []
        for d in self.comparison.regressions:
            c = d.comparison
            if c is None:  # e.g. an overload twin that served less of the work
                out.append(("time", f"{d.key}: {d.verdict} ({d.detail})"))
                continue
            out.append(("time", f"{d.key} is {c.change:+.1%} slower (CI {c.ci_low - 1:+.1%} "
                                f"… {c.ci_high - 1:+.1%}, p={c.p_value:.2g}; threshold "
                                f"{d.threshold:.0%})"))
        for r in self.comparison.counted.regressions:
            if isinstance(r, InstructionDelta) and r.comparison is not None:
                c = r.comparison
                out.append(("instructions",
                            f"{r.key} costs {c.change:+.2%} instructions per op (CI "
                            f"{c.ci_low - 1:+.2%} … {c.ci_high - 1:+.2%}; threshold "
                            f"{r.threshold:.0%})"))
            elif isinstance(r, IoDelta):
                out.append(("I/O", f"{r.key}: {IO_NAMES[r.counter]} per op {r.base:.3g} → "
                                   f"{r.current:.3g} (a behaviour change; accept it under "
                                   "[tool.twinbench] accept-io-changes)"))
        out.extend(("failed", f"failed: {f}") for f in self.comparison.failures)
        uncounted = (self.comparison.current.meta.get("count") or {}).get("failures") or {}
        out.extend(("failed", f"not counted: {k}: {v}") for k, v in uncounted.items())
        return out

    @property
    def reasons(self) -> list[str]:
        """Why the gate fails; empty when it passes."""
        return [why if channel == "failed" else f"{channel}: {why}"
                for channel, why in self.caught]

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def decide(comparison: CompareResult, thresholds: Thresholds) -> GateResult:
    """The gate's verdict; also refuses a check that compares nothing at all."""
    if not comparison.compared and not comparison.failures \
            and not comparison.counted.compared and not comparison.counted.io:
        stale = any(d.status is Status.PARAMS_DIFFER for d in comparison.absolute)
        hint = ("; their parameters differ: refresh the baseline" if stale
                else "; is it the right baseline?")
        raise BadInput(f"nothing to check: {comparison.base_name} and "
                       f"{comparison.current_name} share no comparable benchmark{hint}")
    return GateResult(comparison, thresholds)


def suspects(result: CompareResult) -> list[Delta]:
    """Gated benchmarks whose measured change is beyond their threshold, significant or not."""
    return [d for d in result.compared
            if d.comparison is not None and d.comparison.change > d.threshold]


def confirmation_cases(result: CompareResult, suspected: list[Delta]) -> tuple[str, ...]:
    """Case ids to re-measure: the suspects, and in ratio mode the twins they are divided by."""
    keys = {CaseKey(d.workload, d.scenario, d.twin) for d in suspected}
    if result.mode is Mode.RATIO:
        keys |= {CaseKey(d.workload, d.scenario, d.reference) for d in suspected if d.reference}
    return tuple(sorted(k.test_id for k in keys))


def to_confirm(result: CompareResult) -> tuple[tuple[str, ...], str]:
    """What confirmation re-measures, and the line announcing it (harness.run.confirm)."""
    suspected = suspects(result)
    if not suspected:
        return (), ""
    return (confirmation_cases(result, suspected),
            f"{len(suspected)} benchmark(s) beyond threshold: "
            f"{', '.join(d.key for d in suspected)}")


def extra_pairs(result: CompareResult, base: Run, current: Run, *, seconds: float
                ) -> tuple[dict[str, int], str]:
    """More pairs for the benchmarks of an interleaved check that are too noisy yet to see a
    change at their threshold (`bench check --against --extend SECONDS`): per case id, the
    pairs their spread says they need (stats.pairs_needed), as many as `seconds` of their
    rounds on both sides pay for. Cheap noisy benchmarks get many; a benchmark whose pair
    takes longer than that, none: precision goes where it costs least. `result` is the
    point-estimate comparison of the two first-stage runs; the line announces the plan."""
    if seconds <= 0:
        return {}, ""
    base_by = {r.key: r for r in base.benchmarks}
    current_by = {r.key: r for r in current.benchmarks}
    out: dict[str, int] = {}
    for d in result.compared:
        c = d.comparison
        if c is None or c.method != "pairs" or d.key not in base_by or d.key not in current_by:
            continue
        b, cur = base_by[d.key], current_by[d.key]
        need = pairs_needed(b.passes, cur.passes, goal=d.threshold, alpha=result.alpha) - c.pairs
        pair_s = b.median + cur.median
        more = min(need, int(seconds / pair_s)) if pair_s > 0 else 0
        if more >= MIN_EXTRA_PAIRS:
            out[CaseKey(d.workload, d.scenario, d.twin).test_id] = more
    if not out:
        return {}, ""
    counts = sorted(out.values())
    span = f"{counts[0]}" if counts[0] == counts[-1] else f"{counts[0]}–{counts[-1]}"
    return out, (f"{len(out)} benchmark(s) too noisy yet to see a change at their threshold: "
                 f"{span} more pairs each (at most {seconds:g} s of rounds per benchmark)")
