"""Create a SQLAlchemy engine for a store URL, tuned for many concurrent writers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from prodline.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 60_000
WRITE_OPTION = "prodline_write"


def make_engine(url: str) -> Engine:
    """Return an engine for ``url`` (SQLite file or memory, or PostgreSQL).

    SQLite gets WAL journaling, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE``
    for write transactions so concurrent processes queue instead of failing.
    PostgreSQL URLs without a driver use psycopg 3.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"The store URL {url!r} does not parse as a SQLAlchemy URL ({exc}). "
            "Use e.g. 'sqlite:////abs/path/prodline.db' or "
            "'postgresql://user:pass@host:5432/db' in PRODLINE_STORE_URL or prodline.init()."
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True, future=True)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"PostgreSQL store needs a driver: {exc}. Install it with "
                "`pip install 'prodline[postgres]'`."
            ) from None
    raise ConfigError(
        f"Unsupported store backend {backend!r} in {parsed.render_as_string(hide_password=True)}; "
        "prodline supports 'sqlite' and 'postgresql' URLs."
    )


def _sqlite_engine(url: Any) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the folder for the SQLite store {path}: {exc.strerror}. "
                "Point PRODLINE_HOME or PRODLINE_STORE_URL at a writable place."
            ) from None
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kill
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
