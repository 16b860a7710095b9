"""Engines and transactions for the registry: SQLite (embedded, one host) or PostgreSQL
(several replicas), each set up for many threads and processes at once.

``open_engine`` reads ``FILES_DATABASE_URL``'s value; ``transaction`` runs one short
transaction on a pooled connection, with database errors translated (``translate.py``)."""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from ..errors import SettingsError
from .translate import translate

_SQLITE_BUSY_TIMEOUT_MS = 5000
_PG_CONNECT_TIMEOUT_S = 5
# An execution option the SQLite ``begin`` hook reads: writers take the write lock at BEGIN,
# since a deferred transaction that reads then writes fails at once with SQLITE_BUSY when
# another writer got in between, whatever the busy timeout.
_SQLITE_BEGIN = "files_sqlite_begin"


def open_engine(url: str) -> Engine:
    """The engine for ``url`` (``sqlite:///path`` or ``postgresql://…``); connects lazily.
    ``engine.dialect.name`` is ``"sqlite"`` or ``"postgresql"``.

    Raises ``SettingsError`` for a URL that is not one of those."""
    parsed = _parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    else:
        engine = _postgresql_engine(parsed)
    _ENGINES.add(engine)
    return engine


# Every live engine, so that a forked child drops the connections its parent pooled: gunicorn
# builds the app in its master (preload_app) and forks the workers from it, and two processes
# must never share one database connection. ``close=False`` leaves the parent's connections
# alone (psycopg closes a connection only in the process that opened it).
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


Observer = Callable[[str, float, bool], None]
"""Told of each transaction once it ends: ``("read" | "write", seconds, failed)``, where
``failed`` means the database failed it (unreachable, refused, timed out): not a domain error
raised inside it, such as a missing row or a full quota."""


@contextmanager
def transaction(
    engine: Engine, *, write: bool, observer: Observer | None = None
) -> Iterator[Connection]:
    """One transaction on a pooled connection, committed on leaving, with database errors
    translated. ``write``: it will write (on SQLite it takes the write lock at once).
    ``observer``: told how long it took, from asking the pool for a connection to the commit,
    and whether the database failed it."""
    started = time.perf_counter()
    failed = False
    try:
        with engine.connect() as conn:
            if write:
                conn.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
            with conn.begin():
                yield conn
    except sa_exc.SQLAlchemyError as exc:
        failed = True
        raise translate(exc) from exc
    finally:
        if observer is not None:
            observer("write" if write else "read", time.perf_counter() - started, failed)


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        raise SettingsError("FILES_DATABASE_URL", "is not a database URL") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":  # the short scheme some hosts hand out
        parsed = parsed.set(drivername="postgresql")
        backend = "postgresql"
    if backend == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        # Plain postgresql:// means psycopg2 to SQLAlchemy; psycopg (3) is what we ship.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise SettingsError(
            "FILES_DATABASE_URL", f"must be sqlite:///… or postgresql://…, not {backend}://"
        )
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a path through a regular file, a folder we may not create
            raise SettingsError(
                "FILES_DATABASE_URL",
                f"cannot use {folder} as the SQLite database's folder: {exc.strerror}",
            ) from None
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see _on_begin): the sqlite3 module's own
        # would run DDL and SELECTs outside any transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
            _enable_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch the database to WAL (readers go on while one writer writes).

    WAL is kept in the file, so only the first connections to a fresh file switch it, and
    several opening at once (replicas running ``init`` together) race for the lock the switch
    needs. SQLite answers that race with "database is locked" at once, without its busy
    handler, so the switch is retried here, within the same budget as the busy timeout."""
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # another connection is switching the file right now


def _postgresql_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        # A down database must fail /readyz and `init` in seconds, not hang for minutes.
        connect_args["connect_timeout"] = _PG_CONNECT_TIMEOUT_S
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
