"""The PostgreSQL peer and pg_queries against real servers the tests start themselves.

Covers the issue's promises: every twin returns the expected checksum; with a DSN only the
private schema is touched; no password reaches output; bad input is one line; and no postgres
process outlives a normal run, a failed run, Ctrl-C or a harness killed outright.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from harness.errors import BadInput
from harness.peers import PeerUnavailable
from harness.peers.postgres import BINDIR_ENV, HOW_TO_GET, PostgresPeer
from harness.peers.postgres.install import pgserver_bindir
from tests.helpers.postgres import assert_twins_return_expected
from tests.helpers.servers import Watcher as ServerWatcher
from tests.helpers.servers import (
    assert_bad_dsn_exits_2_with_one_line,
    assert_nothing_left_after_a_failed_run,
    assert_skipped_without_a_server,
    assert_the_server_stops_when_the_harness_is_killed,
    named_below,
    reap,
    stop_and_reap,
    wait_gone,
)
from workloads.pg_queries import WORKLOAD

BENCH = [sys.executable, "-m", "harness"]
SECRET = "s3cret-Pw_never-shown"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess that must start its own throwaway server."""
    env = {k: v for k, v in os.environ.items() if k not in ("TWINBENCH_PG_DSN", BINDIR_ENV)}
    env.update(extra)
    return env


POSTGRES = ("postgres", "postmaster")


def postgres_below(pid: int) -> list[psutil.Process]:
    return named_below(pid, POSTGRES)


def data_dir(proc: psutil.Process) -> Path | None:
    with contextlib.suppress(psutil.Error, ValueError, IndexError):
        args = proc.cmdline()
        return Path(args[args.index("-D") + 1])
    return None


class Watcher(ServerWatcher):
    """Every postgres process seen below `pid`, and its client backends."""

    def __init__(self, pid: int):
        super().__init__(pid, POSTGRES, data_dir)

    def backends(self) -> int:
        """Client backends seen alive now (their title names the client: '[local]')."""
        count = 0
        for proc in self.below():
            with contextlib.suppress(psutil.Error):
                count += "[local]" in " ".join(proc.cmdline())
        return count


@pytest.fixture
def server(pg_server: PostgresPeer) -> PostgresPeer:
    return pg_server


def dsn_for(server: PostgresPeer, password: str = SECRET) -> str:
    """A DSN for the throwaway server, with a password (trust auth ignores it)."""
    assert server.server is not None
    return (f"host={server.server.socket_dir} port=5432 user=postgres dbname=postgres "
            f"password={password}")


# -- the throwaway server ----------------------------------------------------------------------

def test_throwaway_server_is_private_and_described(server: PostgresPeer) -> None:
    assert server.server is not None
    assert stat_mode(server.server.root) == 0o700
    with server.connect() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        assert conn.execute("SHOW fsync").fetchone() == ("off",)
        assert conn.execute("SHOW search_path").fetchone() == (server.schema,)
    info = server.describe()
    assert info["source"] in ("pgserver", "binaries")
    assert info["server_version"] and info["startup_s"] > 0
    assert info["summary"].startswith(f"PostgreSQL {info['server_version'].split()[0]} (")
    with server.connect() as conn:  # enough work to be above the 10 ms tick of CPU clocks
        for _ in range(20):
            conn.execute("SELECT count(*) FROM generate_series(1, 100000)")
    assert server.cpu_seconds() > 0


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_peer_failure_inside_the_with_block_stops_and_deletes_the_server() -> None:
    with pytest.raises(RuntimeError, match="workload failed"), PostgresPeer({}) as peer:
        assert peer.server is not None and peer.server.proc is not None
        postmaster = psutil.Process(peer.server.proc.pid)
        procs = [postmaster, *postmaster.children(recursive=True)]
        root = peer.server.root
        assert procs and root.exists()
        raise RuntimeError("workload failed")
    try:
        assert wait_gone(procs, timeout=5) == []
        assert not root.exists()
    finally:
        reap(procs, {root})


@pytest.mark.skipif(not Path("/usr/lib/postgresql").is_dir(), reason="no system PostgreSQL")
def test_falls_back_to_binaries_found_on_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bindirs:
        pytest.skip("no /usr/lib/postgresql/*/bin")
    monkeypatch.setenv(BINDIR_ENV, str(bindirs[-1]))
    with PostgresPeer({}) as peer:
        info = peer.describe()
        with peer.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert info["source"] == "binaries" and info["bindir"] == str(bindirs[-1])


