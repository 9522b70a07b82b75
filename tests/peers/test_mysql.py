"""The MariaDB/MySQL peer and mysql_queries against real servers the tests start themselves.

The same promises as the PostgreSQL peer's: every twin returns the expected checksum; the
throwaway server is private (its own dir, a Unix socket and no TCP port, `nobody` when we are
root); with a DSN only a private database is touched and it is dropped at exit; no password
reaches output; bad input is one line; and no server process outlives a normal run, a failed
run, Ctrl-C or a harness killed outright.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import psutil
import pymysql
import pytest

from harness.errors import BadInput
from harness.peers import PeerUnavailable
from harness.peers.mysql import BINDIR_ENV, HOW_TO_GET, MysqlPeer
from harness.peers.mysql.dsn import parse_dsn
from harness.peers.mysql.install import find_installation
from harness.testing import run_rounds
from tests.helpers.servers import (
    Watcher,
    assert_bad_dsn_exits_2_with_one_line,
    assert_nothing_left_after_a_failed_run,
    assert_skipped_without_a_server,
    assert_the_server_stops_when_the_harness_is_killed,
    reap,
    stop_and_reap,
    wait_gone,
)
from workloads.mysql_queries import WORKLOAD

BENCH = [sys.executable, "-m", "harness"]
SECRET = "s3cret-Pw_never-shown"
SERVERS = ("mariadbd", "mysqld")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TWINBENCH_MYSQL_DSN", BINDIR_ENV)}
    env.update(extra)
    return env


def data_dir(proc: psutil.Process) -> Path | None:
    with contextlib.suppress(psutil.Error):
        for arg in proc.cmdline():
            if arg.startswith("--datadir="):
                return Path(arg.split("=", 1)[1])
    return None


def watch(pid: int) -> Watcher:
    return Watcher(pid, SERVERS, data_dir)


def assert_twins_return_expected(peer: MysqlPeer) -> None:
    for scenario in WORKLOAD.scenarios:
        params = {**scenario.params, **WORKLOAD.tiny}
        want = WORKLOAD.expected(params) if WORKLOAD.expected else None
        for twin in WORKLOAD.twins:
            got = run_rounds(WORKLOAD, twin.name, params, {"mysql": peer})[0]
            assert got == [want, want], f"{scenario.name}/{twin.name}: {got} != {want}"


# -- the throwaway server ----------------------------------------------------------------------

def test_throwaway_server_is_private_socket_only_and_described(mysql_server: MysqlPeer) -> None:
    server = mysql_server.server
    assert server is not None and server.proc is not None
    assert server.root.stat().st_mode & 0o777 == 0o700
    assert mysql_server.params["unix_socket"].startswith(str(server.root))
    with mysql_server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT @@skip_networking, DATABASE(), @@innodb_flush_log_at_trx_commit")
        assert cur.fetchone() == (1, mysql_server.database, 0)
    proc = psutil.Process(server.proc.pid)
    assert proc.net_connections(kind="inet") == []  # no TCP port at all
    if os.geteuid() == 0:
        assert proc.username() == "nobody"
    info = mysql_server.describe()
    assert info["kind"] in ("MariaDB", "MySQL") and info["source"] == "binaries"
    assert info["socket_only"] is True and info["startup_s"] > 0
    assert info["summary"].startswith(f"{info['kind']} {info['server_version'].split('-')[0]}")
    assert mysql_server.cpu_seconds() > 0


def test_only_connections_that_know_this_runs_password_get_in(mysql_server: MysqlPeer
                                                             ) -> None:
    """The socket is reachable by every process of the server's user (nobody, under root), so
    root needs the run's password; the file that set it is gone, and it is in no description."""
    server = mysql_server.server
    assert server is not None
    for password in ("", "guess"):
        with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
            pymysql.connect(unix_socket=server.socket, user="root", password=password,
                            connect_timeout=5).close()
    with mysql_server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        assert cur.fetchone() == ("root@localhost",)
    assert server.password not in json.dumps(mysql_server.describe()) + mysql_server.public_dsn
    assert not (server.root / "init.sql").exists()
    secret = server.password.encode()
    for path in (server.root / "mysqld.log", server.root / "mysqld.out"):
        if path.exists():
            assert secret not in path.read_bytes(), path


def test_every_twin_returns_the_expected_checksum(mysql_server: MysqlPeer) -> None:
    assert_twins_return_expected(mysql_server)


def test_writing_scenarios_are_reset_between_rounds(mysql_server: MysqlPeer) -> None:
    params = {**WORKLOAD.scenario("read-modify-write").params, **WORKLOAD.tiny}
    run_rounds(WORKLOAD, "aiomysql", params, {"mysql": mysql_server}, rounds=3)
    with mysql_server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM rmw r JOIN world w USING (id) "
                    "WHERE r.randomnumber <> w.randomnumber")
        assert cur.fetchone() == (params["n"],)  # one round's worth of updates, not three


