"""A rich progress display for `bench run`, redrawn only between rounds.

Auto-refresh is off on purpose: a refresh thread would compete for the GIL with the twin being
timed. The display is redrawn from the plugin's callbacks, which run outside the timed region.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from harness.model.case import Case
from harness.render.fmt import plain
from harness.run.events import Listener


class RichProgress(Listener):
    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, auto_refresh=False, transient=True,
        )
        self.overall: TaskID | None = None
        self.current: TaskID | None = None
        self.pass_label = "benchmarks"
        self._said: set[tuple[str, str]] = set()  # a reason shown once (e.g. a dead peer's)

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def pass_start(self, index: int, total: int) -> None:
        self.pass_label = f"pass {index}/{total}" if total > 1 else "benchmarks"

    def session_start(self, total: int) -> None:
        if self.overall is not None:
            self.progress.remove_task(self.overall)
        self.overall = self.progress.add_task(self.pass_label, total=total)
        self.progress.refresh()

    def case_start(self, case: Case, rounds: int) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
        self.current = self.progress.add_task(
            f"{case.workload.name} · {case.scenario.name} · {case.twin.name}", total=rounds)
        self.progress.refresh()

    def round_done(self, case: Case) -> None:
        if self.current is not None:
            self.progress.advance(self.current)
            self.progress.refresh()

    def case_end(self, case: Case, outcome: str, detail: str) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
            self.current = None
        if self.overall is not None:
            self.progress.advance(self.overall)
        if outcome != "passed" and (outcome, detail) not in self._said:
            self._said.add((outcome, detail))
            colour = "red" if outcome == "failed" else "yellow"
            self.console.print(f"[{colour}]{outcome}[/] {case.id}: {plain(detail)}",
                               highlight=False, soft_wrap=True)
        self.progress.refresh()
