"""Finding a MariaDB or MySQL server on the machine: `mariadbd` / `mysqld` and the tool that
makes a data directory (`mariadb-install-db`, or `mysqld --initialize-insecure` for MySQL).
TWINBENCH_MYSQL_BINDIR (os.pathsep-separated directories) replaces the search.

Only the binaries are used: never the package's configuration (every command gets
--no-defaults), its data directory, socket, port or service.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

HOW_TO_GET = ("no MariaDB/MySQL server found: install one (e.g. apt-get install mariadb-server; "
              "only its binaries are used, never its service or data), or pass --mysql-dsn / "
              "TWINBENCH_MYSQL_DSN")
BINDIR_ENV = "TWINBENCH_MYSQL_BINDIR"
SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin",
               "/opt/homebrew/bin", "/opt/homebrew/sbin")


@dataclass(frozen=True)
class Installation:
    flavour: str  # "MariaDB" | "MySQL"
    server: Path  # mariadbd / mysqld
    install_db: Path | None  # mariadb-install-db / mysql_install_db (MariaDB's); None for MySQL
    version: str


def _version(server: Path) -> str | None:
    try:
        out = subprocess.run([str(server), "--no-defaults", "--version"], capture_output=True,
                             text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or out.stderr).strip()
    return text if out.returncode == 0 and text else None


def _near(server: Path, names: tuple[str, ...]) -> Path | None:
    """A companion tool: next to the server, in its ../bin, or on PATH."""
    for directory in (server.parent, server.parent.parent / "bin"):
        for name in names:
            if os.access(directory / name, os.X_OK):
                return directory / name
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def find_installation() -> Installation | None:
    """The first usable server: MariaDB's mariadbd before a mysqld (which may be either)."""
    override = os.environ.get(BINDIR_ENV)
    dirs = [d for d in override.split(os.pathsep) if d] if override is not None else [
        *(os.environ.get("PATH", "").split(os.pathsep)), *SEARCH_DIRS]
    seen: set[Path] = set()
    for name in ("mariadbd", "mysqld"):
        for directory in dirs:
            server = Path(directory) / name
            if not os.access(server, os.X_OK) or server.resolve() in seen:
                continue
            seen.add(server.resolve())
            version = _version(server)
            if version is None:
                continue
            if "mariadb" in version.lower():
                tool = _near(server, ("mariadb-install-db", "mysql_install_db"))
                if tool is None:
                    continue
                return Installation("MariaDB", server, tool, version)
            return Installation("MySQL", server, None, version)
    return None
