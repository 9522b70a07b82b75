"""Progress of a run: which benchmark is running and how long the rest will take.

On a terminal, a rich display redrawn only between rounds: auto-refresh is off on purpose, as a
refresh thread would compete for the GIL with the twin being timed; the callbacks run outside
the timed region. Without a terminal (CI, a pipe), one plain line per finished benchmark, so a
log shows progress from the first benchmark on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from harness.model.case import Case
from harness.render.fmt import plain
from harness.run.events import Listener


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
    """Time left, from what has run so far: the current benchmark's remaining rounds at its
    own pace so far, then every benchmark still to come (the rest of this pass, and every later
    pass) at the mean duration of those that finished."""

    clock: Callable[[], float] = time.monotonic
    passes: int = 1
    pass_index: int = 1
    per_pass: int = 0  # benchmarks in a pass
    done_in_pass: int = 0
    durations: list[float] = field(default_factory=list)
    rounds: int = 0  # of the current benchmark, warm-up included
    rounds_done: int = 0
    case_started: float | None = None

    def pass_start(self, index: int, total: int) -> None:
        self.pass_index, self.passes, self.done_in_pass = index, total, 0

    def case_start(self, rounds: int) -> None:
        self.rounds, self.rounds_done, self.case_started = rounds, 0, self.clock()

    def round_done(self) -> None:
        self.rounds_done += 1

    def case_end(self) -> float:
        """The finished benchmark's duration."""
        took = 0.0
        if self.case_started is not None:  # else skipped before it started: no pace to learn
            took = self.clock() - self.case_started
            self.durations.append(took)
        self.done_in_pass += 1
        self.case_started = None
        return took

    @property
    def done(self) -> int:
        return (self.pass_index - 1) * self.per_pass + self.done_in_pass

    @property
    def total(self) -> int:
        return self.passes * self.per_pass

    def left(self) -> float | None:
        """Seconds left, or None before anything has been timed."""
        current = 0.0
        running = self.case_started is not None
        if running and self.rounds_done:
            assert self.case_started is not None
            pace = (self.clock() - self.case_started) / self.rounds_done
            current = pace * max(0, self.rounds - self.rounds_done)
        mean = sum(self.durations) / len(self.durations) if self.durations else None
        if mean is None and running and self.rounds_done:
            assert self.case_started is not None
            mean = (self.clock() - self.case_started) / self.rounds_done * self.rounds
        if mean is None:
            return None
        later = self.total - self.done - (1 if running else 0)
        return current + max(0, later) * mean


class _Tracking(Listener):
    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic):
        self.console = console
        self.eta = Eta(clock=clock)

    def pass_start(self, index: int, total: int) -> None:
        self.eta.pass_start(index, total)

    def session_start(self, total: int) -> None:
        self.eta.per_pass = total

    def counting(self, total: int) -> None:
        """The counted phase: its own benchmarks and pace (valgrind's), estimated afresh."""
        self.eta = Eta(clock=self.eta.clock, per_pass=total)

    def case_start(self, case: Case, rounds: int) -> None:
        self.eta.case_start(rounds)

    def round_done(self, case: Case) -> None:
        self.eta.round_done()

    def time_left(self) -> str:
        left = self.eta.left()
        return "estimating time left" if left is None else f"~{fmt_duration(left)} left"

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
        took = self.eta.case_end()
        what = outcome
        if detail and outcome != "passed":
            what += (" (as above)" if (outcome, detail) in self._said
                     else f" ({plain(detail, markup=False)})")
            self._said.add((outcome, detail))
        self.console.print(f"[{self.eta.done}/{self.eta.total}] {case.workload.name} · "
                           f"{case.scenario.name} · {case.twin.name}: {what} in "
                           f"{took:.1f} s, {self.time_left()}", highlight=False,
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

    def case_start(self, case: Case, rounds: int) -> None:
        super().case_start(case, rounds)
        if self.current is not None:
            self.progress.remove_task(self.current)
        self.current = self.progress.add_task(
            escape(f"{case.workload.name} · {case.scenario.name} · {case.twin.name}"),
            total=rounds, left="")
        self._refresh()

    def round_done(self, case: Case) -> None:
        super().round_done(case)
        if self.current is not None:
            self.progress.advance(self.current)
        self._refresh()

    def case_end(self, case: Case, outcome: str, detail: str) -> None:
        self.eta.case_end()
        if self.current is not None:
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
