"""The MariaDB/MySQL peer: a user's server (`--mysql-dsn`) or a throwaway one the harness owns.

Resolution order:
1. `--mysql-dsn` / TWINBENCH_MYSQL_DSN: an existing server (`dsn`). The peer creates a private
   database `twinbench_<random>`, connects every twin to it, and drops only it at the end;
   nothing else on that server is read or written.
2. Otherwise a throwaway server (`local`) from the binaries `install` finds (mariadbd with
   mariadb-install-db, or MySQL's mysqld --initialize-insecure).
3. Otherwise the peer is unavailable, and the workloads needing it are skipped with one line
   saying how to get a server.

Passwords never leave this package: descriptions are rebuilt without them and error text is
scrubbed of them.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable
from typing import Any

import pymysql

from harness.errors import BadInput
from harness.peers import PeerFailed, PeerUnavailable
from harness.peers.mysql.dsn import parse_dsn, public_dsn, scrub, where
from harness.peers.mysql.install import BINDIR_ENV, HOW_TO_GET, find_installation
from harness.peers.mysql.local import BENCH_SETTINGS, LocalServer

__all__ = ["BINDIR_ENV", "HOW_TO_GET", "MysqlPeer"]


def pymysql_params(info: dict[str, Any]) -> dict[str, Any]:
    """PyMySQL's keywords for `info`. Over a Unix socket TLS is pointless, and PyMySQL (>= 1.2)
    would otherwise build a TLS context with the system's CA store for every connection
    (~0.1 s each; aiomysql and asyncmy do not)."""
    return {**info, "ssl_disabled": True} if "unix_socket" in info else dict(info)


class MysqlPeer:
    """A MariaDB/MySQL server and a private database in it, for one run.

    Twins connect with `params` (host/port or unix_socket, user, password, database: the
    keywords every driver knows) or `pymysql_params` (those, tuned for PyMySQL); `connect()` is
    a plain autocommit PyMySQL connection for set-up and resets.
    """

    # Only when the server's process is ours to watch (see PostgresPeer.cpu_seconds).
    cpu_seconds: Callable[[], float]

    def __init__(self, options: dict[str, Any] | None = None):
        options = options or {}
        self.mysql_dsn: str | None = options.get("mysql_dsn") or None
        self.database = f"twinbench_{secrets.token_hex(4)}"
        self.source = "dsn" if self.mysql_dsn else ""
        self.server: LocalServer | None = None
        self._info: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        self._status_conn: Any = None
        self.pymysql_params: dict[str, Any] = {}
        self.flavour = ""
        self.server_version = ""
        self.startup_s: float | None = None
        self._local: dict[str, Any] = {}
        self._created = False

    # -- bad input -------------------------------------------------------------------------------

    @staticmethod
    def preflight(options: dict[str, Any]) -> None:
        """Reject an unusable --mysql-dsn before anything runs: one line, no password."""
        dsn = options.get("mysql_dsn")
        if not dsn:
            return
        info = parse_dsn(dsn)
        try:
            pymysql.connect(**pymysql_params(info), connect_timeout=5).close()
        except pymysql.err.MySQLError as exc:
            raise BadInput(f"cannot connect to MariaDB/MySQL at {where(info)}: "
                           f"{scrub(str(exc), info)}") from None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> MysqlPeer:
        began = time.perf_counter()
        if self.mysql_dsn:
            info = parse_dsn(self.mysql_dsn)
        else:
            installation = find_installation()
            if installation is None:
                raise PeerUnavailable(HOW_TO_GET)
            self.server = LocalServer(installation)
            self.server.start()
            self.source = "binaries"
            info = self.server.connect_kwargs()
            self.cpu_seconds = self.server.cpu_seconds
            self._local = {"server": str(installation.server),
                           "settings": dict(BENCH_SETTINGS),
                           "run_as": self.server.run_as.name if self.server.run_as else None,
                           "socket_only": True}
            self.startup_s = time.perf_counter() - began
        self._info = info
        try:
            self._create_database()
        except BaseException:
            self.stop()
            raise
        self.params = {**info, "database": self.database}
        self.pymysql_params = pymysql_params(self.params)
        return self

    def _create_database(self) -> None:
        try:
            with pymysql.connect(**pymysql_params(self._info), connect_timeout=10) as conn, \
                    conn.cursor() as cur:
                cur.execute("SELECT VERSION()")  # not the handshake's "5.5.5-" MariaDB prefix
                row = cur.fetchone()
                self.server_version = str(row[0]) if row else conn.get_server_info()
                self.flavour = "MariaDB" if "mariadb" in self.server_version.lower() else "MySQL"
                cur.execute(f"CREATE DATABASE `{self.database}`")
                self._created = True
        except pymysql.err.MySQLError as exc:
            raise PeerFailed(f"MariaDB/MySQL at {where(self._info)}: {scrub(str(exc), self._info)}"
                             " (twinbench works only in a private twinbench_* database, which "
                             "this user must be allowed to create)") from None

    def _drop_database(self) -> None:
        """Drop our database and nothing else; end our own sessions if one still holds a
        lock on it (e.g. a transaction left open by Ctrl-C)."""
        if not self._created:
            return
        with pymysql.connect(**pymysql_params(self._info), connect_timeout=10,
                             autocommit=True) as conn, \
                conn.cursor() as cur:
            cur.execute("SET SESSION lock_wait_timeout = 3")
            try:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
            except pymysql.err.OperationalError:
                cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s "
                            "AND ID <> CONNECTION_ID()", (self.database,))
                for (session,) in cur.fetchall():
                    with contextlib.suppress(pymysql.err.MySQLError):  # gone already
                        cur.execute(f"KILL {int(session)}")
                cur.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
        self._created = False

    # -- what the twins made the server do ---------------------------------------------------------

    _STATUS = ("SELECT VARIABLE_NAME, VARIABLE_VALUE FROM {schema}.GLOBAL_STATUS "
               "WHERE VARIABLE_NAME IN ('QUESTIONS', 'CONNECTIONS') UNION ALL "
               "SELECT 'OWN', VARIABLE_VALUE FROM {schema}.SESSION_STATUS "
               "WHERE VARIABLE_NAME = 'QUESTIONS'")

    def io_counts(self) -> dict[str, int]:
        """Statements clients ran (the server's Questions — every command a client sends but
        pings, a disconnect's quit included — less this connection's own) and connections
        opened, so far; only on a throwaway server, which nobody else uses (a server given by
        DSN is shared). One statement reads both, so its own question is in both the global
        and the session count and cancels."""
        if self.server is None or not self._created:
            return {}
        if self._status_conn is None:
            self._status_conn = pymysql.connect(**self.pymysql_params, autocommit=True)
        rows: dict[str, int] = {}
        with self._status_conn.cursor() as cur:
            for schema in ("information_schema", "performance_schema"):  # MariaDB, MySQL 8
                try:
                    cur.execute(self._STATUS.format(schema=schema))
                except pymysql.err.MySQLError:
                    continue
                rows = {str(name).upper(): int(value) for name, value in cur.fetchall()}
                break
        if "QUESTIONS" not in rows:
            return {}
        return {"statements": rows["QUESTIONS"] - rows.get("OWN", 0),
                "connections": rows.get("CONNECTIONS", 0)}

    def stop(self) -> None:
        if self._status_conn is not None:
            with contextlib.suppress(pymysql.err.MySQLError):
                self._status_conn.close()
            self._status_conn = None
        server, self.server = self.server, None
        if server is not None:
            server.stop()  # the database goes with the whole server
        elif self.mysql_dsn:
            try:
                self._drop_database()
            except pymysql.err.MySQLError as exc:
                raise PeerFailed(f"could not drop database {self.database} at "
                                 f"{where(self._info)}: {scrub(str(exc), self._info)}"
                                 ) from None

    def __enter__(self) -> MysqlPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- for twins and the results file ----------------------------------------------------------

    def connect(self) -> Any:
        """A plain autocommit PyMySQL connection to the private database (never timed)."""
        return pymysql.connect(**self.pymysql_params, autocommit=True)

    @property
    def public_dsn(self) -> str:
        return public_dsn(self._info) if self._info else ""

    def describe(self) -> dict[str, Any]:
        version = self.server_version.split("-")[0] if self.server_version else "?"
        if self.source == "dsn":
            summary = (f"{self.flavour} {version} at {where(self._info)} (--mysql-dsn), "
                       f"database {self.database}")
        else:
            summary = (f"{self.flavour} {version} (throwaway, Unix socket only), started in "
                       f"{self.startup_s or 0:.2f} s")
        described: dict[str, Any] = {
            "kind": self.flavour or "MariaDB/MySQL",
            "source": self.source,
            "server_version": self.server_version,
            "startup_s": self.startup_s,
            "dsn": self.public_dsn,
            "database": self.database,
            "summary": summary,
        }
        described.update(self._local)
        return described

    def __repr__(self) -> str:
        return f"MysqlPeer(source={self.source!r}, database={self.database!r})"
