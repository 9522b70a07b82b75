"""What a run records about where it ran: git state, Python, library versions, the machine."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import __version__
from harness.results.runfile import SCHEMA_VERSION

LIBRARIES = ("pytest-benchmark", "requests", "httpx", "aiohttp", "psycopg", "psycopg-pool",
             "asyncpg", "aiopg", "psycopg2-binary", "PyMySQL", "aiomysql", "asyncmy",
             "aiofiles", "pgserver", "websockets", "uvloop", "rich", "typer")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_info() -> dict[str, Any]:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        return None


def machine_info() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "os": platform.platform(),
        "arch": platform.machine(),
    }


def metadata_block(*, profile: str, loop: str, selection: dict[str, Any],
                   min_effect: float | None = None) -> dict[str, Any]:
    """The twinbench block of one pass, before peers, workloads and outcomes are known."""
    extra = {} if min_effect is None else {"min_effect": min_effect}
    return {**extra,
        "schema": SCHEMA_VERSION,
        "harness_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": profile,
        "loop": loop,
        "passes": 1,  # one pytest session; harness.results.merge adds up merged ones
        "selection": selection,
        "git": git_info(),
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation()},
        "libraries": library_versions(),
        "machine": machine_info(),
        "complete": False,
    }
