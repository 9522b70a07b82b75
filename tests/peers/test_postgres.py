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
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from harness.errors import BadInput
from harness.peers import PeerUnavailable
from harness.peers.postgres import BINDIR_ENV, HOW_TO_GET, PostgresPeer
from harness.peers.postgres.install import find_installations, pgserver_bindir
from harness.peers.postgres.local import START_TIMEOUT_ENV, LocalServer
from harness.procs import restore_interrupts
from tests.helpers.postgres import assert_twins_return_expected
from tests.helpers.procs import cmdline
from tests.helpers.servers import Watcher as ServerWatcher
from tests.helpers.servers import (
    assert_bad_dsn_exits_2_with_one_line,
    assert_nothing_left_after_a_failed_run,
    assert_skipped_without_a_server,
    assert_the_server_stops_when_the_harness_is_killed,
    gone,
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


def dsn_for(server: PostgresPeer) -> str:
    """A DSN for the throwaway server, with its password (the only way in)."""
    assert server.server is not None
    return (f"host={server.server.socket_dir} port={server.server.port} user=postgres "
            f"dbname=postgres "
            f"password={server.server.password}")


# -- the throwaway server ----------------------------------------------------------------------

def test_throwaway_server_is_private_and_described(server: PostgresPeer) -> None:
    assert server.server is not None
    assert stat_mode(server.server.root) == 0o700
    with server.connect() as conn:
        # TCP on the loopback only, and only for TLS (libpq never uses it over a socket)
        listen = "127.0.0.1" if server.server.tls else ""
        assert conn.execute("SHOW listen_addresses").fetchone() == (listen,)
        assert conn.execute("SHOW fsync").fetchone() == ("off",)
        assert conn.execute("SHOW search_path").fetchone() == (server.schema,)
        # Enough work to show in CPU time (counted in 10 ms ticks per process).
        conn.execute("SELECT count(*) FROM generate_series(1, 300000)").fetchone()
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
            # base tables: a statistics view (pg_stat_statements) changes with every query
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
            (schemas,)):
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
    assert server.server is not None
    with PostgresPeer({"pg_dsn": dsn_for(server)}) as peer:
        shown = json.dumps(peer.describe()) + repr(peer)
        assert server.server.password not in shown
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
    # two scenarios are enough to see the server come and go (and aiopg's skip)
    proc = subprocess.Popen([*BENCH, "run", "pg_queries", "--profile", "quick", "-s",
                             "point-lookups", "-s", "bulk-load", "--json", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
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


def pg_run_in_its_rounds() -> tuple[subprocess.Popen[str], Watcher]:
    """`bench run pg_queries --profile quick`, once a twin's pool is open and its timed
    rounds are under way (the caller stops and reaps it: stop_and_reap)."""
    proc = subprocess.Popen([*BENCH, "run", "pg_queries", "--profile", "quick"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=clean_env())
    watcher = Watcher(proc.pid)
    try:
        deadline = time.monotonic() + 60
        while watcher.backends() < 2 and time.monotonic() < deadline:  # a twin's pool is open
            time.sleep(0.02)
        assert time.monotonic() < deadline, "no benchmark ever connected"
    except BaseException:
        stop_and_reap(proc, watcher)
        raise
    time.sleep(0.3)  # into the timed rounds
    return proc, watcher


def test_no_postgres_left_after_ctrl_c() -> None:
    proc, watcher = pg_run_in_its_rounds()
    try:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        watcher.stop()
        assert proc.returncode == 130, f"exit {proc.returncode}\n{stderr}\n{stdout[-3000:]}"
        assert wait_gone(list(watcher.seen.values()), timeout=5) == []
        assert watcher.dirs and not any(d.exists() for d in watcher.dirs)
    finally:
        stop_and_reap(proc, watcher)


def test_postgres_shuts_down_when_the_harness_is_killed_outright() -> None:
    assert_the_server_stops_when_the_harness_is_killed("postgres", POSTGRES, clean_env())


# -- faults: hanging binaries, Ctrl-C while stopping, the harness killed (issue 14) -------------

HANG = "sleep 600"  # a child of the script: only a whole-group kill reaches it
EXEC_HANG = "exec sleep 600"  # the script's own process: what a parent-death signal reaches
DONE = "exit 0"


@pytest.fixture
def fake_pg() -> Iterator[Callable[[str, str], tuple[Path, Path]]]:
    """Fake initdb/postgres scripts in a dir every user can reach (the server runs as nobody
    under root); each start appends the tool's name to a calls file."""
    root = Path(tempfile.mkdtemp(prefix="fakepg-"))
    root.chmod(0o755)

    def make(initdb: str, postgres: str) -> tuple[Path, Path]:
        bindir, calls = root / "bin", root / "calls"
        bindir.mkdir()
        calls.touch(mode=0o666)
        calls.chmod(0o666)
        for name, body in (("initdb", initdb), ("postgres", postgres)):
            (bindir / name).write_text(f"#!/bin/sh\necho {name} >> {calls}\n{body}\n")
            (bindir / name).chmod(0o755)
        return bindir, calls

    try:
        yield make
    finally:
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                if str(root) in " ".join(proc.info["cmdline"] or ()):
                    proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def running_from(path: Path) -> list[str]:
    """Command lines of live processes started from under `path` (or working in it)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        with contextlib.suppress(psutil.Error):
            cmdline = " ".join(proc.info["cmdline"] or ())
            cwd = proc.info.get("cwd") or "/"
            if (str(path) in cmdline or Path(cwd).is_relative_to(path)) and not gone(proc):
                found.append(cmdline)
    return found


def pg_dirs() -> list[Path]:
    return sorted(Path(tempfile.gettempdir()).glob("twinbench-pg-*"))


@pytest.mark.parametrize(("initdb", "postgres", "step", "calls"), [
    (HANG, HANG, "initdb did not finish within 1 s and was stopped", ["initdb"]),
    (DONE, HANG, "postgres did not accept connections within 1 s", ["initdb", "postgres"]),
], ids=["initdb-hangs", "postgres-hangs"])
def test_a_hanging_start_is_one_bounded_wait_one_line_and_nothing_left(
        fake_pg: Callable[[str, str], tuple[Path, Path]], initdb: str, postgres: str, step: str,
        calls: list[str]) -> None:
    """Before issue 14 a hanging initdb surfaced as a raw TimeoutExpired, was not remembered,
    and every pg_queries benchmark waited for it again."""
    bindir, calls_file = fake_pg(initdb, postgres)
    before = pg_dirs()
    # Two scenarios: every twin of each fails, and the start is still tried only once. (All
    # of quick's scenarios cost a second or two more, for nothing this test looks at.)
    result = subprocess.run(
        [*BENCH, "run", "pg_queries", "--profile", "quick", "-s", "point-lookups", "-s",
         "bulk-load"], capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
        env=clean_env(**{BINDIR_ENV: str(bindir), START_TIMEOUT_ENV: "1"}))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert calls_file.read_text().split() == calls  # started once for the whole run
    assert [line for line in out.splitlines() if step in line] == [
        next(line for line in out.splitlines() if step in line)], out  # one line says it
    assert "peer failed: could not start PostgreSQL" in out
    assert f"no benchmark produced a result ({len(WORKLOAD.twins) * 2} failed)" in out \
        or "no benchmark produced a result (" in out
    for noise in ("Traceback", "TimeoutExpired", "Not saving anything"):
        assert noise not in out, out
    assert running_from(bindir.parent) == [] and pg_dirs() == before


HOLD_INITDB = """
import pathlib, sys
from harness.peers.postgres.install import Installation
from harness.peers.postgres.local import LocalServer
LocalServer(Installation("binaries", pathlib.Path(sys.argv[1]))).start(timeout=300)
"""


def test_initdb_dies_with_a_harness_killed_outright(
        fake_pg: Callable[[str, str], tuple[Path, Path]]) -> None:
    bindir, calls = fake_pg(EXEC_HANG, HANG)
    proc = subprocess.Popen([sys.executable, "-c", HOLD_INITDB, str(bindir)],
                            stdin=subprocess.DEVNULL, env=clean_env())
    try:
        deadline = time.monotonic() + 30
        while "initdb" not in calls.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        (initdb,) = psutil.Process(proc.pid).children()
        proc.kill()
        proc.wait()
        assert wait_gone([initdb], timeout=10) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    from harness.leftovers import reclaim

    assert [p.name for p in reclaim().paths if p.name.startswith("twinbench-pg-")]


@pytest.mark.parametrize("moment", ["pg_ctl", "rmtree"])
def test_ctrl_c_while_stopping_hurries_the_stop_and_never_skips_the_deletion(
        monkeypatch: pytest.MonkeyPatch, moment: str) -> None:
    """The user's second Ctrl-C lands while the cluster is being stopped (pg_ctl running) or
    deleted: the stop finishes (faster), the directory goes, and the interrupt is raised
    after. Before issue 14 a Ctrl-C during the deletion left a partly deleted cluster."""
    installation = find_installations()[0]
    server = LocalServer(installation)
    server.start()
    assert server.proc is not None
    postmaster = psutil.Process(server.proc.pid)
    procs = [postmaster, *postmaster.children(recursive=True)]
    root = server.root
    pressed: list[str] = []

    def press(where: str) -> None:
        if where == moment and not pressed:
            pressed.append(where)
            os.kill(os.getpid(), signal.SIGINT)

    tool, rmtree = LocalServer._tool, shutil.rmtree

    def pressing_tool(self: LocalServer, name: str, *args: str, timeout: float) -> Any:
        press(name)
        return tool(self, name, *args, timeout=timeout)

    def pressing_rmtree(*args: Any, **kwargs: Any) -> None:
        press("rmtree")
        rmtree(*args, **kwargs)

    monkeypatch.setattr(LocalServer, "_tool", pressing_tool)
    monkeypatch.setattr(shutil, "rmtree", pressing_rmtree)
    try:
        with pytest.raises(KeyboardInterrupt):
            server.stop()
    finally:
        monkeypatch.undo()
        restore_interrupts()
        leftover = root.exists()
        reap(procs, {root})
    assert pressed == [moment]
    assert wait_gone(procs, timeout=5) == []
    assert not leftover


def test_two_ctrl_c_leave_no_cluster_no_process_and_no_traceback() -> None:
    """bench run pg_queries, Ctrl-C mid-benchmark, and again while the cluster is stopped."""
    proc, watcher = pg_run_in_its_rounds()
    try:
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 3  # until the stop is under way (pg_ctl runs)
        while time.monotonic() < deadline and not any(
                "pg_ctl" in cmdline(c) for c in _children(proc.pid)):
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        watcher.stop()
        assert proc.returncode == 130, stdout + stderr
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
        assert wait_gone(list(watcher.seen.values()), timeout=5) == []
        assert watcher.dirs and not any(d.exists() for d in watcher.dirs)
    finally:
        stop_and_reap(proc, watcher)


def _children(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).children(recursive=True)
    return []


KILLED_RUN = """
import json, sys, time
from harness.leftovers import owned_dir
from harness.model.workload import BenchContext
from harness.peers.postgres import PostgresPeer
from workloads.tcp_server import WORKLOAD
local = PostgresPeer({}).start()
theirs = PostgresPeer({"pg_dsn": sys.argv[1]}).start()
twin, scenario = WORKLOAD.twins[0], WORKLOAD.scenarios[0]
bench = twin.bind(BenchContext(params={**scenario.params, **WORKLOAD.tiny}, peers={}))
bench.setup()
pass_dir = owned_dir("twinbench-")  # as the runner's pytest session makes
print(json.dumps({"dirs": [str(local.server.root), bench.tmp, str(pass_dir)],
                  "schema": theirs.schema}), flush=True)
time.sleep(300)
"""


def schemas(server: PostgresPeer) -> set[str]:
    with server.connect() as conn:
        return {r[0] for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'twinbench\\_%'")}


def test_what_a_killed_run_left_is_reclaimed_and_a_live_runs_is_not(
        server: PostgresPeer) -> None:
    """SIGKILL leaves the cluster dir, a server twin's dir, the pytest session's dir and, with
    --pg-dsn, the private schema; `bench clean` takes back exactly those."""
    dsn = dsn_for(server)
    runs = [subprocess.Popen([sys.executable, "-c", KILLED_RUN, dsn], stdout=subprocess.PIPE,
                             text=True, stdin=subprocess.DEVNULL, env=clean_env())
            for _ in range(2)]
    try:
        made = []
        for run in runs:
            assert run.stdout is not None
            made.append(json.loads(run.stdout.readline()))
        killed, live = made
        children = _children(runs[0].pid)
        runs[0].kill()
        runs[0].wait()
        assert wait_gone(children, timeout=15) == []  # parent-death signals
        left = [Path(d) for d in killed["dirs"]]
        assert all(d.is_dir() for d in left) and killed["schema"] in schemas(server)

        result = subprocess.run([*BENCH, "clean", "--pg-dsn", dsn], capture_output=True,
                                text=True, timeout=60, env=clean_env())
        assert result.returncode == 0, result.stdout + result.stderr
        (line,) = result.stdout.strip().splitlines()
        assert line.startswith(f"reclaimed what killed twinbench runs left (pid {runs[0].pid})"
                               ": 3 temp dir(s), ") and killed["schema"] in line, line
        assert not any(d.exists() for d in left)
        assert killed["schema"] not in schemas(server)
        assert all(Path(d).is_dir() for d in live["dirs"])  # a live run's: untouched
        assert live["schema"] in schemas(server)
        again = subprocess.run([*BENCH, "clean"], capture_output=True, text=True, timeout=60,
                               env=clean_env())
        assert again.stdout.strip() == "nothing to reclaim: no leftovers of dead twinbench runs"
    finally:
        for run in runs:
            children = _children(run.pid)
            run.kill()
            run.wait()
            wait_gone(children, timeout=15)
        subprocess.run([*BENCH, "clean", "--pg-dsn", dsn], capture_output=True, timeout=60,
                       env=clean_env())


# -- only this run's connections get in (issue 14) ----------------------------------------------

STARTUP = r"""
import socket, struct, sys
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
params = b"user\0postgres\0database\0postgres\0\0"
sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
kind, size = struct.unpack("!ci", sock.recv(5))
print(kind.decode(), struct.unpack("!i", sock.recv(size - 4)[:4])[0])
"""


def test_only_connections_that_know_this_runs_password_get_in(server: PostgresPeer) -> None:
    """No trust: the socket is reachable by every process of the server's user (nobody, under
    root), so without the run's password nobody gets in, not even as that user."""
    local = server.server
    assert local is not None
    bare = psycopg.conninfo.make_conninfo(host=local.socket_dir, port=local.port,
                                          user="postgres", dbname="postgres")
    for conninfo in (bare, f"{bare} password=guess"):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(conninfo, connect_timeout=5).close()
    with server.connect() as conn:
        methods = {r[0] for r in conn.execute("SELECT auth_method FROM pg_hba_file_rules")}
    assert methods == {"scram-sha-256"}
    # Speak the protocol as the server's own user: the answer is a SASL challenge (10), not
    # "authentication ok" (0).
    socket_path = f"{local.socket_dir}/.s.PGSQL.{local.port}"
    as_user: dict[str, Any] = {}
    python = sys.executable
    if local.run_as is not None:
        as_user = {"user": local.run_as.uid, "group": local.run_as.gid, "extra_groups": []}
        python = shutil.which("python3", path="/usr/bin:/bin") or pytest.skip("no python3")
    answer = subprocess.run([python, "-c", STARTUP, socket_path], capture_output=True,
                            text=True, timeout=30, check=True, **as_user).stdout.split()
    assert answer == ["R", "10"]
    assert local.password not in json.dumps(server.describe()) + server.public_dsn
    secret = local.password.encode()
    for path in local.root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert secret not in path.read_bytes(), path  # the password file is gone


# -- what the twins make the server do -----------------------------------------------------------

def test_statements_are_counted_exactly_where_the_server_has_pg_stat_statements(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a throwaway server whose install ships pg_stat_statements, every statement of this
    run's database is counted at once (the peer's own reads excepted); elsewhere the peer
    says why it counts none."""
    from harness.peers.postgres.install import BINDIR_ENV, find_installations

    counting = [i for i in find_installations() if i.has_statement_stats]
    if not counting:
        pytest.skip("no PostgreSQL with pg_stat_statements here (e.g. apt install "
                    "postgresql-contrib)")
    monkeypatch.setenv(BINDIR_ENV, str(counting[0].bindir))
    with PostgresPeer({}) as peer:
        assert peer.describe()["statements_counted"] is True
        before = peer.io_counts()["statements"]
        with peer.connect() as conn:
            for _ in range(5):
                conn.execute("SELECT 1").fetchone()
            with conn.transaction():
                conn.execute("SELECT 2").fetchone()
        after = peer.io_counts()["statements"]
        assert after - before == 5 + 3  # BEGIN, SELECT 2, COMMIT
        assert peer.io_counts()["statements"] == after  # reading counts nothing


def test_a_server_that_cannot_count_statements_says_why(server: PostgresPeer) -> None:
    info = server.describe()
    if info["statements_counted"]:
        pytest.skip("this install counts statements")
    assert server.io_counts() == {}
    assert "pg_stat_statements" in info["statements_not_counted"]


def test_over_tls_every_driver_verifies_the_throwaway_server() -> None:
    """With the run's CA (a PeerPool's), the throwaway server also listens on 127.0.0.1 with
    TLS, and psycopg (libpq verify-full) and asyncpg (an SSL context) verify it; a build
    without SSL (pgserver's) serves without, and TLS twins then skip saying why."""
    import asyncio

    import asyncpg

    from harness.model.workload import CannotRun
    from harness.peers import PeerPool

    with PeerPool({}) as pool:
        peer = pool.get("postgres")
        if peer.tls_conninfo is None:
            with pytest.raises(CannotRun, match=r"without SSL|--pg-dsn"):
                peer.conninfo_for(tls=True)
            pytest.skip("this PostgreSQL is built without SSL")
        assert "sslmode=verify-full" in peer.tls_conninfo
        with psycopg.connect(peer.tls_conninfo) as conn:
            row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
                               ).fetchone()
            assert row == (True,)

        async def by_asyncpg() -> bool:
            conn = await asyncpg.connect(**peer.tls_asyncpg_params)
            try:
                return bool(await conn.fetchval(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
            finally:
                await conn.close()

        assert asyncio.run(by_asyncpg())
        assert peer.describe()["tls"] is True
