"""A user's MariaDB/MySQL server given by DSN (`--mysql-dsn` / TWINBENCH_MYSQL_DSN): parsing,
where it points, and keeping its password out of every message.

The DSN is a URI: mysql://user:password@host:port/ or, for a Unix socket,
mysql://user@localhost/?unix_socket=/run/mysqld/mysqld.sock. A database in the path is ignored:
twinbench works only in a private database of its own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from harness.errors import BadInput
from harness.redact import redact

SCHEMES = ("mysql", "mariadb", "mysql+pymysql")
_EXAMPLE = ("expected a URI such as mysql://user:password@127.0.0.1:3306/ or "
            "mysql://user@localhost/?unix_socket=/run/mysqld/mysqld.sock")


def parse_dsn(dsn: str) -> dict[str, Any]:
    """PyMySQL's connect() keywords for the server the DSN names (no database)."""
    # Never quote the DSN back: it may hold the password.
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except ValueError:
        raise BadInput(f"invalid --mysql-dsn / TWINBENCH_MYSQL_DSN: {_EXAMPLE}") from None
    if parts.scheme not in SCHEMES or not (parts.hostname or "unix_socket" in parts.query):
        raise BadInput(f"invalid --mysql-dsn / TWINBENCH_MYSQL_DSN: {_EXAMPLE}")
    info: dict[str, Any] = {"user": unquote(parts.username or "root"),
                            "password": unquote(parts.password or "")}
    query = parse_qs(parts.query)
    if "unix_socket" in query:
        info["unix_socket"] = query["unix_socket"][0]
    else:
        info["host"] = parts.hostname
        info["port"] = port or 3306
    return info


def where(info: dict[str, Any]) -> str:
    if "unix_socket" in info:
        return f"socket {info['unix_socket']}, user {info.get('user')}"
    return f"host {info.get('host')}, port {info.get('port')}, user {info.get('user')}"


def public_dsn(info: dict[str, Any]) -> str:
    if "unix_socket" in info:
        return f"mysql://{info.get('user')}@localhost/?unix_socket={info['unix_socket']}"
    return f"mysql://{info.get('user')}@{info.get('host')}:{info.get('port')}/"


def scrub(text: str, info: dict[str, Any]) -> str:
    """One line of error text with the DSN's password removed, however it got there."""
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "unknown error")
    password = info.get("password")
    if password:
        line = line.replace(str(password), "***")
    return redact(line)