def test_peer_failure_inside_the_with_block_stops_and_deletes_the_server() -> None:
    if find_installation() is None:
        pytest.skip(HOW_TO_GET)
    procs: list[psutil.Process] = []
    root: Path | None = None
    try:
        with pytest.raises(RuntimeError, match="workload failed"), MysqlPeer({}) as peer:
            assert peer.server is not None and peer.server.proc is not None
            procs, root = [psutil.Process(peer.server.proc.pid)], peer.server.root
            assert root.exists()
            raise RuntimeError("workload failed")
        assert procs and wait_gone(procs, timeout=5) == []
        assert root is not None and not root.exists()
    finally:
        reap(procs, {root} if root else set())


# -- an existing server given by DSN -----------------------------------------------------------

@pytest.fixture
def dsn(mysql_server: MysqlPeer) -> str:
    """A DSN for the throwaway server, for a user with a password."""
    with mysql_server.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS 'bench'@'localhost' IDENTIFIED BY %s", (SECRET,))
        cur.execute("GRANT ALL ON *.* TO 'bench'@'localhost'")
    return f"mysql://bench:{SECRET}@localhost/ignored?unix_socket={mysql_server.params['unix_socket']}"


def snapshot(peer: MysqlPeer) -> dict[str, Any]:
    """Every database outside the system ones, and every table's checksum."""
    with peer.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT "
                    "IN ('mysql', 'information_schema', 'performance_schema', 'sys') "
                    "ORDER BY 1")
        databases = [r[0] for r in cur.fetchall()]
        tables = {}
        for db in databases:
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                        (db,))
            for (table,) in cur.fetchall():
                cur.execute(f"CHECKSUM TABLE `{db}`.`{table}`")
                tables[f"{db}.{table}"] = cur.fetchone()[1]
    return {"databases": databases, "tables": tables}


def test_with_a_dsn_only_a_private_database_is_touched_and_dropped(
        mysql_server: MysqlPeer, dsn: str) -> None:
    with mysql_server.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS outsider")
        cur.execute("CREATE TABLE IF NOT EXISTS outsider.world (id INT, randomnumber INT)")
        cur.execute("TRUNCATE outsider.world")
        cur.execute("INSERT INTO outsider.world VALUES (1, 42), (2, 43)")
    before = snapshot(mysql_server)
    assert "outsider.world" in before["tables"]

    options = {"mysql_dsn": dsn}
    MysqlPeer.preflight(options)
    with MysqlPeer(options) as peer:
        assert peer.source == "dsn" and peer.database.startswith("twinbench_")
        assert not hasattr(peer, "cpu_seconds")  # a server we cannot see is not "idle"
        assert_twins_return_expected(peer)
        during = snapshot(mysql_server)
        described = peer.describe()
    ours = {t for t in during["tables"] if t.startswith(f"{peer.database}.")}
    assert ours == {f"{peer.database}.{t}" for t in ("world", "rmw", "bulk")}
    assert {k: v for k, v in during["tables"].items() if k not in ours} == before["tables"]
    assert snapshot(mysql_server) == before  # the private database is gone, the rest untouched
    assert described["source"] == "dsn" and described["database"] == peer.database


def test_with_a_dsn_the_database_is_dropped_even_if_a_session_holds_a_lock(
        mysql_server: MysqlPeer, dsn: str) -> None:
    """E.g. Ctrl-C in the middle of a transaction: our own session is ended, nobody else's."""
    with mysql_server.connect() as bystander, bystander.cursor() as other:
        other.execute("BEGIN")
        other.execute("SELECT 1")
        peer = MysqlPeer({"mysql_dsn": dsn}).start()
        stuck = pymysql.connect(**peer.pymysql_params)
        try:
            with stuck.cursor() as cur:
                cur.execute("CREATE TABLE held (id INT PRIMARY KEY) ENGINE=InnoDB")
                cur.execute("BEGIN")
                cur.execute("INSERT INTO held VALUES (1)")  # a transaction holding a lock
        finally:
            peer.stop()
        with mysql_server.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                        (peer.database,))
            assert cur.fetchone() == (0,)
        other.execute("SELECT 2")
        assert other.fetchone() == (2,)  # untouched
        other.execute("ROLLBACK")
        with contextlib.suppress(pymysql.err.Error):
            stuck.close()


def test_no_password_in_description_or_errors(dsn: str) -> None:
    with MysqlPeer({"mysql_dsn": dsn}) as peer:
        shown = json.dumps(peer.describe()) + repr(peer)
    assert SECRET not in shown and "bench@localhost" in shown
    wrong = dsn.replace(SECRET, SECRET + "x")
    for bad in (wrong, f"mysql://bob:{SECRET}@127.0.0.1:1/", f"mysql://bob:{SECRET}@h:notaport/",
                f"postgres://bob:{SECRET}@h/"):
        with pytest.raises(BadInput) as caught:
            MysqlPeer.preflight({"mysql_dsn": bad})
        message = str(caught.value)
        assert SECRET not in message and "\n" not in message, message


def test_a_dsn_is_parsed_for_tcp_and_for_a_socket() -> None:
    assert parse_dsn("mysql://u:p%40ss@db.example:3307/x") == {
        "user": "u", "password": "p@ss", "host": "db.example", "port": 3307}
    assert parse_dsn("mariadb://u@localhost/?unix_socket=/run/m.sock") == {
        "user": "u", "password": "", "unix_socket": "/run/m.sock"}


