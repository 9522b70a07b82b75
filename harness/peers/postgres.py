"""The PostgreSQL peer: a user's server (`--pg-dsn`) or a throwaway one the harness owns.

Resolution order:
1. `--pg-dsn` / TWINBENCH_PG_DSN: an existing server. The peer creates a private schema
   `twinbench_<random>`, points every connection's search_path at it, and drops only it at the
   end; nothing else in that database is read or written.
2. Otherwise a throwaway cluster from the binaries of the `pgserver` wheel (a dependency) or of
   a PostgreSQL install found on the machine (PATH, /usr/lib/postgresql/*/bin, ...). Setting
   TWINBENCH_PG_BINDIR (os.pathsep-separated directories) replaces that search.

The throwaway server lives in a private temp dir (mode 0700), listens on a Unix socket in that
dir only (trust auth is then safe: nobody else can reach the socket), runs as a direct child of
the harness in its own session (a terminal Ctrl-C reaches the harness, which stops it in order)
with a parent-death signal (so it shuts down even if the harness is killed outright), and is
stopped with `pg_ctl stop -m fast`, escalating to SIGQUIT/SIGKILL, then deleted. The lifecycle is
ours rather than pgserver's: pgserver keeps servers alive across processes (shared pgdata, pid
lists, atexit), and as root it adds a system user and chmods the path prefixes.

Passwords never leave this module: descriptions are rebuilt from parsed DSNs without the
password, and error text is scrubbed of it.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from harness.errors import BadInput
from harness.peers import PeerFailed, PeerUnavailable, die_with_parent, tree_cpu_seconds
from harness.results import redact

HOW_TO_GET = ("no PostgreSQL found: pip install pgserver (bundles PostgreSQL 16), install the "
              "server binaries (e.g. apt install postgresql), or pass --pg-dsn")
BINDIR_ENV = "TWINBENCH_PG_BINDIR"
SEARCH_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin",
                "/opt/homebrew/opt/postgresql*/bin", "/usr/local/pgsql/bin")
SOCKET_PORT = 5432  # names the socket file only; the socket dir is private, so never clashes

# Throwaway-server settings, recorded in the results. Durability is off, as usual for a bench
# database that is deleted afterwards: the measurement is driver and I/O-model overhead, not the
# disk. 100 connections covers every twin's pool at once (pools are C <= 20) plus the reset and
# admin connections.
BENCH_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
}


# -- finding PostgreSQL --------------------------------------------------------------------------

@dataclass(frozen=True)
class Installation:
    source: str  # "pgserver" | "binaries"
    bindir: Path

    @property
    def usable(self) -> bool:
        return all(os.access(self.bindir / tool, os.X_OK) for tool in ("initdb", "postgres"))


def _pgserver_bindir() -> Path | None:
    """pgserver's bundled bin dir, located without importing pgserver (whose import registers
    atexit hooks and inter-process locks we do not want)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_installations() -> list[Installation]:
    """Candidate PostgreSQL installs, best first (the bundled 16 before whatever is around)."""
    override = os.environ.get(BINDIR_ENV)
    if override is not None:
        found = [Installation("binaries", Path(d)) for d in override.split(os.pathsep) if d]
        return [i for i in found if i.usable]
    candidates: list[Installation] = []
    bundled = _pgserver_bindir()
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
    return unique


# -- running as an unprivileged user -------------------------------------------------------------

