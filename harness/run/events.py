"""Progress callbacks from a run; the CLI passes a rich implementation, tests a silent one.

Every callback runs outside the timed region (between rounds), so a listener may draw."""

from __future__ import annotations

from harness.model.case import Case


class Listener:
    def pass_start(self, index: int, total: int) -> None: ...

    def session_start(self, total: int) -> None: ...

    def case_start(self, case: Case, rounds: int) -> None: ...

    def round_done(self, case: Case) -> None: ...

    def case_end(self, case: Case, outcome: str, detail: str) -> None: ...
