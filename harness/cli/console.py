"""Consoles, the bad-input exit, run-file lookup and workload sources shared by every `bench`
command module."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from harness.errors import BadInput
from harness.render.fmt import plain
from harness.results.files import RESULTS_DIR, label_path

# Tables are wide; when output goes to a file or CI log, do not wrap them at 80 columns:
# 140, or COLUMNS where it asks for more.
_COLUMNS = os.environ.get("COLUMNS", "")
_WIDE = max(140, int(_COLUMNS)) if _COLUMNS.isdigit() else 140
console = Console(width=None if sys.stdout.isatty() else _WIDE)
err = Console(stderr=True, width=None if sys.stderr.isatty() else _WIDE)


@contextmanager
def bad_input_exits() -> Iterator[None]:
    """Bad input becomes one line on stderr and exit code 2."""
    try:
        yield
    except BadInput as exc:
        err.print(f"[bold red]error:[/] {plain(exc)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def resolve_run_path(ref: str, results_dir: Path = RESULTS_DIR) -> Path:
    """A path to a run file, or a bare label meaning results/LABEL.json.

    An existing path always wins, so `bench compare v1 ./v1` can still reach a file named v1.
    Anything that is not a valid label is taken as a path, and the loader then reports it.
    """
    path = Path(ref)
    if path.exists() or "/" in ref or ref.endswith(".json"):
        return path
    try:
        return label_path(ref, results_dir)
    except BadInput:
        return path
