"""Progress that tells the time: an estimate from the rounds done so far, and plain lines when
there is no terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from harness.cli.progress import Eta, PlainProgress, fmt_duration, progress_for
from harness.model.case import Case
from tests.run.test_cost import WORKLOAD


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_eta_from_the_current_benchmarks_pace_then_the_mean_of_finished_ones() -> None:
    clock = FakeClock()
    eta = Eta(clock=clock)
    eta.pass_start(1, 2)
    eta.per_pass = 3  # 6 benchmarks in all
    assert eta.left() is None  # nothing timed yet
    eta.case_start(rounds=4)
    clock.now = 2.0
    eta.round_done()  # 2 s per round: 6 s left of this one, 5 more like it (8 s each)
    assert eta.left() == pytest.approx(6.0 + 5 * 8.0)
    clock.now = 8.0
    assert eta.case_end() == pytest.approx(8.0)
    assert eta.left() == pytest.approx(5 * 8.0)
    eta.case_start(rounds=4)
    clock.now = 10.0
    for _ in range(4):
        eta.round_done()
    assert eta.left() == pytest.approx(4 * 8.0)


def test_plain_progress_prints_one_line_per_finished_benchmark() -> None:
    out = io.StringIO()
    progress = PlainProgress(Console(file=out, width=200))
    case = Case(WORKLOAD, WORKLOAD.twins[0], WORKLOAD.scenarios[0])
    progress.pass_start(1, 1)
    progress.session_start(2)
    progress.case_start(case, 2)
    progress.round_done(case)
    progress.round_done(case)
    progress.case_end(case, "passed", "")
    progress.case_end(case, "skipped", "no [bold]peer[/]")  # file text is never markup
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/2] cost · s · sleeper: passed in ")
    assert lines[0].endswith("left")
    assert "skipped (no [bold]peer[/])" in lines[1]


def test_no_terminal_means_plain_lines_on_the_log_console() -> None:
    log = Console(file=io.StringIO())
    assert isinstance(progress_for(Console(file=io.StringIO()), log), PlainProgress)


@pytest.mark.parametrize(("seconds", "text"), [(4.4, "4s"), (75, "1m15s"), (3725, "1h02m")])
def test_durations(seconds: float, text: str) -> None:
    assert fmt_duration(seconds) == text
