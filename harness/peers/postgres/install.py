"""Finding PostgreSQL's server binaries: the pgserver wheel's bundled ones, or an install on the
machine (PATH, /usr/lib/postgresql/*/bin, ...). TWINBENCH_PG_BINDIR (os.pathsep-separated
directories) replaces that search."""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

HOW_TO_GET = ("no PostgreSQL found: pip install pgserver (bundles PostgreSQL 16), install the "
              "server binaries (e.g. apt install postgresql), or pass --pg-dsn")
BINDIR_ENV = "TWINBENCH_PG_BINDIR"
SEARCH_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin",
                "/opt/homebrew/opt/postgresql*/bin", "/usr/local/pgsql/bin")


@dataclass(frozen=True)
class Installation:
    source: str  # "pgserver" | "binaries"
    bindir: Path

    @property
    def usable(self) -> bool:
        return all(os.access(self.bindir / tool, os.X_OK) for tool in ("initdb", "postgres"))

    @property
    def has_statement_stats(self) -> bool:
        """Whether the install ships pg_stat_statements (contrib): Debian's and most packages
        do; pgserver's wheel does not."""
        lib = self.bindir.parent / "lib"
        return any((d / "pg_stat_statements.so").is_file() for d in (lib, lib / "postgresql"))


def pgserver_bindir() -> Path | None:
    """pgserver's bundled bin dir, located without importing pgserver (whose import registers
    atexit hooks and inter-process locks we do not want)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_installations() -> list[Installation]:
    """Candidate PostgreSQL installs, best first: one on the machine that ships contrib's
    pg_stat_statements (it counts the statements twins run, and a distribution's build speaks
    TLS), then pgserver's bundled 16 (neither), then whatever else is around."""
    override = os.environ.get(BINDIR_ENV)
    if override is not None:
        found = [Installation("binaries", Path(d)) for d in override.split(os.pathsep) if d]
        return [i for i in found if i.usable]
    candidates: list[Installation] = []
    bundled = pgserver_bindir()
    if bundled is not None:
        candidates.append(Installation("pgserver", bundled))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Installation("binaries", Path(on_path).resolve().parent))
    for pattern in SEARCH_GLOBS:
        for d in sorted(glob.glob(pattern), key=_version_key, reverse=True):
            candidates.append(Installation("binaries", Path(d)))
    seen: set[Path] = set()
    unique = []
    for inst in candidates:
        key = inst.bindir.resolve() if inst.bindir.exists() else inst.bindir
        if key not in seen and inst.usable:
            seen.add(key)
            unique.append(inst)
    capable = [i for i in unique if i.source == "binaries" and i.has_statement_stats]
    return capable + [i for i in unique if i not in capable]


