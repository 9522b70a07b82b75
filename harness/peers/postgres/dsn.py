"""A user's server given by DSN (`--pg-dsn` / TWINBENCH_PG_DSN): parsing, where it points, and
keeping its password out of every message."""

from __future__ import annotations

import os
import pwd
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from harness.errors import BadInput
from harness.redact import redact


def parse_dsn(dsn: str) -> dict[str, str]:
    try:
        parsed = conninfo_to_dict(dsn)
    except psycopg.Error:
        # libpq's message may quote a fragment of the DSN, i.e. possibly the password.
        raise BadInput("invalid --pg-dsn / TWINBENCH_PG_DSN: expected a URI such as "
                       "postgresql://user@host:5432/dbname or key=value pairs such as "
                       "'host=localhost port=5432 dbname=bench'") from None
    return {k: str(v) for k, v in parsed.items() if v is not None}


def where(info: dict[str, str]) -> str:
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


def scrub(text: str, info: dict[str, str]) -> str:
    """One line of error text with the DSN's password removed, however it got there."""
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "unknown error")
    password = info.get("password")
    if password:
        line = line.replace(password, "***")
    return redact(line)


def public_dsn(info: dict[str, str]) -> str:
    return redact(make_conninfo(**{k: v for k, v in info.items() if k != "password"}))


def asyncpg_params(info: dict[str, str]) -> dict[str, Any]:
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


def server_version(conn: psycopg.Connection[Any]) -> str:
    return conn.info.parameter_status("server_version") or str(conn.info.server_version)


