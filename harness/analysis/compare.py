"""Run vs run: per-benchmark deltas, verdicts and the async-over-sync speedup of each run.

Benchmarks are matched by `BenchRecord.key` (workload:scenario:twin). Two views are computed:

* absolute — each benchmark's time in BASE against its time in CURRENT. Only meaningful on the
  same machine.
* in-run ratio — each twin divided by its scenario's *reference* twin measured in the same run
  (and the same pass), then that ratio compared between runs. Whatever the two twins share
  (CPU speed, kernel, Python build) largely cancels, so this stays comparable across machines.

Both go through `stats.compare_passes`: with several passes on a side (harness.results.merge)
the test is a t-test on pass medians, whose spread is the run-to-run noise; with one pass on
each side only the rounds are there (Mann-Whitney + bootstrap CI), and that noise goes unseen —
the report says so. Either way the verdict needs the effect beyond the benchmark's threshold,
p < alpha and the CI excluding 1.

The reference is the scenario's sequential sync twin (kind "sync"), chosen by name from BASE
and looked up by the same name in CURRENT. Not the best sync twin: which twin is fastest can
flip between two near-equal thread-pool twins from run to run, and the ratio would then jump
for no reason in the code. (Without a sequential twin, BASE's fastest sync twin is used, still
by name.)
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from harness.analysis.counted import CountedComparison, compare_counted
from harness.analysis.stats import (
    Comparison,
    Verdict,
    compare_pairs,
    compare_passes,
    estimate_pairs,
    estimate_passes,
    min_detectable_p,
)
from harness.analysis.summary import summarize
from harness.config import DEFAULT_INSTRUCTIONS_THRESHOLD, Thresholds
from harness.model.workload import SYNC_KINDS
from harness.results.runfile import BenchRecord, Run, paired_with

DEFAULT_ALPHA = 0.01
MACHINE_FIELDS = ("cpu", "cores", "memory_bytes", "os", "arch")
# Usable RAM reported by the kernel wobbles slightly between boots of the same machine.
MEMORY_TOLERANCE = 0.05


class Mode(enum.StrEnum):
    """What the verdicts gate on."""

    ABSOLUTE = "absolute"
    RATIO = "ratio"


class Status(enum.StrEnum):
    """Why a benchmark has (or lacks) a verdict; the summary lists them in this order."""

    COMPARED = "compared"
    LOST_WORK = "lost work"
    FAILED = "failed"
    ADDED = "added"
    REMOVED = "removed"
    PARAMS_DIFFER = "params differ"
    NOT_GATED = "not gated"
    REFERENCE = "reference"
    NO_REFERENCE = "no reference"
    NOT_TIMED = "not timed"
    ERROR = "error"


#: Every verdict word a summary can count, in the order it lists them: a compared benchmark's
#: verdict, else its status.
VERDICT_ORDER: tuple[str, ...] = (
    *(v.value for v in (Verdict.SLOWER, Verdict.FASTER, Verdict.UNCHANGED)),
    *(s.value for s in Status if s is not Status.COMPARED),
)


@dataclass(frozen=True)
class Delta:
    """One benchmark across the two runs, in one view (seconds, or in-run ratio)."""

    key: str
    workload: str
    scenario: str
    twin: str
    kind: str
    label: str
    status: Status
    threshold: float
    comparison: Comparison | None = None
    base_value: float | None = None
    current_value: float | None = None
    n_base: int = 0
    n_current: int = 0
    underpowered: bool = False
    reference: str | None = None
    detail: str = ""

    @property
    def verdict(self) -> str:
        if self.status is Status.COMPARED and self.comparison is not None:
            return self.comparison.verdict.value
        return self.status.value

    @property
    def regression(self) -> bool:
        if self.status is Status.LOST_WORK:
            return True
        return (self.status is Status.COMPARED and self.comparison is not None
                and self.comparison.verdict is Verdict.SLOWER)


@dataclass(frozen=True)
class SpeedupDelta:
    """Best async twin over best sync twin in each run, for one scenario."""

    workload: str
    scenario: str
    base: float | None
    current: float | None
    base_pair: tuple[str, str] | None  # (best async twin, best sync twin)
    current_pair: tuple[str, str] | None
    params_differ: bool = False

    @property
    def change(self) -> float | None:
        if self.base is None or self.current is None or self.params_differ:
            return None
        return self.current / self.base - 1


@dataclass(frozen=True)
class CompareResult:
    base: Run
    current: Run
    base_name: str
    current_name: str
    mode: Mode
    same_machine: bool
    machine_differences: tuple[str, ...]
    absolute: tuple[Delta, ...]
    ratios: tuple[Delta, ...]
    speedups: tuple[SpeedupDelta, ...]
    failures: tuple[str, ...]  # "case-id: detail" of twins that failed in CURRENT
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    alpha: float
    confidence: float
    paired: bool = False  # the two sides of one interleaved A/B session
    # Instructions and I/O per operation (harness.analysis.counted): their own channels.
    counted: CountedComparison = field(default_factory=lambda: CountedComparison((), ()))

    @property
    def gated(self) -> tuple[Delta, ...]:
        return self.absolute if self.mode is Mode.ABSOLUTE else self.ratios

    @property
    def regressions(self) -> list[Delta]:
        return [d for d in self.gated if d.regression]

    @property
    def timed(self) -> bool:
        """Both runs timed their rounds (a run that only counted has valgrind's times)."""
        return _timed(self.base) and _timed(self.current)

    @property
    def compared(self) -> list[Delta]:
        return [d for d in self.gated if d.status is Status.COMPARED]


def _timed(run: Run) -> bool:
    return bool((run.meta.get("count") or {}).get("timed", True))


# -- machines -----------------------------------------------------------------------------------

def machine_differences(base: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable differences between two `twinbench.machine` blocks (empty: same)."""
    diffs = []
    for name in MACHINE_FIELDS:
        a, b = base.get(name), current.get(name)
        if name == "memory_bytes" and isinstance(a, int) and isinstance(b, int) and a and b:
            if abs(a - b) / max(a, b) <= MEMORY_TOLERANCE:
                continue
            diffs.append(f"memory {a / 2**30:.1f} GiB vs {b / 2**30:.1f} GiB")
        elif a != b:
            diffs.append(f"{name} {a!r} vs {b!r}")
    return diffs


# -- matching -----------------------------------------------------------------------------------

def _params_change(base: dict[str, Any], current: dict[str, Any]) -> str:
    keys = list(dict.fromkeys([*base, *current]))
    return ", ".join(f"{k} {base.get(k, '—')} → {current.get(k, '—')}"
                     for k in keys if base.get(k) != current.get(k))


@dataclass
class _Matcher:
    base: Run
    current: Run
    thresholds: Thresholds
    alpha: float
    confidence: float
    estimate: bool = False  # point estimates only: no test, no interval, no scipy
    paired: bool = False  # the runs are the two sides of one interleaved A/B session
    base_by_key: dict[str, BenchRecord] = field(init=False)
    current_by_key: dict[str, BenchRecord] = field(init=False)

    def __post_init__(self) -> None:
        self.base_by_key = {r.key: r for r in self.base.benchmarks}
        self.current_by_key = {r.key: r for r in self.current.benchmarks}
        self.paired = paired_with(self.base, self.current)

    def keys(self) -> list[str]:
        return list(dict.fromkeys([*self.base_by_key, *self.current_by_key]))

    def _shell(self, key: str, status: Status, **kw: Any) -> Delta:
        rec = self.current_by_key.get(key) or self.base_by_key[key]
        return Delta(key=key, workload=rec.workload, scenario=rec.scenario, twin=rec.twin,
                     kind=rec.kind, label=rec.label, status=status,
                     threshold=self.thresholds.for_key(key), **kw)

    def _power(self, base: BenchRecord, cur: BenchRecord, comparison: Comparison | None = None,
               threshold: float = 0.0) -> dict[str, Any]:
        """Rounds on each side, and whether the comparison could see a change at the
        threshold at all: rounds too few to ever be significant, or passes too noisy."""
        out: dict[str, Any] = {"n_base": len(base.data), "n_current": len(cur.data),
                               "underpowered": False}
        if comparison is None:
            return out
        if comparison.method == "rounds":
            floor = min_detectable_p(len(base.data), len(cur.data))
            out["underpowered"] = floor >= self.alpha
        elif comparison.detectable is None:  # point estimates only
            out["underpowered"] = False
        else:
            out["underpowered"] = (comparison.detectable or 0) > threshold
        return out

    def _compare(self, base: Any, current: Any, *, threshold: float, base_ref: Any = None,
                 current_ref: Any = None) -> Comparison:
        if self.estimate:
            return estimate_passes(base, current, base_ref=base_ref, current_ref=current_ref)
        return compare_passes(base, current, base_ref=base_ref, current_ref=current_ref,
                              threshold=threshold, alpha=self.alpha,
                              confidence=self.confidence)

    def unmatched(self, key: str) -> Delta | None:
        """The delta of a benchmark that cannot be compared, or None if it can."""
        base, cur = self.base_by_key.get(key), self.current_by_key.get(key)
        probe = cur or base
        assert probe is not None
        outcome = self.current.outcomes.get(probe.case_id)
        if outcome is not None and outcome.failed:
            return self._shell(key, Status.FAILED, detail=outcome.detail)
        if base is None:
            return self._shell(key, Status.ADDED)
        if cur is None:
            skipped = outcome is not None and outcome.outcome == "skipped"
            return self._shell(key, Status.REMOVED,
                               detail=f"skipped: {outcome.detail}" if skipped and outcome
                               else "")
        if not (_timed(self.base) and _timed(self.current)):
            return self._shell(key, Status.NOT_TIMED,
                               detail="only counted: its rounds ran under valgrind")
        if base.params != cur.params:
            return self._shell(key, Status.PARAMS_DIFFER,
                               detail=_params_change(base.params, cur.params),
                               base_value=base.median, current_value=cur.median)
        metric = base.extra.get("judged_by")
        if metric:
            # Open loop: wall time is the schedule's, and the metric that tells twins apart
            # (e.g. p99) is one number per run, which no test on rounds can gate.
            return self._shell(key, Status.NOT_GATED,
                               detail=f"judged by {metric}, one value per run: shown only",
                               base_value=base.extra.get(metric),
                               current_value=cur.extra.get(metric))
        if cur.extra.get("served", 1) < base.extra.get("served", 1):
            # Overload scenarios record dropped work as a result; more of it is a regression
            # however fast the twin looks (failing fast is quick).
            return self._shell(key, Status.LOST_WORK,
                               detail=f"served {cur.extra['served']:.0%} of the work, "
                                      f"down from {base.extra.get('served', 1):.0%}")
        return None

    def absolute(self, key: str) -> Delta:
        early = self.unmatched(key)
        if early is not None:
            return early
        base, cur = self.base_by_key[key], self.current_by_key[key]
        threshold = self.thresholds.for_key(key)
        try:
            if self.paired and base.pass_rounds == cur.pass_rounds and len(base.data) >= 3:
                comparison = (estimate_pairs(base.passes, cur.passes) if self.estimate else
                              compare_pairs(base.passes, cur.passes, threshold=threshold,
                                            alpha=self.alpha, confidence=self.confidence))
            else:
                comparison = self._compare(base.passes, cur.passes, threshold=threshold)
        except ValueError as exc:  # e.g. a zero-time round: no ratio exists
            return self._shell(key, Status.ERROR, detail=str(exc), **self._power(base, cur))
        return self._shell(key, Status.COMPARED, comparison=comparison,
                           base_value=comparison.base_median,
                           current_value=comparison.current_median,
                           **self._power(base, cur, comparison, threshold))

    def reference_twin(self, workload: str, scenario: str) -> str | None:
        records = [r for r in self.base.benchmarks
                   if r.workload == workload and r.scenario == scenario]
        sequential = next((r for r in records if r.kind == "sync"), None)
        if sequential is not None:
            return sequential.twin
        syncs = [r for r in records if r.kind in SYNC_KINDS]
        return min(syncs, key=lambda r: r.median).twin if syncs else None

    def ratio(self, key: str) -> Delta:
        early = self.unmatched(key)
        if early is not None:
            return early
        base, cur = self.base_by_key[key], self.current_by_key[key]
        ref_twin = self.reference_twin(base.workload, base.scenario)
        if ref_twin == base.twin:
            return self._shell(key, Status.REFERENCE, reference=ref_twin,
                               detail="the yardstick of its scenario")
        if ref_twin is None:
            return self._shell(key, Status.NO_REFERENCE, reference=ref_twin,
                               detail="no sync twin in both runs to divide by")
        ref_key = str(base.case.with_twin(ref_twin))
        base_ref, cur_ref = self.base_by_key.get(ref_key), self.current_by_key.get(ref_key)
        if base_ref is None or cur_ref is None:
            return self._shell(key, Status.NO_REFERENCE, reference=ref_twin,
                               detail="no sync twin in both runs to divide by")
        threshold = self.thresholds.for_key(key)
        # A ratio exists only for passes that measured both twins: a suspect re-measured
        # alone (`bench check` in absolute mode) has passes its reference lacks.
        nb = min(len(base.passes), len(base_ref.passes))
        nc = min(len(cur.passes), len(cur_ref.passes))
        try:
            comparison = self._compare(base.passes[:nb], cur.passes[:nc],
                                       base_ref=base_ref.passes[:nb],
                                       current_ref=cur_ref.passes[:nc], threshold=threshold)
        except ValueError as exc:
            return self._shell(key, Status.ERROR, detail=str(exc), reference=ref_twin,
                               **self._power(base, cur))
        return self._shell(key, Status.COMPARED, comparison=comparison, reference=ref_twin,
                           base_value=comparison.base_median,
                           current_value=comparison.current_median,
                           **self._power(base, cur, comparison, threshold))


def _speedups(base: Run, current: Run) -> list[SpeedupDelta]:
    base_s = {(s.workload, s.scenario): s for s in summarize(base)}
    cur_s = {(s.workload, s.scenario): s for s in summarize(current)}
    out = []
    for key in dict.fromkeys([*base_s, *cur_s]):
        b, c = base_s.get(key), cur_s.get(key)
        out.append(SpeedupDelta(
            workload=key[0], scenario=key[1],
            base=b.async_speedup if b else None, current=c.async_speedup if c else None,
            base_pair=b.pair if b else None, current_pair=c.pair if c else None,
            params_differ=bool(b and c and b.params != c.params),
        ))
    return out


# -- the comparison -----------------------------------------------------------------------------

def compare_runs(base: Run, current: Run, *, thresholds: Thresholds | None = None,
                 mode: str = "auto", alpha: float = DEFAULT_ALPHA, confidence: float = 0.95,
                 base_name: str | None = None, current_name: str | None = None,
                 estimate: bool = False, instructions: Thresholds | None = None,
                 accept_io: Callable[[str], bool] | None = None) -> CompareResult:
    """Compare CURRENT against BASE. `mode` "auto" gates on absolute times on the same
    machine and on in-run ratios across machines. `estimate` computes point estimates only
    (no test, no interval, no scipy): enough to pick suspects between measurements. What was
    counted is compared too, channel by channel (`instructions` thresholds, `accept_io`:
    harness.analysis.counted)."""
    if mode not in ("auto", *Mode):
        raise ValueError(f"mode must be auto, absolute or ratio, not {mode!r}")
    thresholds = thresholds or Thresholds()
    diffs = machine_differences(base.meta.get("machine") or {}, current.meta.get("machine") or {})
    same = not diffs
    resolved = Mode(mode) if mode != "auto" else (Mode.ABSOLUTE if same else Mode.RATIO)
    matcher = _Matcher(base, current, thresholds, alpha, confidence, estimate)
    keys = matcher.keys()
    absolute = tuple(matcher.absolute(k) for k in keys)
    ratios = tuple(matcher.ratio(k) for k in keys)
    failures = tuple(f"{o.case_id}: {o.detail}".rstrip(": ") for o in current.failures)
    result = CompareResult(
        base=base, current=current,
        base_name=base_name or str(base.path or "base"),
        current_name=current_name or str(current.path or "current"),
        mode=resolved, same_machine=same, machine_differences=tuple(diffs),
        absolute=absolute, ratios=ratios, speedups=tuple(_speedups(base, current)),
        failures=failures, warnings=(), notes=(), alpha=alpha, confidence=confidence,
        paired=matcher.paired,
        counted=CountedComparison((), ()) if estimate else compare_counted(
            base, current, thresholds=instructions or Thresholds(DEFAULT_INSTRUCTIONS_THRESHOLD),
            accept_io=accept_io, alpha=alpha),
    )
    warnings, notes = _warnings(result, mode)
    return replace(result, warnings=tuple(warnings), notes=tuple(notes))


def _some(deltas: list[Delta], shown: int = 4) -> str:
    """The first few keys; the table marks every one of them anyway."""
    keys = [d.key for d in deltas]
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def _warnings(r: CompareResult, requested_mode: str) -> tuple[list[str], list[str]]:
    """Everything that makes the comparison less than like-for-like, worst first."""
    b, c = r.base.meta, r.current.meta
    warnings: list[str] = []
    notes: list[str] = []
    if r.paired:
        session = (r.base.meta.get("ab") or {}).get("session")
        notes.append(f"one interleaved A/B session ({session}): each benchmark's rounds ran in "
                     "ABBA order next to the other side's, and verdicts rest on those pairs")
    if not r.same_machine:
        how = ("gating on in-run ratios (each twin against its scenario's sync twin, "
               "measured in the same run)" if r.mode is Mode.RATIO
               else "absolute times are compared anyway, as asked")
        warnings.append("the runs come from different machines ("
                        + "; ".join(r.machine_differences) + f"): {how}")
    elif requested_mode == Mode.RATIO:
        notes.append("same machine; gating on in-run ratios, as asked")
    if b.get("profile") != c.get("profile"):
        warnings.append(f"profiles differ ({b.get('profile')} vs {c.get('profile')}): "
                        "rounds and sizes are not like-for-like")
    if b.get("loop") != c.get("loop"):
        warnings.append(f"event loops differ ({b.get('loop')} vs {c.get('loop')})")
    for name, meta in ((r.base_name, b), (r.current_name, c)):
        if not meta.get("complete", True):
            warnings.append(f"{name} is an incomplete run (interrupted): missing benchmarks "
                            "are listed as removed or added")
    if r.failures:
        warnings.append(f"{len(r.failures)} twin(s) failed in the current run: "
                        + "; ".join(r.failures))
    differ = [d.key for d in r.absolute if d.status is Status.PARAMS_DIFFER]
    if differ:
        warnings.append(f"{len(differ)} benchmark(s) ran with different parameters and are "
                        f"not compared: {', '.join(differ)}")
    compared = [(d, d.comparison) for d in r.gated
                if d.status is Status.COMPARED and d.comparison is not None]
    few = [d for d, c in compared if d.underpowered and c.method == "rounds"]
    if few:
        sample = few[0]
        floor = min_detectable_p(sample.n_base, sample.n_current)
        warnings.append(f"{len(few)} benchmark(s) have too few rounds to ever be significant "
                        f"({sample.n_base} vs {sample.n_current} rounds: smallest possible "
                        f"p = {floor:.3g} ≥ alpha {r.alpha}); their 'unchanged' means "
                        "'cannot tell' — use the default profile")
    noisy = [(d, c) for d, c in compared if d.underpowered and c.method == "passes"]
    if noisy:
        floors = sorted(c.detectable or 0 for _, c in noisy)
        named = _some([d for d, _ in noisy])
        warnings.append(f"{len(noisy)} benchmark(s) vary too much from pass to pass for a "
                        f"slowdown at their threshold to show (smallest detectable: "
                        f"{floors[0]:.0%} to {floors[-1]:.0%}; marked †): {named}; more "
                        "passes (--passes, --confirm) or a larger threshold")
    if any(c.method == "rounds" for _, c in compared):
        warnings.append("one pass on each side: the noise between runs is not measured, so "
                        "verdicts rest on rounds alone and overstate confidence (on a shared "
                        "machine they false-alarm often); record the baseline with "
                        "`--passes 3` or more")
    if not r.compared and not r.counted.compared:
        warnings.append("no benchmark could be compared between these runs")
    if not r.timed:
        notes.append("a run only counted (its rounds ran under valgrind): times are not "
                     "compared, only instructions and I/O")
    none = [d.key for d in r.counted.instructions if d.status.value == "no baseline"]
    if none:
        warnings.append(f"{len(none)} benchmark(s) were counted now but not in the base run: "
                        f"their instructions have no baseline ({', '.join(none[:4])}"
                        + (f" and {len(none) - 4} more" if len(none) > 4 else "") + ")")
    notes.extend(r.counted.notes)
    failed = (r.current.meta.get("count") or {}).get("failures") or {}
    if failed:
        warnings.append(f"{len(failed)} twin(s) could not be counted: "
                        + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    py_b, py_c = (b.get("python") or {}).get("version"), (c.get("python") or {}).get("version")
    if py_b != py_c:
        notes.append(f"Python {py_b} → {py_c}")
    libs_b, libs_c = b.get("libraries") or {}, c.get("libraries") or {}
    changed = [f"{n} {libs_b.get(n)} → {libs_c.get(n)}"
               for n in dict.fromkeys([*libs_b, *libs_c]) if libs_b.get(n) != libs_c.get(n)]
    if changed:
        notes.append("library versions changed: " + ", ".join(changed))
    if b.get("harness_version") != c.get("harness_version"):
        notes.append(f"twinbench {b.get('harness_version')} → {c.get('harness_version')}")
    if (c.get("git") or {}).get("dirty"):
        notes.append("the current run was made from a working tree with uncommitted changes")
    return warnings, notes
