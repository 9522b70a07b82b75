"""The PostgreSQL peer: a user's server (`--pg-dsn`) or a throwaway one the harness owns.

Resolution order:
1. `--pg-dsn` / TWINBENCH_PG_DSN: an existing server (`dsn`). The peer creates a private schema
   `twinbench_<random>`, points every connection's search_path at it, and drops only it at the
   end; nothing else in that database is read or written. The schema's comment names the run
   that made it (harness.leftovers), so that `reclaim_schemas` can drop the schemas of runs
   killed before they could, and never a live run's.
2. Otherwise a throwaway cluster (`local`) from the binaries `install` finds: the `pgserver`
   wheel's (a dependency) or a PostgreSQL install on the machine.

Passwords never leave this package: descriptions are rebuilt from parsed DSNs without the
password, and error text is scrubbed of it.
"""

from __future__ import annotations

import contextlib
import secrets
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from harness.errors import BadInput
from harness.leftovers import Owner, this_process
from harness.model.workload import CannotRun
from harness.peers import PeerFailed, PeerUnavailable
from harness.peers.postgres.dsn import (
    asyncpg_params,
    parse_dsn,
    public_dsn,
    scrub,
    server_version,
)
from harness.peers.postgres.dsn import (
    where as where_is,
)
from harness.peers.postgres.install import BINDIR_ENV, HOW_TO_GET, find_installations
from harness.peers.postgres.local import BENCH_SETTINGS, LocalServer

__all__ = ["BINDIR_ENV", "HOW_TO_GET", "PostgresPeer", "reclaim_schemas"]


def _connect(dsn: str) -> psycopg.Connection[Any]:
    """An admin connection to a user's server, or BadInput in one line without the password."""
    info = parse_dsn(dsn)
    try:
        return psycopg.connect(dsn, connect_timeout=5, autocommit=True)
    except psycopg.Error as exc:
        raise BadInput(f"cannot connect to PostgreSQL at {where_is(info)}: "
                       f"{scrub(str(exc), info)}") from None


def reclaim_schemas(dsn: str) -> list[str]:
    """Drop the twinbench_* schemas (of this role) whose run is dead; the names dropped.

    Only a schema whose comment names its run is considered, and only when that run is known
    dead (harness.leftovers.Owner); one still locked by a session is left for next time."""
    dropped = []
    with _connect(dsn) as conn:
        conn.execute("SET lock_timeout = '2s'")
        rows = conn.execute(
            "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace "
            "WHERE nspname LIKE 'twinbench\\_%' AND nspowner = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user)").fetchall()
        for name, comment in rows:
            owner = Owner.from_tag(comment)
            if owner is None or owner.state() != "dead":
                continue
            try:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
            except psycopg.Error:
                continue
            dropped.append(name)
    return dropped


NO_TLS = ("PostgreSQL over TLS needs the throwaway server (its certificate comes from this "
          "run's CA); a server given by --pg-dsn is used without it")


