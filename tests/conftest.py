"""Shared fixtures: peers started once per test session, at tiny sizes, on 127.0.0.1; and the
check that the suite itself leaves nothing behind."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing.util
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.model.registry import discover
from harness.model.workload import Workload
from harness.peers import PeerPool, PeerUnavailable
from harness.peers.mysql import MysqlPeer
from harness.peers.postgres import PostgresPeer
from harness.peers.tls import RunCA
from harness.testing import peer_pool as start_peers

ROOT = Path(__file__).resolve().parents[1]
SUITE_ENV = "TWINBENCH_TEST_SUITE"


def _ours(private: Path) -> dict[int, psutil.Process]:
    """Processes this session started that are still running: our descendants, and anything
    that carries the session's mark (inherited environment, or the private temp dir in its
    command line or as its working dir: a server of a killed harness, reparented to init)."""
    me = psutil.Process()
    found = {p.pid: p for p in me.children(recursive=True)}
    for proc in psutil.process_iter(["cmdline", "environ", "cwd"]):
        with contextlib.suppress(psutil.Error):
            env = proc.info.get("environ") or {}
            if (env.get(SUITE_ENV) == str(private)
                    or str(private) in " ".join(proc.info.get("cmdline") or ())
                    or Path(proc.info.get("cwd") or "/").is_relative_to(private)):
                found.setdefault(proc.pid, proc)
    found.pop(me.pid, None)
    return {pid: p for pid, p in found.items()
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE and not _interpreters(p)}


# multiprocessing's own helpers (scrape's process pool starts them): they belong to this
# interpreter, live as long as it does and exit with it, as does their pymp-* temp dir.
MP_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _interpreters(proc: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        cmdline = " ".join(proc.cmdline())
        return proc.ppid() == os.getpid() and any(h in cmdline for h in MP_HELPERS)
    return False


@pytest.fixture(scope="session", autouse=True)
def interrupts_as_at_a_terminal() -> Iterator[None]:
    """Ctrl-C behaves as at a terminal, however the suite was started: a job started in the
    background by a non-interactive shell (or `nohup`) begins with SIGINT ignored, which
    Python keeps, and which every child it starts would inherit (an ignored signal stays
    ignored across exec; a handled one is reset to the default). The Ctrl-C tests send it on
    purpose to this process and to the `bench` children they start."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session", autouse=True)
def suite_leaves_nothing_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every temp dir the harness makes during the suite goes to a private TMPDIR (so other
    runs on this machine, and their leftovers, are neither seen nor touched); at the end it
    must be as empty as at the start, and no process the suite started may still run."""
    tmp_path_factory.getbasetemp()  # pytest's own dirs stay where they always are
    private = Path(tempfile.mkdtemp(prefix="tbsuite-", dir="/tmp"))  # short: a pg socket
    private.chmod(0o711)  # the throwaway server runs as nobody when we are root
    saved = {k: os.environ.get(k) for k in ("TMPDIR", SUITE_ENV)}
    os.environ.update({"TMPDIR": str(private), SUITE_ENV: str(private)})
    tempfile.tempdir = None
    before = set(_ours(private))
    try:
        yield private
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        tempfile.tempdir = None
        deadline = time.monotonic() + 15  # reaping and parent-death signals take a moment
        while (left := {pid: p for pid, p in _ours(private).items() if pid not in before}
               ) and time.monotonic() < deadline:
            time.sleep(0.1)
        entries = sorted(p.name for p in private.iterdir() if not p.name.startswith("pymp-"))
        problems = [f"temp entries {entries}"] if entries else []
        for proc in left.values():
            with contextlib.suppress(psutil.Error):
                problems.append(f"process {proc.pid} {' '.join(proc.cmdline()[:4])}")
                proc.kill()
        for entry in private.iterdir():
            if entry.name.startswith("pymp-"):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        # multiprocessing removes its own pymp-* dir at exit (a finalizer of priority -100);
        # the private dir goes after it, not before (which makes that finalizer crash).
        multiprocessing.util.Finalize(None, shutil.rmtree, args=(private,),
                                      kwargs={"ignore_errors": True}, exitpriority=-101)
        assert not problems, "the test suite left behind: " + "; ".join(problems)


@pytest.fixture(autouse=True)
def heap_frozen_as_the_test_starts(suite_leaves_nothing_behind: Path) -> Iterator[None]:
    """The heap as a test finds it is frozen (gc.freeze), as a run freezes its twins' set-up:
    the full collection the harness makes after every step of a run done in this process
    (harness.run.capture) then walks only what the test made, not the suite's whole heap
    (70-140 ms each; about a minute over the suite). Until the run thaws it: interleaved
    rounds end with gc.unfreeze(), which thaws all. Collected first, so no garbage is frozen;
    frozen again before the next test. Only cycles are affected: what the test itself made
    is collected as before."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
    yield


@pytest.fixture(scope="session", autouse=True)
def heap_thawed_at_the_end(suite_leaves_nothing_behind: Path) -> Iterator[None]:
    """Before the suite's leftover check: what was frozen is collectable again, and collected
    (a temp dir or process held only by garbage would otherwise be reported)."""
    yield
    gc.unfreeze()
    gc.collect()


@pytest.fixture(scope="session")
def registry() -> dict[str, Workload]:
    return discover()


@pytest.fixture(scope="session")
def peer_pool() -> Iterator[PeerPool]:
    with start_peers() as pool:
        yield pool


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresPeer]:
    """A throwaway PostgreSQL of its own (not the pool's), for tests that look inside it; with
    a CA of its own, as a run's pool would give it (TLS on 127.0.0.1 where the build has it)."""
    ca = RunCA()
    try:
        with PostgresPeer({"tls_ca": lambda: ca}) as peer:
            yield peer
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    finally:
        ca.close()


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[MysqlPeer]:
    """A throwaway MariaDB/MySQL of its own, for tests that look inside it."""
    try:
        with MysqlPeer({}) as peer:
            yield peer
    except PeerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def baseline_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bench report results/baseline.json`, made once: its page is checked as a document,
    for its size, and in a real browser."""
    from tests.helpers.cli import bench

    out = tmp_path_factory.mktemp("report") / "baseline.html"
    result = bench("report", str(ROOT / "results" / "baseline.json"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out