@dataclass(frozen=True)
class RunAs:
    """Who the throwaway server runs as: PostgreSQL refuses to run as root."""

    name: str
    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _run_as() -> RunAs | None:
    if os.geteuid() != 0:
        return None
    # `nobody` owns nothing, so a server running as it can touch nothing but its own dir.
    for name in ("nobody", "postgres"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return RunAs(name, entry.pw_uid, entry.pw_gid)
    raise PeerUnavailable("PostgreSQL refuses to run as root and there is no 'nobody' user to "
                          "run it as; run twinbench as a normal user or pass --pg-dsn")


def _reachable(path: Path, user: RunAs) -> bool:
    """Whether `user` can traverse to `path` and read/execute it (root's os.access says yes to
    everything, so look at the permission bits)."""
    path = path.resolve()
    for part in (*reversed(path.parents), path):
        try:
            st = part.stat()
        except OSError:
            return False
        if st.st_uid == user.uid:
            bits = stat.S_IXUSR
        elif st.st_gid == user.gid:
            bits = stat.S_IXGRP
        else:
            bits = stat.S_IXOTH
        if not st.st_mode & bits:
            return False
    return True


# Runs after the child switched user (CPython sets uid before preexec_fn), so the setting
# survives; SIGINT is PostgreSQL's fast shutdown (ends sessions, exits promptly).
_exit_with_parent = functools.partial(die_with_parent, signal.SIGINT)


# -- the throwaway server ------------------------------------------------------------------------

def _kill_group(proc: subprocess.Popen[Any], wait: float = 5.0) -> None:
    """SIGKILL a child's process group and wait until every member is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


class LocalServer:
    """One throwaway cluster: initdb into a private dir, a postmaster child, stop and delete."""

    def __init__(self, installation: Installation):
        self.installation = installation
        self.run_as = _run_as()
        self.root = Path()  # the private dir, made by start()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.bindir = installation.bindir
        self._library_path: str | None = None

    @property
    def socket_dir(self) -> str:
        return str(self.root)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def _make_private_dir(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="twinbench-pg-"))  # mode 0700
        if len(str(self.root)) > 80:  # a Unix socket path must fit in 107 bytes
            shutil.rmtree(self.root)
            self.root = Path(tempfile.mkdtemp(prefix="twinbench-pg-", dir="/tmp"))

    def _env(self) -> dict[str, str]:
        # No PG* variables from the user's shell (they would redirect initdb/pg_ctl).
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        if self._library_path:
            env["LD_LIBRARY_PATH"] = self._library_path
        return env

    def _prepare_private_dir(self) -> None:
        if self.run_as is None:
            return
        os.chown(self.root, self.run_as.uid, self.run_as.gid)
        if not _reachable(self.bindir / "postgres", self.run_as):
            # e.g. a venv under /root: copy the install into the private dir instead of
            # loosening permissions on the user's directories (pgserver chmods them).
            self.bindir = self._copy_install()

    def _copy_install(self) -> Path:
        assert self.run_as is not None
        src = self.installation.bindir.parent
        dst = self.root / "pginstall"
        (dst / "bin").mkdir(parents=True)
        for tool in ("initdb", "postgres", "pg_ctl"):
            if (src / "bin" / tool).exists():
                shutil.copy2(src / "bin" / tool, dst / "bin" / tool)
        for sub in ("lib", "share"):
            if (src / sub).is_dir():
                shutil.copytree(src / sub, dst / sub, symlinks=True)
        # A wheel's binaries find vendored libraries (libpq) through an $ORIGIN-relative
        # RPATH into "<package>.libs" next to the package; in the copy, the loader path does.
        package = self.installation.bindir.parents[1]
        vendored = package.parent / f"{package.name}.libs"
        if vendored.is_dir():
            shutil.copytree(vendored, dst / "libs", symlinks=True)
            self._library_path = str(dst / "libs")
        for path in (dst, *dst.rglob("*")):
            os.lchown(path, self.run_as.uid, self.run_as.gid)
        return dst / "bin"

    def _tool(self, name: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run initdb/pg_ctl as the server's user, in a session of its own: if we are interrupted
        the whole group goes (initdb's bootstrap postgres children too, which would otherwise
        keep writing into the dir being deleted)."""
        extra = self.run_as.popen_kwargs() if self.run_as else {}
        proc = subprocess.Popen(
            [str(self.bindir / name), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=self.root, env=self._env(),
            start_new_session=True, **extra,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            _kill_group(proc)
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def start(self, timeout: float = 60.0) -> None:
        try:  # everything from the first mkdir on is undone if anything fails or Ctrl-C lands
            self._make_private_dir()
            self._prepare_private_dir()
            done = self._tool("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                              "-E", "UTF8", "--locale=C", "--no-sync", timeout=timeout)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
                raise PeerFailed(f"initdb failed: {last}")
            self._spawn()
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _spawn(self) -> None:
        args = [str(self.bindir / "postgres"), "-D", str(self.data), "-k", self.socket_dir,
                "-p", str(SOCKET_PORT), "-c", "listen_addresses="]
        for key, value in BENCH_SETTINGS.items():
            args += ["-c", f"{key}={value}"]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 -- outlives this call; closed in stop()
        extra = self.run_as.popen_kwargs() if self.run_as else {}
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.root, env=self._env(), start_new_session=True,
            preexec_fn=_exit_with_parent if sys.platform == "linux" else None, **extra,
        )

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.conninfo(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.proc.poll() is not None:
                    raise PeerFailed(f"postgres exited with code {self.proc.returncode}: "
                                     f"{_log_tail(self.log_path)}") from None
                if time.monotonic() > deadline:
                    raise PeerFailed(f"postgres did not accept connections within "
                                     f"{timeout:.0f} s: {_log_tail(self.log_path)}") from None
                time.sleep(0.02)

    def conninfo(self, **extra: Any) -> str:
        return make_conninfo(host=self.socket_dir, port=SOCKET_PORT, user="postgres",
                             dbname="postgres", **extra)

    def cpu_seconds(self) -> float:
        """CPU of the postmaster and its backends, finished ones included."""
        return tree_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def stop(self) -> None:
        """Stop (pg_ctl, then signals) and delete; safe to call twice or after a failed start."""
        proc, self.proc = self.proc, None
        try:
            if proc is not None:
                self._shutdown(proc)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
            root, self.root = self.root, Path()
            for _ in range(50):  # a straggler may still be writing for a moment
                if root == Path() or not root.exists():
                    break
                shutil.rmtree(root, ignore_errors=True)
                time.sleep(0.02)

    def _shutdown(self, proc: subprocess.Popen[bytes]) -> None:
        import psutil

        try:
            if proc.poll() is None:
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    self._tool("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w",
                               "-t", "15", timeout=20)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        finally:
            if proc.poll() is None:
                # Backends run in sessions of their own, so collect them before the postmaster
                # goes; they would exit on postmaster death anyway, but not instantly.
                try:
                    children = psutil.Process(proc.pid).children(recursive=True)
                except psutil.Error:
                    children = []
                proc.send_signal(signal.SIGQUIT)  # immediate shutdown
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                for child in children:
                    with contextlib.suppress(psutil.Error):
                        child.kill()
            proc.wait()


# -- DSN handling --------------------------------------------------------------------------------

def _parse_dsn(dsn: str) -> dict[str, str]:
    try:
        return conninfo_to_dict(dsn)
    except psycopg.Error:
        # libpq's message may quote a fragment of the DSN, i.e. possibly the password.
        raise BadInput("invalid --pg-dsn / TWINBENCH_PG_DSN: expected a URI such as "
                       "postgresql://user@host:5432/dbname or key=value pairs such as "
                       "'host=localhost port=5432 dbname=bench'") from None


def _where(info: dict[str, str]) -> str:
    """host, port and database as libpq would resolve them (defaults included), no password."""
    host = info.get("host") or info.get("hostaddr") or os.environ.get("PGHOST") or "local socket"
    port = info.get("port") or os.environ.get("PGPORT") or "5432"
    user = info.get("user") or os.environ.get("PGUSER") or _os_user()
    db = info.get("dbname") or os.environ.get("PGDATABASE") or user
    return f"host {host}, port {port}, database {db}"


def _os_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return "?"


def _scrub(text: str, info: dict[str, str]) -> str:
    """One line of error text with the DSN's password removed, however it got there."""
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "unknown error")
    password = info.get("password")
    if password:
        line = line.replace(password, "***")
    return redact(line)


def _public_dsn(info: dict[str, str]) -> str:
    return redact(make_conninfo(**{k: v for k, v in info.items() if k != "password"}))


def _asyncpg_params(info: dict[str, str]) -> dict[str, Any]:
    """asyncpg takes keyword arguments, not a libpq conninfo string: translate what it knows."""
    names = {"host": "host", "hostaddr": "host", "port": "port", "user": "user",
             "password": "password", "dbname": "database", "passfile": "passfile",
             "sslmode": "ssl"}
    params: dict[str, Any] = {}
    for key, value in info.items():
        if key in names and not (key == "hostaddr" and "host" in info):
            params[names[key]] = int(value) if key == "port" and value.isdigit() else value
    if "connect_timeout" in info:
        params["timeout"] = float(info["connect_timeout"])
    return params


def _server_version(conn: psycopg.Connection[Any]) -> str:
    return conn.info.parameter_status("server_version") or str(conn.info.server_version)


# -- the peer ------------------------------------------------------------------------------------

class PostgresPeer:
    """A PostgreSQL server and a private schema in it, for one run.

    Twins connect with `conninfo` (psycopg) or `asyncpg_params` (asyncpg); both set the
    search_path to `schema`, so the workload's SQL never names a schema and cannot touch
    anything outside it.
    """

    # Set only when the server's processes are ours to watch (the throwaway one): PeerPool asks
    # hasattr(peer, "cpu_seconds"), and 0.0 for a server we cannot see would read as "idle".
    cpu_seconds: Callable[[], float]

    def __init__(self, options: dict[str, Any] | None = None):
        options = options or {}
        self.pg_dsn: str | None = options.get("pg_dsn") or None
        self.schema = f"twinbench_{secrets.token_hex(4)}"
        self.source = "dsn" if self.pg_dsn else ""
        self.server: LocalServer | None = None
        self._info: dict[str, str] = {}
        self.conninfo = ""
        self.asyncpg_params: dict[str, Any] = {}
        self.server_version = ""
        self.startup_s: float | None = None
        self._local: dict[str, Any] = {}  # what describe() says about a throwaway server
        self._schema_created = False

    @property
    def dsn(self) -> str:
        """The libpq conninfo twins connect with (may hold a password: never print it)."""
        return self.conninfo

    # -- bad input -------------------------------------------------------------------------------

    @staticmethod
    def preflight(options: dict[str, Any]) -> None:
        """Reject an unusable --pg-dsn before anything runs: one line, no password."""
        dsn = options.get("pg_dsn")
        if not dsn:
            return
        info = _parse_dsn(dsn)
        where = _where(info)
        try:
            with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
                row = conn.execute("SELECT has_database_privilege(current_database(), 'CREATE')"
                                   ).fetchone()
        except psycopg.Error as exc:
            raise BadInput(f"cannot connect to PostgreSQL at {where}: "
                           f"{_scrub(str(exc), info)}") from None
        if not (row and row[0]):
            raise BadInput(f"PostgreSQL at {where}: this role may not create a schema there "
                           "(twinbench works only in a private twinbench_* schema)")

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> PostgresPeer:
        began = time.perf_counter()
        if self.pg_dsn:
            info = _parse_dsn(self.pg_dsn)
            base = self.pg_dsn
        else:
            self.server = self._start_local()
            info = conninfo_to_dict(self.server.conninfo())
            base = self.server.conninfo()
            self.cpu_seconds = self.server.cpu_seconds
            self._local = {
                "bindir": str(self.server.installation.bindir),
                "settings": dict(BENCH_SETTINGS),
                "run_as": self.server.run_as.name if self.server.run_as else None,
            }
        self._info = info
        if self.server is not None:  # a server given by DSN was not started by us
            self.startup_s = time.perf_counter() - began
        try:
            self._create_schema(base, info)
        except BaseException:
            self.stop()
            raise
        # The schema also names the sessions (application_name), so that ending "our" sessions
        # can never reach another run's on a shared server.
        options = f"{info.get('options', '')} -c search_path={self.schema}".strip()
        self.conninfo = make_conninfo(base, options=options, application_name=self.schema)
        self.asyncpg_params = {
            **_asyncpg_params(info),
            "server_settings": {"search_path": self.schema, "application_name": self.schema},
        }
        return self

    def _start_local(self) -> LocalServer:
        installations = find_installations()
        if not installations:
            raise PeerUnavailable(HOW_TO_GET)
        failures = []
        for installation in installations:  # the next install may work where one did not
            server = LocalServer(installation)
            try:
                server.start()
            except PeerFailed as exc:
                failures.append(f"{installation.bindir}: {exc}")
                continue
            self.source = installation.source
            return server
        raise PeerFailed("could not start PostgreSQL: " + "; ".join(failures))

    def _create_schema(self, base: str, info: dict[str, str]) -> None:
        try:
            with psycopg.connect(base, connect_timeout=10, autocommit=True) as conn:
                self.server_version = _server_version(conn)
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
                self._schema_created = True
        except psycopg.Error as exc:
            raise PeerFailed(f"PostgreSQL at {_where(info)}: {_scrub(str(exc), info)}") from None

    def _drop_schema(self) -> None:
        """Drop our schema and nothing else; end our own sessions if one still holds a lock."""
        if not self._schema_created:
            return
        drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
        with psycopg.connect(self.pg_dsn or "", connect_timeout=10, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '2s'")
            try:
                conn.execute(drop)
            except psycopg.errors.LockNotAvailable:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND usename = current_user "
                    "AND pid <> pg_backend_pid()", (self.schema,))
                conn.execute(drop)
        self._schema_created = False

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()  # the schema goes with the whole cluster
        elif self.pg_dsn:
            try:
                self._drop_schema()
            except psycopg.Error as exc:
                raise PeerFailed(f"could not drop schema {self.schema} at "
                                 f"{_where(self._info)}: {_scrub(str(exc), self._info)}"
                                 ) from None

    def __enter__(self) -> PostgresPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- for twins and the results file ----------------------------------------------------------

    def connect(self) -> psycopg.Connection[Any]:
        """A plain autocommit connection into the schema (set-up and resets, never timed)."""
        return psycopg.connect(self.conninfo, autocommit=True)

    @property
    def public_dsn(self) -> str:
        return _public_dsn(self._info) if self._info else ""

    def describe(self) -> dict[str, Any]:
        version = self.server_version.split()[0] if self.server_version else "?"
        if self.source == "dsn":
            summary = (f"PostgreSQL {version} at {_where(self._info)} (--pg-dsn), "
                       f"schema {self.schema}")
        else:
            summary = (f"PostgreSQL {version} ({self.source}), started in "
                       f"{self.startup_s or 0:.2f} s")
        described: dict[str, Any] = {
            "kind": "PostgreSQL",
            "source": self.source,
            "server_version": self.server_version,
            "startup_s": self.startup_s,
            "dsn": self.public_dsn,
            "schema": self.schema,
            "summary": summary,
        }
        described.update(self._local)
        return described

    def __repr__(self) -> str:
        return f"PostgresPeer(source={self.source!r}, schema={self.schema!r})"