NO_SSL_BUILD = "SSL is not supported by this build"


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
        self._stats_conn: psycopg.Connection[Any] | None = None
        self._stats_reads = 0
        # The run's CA (PeerPool): the throwaway server then also speaks TLS on 127.0.0.1.
        self._run_ca: Callable[[], Any] | None = options.get("tls_ca")
        self.tls_conninfo: str | None = None
        self.tls_asyncpg_params: dict[str, Any] | None = None
        self._no_tls = ""  # why this server speaks no TLS, when it could have

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
        with _connect(dsn) as conn:
            row = conn.execute("SELECT has_database_privilege(current_database(), 'CREATE')"
                               ).fetchone()
        if not (row and row[0]):
            raise BadInput(f"PostgreSQL at {where_is(parse_dsn(dsn))}: this role may not "
                           "create a schema there (twinbench works only in a private "
                           "twinbench_* schema)")

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> PostgresPeer:
        began = time.perf_counter()
        if self.pg_dsn:
            info = parse_dsn(self.pg_dsn)
            base = self.pg_dsn
        else:
            self.server = self._start_local()
            info = parse_dsn(self.server.conninfo())
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
            self._enable_statement_stats(base)
        except BaseException:
            self.stop()
            raise
        # The schema also names the sessions (application_name), so that ending "our" sessions
        # can never reach another run's on a shared server.
        options = f"{info.get('options', '')} -c search_path={self.schema}".strip()
        self.conninfo = make_conninfo(base, options=options, application_name=self.schema)
        self.asyncpg_params = {
            **asyncpg_params(info),
            "server_settings": {"search_path": self.schema, "application_name": self.schema},
        }
        tls = self.server.tls_conninfo() if self.server is not None else None
        if tls is not None:
            self.tls_conninfo = make_conninfo(tls, options=options,
                                              application_name=self.schema)
            self.tls_asyncpg_params = {
                **{k: v for k, v in self.asyncpg_params.items() if k != "host"},
                "host": "127.0.0.1", "port": self.server.port,  # type: ignore[union-attr]
                "ssl": self._client_context()}
        return self

    def _client_context(self) -> ssl.SSLContext:
        """asyncpg's TLS: the run's CA, the name checked (libpq's verify-full)."""
        assert self.server is not None and self.server.ca_file is not None
        return ssl.create_default_context(cafile=str(self.server.ca_file))

    def conninfo_for(self, tls: bool) -> str:
        """What a psycopg twin connects with: over TLS when `tls` (BenchContext params)."""
        if not tls:
            return self.conninfo
        if self.tls_conninfo is None:
            raise CannotRun(self._why_no_tls())
        return self.tls_conninfo

    def asyncpg_params_for(self, tls: bool) -> dict[str, Any]:
        if not tls:
            return self.asyncpg_params
        if self.tls_asyncpg_params is None:
            raise CannotRun(self._why_no_tls())
        return self.tls_asyncpg_params

    def _why_no_tls(self) -> str:
        if self._no_tls:
            return (f"{self._no_tls}; {BINDIR_ENV} can name an install that speaks it (e.g. "
                    "Debian's /usr/lib/postgresql/15/bin)")
        return NO_TLS

    def _start_local(self) -> LocalServer:
        installations = find_installations()
        if not installations:
            raise PeerUnavailable(HOW_TO_GET)
        tls: tuple[Path, Path] | None = None
        ca_file: Path | None = None
        if self._run_ca is not None:  # the run's CA signs this server's certificate
            ca = self._run_ca()
            tls, ca_file = ca.server(label="postgres"), ca.ca_file
        failures = []
        for installation in installations:  # the next install may work where one did not
            server = LocalServer(installation, tls=tls, ca_file=ca_file)
            try:
                server.start()
            except PeerFailed as exc:
                if tls is not None and NO_SSL_BUILD in str(exc):
                    # e.g. pgserver's wheel: the server still serves, over its socket only
                    server = LocalServer(installation)
                    try:
                        server.start()
                    except PeerFailed as again:
                        failures.append(f"{installation.bindir}: {again}")
                        continue
                    self._no_tls = (f"this PostgreSQL ({installation.source}, "
                                    f"{installation.bindir}) is built without SSL")
                else:
                    failures.append(f"{installation.bindir}: {exc}")
                    continue
            self.source = installation.source
            return server
        raise PeerFailed("could not start PostgreSQL: " + "; ".join(failures))

    def _create_schema(self, base: str, info: dict[str, str]) -> None:
        try:
            with psycopg.connect(base, connect_timeout=10, autocommit=True) as conn:
                self.server_version = server_version(conn)
                schema = sql.Identifier(self.schema)
                with conn.transaction():  # never a schema without its owner's tag
                    conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
                    conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                        schema, sql.Literal(this_process().tag())))
                self._schema_created = True
        except psycopg.Error as exc:
            raise PeerFailed(f"PostgreSQL at {where_is(info)}: {scrub(str(exc), info)}") from None

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

    # -- what the twins made the server do ---------------------------------------------------------

    def _enable_statement_stats(self, base: str) -> None:
        """On a throwaway server that loaded pg_stat_statements: the view, and a connection of
        our own to read it between rounds (a server given by DSN is shared: its counts would
        hold other clients' statements, so none are read there)."""
        if self.server is None or not self.server.statement_stats:
            return
        try:
            with psycopg.connect(base, connect_timeout=10, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            self._stats_conn = psycopg.connect(base, connect_timeout=10, autocommit=True)
        except psycopg.Error as exc:
            raise PeerFailed(f"PostgreSQL: could not enable pg_stat_statements: "
                             f"{scrub(str(exc), self._info)}") from None

    def io_counts(self) -> dict[str, int]:
        """Statements run in this run's database so far (pg_stat_statements: each counted as
        it ends, with no delay; PostgreSQL's own statistics views are flushed by each backend
        at most once a second, up to 10 s late, so they cannot say what one round did).
        Empty where the server does not count statements."""
        conn = self._stats_conn
        if conn is None:
            return {}
        row = conn.execute(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
        # Each earlier read is itself a statement, counted once it ended.
        statements = int(row[0] if row else 0) - self._stats_reads
        self._stats_reads += 1
        return {"statements": statements}

    def exit_code(self) -> int | None:
        """The throwaway server's exit status once it has died (None: alive, or not ours)."""
        return self.server.exit_code() if self.server is not None else None

    def stop(self) -> None:
        if self._stats_conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._stats_conn.close()
            self._stats_conn = None
        server, self.server = self.server, None
        if server is not None:
            server.stop()  # the schema goes with the whole cluster
        elif self.pg_dsn:
            try:
                self._drop_schema()
            except psycopg.Error as exc:
                raise PeerFailed(f"could not drop schema {self.schema} at "
                                 f"{where_is(self._info)}: {scrub(str(exc), self._info)}"
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
        return public_dsn(self._info) if self._info else ""

    def describe(self) -> dict[str, Any]:
        version = self.server_version.split()[0] if self.server_version else "?"
        if self.source == "dsn":
            summary = (f"PostgreSQL {version} at {where_is(self._info)} (--pg-dsn), "
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
            "statements_counted": self._stats_conn is not None,
            "tls": self.tls_conninfo is not None,
        }
        if self._stats_conn is None:
            described["statements_not_counted"] = (
                "a server given by --pg-dsn is shared with other clients" if self.source == "dsn"
                else "this PostgreSQL has no pg_stat_statements (pgserver's wheel ships none; "
                     "TWINBENCH_PG_BINDIR can name an install that has it, e.g. Debian's "
                     "/usr/lib/postgresql/15/bin)")
        described.update(self._local)
        return described

    def __repr__(self) -> str:
        return f"PostgresPeer(source={self.source!r}, schema={self.schema!r})"