def test_bench_with_a_bad_dsn_exits_2_with_one_line() -> None:
    assert_bad_dsn_exits_2_with_one_line(
        ["run", "mysql_queries", "--profile", "quick", "--mysql-dsn",
         f"mysql://bob:{SECRET}@127.0.0.1:1/"], "host 127.0.0.1, port 1", SECRET, clean_env())


# -- no server at all --------------------------------------------------------------------------

def test_without_a_server_mysql_queries_is_skipped_with_one_line_and_the_rest_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BINDIR_ENV, "")  # search nowhere: as if nothing were installed
    with pytest.raises(PeerUnavailable, match="apt-get install mariadb-server"):
        MysqlPeer({}).start()
    assert "\n" not in HOW_TO_GET and "--mysql-dsn" in HOW_TO_GET
    assert_skipped_without_a_server(WORKLOAD, HOW_TO_GET)


# -- no server process survives ----------------------------------------------------------------

def test_no_server_left_after_a_normal_quick_run(tmp_path: Path,
                                                 mysql_server: MysqlPeer) -> None:
    out = tmp_path / "run.json"
    # one scenario is enough to see the server come and go
    proc = subprocess.Popen([*BENCH, "run", "mysql_queries", "--profile", "quick", "-s",
                             "point-lookups", "--json", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL, env=clean_env())
    watcher = watch(proc.pid)
    try:
        stdout, stderr = proc.communicate(timeout=180)
        watcher.stop()
        assert proc.returncode == 0, stdout + stderr
        assert watcher.seen, "no server process was ever seen"
        assert wait_gone(list(watcher.seen.values()), timeout=5) == []
        assert watcher.dirs and not any(d.exists() for d in watcher.dirs)
        doc = json.loads(out.read_text())
        peer = doc["twinbench"]["peers"]["mysql"]
        assert peer["server_version"] and peer["startup_s"] > 0 and peer["socket_only"]
        assert "mysql: MariaDB" in stdout or "mysql: MySQL" in stdout
        outcomes = doc["twinbench"]["outcomes"]
        assert {o["outcome"] for o in outcomes.values()} == {"passed"}, outcomes
    finally:
        stop_and_reap(proc, watcher)


def test_no_server_left_after_a_failed_run(mysql_server: MysqlPeer) -> None:
    assert_nothing_left_after_a_failed_run("mysql", watch, clean_env())


def test_no_server_left_after_ctrl_c(mysql_server: MysqlPeer) -> None:
    proc = subprocess.Popen([*BENCH, "run", "mysql_queries", "--scenario", "point-lookups"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=clean_env())
    watcher = watch(proc.pid)
    try:
        deadline = time.monotonic() + 60
        while not watcher.dirs and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watcher.dirs, "no server was ever started"
        root = next(iter(watcher.dirs)).parent
        while time.monotonic() < deadline and not _connected(proc.pid):
            time.sleep(0.02)
        assert time.monotonic() < deadline, "no benchmark ever connected"
        time.sleep(0.5)  # into the timed rounds
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        watcher.stop()
        assert proc.returncode == 130, stdout + stderr
        assert wait_gone(list(watcher.seen.values()), timeout=5) == []
        assert not root.exists()
    finally:
        stop_and_reap(proc, watcher)


def _connected(pid: int) -> bool:
    """Whether `bench` holds Unix-socket connections to its server (a twin's pool is open)."""
    with contextlib.suppress(psutil.Error):
        return len(psutil.Process(pid).net_connections(kind="unix")) >= 2
    return False


def test_the_server_shuts_down_when_the_harness_is_killed_outright(
        mysql_server: MysqlPeer) -> None:
    assert_the_server_stops_when_the_harness_is_killed("mysql", SERVERS, clean_env(),
                                                       timeout=30)


def test_starting_the_server_leaks_no_socket() -> None:
    """The readiness probe retries until the server listens; PyMySQL drops the socket of a
    connect that failed without closing it, which showed as ResourceWarnings charged to the
    first benchmark that used the peer."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            with MysqlPeer({}):
                pass
        except PeerUnavailable as exc:
            pytest.skip(str(exc))
        gc.collect()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaked == []


def test_statements_and_connections_are_counted_exactly(mysql_server: MysqlPeer) -> None:
    """The server's Questions (less the peer's own reads) and Connections: what a twin's
    operation made it do, between two reads. Questions are the commands clients sent: a
    disconnect's COM_QUIT is one, a ping is not."""
    with mysql_server.connect() as conn:
        opened = mysql_server.io_counts()
        assert mysql_server.io_counts() == opened  # reading counts nothing
        with conn.cursor() as cur:
            for _ in range(5):
                cur.execute("SELECT 1")
        conn.ping()
        after = mysql_server.io_counts()
    assert after["statements"] - opened["statements"] == 5
    closed = mysql_server.io_counts()
    assert closed["statements"] - after["statements"] == 1
    with mysql_server.connect():
        assert mysql_server.io_counts()["connections"] - closed["connections"] == 1
