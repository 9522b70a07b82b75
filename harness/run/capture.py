"""What a benchmark raised or logged besides its result, collected instead of swallowed.

pytest's capture and the disabled terminal plugin hide everything a twin says on the side:
warnings (a ResourceWarning for a leaked socket, a DeprecationWarning), exceptions Python can
only print (unraisable: a failing __del__; uncaught in a thread) and library log records at
WARNING and above (urllib3's "Connection pool is full, discarding connection": the pool was
smaller than the concurrency, so the twin measured reconnects). Each is a sign that the twin
did not do what it claims, so `capture` counts them per benchmark into its extra_info
(`warnings`, see harness.results.runfile), the report lists them after the tables, and
`--strict` fails the run on any.

A Ctrl-C that lands in a __del__ (psycopg_pool's ConnectionPool joins its workers there) is
an unraisable KeyboardInterrupt that Python would print and drop, and the run would go on: it
is not counted but re-raised when the benchmark ends.

Warnings are shown every time while capturing (unless the user set -W / PYTHONWARNINGS, whose
filters then apply, "error" included): a ResourceWarning is ignored by default, and counting
needs every occurrence. Nothing is added to the timed path unless something is emitted.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from harness.results.runfile import warnings_json


class _Records(logging.Handler):
    def __init__(self, add: Any):
        super().__init__(logging.WARNING)
        self.add = add

    def emit(self, record: logging.LogRecord) -> None:
        self.add("log", f"{record.levelname} {record.name}: {record.getMessage()}")


@contextmanager
def capture(into: dict[str, Any]) -> Iterator[None]:
    """Collect, while the block runs, what it warned, logged or could not raise; on the way
    out (however the block ends) store it as `into["warnings"]` if there was any."""
    counts: Counter[tuple[str, str]] = Counter()
    swallowed: list[BaseException] = []  # Ctrl-C lost in a __del__

    def add(kind: str, message: str) -> None:
        line = " ".join(str(message).split())[:300]
        counts[(kind, line)] += 1

    def on_warning(message: Warning | str, category: type[Warning], filename: str,
                   lineno: int, file: TextIO | None = None, line: str | None = None) -> None:
        add("warning", f"{category.__name__}: {message} ({os.path.basename(filename)}:{lineno})")

    def on_unraisable(unraisable: Any) -> None:
        if issubclass(unraisable.exc_type, KeyboardInterrupt):
            swallowed.append(unraisable.exc_value)
            return
        where = unraisable.err_msg or "Exception ignored in"
        add("unraisable", f"{where} {unraisable.object!r}: "
                          f"{unraisable.exc_type.__name__}: {unraisable.exc_value}")

    def on_thread(args: Any) -> None:
        name = args.thread.name if args.thread is not None else "?"
        add("thread", f"in thread {name}: {args.exc_type.__name__}: {args.exc_value}")

    handler = _Records(add)
    root = logging.getLogger()
    hooks = sys.unraisablehook, threading.excepthook
    with warnings.catch_warnings():
        if not sys.warnoptions:
            warnings.simplefilter("always")
        warnings.showwarning = on_warning
        sys.unraisablehook, threading.excepthook = on_unraisable, on_thread
        root.addHandler(handler)
        try:
            yield
        finally:
            try:
                gc.collect()  # what the benchmark left in cycles warns now, not in the next one
            finally:
                root.removeHandler(handler)
                sys.unraisablehook, threading.excepthook = hooks
            if counts:
                into["warnings"] = warnings_json(counts)
            if swallowed:
                raise KeyboardInterrupt
