"""Confirmation: before `bench check` believes a benchmark got slower, it measures it again.

A benchmark whose first measurement came out beyond its threshold gets more passes, just it
(and whatever it is judged against), once the first pass is over, and the verdict is taken over
all its passes. One slow pass is most often the machine, not the code: the extra passes let the
test see that noise and weigh it, at the cost of re-running only what looked slow.

Which cases are suspect is the analysis's decision, passed in as a callback, so this module (in
the measuring process) never imports the statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from harness.model.registry import Selection
from harness.model.workload import Workload
from harness.results.merge import merge_passes
from harness.results.runfile import Run, parse_run, set_confirmation
from harness.run.events import Listener
from harness.run.runner import RunRequest, execute

# A run -> the case ids to re-measure (empty: nothing suspect), and a line saying why.
Suspects = Callable[[Run], tuple[tuple[str, ...], str]]


@dataclass
class Measurement:
    """What was measured: the run (confirmation passes merged in); None when nothing
    produced a result."""

    run: Run | None
    confirmed: tuple[str, ...] = ()
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)


def measure_and_confirm(request: RunRequest, suspects: Suspects, *, confirm: int,
                        listener: Listener | None = None,
                        registry: dict[str, Workload] | None = None,
                        announce: Callable[[str], None] = lambda _: None) -> Measurement:
    """Measure `request`, then `confirm_suspects`."""
    first = execute(request, listener, registry)
    if first.run is None or first.interrupted:
        return Measurement(first.run, interrupted=first.interrupted, warnings=first.warnings)
    measured = confirm_suspects(first.run, request, suspects, passes=confirm,
                                listener=listener, registry=registry, announce=announce)
    measured.warnings[:0] = first.warnings
    return measured


def confirm_suspects(run: Run, request: RunRequest, suspects: Suspects, *, passes: int,
                     listener: Listener | None = None,
                     registry: dict[str, Workload] | None = None,
                     announce: Callable[[str], None] = lambda _: None) -> Measurement:
    """Re-measure what `suspects(run)` names with `passes` more passes, merged into the run."""
    cases, why = suspects(run)
    if not cases or passes < 1:
        return Measurement(run)
    announce(f"{why}; confirming with {passes} more pass(es) of {len(cases)} benchmark(s)")
    # Suspects are re-timed, not re-counted: counts were taken once, with the first pass.
    again = execute(replace(request, selection=Selection(cases=cases), passes=passes,
                            count=False), listener, registry)
    if again.interrupted:
        return Measurement(run, cases, interrupted=True, warnings=again.warnings)
    if again.run is None:
        return Measurement(run, cases, warnings=[
            *again.warnings, "the confirmation passes produced no result: verdicts are "
                             "from the first measurement"])
    doc = merge_passes([run.doc, again.run.doc])
    set_confirmation(doc, passes, cases)
    return Measurement(parse_run(doc, allow_empty=True), cases, warnings=again.warnings)
