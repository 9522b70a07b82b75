"""Progress callbacks from a run; the CLI passes a rich implementation, tests a silent one.

Every callback runs outside the timed region (between rounds), so a listener may draw."""

from __future__ import annotations

from typing import Any

from harness.model.case import Case
from harness.run.profiles import Profile


class Listener:
    def pass_start(self, index: int, total: int) -> None: ...

    def session_start(self, total: int) -> None: ...

    def planned(self, case_ids: list[str]) -> None:
        """The cases this session will measure, in order."""

    def cases_planned(self, cases: list[Case], profile: Profile) -> None:
        """The same, with what an estimate of their durations needs."""

    def before_case(self, case: Case) -> int | None:
        """Before anything of the case runs (peers, set-up). An interleaving coordinator
        (harness.run.ab) blocks here until the other side is idle, and may answer how many
        rounds to time this case instead of the profile's (None: the profile's)."""
        return None

    def group_start(self, cases: list[Case], rounds: int) -> None:
        """The twins of a scenario are about to be measured in turn (harness.run.interleave),
        each at most `rounds` timed rounds; each then gets `case_start`, `round_done` and
        `case_end` as usual, their rounds interleaved."""

    def case_start(self, case: Case, rounds: int) -> None: ...

    def before_round(self, case: Case) -> None:
        """Before each round's untimed reset, warm-ups included; may block like
        `before_case`."""

    def round_done(self, case: Case) -> None: ...

    def measured(self, case: Case, benchmark: dict[str, Any]) -> None:
        """A benchmark's run-file entry, once its rounds are done and checked (a counted
        worker passes it on at once: harness.run.count)."""

    def counting(self, total: int) -> None:
        """The counted phase begins: `total` benchmarks, each run again under valgrind."""

    def case_end(self, case: Case, outcome: str, detail: str) -> None: ...
