"""`bench report`: one self-contained HTML page (charts and tables, opens offline) of one run,
of two runs (base, current) or of many (a trend); and what `--html` on `run`, `all`, `sweep`
and `check` shares with it.

An output path is checked before anything is read or measured — a typo in `--html` costs one
line and exit 2, not a ten-minute run — and the page is written atomically, after everything
else (a saved run is never lost to a failing report).
"""

from __future__ import annotations

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
from harness.results.files import load_run, output_path, write_atomic


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
    output: Annotated[str, typer.Option(
        "--output", "-o", help="Where to write the page (one self-contained HTML file).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing page.")
                     ] = False,
) -> None:
    """Write one self-contained HTML page with charts: a run, two runs compared, or a trend."""
    with bad_input_exits():
        page = output_path(output, "--output", force=force)
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
    write_report(page, build)
