"""`bench report`: one self-contained HTML page (charts and tables, opens offline) of one run,
of two runs (base, current) or of many (a trend); and what `--html` on `run`, `all`, `sweep`
and `check` shares with it.

An output path is checked before anything is read or measured — a typo in `--html` costs one
line and exit 2, not a ten-minute run — and the page is written atomically, after everything
else (a saved run is never lost to a failing report).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from harness.analysis.compare import compare_runs
from harness.cli.console import bad_input_exits, err, resolve_run_path
from harness.config import load_config
from harness.errors import BadInput
from harness.render.html import compare_page, run_page, trend_page
from harness.results.files import load_run, write_atomic


def check_output(path: Path | None, force: bool, option: str = "--html") -> None:
    """Refuse an output path that could not be written, up front. The probe is a real file
    created (and removed) beside the target, since that is what the atomic write needs: a
    permission check alone says yes to root on a read-only mount."""
    if path is None:
        return
    if path.is_dir():
        raise BadInput(f"{option} {path}: is a directory")
    if path.exists() and not force:
        raise BadInput(f"{path} exists; pass --force to overwrite it")
    parent = path.parent
    if not parent.exists():
        raise BadInput(f"{option} {path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise BadInput(f"{option} {path}: {parent} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        raise BadInput(f"{option} {path}: cannot write in {parent} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def write_report(path: Path | None, page: Callable[[], str]) -> None:
    """Render and write the page (when asked for one), and say where and how big, on stderr:
    stdout may be JSON or markdown."""
    if path is None:
        return
    with bad_input_exits():
        text = page()
        try:
            write_atomic(path, text)
        except OSError as exc:
            raise BadInput(f"{path}: cannot write the report ({exc.strerror})") from None
    size = path.stat().st_size
    err.print(f"wrote the report {path} ({size / 1024:,.0f} KiB)", highlight=False)


def report(
    runs: Annotated[list[str], typer.Argument(
        metavar="RUN",
        help="One run: its report (a sweep: its map). Two: BASE CURRENT compared, as `bench "
             "compare` does. More: each benchmark's median over the runs, in this order. A "
             "run file, or a label under results/.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Where to write the page (one self-contained HTML file).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing page.")
                     ] = False,
) -> None:
    """Write one self-contained HTML page with charts: a run, two runs compared, or a trend."""
    with bad_input_exits():
        check_output(output, force, "--output")
        loaded = [(ref, load_run(resolve_run_path(ref))) for ref in runs]
        if len(loaded) == 1:
            ((name, run),) = loaded
            build: Callable[[], str] = partial(run_page, name, run)
        elif len(loaded) == 2:
            (base_name, base), (current_name, current) = loaded
            result = compare_runs(base, current, thresholds=load_config().thresholds,
                                  base_name=base_name, current_name=current_name)
            build = partial(compare_page, result)
        else:
            build = partial(trend_page, loaded)
    write_report(output, build)