@pytest.mark.skipif(os.geteuid() != 0, reason="only root must run PostgreSQL as another user")
def test_as_root_an_install_nobody_can_reach_is_copied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = pgserver_bindir()
    if bundled is None or not bundled.is_dir():
        pytest.skip("pgserver is not installed")
    # The wheel's layout (its binaries find libpq through an $ORIGIN-relative RPATH), under a
    # 0700 dir the server's user cannot traverse.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    install = private / "site" / "pgserver" / "pginstall"
    (install / "bin").mkdir(parents=True)
    for tool in ("initdb", "postgres", "pg_ctl"):
        shutil.copy2(bundled / tool, install / "bin" / tool)
    for sub in ("lib", "share"):
        shutil.copytree(bundled.parent / sub, install / sub, symlinks=True)
    vendored = bundled.parents[2] / "pgserver.libs"
    if vendored.is_dir():
        shutil.copytree(vendored, private / "site" / "pgserver.libs")
    monkeypatch.setenv(BINDIR_ENV, str(install / "bin"))
    with PostgresPeer({}) as peer:
        assert peer.server is not None
        assert peer.server.bindir.is_relative_to(peer.server.root)  # ran from the copy
        with peer.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


# -- an existing server given by DSN -----------------------------------------------------------

def snapshot(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Every schema, and every table's full contents, outside the system schemas."""
    schemas = [r[0] for r in conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
        "AND nspname <> 'information_schema' ORDER BY 1")]
    tables = {}
    for schema, table in conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) ORDER BY 1, 2", (schemas,)):
        query = psycopg.sql.SQL("SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), "
                                "'')) FROM {}.{} t").format(psycopg.sql.Identifier(schema),
                                                            psycopg.sql.Identifier(table))
        tables[f"{schema}.{table}"] = conn.execute(query).fetchone()
    return {"schemas": schemas, "tables": tables}


def test_with_a_dsn_only_a_private_schema_is_touched(server: PostgresPeer) -> None:
    with server.connect() as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS outsider")
        conn.execute("CREATE TABLE IF NOT EXISTS outsider.world (id int, randomnumber int)")
        conn.execute("CREATE TABLE IF NOT EXISTS public.world (id int, randomnumber int)")
        conn.execute("TRUNCATE outsider.world, public.world")
        conn.execute("INSERT INTO outsider.world VALUES (1, 42), (2, 43)")
        conn.execute("INSERT INTO public.world VALUES (7, 7)")
        before = snapshot(conn)
    assert "outsider.world" in before["tables"] and "public.world" in before["tables"]

    options = {"pg_dsn": dsn_for(server)}
    PostgresPeer.preflight(options)
    with PostgresPeer(options) as peer:
        assert peer.source == "dsn" and peer.schema.startswith("twinbench_")
        assert_twins_return_expected(peer)
        with server.connect() as conn:
            during = snapshot(conn)
        assert not hasattr(peer, "cpu_seconds")  # a server we cannot see is not "idle"
        described = peer.describe()
    ours = {t for t in during["tables"] if t.startswith(f"{peer.schema}.")}
    assert ours == {f"{peer.schema}.{t}" for t in ("world", "rmw", "bulk")}
    assert {k: v for k, v in during["tables"].items() if k not in ours} == before["tables"]

    with server.connect() as conn:
        after = snapshot(conn)
    assert after == before  # the private schema is gone, everything else untouched
    assert described["source"] == "dsn" and described["schema"] == peer.schema


def test_with_a_dsn_the_schema_is_dropped_even_if_a_session_holds_a_lock(
        server: PostgresPeer) -> None:
    """E.g. Ctrl-C in the middle of a transaction: our own session is ended, nobody else's."""
    with server.connect() as bystander:
        bystander.execute("BEGIN")
        bystander.execute("SELECT 1")  # another session of the same role, in a transaction
        peer = PostgresPeer({"pg_dsn": dsn_for(server)}).start()
        try:
            stuck = psycopg.connect(peer.conninfo)
            stuck.execute("CREATE TABLE held (id int)")  # open transaction holding a lock
        finally:
            peer.stop()
        with server.connect() as conn:
            left = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                                (peer.schema,)).fetchone()
        assert left == (0,)
        assert bystander.execute("SELECT 2").fetchone() == (2,)  # untouched
        bystander.execute("ROLLBACK")
        stuck.close()


