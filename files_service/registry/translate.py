"""Database errors into the domain's own (style rule 4): the one place that knows how
SQLAlchemy, sqlite3 and psycopg say what went wrong.

- the database cannot be reached (refused, timed out, locked, gone)  -> ``RegistryUnavailable``
- a table or column is missing (``init`` not run, or run by older code) -> ``SchemaMissing``
- anything else the database refuses                                   -> ``RegistryError``
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from ..errors import RegistryError, RegistryUnavailable, SchemaMissing

SCHEMA_MISSING_MESSAGE = "the registry schema is missing or old: run `files-service init`"

# SQLite and PostgreSQL (SQLSTATE) ways of saying that the schema is not there.
_SQLITE_SCHEMA_MISSING = ("no such table", "no such column")
_PG_SCHEMA_MISSING = {"42P01", "42703", "3F000"}  # undefined table / column, invalid schema


def translate(exc: sa_exc.SQLAlchemyError) -> RegistryError:
    """The domain's error for a SQLAlchemy or driver error."""
    if isinstance(exc, sa_exc.DBAPIError):
        orig = exc.orig
        detail = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        if getattr(orig, "sqlstate", None) in _PG_SCHEMA_MISSING or (
            isinstance(exc, sa_exc.OperationalError)
            and detail.lower().startswith(_SQLITE_SCHEMA_MISSING)
        ):
            return SchemaMissing(SCHEMA_MISSING_MESSAGE)
        if exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        ):
            return RegistryUnavailable(f"the registry database cannot be reached: {detail}")
        return RegistryError(f"the registry database refused the request: {detail}")
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return RegistryUnavailable(f"the registry database cannot be reached: {exc}")
    return RegistryError(f"the registry failed: {type(exc).__name__}")
