"""The throwaway MariaDB/MySQL server: a data directory made in a private dir, a server child,
stop, delete.

Like the throwaway PostgreSQL: the private temp dir is mode 0700 and holds the data, the Unix
socket (the only way in: `skip-networking`, so no TCP port is opened and nothing clashes with a
system server on 3306), the pid file and the log. The server reads no option file
(`--no-defaults`), runs as `nobody` when the harness is root, in a session of its own (a
terminal Ctrl-C reaches the harness, which stops it in order) with a parent-death signal (it
shuts down if the harness is killed outright), and is stopped with SIGTERM (its clean
shutdown), escalating to SIGKILL, then deleted. The socket is reachable by every process of
the server's user (nobody, under root), so root@localhost gets a password made for this run,
set by an `--init-file` the server executes before it accepts a connection; the file is
deleted as soon as the server is ready.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import pymysql

from harness.peers import PeerFailed, PeerUnavailable
from harness.peers.mysql.install import Installation
from harness.peers.users import (
    RunAs,
    log_tail,
    private_dir,
    reachable,
    remove_dir,
    run_as_unprivileged,
    run_tool,
)
from harness.procs import hurrying, preexec, shielded, tree_cpu_seconds, wait_exit

# Throwaway-server settings, recorded in the results. Durability is relaxed, as for the
# PostgreSQL peer (fsync off there): the database is deleted afterwards, and the measurement is
# driver and I/O-model overhead, not the disk. 300 connections: a scenario's twins are set up
# together (harness.run.interleave), every pool (C <= 20) at once, plus reset and admin ones.
BENCH_SETTINGS: dict[str, str] = {
    "innodb_flush_log_at_trx_commit": "0",
    "innodb_doublewrite": "OFF",
    "innodb_buffer_pool_size": "128M",
    "innodb_log_file_size": "32M",
    "max_connections": "300",
    "skip_name_resolve": "ON",
    "performance_schema": "OFF",
}

# SIGTERM is the server's clean shutdown. It runs after the child switched user (CPython sets
# the uid before preexec_fn), so the setting survives.
_exit_with_parent = preexec(signal.SIGTERM)


def _run_as() -> RunAs | None:
    return run_as_unprivileged("MariaDB/MySQL", "run twinbench as a normal user or pass "
                                                "--mysql-dsn")


class LocalServer:
    """One throwaway server in a private dir, reached through its Unix socket only."""

    def __init__(self, installation: Installation):
        self.installation = installation
        self.run_as = _run_as()
        self.root = Path()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.password = secrets.token_urlsafe(24)  # only this run's connections know it

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket(self) -> str:
        return str(self.root / "mysqld.sock")

    @property
    def log_path(self) -> Path:
        return self.root / "mysqld.log"

    def _env(self) -> dict[str, str]:
        # No MYSQL_* variables from the user's shell (MYSQL_UNIX_PORT, MYSQL_HOME...).
        return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/bin"), "LC_ALL": "C",
                "TZ": "UTC", "HOME": str(self.root)}

    def _common(self) -> list[str]:
        return ["--no-defaults", f"--datadir={self.data}", f"--socket={self.socket}",
                "--skip-networking"]

    def start(self, timeout: float = 60.0) -> None:
        try:  # everything from the first mkdir on is undone if anything fails or Ctrl-C lands
            self.root = private_dir("twinbench-my-")
            if self.run_as is not None:
                os.chown(self.root, self.run_as.uid, self.run_as.gid)
                if not reachable(self.installation.server, self.run_as):
                    raise PeerUnavailable(f"{self.installation.server} is not reachable by "
                                          f"user {self.run_as.name}; pass --mysql-dsn")
            self._initialize(timeout)
            self._spawn()
            try:
                self._wait_ready(timeout)
            finally:
                self._init_file.unlink(missing_ok=True)
        except BaseException:
            self.stop()
            raise

    def _initialize(self, timeout: float) -> None:
        inst = self.installation
        if inst.install_db is not None:  # MariaDB
            log_size = BENCH_SETTINGS["innodb_log_file_size"]
            args = [str(inst.install_db), "--no-defaults", f"--datadir={self.data}",
                    "--auth-root-authentication-method=normal", "--skip-test-db",
                    "--skip-name-resolve", f"--innodb-log-file-size={log_size}"]
            server_dir = inst.server.resolve().parent
            if server_dir.name in ("sbin", "bin") and (server_dir.parent / "share").is_dir():
                args.append(f"--basedir={server_dir.parent}")
        else:  # MySQL 5.7+: the server makes its own data directory
            args = [str(inst.server), "--no-defaults", "--initialize-insecure",
                    f"--datadir={self.data}"]
        done = run_tool(args, self.run_as, self.root, self._env(), timeout)
        if done.returncode != 0:
            lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise PeerFailed(f"{Path(args[0]).name} failed: "
                             f"{lines[-1] if lines else f'exit {done.returncode}'}")

    @property
    def _init_file(self) -> Path:
        return self.root / "init.sql"

    def _write_init_file(self) -> None:
        # token_urlsafe is [A-Za-z0-9_-]: nothing to escape inside the quotes.
        fd = os.open(self._init_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{self.password}';\n")
        if self.run_as is not None:
            os.chown(self._init_file, self.run_as.uid, self.run_as.gid)

    def _spawn(self) -> None:
        self._write_init_file()
        args = [str(self.installation.server), *self._common(),
                f"--pid-file={self.root / 'mysqld.pid'}", f"--log-error={self.log_path}",
                f"--init-file={self._init_file}"]
        if self.installation.flavour == "MySQL":
            args.append("--disable-log-bin")  # on by default in MySQL 8
        for key, value in BENCH_SETTINGS.items():
            args.append(f"--{key.replace('_', '-')}={value}")
        self._log = open(self.root / "mysqld.out", "ab")  # noqa: SIM115 -- closed in stop()
        extra = self.run_as.popen_kwargs() if self.run_as else {}
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.root, env=self._env(), start_new_session=True,
            preexec_fn=_exit_with_parent, **extra,
        )

    def connect_kwargs(self) -> dict[str, Any]:
        return {"unix_socket": self.socket, "user": "root", "password": self.password}

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            # PyMySQL leaks its socket when the connect itself fails (it closes only one it
            # has kept), so it is asked only once the socket takes connections
            if _accepts(self.socket):
                with contextlib.suppress(pymysql.err.OperationalError):
                    pymysql.connect(**self.connect_kwargs(), connect_timeout=2,
                                    ssl_disabled=True).close()
                    return
            if self.proc.poll() is not None:
                raise PeerFailed(f"{self.installation.server.name} exited with code "
                                 f"{self.proc.returncode}: {log_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise PeerFailed(f"{self.installation.server.name} did not accept "
                                 f"connections within {timeout:.0f} s: "
                                 f"{log_tail(self.log_path)}")
            time.sleep(0.02)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def stop(self) -> None:
        """Stop (SIGTERM, then SIGKILL) and delete; safe to call twice or after a failed
        start. Shielded from Ctrl-C: a second one hurries the stop, the directory still
        goes."""
        with shielded():
            proc, self.proc = self.proc, None
            try:
                if proc is not None and proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        proc.send_signal(signal.SIGTERM)
                    if not wait_exit(proc, 2 if hurrying() else 20):
                        proc.kill()
                if proc is not None:
                    proc.wait()
            finally:
                if self._log is not None:
                    self._log.close()
                    self._log = None
                root, self.root = self.root, Path()
                remove_dir(root)


def _accepts(path: str) -> bool:
    """Whether a server listens on the Unix socket `path` (a probe closed at once)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True