def test_no_password_in_description_or_errors(server: PostgresPeer) -> None:
    with PostgresPeer({"pg_dsn": dsn_for(server)}) as peer:
        shown = json.dumps(peer.describe()) + repr(peer)
        assert SECRET not in shown
        assert "host=/" in peer.describe()["dsn"] and "password" not in shown
    uri = f"postgresql://bob:{SECRET}@127.0.0.1:1/nodb"
    for dsn in (uri, f"host=127.0.0.1 port=1 password={SECRET} nonsense"):
        with pytest.raises(BadInput) as caught:
            PostgresPeer.preflight({"pg_dsn": dsn})
        assert SECRET not in str(caught.value)
        assert "\n" not in str(caught.value)


def test_unreachable_dsn_is_one_line_naming_host_port_and_database() -> None:
    with pytest.raises(BadInput) as caught:
        PostgresPeer.preflight({"pg_dsn": f"postgresql://bob:{SECRET}@127.0.0.1:1/nodb"})
    message = str(caught.value)
    assert "host 127.0.0.1, port 1, database nodb" in message
    assert SECRET not in message and "\n" not in message


def test_bench_with_a_bad_dsn_exits_2_with_one_line() -> None:
    assert_bad_dsn_exits_2_with_one_line(
        ["run", "pg_queries", "--profile", "quick", "--pg-dsn",
         f"postgresql://bob:{SECRET}@127.0.0.1:1/nodb"],
        "host 127.0.0.1, port 1, database nodb", SECRET, clean_env())


# -- no PostgreSQL at all ----------------------------------------------------------------------

def test_without_postgres_pg_queries_is_skipped_and_the_rest_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BINDIR_ENV, "")  # search nowhere: as if nothing were installed
    with pytest.raises(PeerUnavailable, match="pip install pgserver"):
        PostgresPeer({}).start()
    assert_skipped_without_a_server(WORKLOAD, HOW_TO_GET)


# -- no postgres process survives --------------------------------------------------------------

def test_no_postgres_left_after_a_normal_quick_run(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    proc = subprocess.Popen([*BENCH, "run", "pg_queries", "--profile", "quick", "--json",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL, env=clean_env())
    watcher = Watcher(proc.pid)
    try:
        stdout, stderr = proc.communicate(timeout=180)
        watcher.stop()
        assert proc.returncode == 0, stdout + stderr
        assert watcher.seen, "no postgres process was ever seen"
        assert wait_gone(list(watcher.seen.values()), timeout=5) == []
        assert watcher.dirs and not any(d.exists() for d in watcher.dirs)
        doc = json.loads(out.read_text())
        peer = doc["twinbench"]["peers"]["postgres"]
        assert peer["server_version"] and peer["startup_s"] > 0 and peer["summary"]
        assert "postgres: PostgreSQL" in stdout
        outcomes = doc["twinbench"]["outcomes"]
        skipped = {k for k, o in outcomes.items() if o["outcome"] == "skipped"}
        assert skipped == {"pg_queries-bulk-load-aiopg"}, outcomes  # aiopg cannot COPY
        assert {o["outcome"] for k, o in outcomes.items() if k not in skipped} == {"passed"}
    finally:
        stop_and_reap(proc, watcher)


def test_no_postgres_left_after_a_failed_run() -> None:
    assert_nothing_left_after_a_failed_run("postgres", Watcher, clean_env())


def test_no_postgres_left_after_ctrl_c() -> None:
    proc = subprocess.Popen([*BENCH, "run", "pg_queries", "--profile", "quick"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=clean_env())
    watcher = Watcher(proc.pid)
    try:
        deadline = time.monotonic() + 60
        while watcher.backends() < 2 and time.monotonic() < deadline:  # a twin's pool is open
            time.sleep(0.02)
        assert time.monotonic() < deadline, "no benchmark ever connected"
        time.sleep(0.3)  # into the timed rounds
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        watcher.stop()
        assert proc.returncode == 130, stdout + stderr
        assert wait_gone(list(watcher.seen.values()), timeout=5) == []
        assert watcher.dirs and not any(d.exists() for d in watcher.dirs)
    finally:
        stop_and_reap(proc, watcher)


def test_postgres_shuts_down_when_the_harness_is_killed_outright() -> None:
    assert_the_server_stops_when_the_harness_is_killed("postgres", POSTGRES, clean_env())
