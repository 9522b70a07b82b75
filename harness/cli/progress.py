"""Progress of a run: which benchmark is running and how long the rest will take.

On a terminal, a rich display redrawn only between rounds: auto-refresh is off on purpose, as a
refresh thread would compete for the GIL with the twin being timed; the callbacks run outside
the timed region. Without a terminal (CI, a pipe), one plain line per finished benchmark, so a
log shows progress from the first benchmark on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from harness.model.case import Case
from harness.render.fmt import plain
from harness.run.estimate import previous_runs, priors, spread
from harness.run.events import Listener
from harness.run.profiles import Profile

# How many workloads' worth of "physics was right" the estimate of an unseen workload starts
# from (Eta._scale).
UNSEEN_WEIGHT = 2


def fmt_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass
class Eta:
    """Time left. With priors (harness.run.estimate: each benchmark's expected duration, known
    before it starts), every scenario still ahead at its prior, scaled by how the finished
    scenarios compared with theirs, and the one running at what is left of its own; the
    uncertainty is how much those comparisons scatter. Without (the counted phase), the
    benchmarks still ahead at the mean duration of the finished ones."""

    clock: Callable[[], float] = time.monotonic
    passes: int = 1
    pass_index: int = 1
    per_pass: int = 0  # benchmarks in a pass
    done_in_pass: int = 0
    durations: list[float] = field(default_factory=list)
    case_started: float | None = None
    # Scenarios: their cases in run order, each case's prior, and what each took.
    members: dict[str, list[str]] = field(default_factory=dict)
    group_of: dict[str, str] = field(default_factory=dict)
    priors: dict[str, float] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)  # group -> when it began
    ended: dict[str, int] = field(default_factory=dict)  # group -> its cases ended this pass
    ratios: list[float] = field(default_factory=list)  # actual / prior of finished groups
    # The same by workload: workloads differ in how far physics is from the truth (a file
    # system's, a server's start-up), scenarios of one workload much less.
    by_workload: dict[str, list[float]] = field(default_factory=dict)
    workload_of: dict[str, str] = field(default_factory=dict)
    group_times: list[float] = field(default_factory=list)

    def plan(self, cases: list[Case], priors: dict[str, float]) -> None:
        self.members, self.group_of = {}, {}
        for case in cases:
            self.members.setdefault(case.group, []).append(case.id)
            self.group_of[case.id] = case.group
            self.workload_of[case.group] = case.workload.name
        self.priors = dict(priors)

    def pass_start(self, index: int, total: int) -> None:
        self.pass_index, self.passes, self.done_in_pass = index, total, 0
        self.started, self.ended = {}, {}

    def case_start(self, case_id: str | None = None) -> None:
        now = self.clock()
        self.case_started = now
        if case_id is not None and case_id in self.group_of:
            self.started.setdefault(self.group_of[case_id], now)

    def case_end(self, case_id: str | None = None) -> float:
        """The finished benchmark's duration (since its own start, or its scenario's)."""
        now = self.clock()
        took = 0.0
        if self.case_started is not None:  # else skipped before it started: no pace to learn
            took = now - self.case_started
            self.durations.append(took)
        self.done_in_pass += 1
        self.case_started = None
        group = self.group_of.get(case_id or "")
        if group is not None:
            self.ended[group] = self.ended.get(group, 0) + 1
            if self.ended[group] == len(self.members[group]) and group in self.started:
                actual = now - self.started[group]
                self.group_times.append(actual)
                prior = self._prior(group)
                if prior and actual > 0:
                    self.ratios.append(actual / prior)
                    self.by_workload.setdefault(self.workload_of[group], []).append(
                        actual / prior)
        return took

    @property
    def done(self) -> int:
        return (self.pass_index - 1) * self.per_pass + self.done_in_pass

    @property
    def total(self) -> int:
        return self.passes * self.per_pass

    def _prior(self, group: str) -> float:
        return sum(self.priors.get(c, 0.0) for c in self.members[group])

    def _scale(self, group: str) -> float:
        """Actual over prior of the finished scenarios of the group's workload; for a workload
        none of whose scenarios has finished, what the finished workloads share (1 before
        any). Workloads stray from their physics by 0.4x to 2x on one machine (measured:
        file_io 0.42, scrape 2.1), so the first one or two say little about the next one;
        what they share is the machine's pace. So their geometric mean is shrunk towards 1,
        as if UNSEEN_WEIGHT more workloads had matched their physics (after file_io and the
        game server alone, the median scenario put the rest 44% low)."""
        mine = self.by_workload.get(self.workload_of.get(group, ""))
        if mine:
            return _geometric_mean(mine)
        seen = [_geometric_mean(ratios) for ratios in self.by_workload.values() if ratios]
        if not seen:
            return 1.0
        return math.exp(sum(math.log(s) for s in seen) / (len(seen) + UNSEEN_WEIGHT))

    def left(self) -> float | None:
        """Seconds left, or None before there is anything to go on."""
        if not self.members or not self.priors:
            return self._extrapolated()
        now = self.clock()
        left = 0.0
        for group in self.members:
            if self.ended.get(group, 0) >= len(self.members[group]):
                continue
            expected = self._prior(group) * self._scale(group)
            if group in self.started:
                # what is left of the running one, at least a tenth of it: it has not ended
                expected = max(expected - (now - self.started[group]), 0.1 * expected)
            left += expected
        whole = sum(self._prior(g) * self._scale(g) for g in self.members)
        return left + (self.passes - self.pass_index) * whole

    def sureness(self) -> str:
        """How sure the estimate is: the scatter of finished scenarios against their priors."""
        if not self.members or not self.priors:
            return ""
        if len(self.ratios) < 3:
            return " (rough: learning this machine's pace)"
        # How far a finished scenario was from its own workload's scale: the error to expect
        # of one scenario still ahead; the sum of many errs less.
        residuals = [r / _geometric_mean(mine)
                     for mine in self.by_workload.values() if len(mine) > 1 for r in mine]
        ahead = sum(1 for g in self.members if self.ended.get(g, 0) < len(self.members[g]))
        if len(residuals) < 3 or not ahead:
            return " (rough: learning this machine's pace)"
        return f" (±{min(spread(residuals) / math.sqrt(ahead) + 0.05, 9.99):.0%})"

    def _extrapolated(self) -> float | None:
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        running = self.case_started is not None
        return max(0, self.total - self.done - (1 if running else 0)) * mean


def _geometric_mean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


class _Tracking(Listener):
    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic):
        self.console = console
        self.eta = Eta(clock=clock)
        self._turns: dict[str, int] = {}

    def pass_start(self, index: int, total: int) -> None:
        self.eta.pass_start(index, total)

    def session_start(self, total: int) -> None:
        self.eta.per_pass = total

    def cases_planned(self, cases: list[Case], profile: Profile) -> None:
        if not self.eta.members:  # once: later passes plan the same cases
            known = priors(cases, profile, previous_runs(profile.name))
            self.eta.plan(cases, {k: p.seconds for k, p in known.items()})

    def counting(self, total: int) -> None:
        """The counted phase: its own benchmarks and pace (valgrind's), estimated afresh."""
        self.eta = Eta(clock=self.eta.clock, per_pass=total)

    def group_start(self, cases: list[Case], rounds: int) -> None:
        self._turns = {c.id: 0 for c in cases}

    def case_start(self, case: Case, rounds: int) -> None:
        self.eta.case_start(case.id)

    def round_done(self, case: Case) -> None:
        if case.id in self._turns:
            self._turns[case.id] += 1

    def took(self, case: Case, seconds: float) -> str:
        """How long a benchmark took: a twin measured in turn with its scenario's others
        says how many rounds it had (warm-ups included) instead of a time it shared."""
        if case.id in self._turns:
            return f"{self._turns.pop(case.id)} rounds in turn"
        return f"in {seconds:.1f} s"

    def time_left(self) -> str:
        left = self.eta.left()
        return ("estimating time left" if left is None
                else f"~{fmt_duration(left)} left{self.eta.sureness()}")

    def __enter__(self) -> _Tracking:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class PlainProgress(_Tracking):
    """One line per finished benchmark, for logs; a reason many share (a peer that could not
    start) is spelt out once."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic):
        super().__init__(console, clock)
        self._said: set[tuple[str, str]] = set()

    def pass_start(self, index: int, total: int) -> None:
        super().pass_start(index, total)
        if total > 1:
            self.console.print(f"pass {index}/{total}", highlight=False)

    def counting(self, total: int) -> None:
        super().counting(total)
        self.console.print(f"counting {total} benchmark(s) under valgrind (callgrind)",
                           highlight=False)

    def case_end(self, case: Case, outcome: str, detail: str) -> None:
        took = self.eta.case_end(case.id)
        what = outcome
        if detail and outcome != "passed":
            what += (" (as above)" if (outcome, detail) in self._said
                     else f" ({plain(detail, markup=False)})")
            self._said.add((outcome, detail))
        self.console.print(f"[{self.eta.done}/{self.eta.total}] {case.workload.name} · "
                           f"{case.scenario.name} · {case.twin.name}: {what} "
                           f"{self.took(case, took)}, {self.time_left()}", highlight=False,
                           markup=False, soft_wrap=True)


class RichProgress(_Tracking):
    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic):
        super().__init__(console, clock)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[left]}"), console=console, auto_refresh=False,
            transient=True,
        )
        self.overall: TaskID | None = None
        self.current: TaskID | None = None
        self._said: set[tuple[str, str]] = set()  # a reason shown once (e.g. a dead peer's)
        self._group: set[str] = set()  # the cases of the scenario measured in turn, if any

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _refresh(self) -> None:
        if self.overall is not None:
            self.progress.update(self.overall, completed=self.eta.done, left=self.time_left())
        self.progress.refresh()

    def session_start(self, total: int) -> None:
        super().session_start(total)
        label = (f"pass {self.eta.pass_index}/{self.eta.passes}" if self.eta.passes > 1
                 else "benchmarks")
        if self.overall is None:
            self.overall = self.progress.add_task(label, total=self.eta.total, left="")
        else:
            self.progress.update(self.overall, description=label, total=self.eta.total)
        self._refresh()

    def counting(self, total: int) -> None:
        super().counting(total)
        label = "counting (valgrind)"
        if self.overall is None:
            self.overall = self.progress.add_task(label, total=total, left="")
        else:
            self.progress.update(self.overall, description=label, total=total, completed=0)
        self._refresh()

    def _task(self, description: str, total: int) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
        self.current = self.progress.add_task(escape(description), total=total, left="")
        self._refresh()

    def group_start(self, cases: list[Case], rounds: int) -> None:
        """Twins in turn: one bar for the scenario, a step per twin's round (at most)."""
        super().group_start(cases, rounds)
        self._group = {c.id for c in cases}
        first = cases[0]
        self._task(f"{first.workload.name} · {first.scenario.name} · {len(cases)} twins in "
                   f"turn", len(cases) * (rounds + 1))

    def case_start(self, case: Case, rounds: int) -> None:
        super().case_start(case, rounds)
        if case.id not in self._group:
            self._group = set()
            self._task(f"{case.workload.name} · {case.scenario.name} · {case.twin.name}",
                       rounds)

    def round_done(self, case: Case) -> None:
        super().round_done(case)
        if self.current is not None:
            self.progress.advance(self.current)
        self._refresh()

    def case_end(self, case: Case, outcome: str, detail: str) -> None:
        self.eta.case_end(case.id)
        self._group.discard(case.id)
        if self.current is not None and not self._group:
            self.progress.remove_task(self.current)
            self.current = None
        if outcome != "passed" and (outcome, detail) not in self._said:
            self._said.add((outcome, detail))
            colour = "red" if outcome == "failed" else "yellow"
            self.console.print(f"[{colour}]{outcome}[/] {escape(case.id)}: {escape(detail)}",
                               highlight=False, soft_wrap=True)
        self._refresh()


def progress_for(console: Console, log: Console | None = None) -> _Tracking:
    """A live display on `console` if it is a terminal, else plain lines on `log` (stderr,
    so that piped output holds only the results)."""
    if console.is_terminal:
        return RichProgress(console)
    return PlainProgress(log or console)
