"""The throwaway PostgreSQL server: initdb into a private dir, a postmaster child, stop, delete.

The server lives in a private temp dir (mode 0700, marked as this run's: harness.leftovers),
listens on a Unix socket in that dir only, and lets in only connections that know a random
password made for this run (scram-sha-256; the password file initdb reads is deleted as soon as
initdb is done). The socket dir alone is not enough: as root the server runs as `nobody`, and
every process of that user (another run's server included) could reach a trusting socket. It
runs as a direct child of the harness in its own session (a terminal Ctrl-C reaches the
harness, which stops it in order), initdb and the postmaster with a parent-death signal (so
they shut down even if the harness is killed outright), and is stopped with
`pg_ctl stop -m fast`, escalating to SIGQUIT/SIGKILL, then deleted; a second Ctrl-C skips the
politeness, never the deletion. Start-up steps are bounded (TWINBENCH_PG_START_TIMEOUT
seconds, default 60) and a step that hangs is a PeerFailed naming it. The lifecycle is ours
rather than pgserver's: pgserver keeps servers alive across processes (shared pgdata, pid
lists, atexit), and as root it adds a system user and chmods the path prefixes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg.conninfo import make_conninfo

from harness.peers import PeerFailed, PeerUnavailable
from harness.peers.postgres.install import Installation
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

SOCKET_PORT = 5432  # names the socket file only; the socket dir is private, so never clashes


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
START_TIMEOUT_ENV = "TWINBENCH_PG_START_TIMEOUT"

# Throwaway-server settings, recorded in the results. Durability is off, as usual for a bench
# database that is deleted afterwards: the measurement is driver and I/O-model overhead, not the
# disk. 300 connections: the twins of a scenario are set up together (harness.run.interleave),
# six pools of C <= 20 at once, plus the reset and admin connections.
BENCH_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
}


def _run_as() -> RunAs | None:
    return run_as_unprivileged("PostgreSQL", "run twinbench as a normal user or pass --pg-dsn",
                               ("nobody", "postgres"))


# Runs after the child switched user (CPython sets uid before preexec_fn), so the setting
# survives; SIGINT is PostgreSQL's fast shutdown (ends sessions, exits promptly).
_exit_with_parent = preexec(signal.SIGINT)


# -- the throwaway server ------------------------------------------------------------------------

def start_timeout() -> float:
    """Seconds each start-up step (initdb, the first connection) may take."""
    raw = os.environ.get(START_TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else 60.0
    except ValueError:
        value = 0.0
    if not 0 < value < 3600:
        raise PeerUnavailable(f"{START_TIMEOUT_ENV}={raw!r}: expected seconds between 0 and "
                              "3600")
    return value


class LocalServer:
    """One throwaway cluster: initdb into a private dir, a postmaster child, stop and delete.

    With `tls` (a certificate and key from the run's CA, harness.peers.tls) it also listens
    on 127.0.0.1, at a free port, with `ssl=on`: libpq never uses TLS over a Unix socket, so
    that is how a client can verify this server. The password is still required there."""

    def __init__(self, installation: Installation, tls: tuple[Path, Path] | None = None,
                 ca_file: Path | None = None):
        self.installation = installation
        self.run_as = _run_as()
        self.root = Path()  # the private dir, made by start()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.bindir = installation.bindir
        self._library_path: str | None = None
        self.password = secrets.token_urlsafe(24)  # only this run's connections know it
        self.tls = tls
        self.ca_file = ca_file
        self.port = free_port() if tls else SOCKET_PORT

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
        self.root = private_dir("twinbench-pg-")

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
        if not reachable(self.bindir / "postgres", self.run_as):
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
        """Run initdb/pg_ctl as the server's user (harness.peers.users.run_tool): bounded by
        `timeout`, dying with the harness, its whole group stopped if interrupted."""
        return run_tool([str(self.bindir / name), *args], self.run_as, self.root, self._env(),
                        timeout, name=name, timeout_hint=f"{START_TIMEOUT_ENV} sets the limit",
                        preexec_fn=_exit_with_parent)

    def start(self, timeout: float | None = None) -> None:
        timeout = start_timeout() if timeout is None else timeout
        try:  # everything from the first mkdir on is undone if anything fails or Ctrl-C lands
            self._make_private_dir()
            self._prepare_private_dir()
            self._initdb(timeout)
            self._spawn()
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _initdb(self, timeout: float) -> None:
        """initdb with scram-sha-256 for every connection and this run's password for the
        superuser, read from a file that is gone before the server starts."""
        pwfile = self.root / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(self.password + "\n")
            if self.run_as is not None:
                os.chown(pwfile, self.run_as.uid, self.run_as.gid)
            done = self._tool("initdb", "-D", str(self.data), "-U", "postgres",
                              "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                              "--locale=C", "--no-sync", timeout=timeout)
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise PeerFailed(f"initdb failed: {last}")

    @property
    def statement_stats(self) -> bool:
        """Whether this server counts statements (pg_stat_statements, loaded at start)."""
        return self.installation.has_statement_stats

    def _tls_files(self) -> tuple[Path, Path]:
        """The certificate and key where the server's user may read them: PostgreSQL wants
        its key readable by its owner only."""
        assert self.tls is not None
        out = []
        for source, name in zip(self.tls, ("server.crt", "server.key"), strict=True):
            target = self.root / name
            shutil.copyfile(source, target)
            target.chmod(0o600)
            if self.run_as is not None:
                os.chown(target, self.run_as.uid, self.run_as.gid)
            out.append(target)
        return out[0], out[1]

    def _spawn(self) -> None:
        listen = "127.0.0.1" if self.tls else ""
        args = [str(self.bindir / "postgres"), "-D", str(self.data), "-k", self.socket_dir,
                "-p", str(self.port), "-c", f"listen_addresses={listen}"]
        if self.tls:
            cert_file, key_file = self._tls_files()
            args += ["-c", "ssl=on", "-c", f"ssl_cert_file={cert_file}", "-c",
                     f"ssl_key_file={key_file}"]
        for key, value in BENCH_SETTINGS.items():
            args += ["-c", f"{key}={value}"]
        if self.statement_stats:  # counts each statement as it ends (harness.peers: io_counts)
            args += ["-c", "shared_preload_libraries=pg_stat_statements",
                     "-c", "pg_stat_statements.track=top"]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 -- outlives this call; closed in stop()
        extra = self.run_as.popen_kwargs() if self.run_as else {}
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.root, env=self._env(), start_new_session=True,
            preexec_fn=_exit_with_parent, **extra,
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
                                     f"{log_tail(self.log_path)}") from None
                if time.monotonic() > deadline:
                    raise PeerFailed(f"postgres did not accept connections within "
                                     f"{timeout:.0f} s: {log_tail(self.log_path)}") from None
                time.sleep(0.02)

    def conninfo(self, **extra: Any) -> str:
        return make_conninfo(host=self.socket_dir, port=self.port, user="postgres",
                             dbname="postgres", password=self.password, **extra)

    def tls_conninfo(self, **extra: Any) -> str | None:
        """Over TCP on 127.0.0.1 with TLS, the server verified against the run's CA (libpq's
        verify-full: the chain and the name); None without TLS."""
        if not self.tls or self.ca_file is None:
            return None
        return make_conninfo(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", password=self.password, sslmode="verify-full",
                             sslrootcert=str(self.ca_file), **extra)

    def cpu_seconds(self) -> float:
        """CPU of the postmaster and its backends, finished ones included."""
        return tree_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def exit_code(self) -> int | None:
        """The postmaster's exit status if it has died under us (PeerPool names the death)."""
        return self.proc.poll() if self.proc is not None else None

    def stop(self) -> None:
        """Stop (pg_ctl, then signals) and delete; safe to call twice or after a failed start.
        Shielded from Ctrl-C: a second one hurries the stop, the directory still goes."""
        with shielded():
            proc, self.proc = self.proc, None
            try:
                if proc is not None:
                    self._shutdown(proc)
            finally:
                if self._log is not None:
                    self._log.close()
                    self._log = None
                root, self.root = self.root, Path()
                remove_dir(root)

    def _shutdown(self, proc: subprocess.Popen[bytes]) -> None:
        import psutil

        try:
            if proc.poll() is None and not hurrying():
                try:
                    self._tool("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w",
                               "-t", "15", timeout=20)
                except (OSError, subprocess.SubprocessError, PeerFailed):
                    pass  # signals next
                else:
                    wait_exit(proc, 5)
        finally:
            if proc.poll() is None:
                # Backends run in sessions of their own, so collect them before the postmaster
                # goes; they would exit on postmaster death anyway, but not instantly.
                try:
                    children = psutil.Process(proc.pid).children(recursive=True)
                except psutil.Error:
                    children = []
                proc.send_signal(signal.SIGQUIT)  # immediate shutdown
                if not wait_exit(proc, 5):
                    proc.kill()
                for child in children:
                    with contextlib.suppress(psutil.Error):
                        child.kill()
            proc.wait()


