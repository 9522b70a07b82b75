"""`bench clean`, and the same reclaiming at the start of every measuring command.

A run killed outright leaves its temp dirs (a PostgreSQL cluster is ~40 MB) and, with
--pg-dsn, its private schema; harness.leftovers says which of them belong to dead runs.
"""

from __future__ import annotations

from harness.cli.console import bad_input_exits, console, err
from harness.cli.options import DsnOpt
from harness.leftovers import reclaim
from harness.render.fmt import fmt_bytes


def reclaim_leftovers(pg_dsn: str | None = None) -> str | None:
    """Remove what dead runs left (never a live run's); one line saying what, or None.

    BadInput if --pg-dsn cannot be reached (the same line the run itself would give)."""
    done = reclaim()
    schemas: list[str] = []
    if pg_dsn:
        from harness.peers.postgres import reclaim_schemas

        schemas = reclaim_schemas(pg_dsn)
    if not done.paths and not schemas:
        return None
    parts = []
    if done.paths:
        parts.append(f"{len(done.paths)} temp dir(s), {fmt_bytes(done.size)}")
    if schemas:
        parts.append(f"schema(s) {', '.join(schemas)}")
    owners = f" (pid {', '.join(map(str, sorted(done.owners)))})" if done.owners else ""
    return f"reclaimed what killed twinbench runs left{owners}: {'; '.join(parts)}"


def announce_reclaimed(pg_dsn: str | None = None) -> None:
    """For measuring commands: reclaim, and say so on stderr when anything was."""
    line = reclaim_leftovers(pg_dsn)
    if line:
        err.print(line, highlight=False, markup=False)


def clean(pg_dsn: DsnOpt = None) -> None:
    """Remove what killed runs left: twinbench-* temp dirs and, with --pg-dsn, twinbench_*
    schemas, once their run is known dead (a live run's are never touched)."""
    with bad_input_exits():
        line = reclaim_leftovers(pg_dsn)
    console.print(line or "nothing to reclaim: no leftovers of dead twinbench runs",
                  highlight=False, markup=False)
