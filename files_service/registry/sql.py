"""The registry on SQL: SQLite (embedded, one host) or PostgreSQL (several replicas).

``Registry`` is the only way the service reads and writes organizations, api-keys, webhooks and
files. It returns the frozen records of ``models.py`` and raises only the domain's errors:
SQLAlchemy and driver errors are translated here, at the boundary —

- the database cannot be reached (refused, timed out, locked, gone)  -> ``RegistryUnavailable``
- a table or column is missing (``init`` not run, or run by older code) -> ``SchemaMissing``
- anything else the database refuses                                   -> ``RegistryError``
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    tuple_,
    update,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from ..clock import Clock
from ..errors import (
    NotFound,
    RegistryError,
    RegistryUnavailable,
    SchemaMissing,
    SettingsError,
    ValidationError,
)
from ..ids import hash_secret, is_id, new_id, new_secret
from ..validation import validate_content_type, validate_filename, validate_metadata, validate_ttl
from .models import ACTIVE, DEFAULT_FILE_URL_TTL, REVOKED, ApiKey, File, Organization, Webhook
from .schema import (
    SCHEMA_VERSION,
    api_keys,
    files,
    metadata,
    organizations,
    schema_version,
    webhooks,
)

__all__ = ["MIGRATIONS", "Registry"]

SCHEMA_MISSING_MESSAGE = "the registry schema is missing or old: run `files-service init`"

# Steps from version N-1 to N, run in order by ``init`` inside its transaction. Empty while the
# schema is at its first version.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}

# Any fixed 64-bit number: every replica's ``init`` takes the same lock, so two run one by one.
_INIT_LOCK_KEY = 0x66696C65735F696E  # "files_in"
_SQLITE_BUSY_TIMEOUT_MS = 5000
_PG_CONNECT_TIMEOUT_S = 5
# An execution option the SQLite ``begin`` hook reads: writers take the write lock at BEGIN,
# since a deferred transaction that reads then writes fails at once with SQLITE_BUSY when
# another writer got in between, whatever the busy timeout.
_SQLITE_BEGIN = "files_sqlite_begin"

_MAX_NAME = 200
_MAX_URL = 2048
_MAX_VERSION = 32
_MAX_STORAGE_KEY = 1024
_MAX_CURSOR = 200
_MICROS = 1_000_000
_MAX_MICROS = 2**63 - 1
_CHECKSUM = re.compile(r"[0-9a-f]{64}")
_CURSOR = re.compile(r"[A-Za-z0-9_-]+")
_CURSOR_BODY = re.compile(r"(0|[1-9][0-9]{0,18}):(file_[A-Za-z0-9]+)")
# SQLite and PostgreSQL (SQLSTATE) ways of saying that the schema is not there.
_SQLITE_SCHEMA_MISSING = ("no such table", "no such column")
_PG_SCHEMA_MISSING = {"42P01", "42703", "3F000"}  # undefined table / column, invalid schema


class Registry:
    """Organizations, api-keys, webhooks and files, on SQLite or PostgreSQL.

    Thread-safe: each call checks a connection out of the engine's pool for its own short
    transaction. Call ``dispose()`` when done to close the pooled connections."""

    def __init__(self, url: str, *, clock: Clock) -> None:
        """Build the engine for ``url`` (``sqlite:///path`` or ``postgresql://…``); connects lazily.

        Raises ``SettingsError`` for a URL that is not one of those."""
        self._clock = clock
        parsed = _parse_url(url)
        self.backend: str = parsed.get_backend_name()
        if self.backend == "sqlite":
            self._engine = _sqlite_engine(parsed)
        else:
            self._engine = _postgresql_engine(parsed)

    # -- lifecycle ---------------------------------------------------------------------------

    def init(self) -> None:
        """Create the schema, or migrate it to ``SCHEMA_VERSION``. Idempotent, and safe when
        several processes run it at once: they take a lock and run one after the other."""
        with self._transaction(write=True) as conn:
            if self.backend == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_INIT_LOCK_KEY)))
            current = None
            if inspect(conn).has_table(schema_version.name):
                current = conn.execute(select(schema_version.c.version)).scalar()
            if current is None:
                # A fresh database (or one whose first init never committed): create it all
                # directly at the newest version.
                metadata.create_all(conn, checkfirst=True)
                conn.execute(insert(schema_version).values(id=1, version=SCHEMA_VERSION))
                return
            # A schema newer than this code is left alone: it is an older replica of a rolling
            # deploy, and migrations only ever add what older code can ignore.
            for target in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](conn)
            if current < SCHEMA_VERSION:
                conn.execute(update(schema_version).values(version=SCHEMA_VERSION))

    def check(self) -> None:
        """Raise ``RegistryUnavailable`` if the database cannot be reached, ``SchemaMissing`` if
        the schema is absent or older than this code needs; return quietly otherwise."""
        with self._transaction(write=False) as conn:
            version = conn.execute(select(schema_version.c.version)).scalar()
        if version is None or version < SCHEMA_VERSION:
            raise SchemaMissing(SCHEMA_MISSING_MESSAGE)

    def dispose(self) -> None:
        """Close every pooled connection. The registry reconnects if used again."""
        self._engine.dispose()

    # -- organizations -----------------------------------------------------------------------

    def create_organization(self, name: str) -> Organization:
        """A new organization named ``name`` (1 to 200 characters)."""
        name = _check_name(name, allow_empty=False)
        values = {"id": new_id("org"), "name": name, "created_at": self._now_micros()}
        with self._transaction(write=True) as conn:
            conn.execute(insert(organizations).values(values))
        return _organization(values)

    def get_organization(self, org_id: str) -> Organization:
        """The organization ``org_id``; ``NotFound`` if there is none."""
        with self._transaction(write=False) as conn:
            return _organization(_one(conn, organizations, org_id, "organization"))

    # -- api-keys ----------------------------------------------------------------------------

    def create_api_key(
        self,
        org_id: str,
        *,
        name: str = "",
        file_url_ttl: int = DEFAULT_FILE_URL_TTL,
        api_version: str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new active api-key of ``org_id`` and its secret. The secret is returned here only:
        the registry keeps its hash alone."""
        name = _check_name(name, allow_empty=True)
        ttl = validate_ttl(file_url_ttl)
        api_version = _check_version(api_version)
        secret = new_secret()
        values = {
            "id": new_id("key"),
            "organization_id": org_id,
            "name": name,
            "secret_hash": hash_secret(secret),
            "status": ACTIVE,
            "file_url_ttl": ttl,
            "api_version": api_version,
            "created_at": self._now_micros(),
        }
        with self._transaction(write=True) as conn:
            _one(conn, organizations, org_id, "organization")
            conn.execute(insert(api_keys).values(values))
        return _api_key(values), secret

    def get_api_key(self, key_id: str) -> ApiKey:
        """The api-key ``key_id``, whatever its status; ``NotFound`` if there is none."""
        with self._transaction(write=False) as conn:
            return _api_key(_one(conn, api_keys, key_id, "api-key"))

    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        """The api-keys of ``org_id``, oldest first."""
        return [_api_key(row) for row in self._list_of_org(api_keys, org_id)]

    def authenticate(self, secret: str) -> ApiKey | None:
        """The api-key whose secret this is, whatever its status (the caller decides what a
        revoked key may do), or ``None``."""
        if not isinstance(secret, str) or not secret:
            return None
        with self._transaction(write=False) as conn:
            row = conn.execute(
                select(api_keys).where(api_keys.c.secret_hash == hash_secret(secret))
            ).first()
        return None if row is None else _api_key(row._mapping)

    def revoke_api_key(self, key_id: str) -> ApiKey:
        """Revoke ``key_id`` for good (again is fine) and return it."""
        return _api_key(self._update(api_keys, "api-key", key_id, status=REVOKED))

    def set_api_key_ttl(self, key_id: str, ttl: int) -> ApiKey:
        """Set the ``file-url-ttl`` of ``key_id`` (1 to 86400 seconds, never clamped)."""
        ttl = validate_ttl(ttl)
        return _api_key(self._update(api_keys, "api-key", key_id, file_url_ttl=ttl))

    def set_api_key_version(self, key_id: str, version: str | None) -> ApiKey:
        """Set (or with ``None`` clear) the api-version of ``key_id``: the operator's override."""
        version = _check_version(version)
        return _api_key(self._update(api_keys, "api-key", key_id, api_version=version))

    def pin_api_key_version(self, key_id: str, version: str) -> str:
        """Pin ``key_id`` to ``version`` unless it has one already; return the version it is
        pinned to now. Atomic: when replicas race, one wins and all get the winner's value."""
        return self._pin(api_keys, "api-key", key_id, version)

    # -- webhooks ----------------------------------------------------------------------------

    def create_webhook(
        self,
        org_id: str,
        *,
        url: str,
        file_url_ttl: int = DEFAULT_FILE_URL_TTL,
        api_version: str | None = None,
    ) -> Webhook:
        """A new active webhook of ``org_id`` calling ``url`` (http or https, with a host)."""
        url = _check_url(url)
        ttl = validate_ttl(file_url_ttl)
        api_version = _check_version(api_version)
        values = {
            "id": new_id("wbh"),
            "organization_id": org_id,
            "url": url,
            "status": ACTIVE,
            "file_url_ttl": ttl,
            "api_version": api_version,
            "created_at": self._now_micros(),
        }
        with self._transaction(write=True) as conn:
            _one(conn, organizations, org_id, "organization")
            conn.execute(insert(webhooks).values(values))
        return _webhook(values)

    def get_webhook(self, webhook_id: str) -> Webhook:
        """The webhook ``webhook_id``, whatever its status; ``NotFound`` if there is none."""
        with self._transaction(write=False) as conn:
            return _webhook(_one(conn, webhooks, webhook_id, "webhook"))

    def list_webhooks(self, org_id: str) -> list[Webhook]:
        """The webhooks of ``org_id``, oldest first."""
        return [_webhook(row) for row in self._list_of_org(webhooks, org_id)]

    def revoke_webhook(self, webhook_id: str) -> Webhook:
        """Revoke ``webhook_id`` for good (again is fine) and return it."""
        return _webhook(self._update(webhooks, "webhook", webhook_id, status=REVOKED))

    def set_webhook_ttl(self, webhook_id: str, ttl: int) -> Webhook:
        """Set the ``file-url-ttl`` of ``webhook_id`` (1 to 86400 seconds, never clamped)."""
        ttl = validate_ttl(ttl)
        return _webhook(self._update(webhooks, "webhook", webhook_id, file_url_ttl=ttl))

    def set_webhook_version(self, webhook_id: str, version: str | None) -> Webhook:
        """Set (or with ``None`` clear) the api-version of ``webhook_id``."""
        version = _check_version(version)
        return _webhook(self._update(webhooks, "webhook", webhook_id, api_version=version))

    def pin_webhook_version(self, webhook_id: str, version: str) -> str:
        """Like ``pin_api_key_version``, for a webhook."""
        return self._pin(webhooks, "webhook", webhook_id, version)

    def get_principal(self, principal_id: str) -> ApiKey | Webhook:
        """The api-key (``key_…``) or webhook (``wbh_…``) with this id; ``NotFound`` otherwise."""
        if principal_id.startswith("key_"):
            return self.get_api_key(principal_id)
        if principal_id.startswith("wbh_"):
            return self.get_webhook(principal_id)
        raise NotFound("principal", principal_id)

    # -- files -------------------------------------------------------------------------------

    def create_file(
        self,
        org_id: str,
        *,
        filename: str,
        content_type: str,
        byte_size: int,
        checksum: str,
        storage_key: str,
        created_by: str | None = None,
        metadata: dict[str, Any] | None = None,
        file_id: str | None = None,
    ) -> File:
        """Register a file of ``org_id`` already written to storage at ``storage_key``.

        ``file_id`` is the id chosen beforehand (``new_id("file")``) where the storage key had
        to contain it; ``created_by`` is the uploading api-key, of the same organization."""
        filename = validate_filename(filename)
        content_type = validate_content_type(content_type)
        meta = validate_metadata(metadata)
        if file_id is None:
            file_id = new_id("file")
        elif not is_id(file_id, "file"):
            raise ValidationError("id", "must be a file id made by new_id('file')")
        if isinstance(byte_size, bool) or not isinstance(byte_size, int) or byte_size < 0:
            raise ValidationError("byte-size", "must be a whole number of bytes")
        if not isinstance(checksum, str) or not _CHECKSUM.fullmatch(checksum):
            raise ValidationError("checksum", "must be a SHA-256 in lowercase hex")
        if not isinstance(storage_key, str) or not 1 <= len(storage_key) <= _MAX_STORAGE_KEY:
            raise ValidationError("storage-key", f"must be 1 to {_MAX_STORAGE_KEY} characters")
        values = {
            "id": file_id,
            "organization_id": org_id,
            "filename": filename,
            "content_type": content_type,
            "byte_size": byte_size,
            "checksum": checksum,
            "storage_key": storage_key,
            "created_by": created_by,
            "metadata_json": json.dumps(meta, ensure_ascii=False, separators=(",", ":")),
            "created_at": self._now_micros(),
        }
        with self._transaction(write=True) as conn:
            _one(conn, organizations, org_id, "organization")
            if created_by is not None:
                key = _one(conn, api_keys, created_by, "api-key")
                if key["organization_id"] != org_id:
                    raise NotFound("api-key", created_by)
            taken = select(files.c.id).where(files.c.storage_key == storage_key)
            if conn.execute(taken).first() is not None:
                raise ValidationError("storage-key", "is already registered as another file")
            try:
                conn.execute(insert(files).values(values))
            except sa_exc.IntegrityError:
                # Two registrations raced past the check; the unique index kept one.
                raise ValidationError(
                    "storage-key", "is already registered as another file"
                ) from None
        return _file(values)

    def get_file(self, file_id: str, org_id: str | None = None) -> File:
        """The file ``file_id``; ``NotFound`` if there is none or, given ``org_id``, if it
        belongs to another organization (the two are told apart by no one)."""
        with self._transaction(write=False) as conn:
            query = select(files).where(files.c.id == file_id)
            if org_id is not None:
                query = query.where(files.c.organization_id == org_id)
            row = conn.execute(query).first()
        if row is None:
            raise NotFound("file", file_id)
        return _file(row._mapping)

    def list_files(
        self, org_id: str, *, limit: int, after: str | None = None
    ) -> tuple[list[File], str | None]:
        """One page of the files of ``org_id``, newest first, and the cursor of the next page
        (``None`` on the last one).

        Keyset pagination on (created_at, id): files added while a client pages through never
        shift, repeat or hide the ones it has yet to see."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("page[size]", "must be a whole number from 1")
        query = select(files).where(files.c.organization_id == org_id)
        if after is not None:
            position = tuple_(*_decode_cursor(after))
            query = query.where(tuple_(files.c.created_at, files.c.id) < position)
        # One more than asked says whether there is a next page without a COUNT.
        query = query.order_by(files.c.created_at.desc(), files.c.id.desc()).limit(limit + 1)
        with self._transaction(write=False) as conn:
            rows = [row._mapping for row in conn.execute(query)]
        page = rows[:limit]
        if len(rows) <= limit:
            return [_file(row) for row in page], None
        last = page[-1]
        return [_file(row) for row in page], _encode_cursor(last["created_at"], last["id"])

    def get_files(self, org_id: str, ids: Sequence[str]) -> list[File]:
        """The files of ``org_id`` among ``ids``, in the order of ``ids``, each once; ids that
        are unknown or of another organization are left out."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, File] = {}
        with self._transaction(write=False) as conn:
            # Chunks keep under every backend's limit on bound parameters.
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = select(files).where(
                    files.c.organization_id == org_id, files.c.id.in_(chunk)
                )
                for row in conn.execute(query):
                    found[row.id] = _file(row._mapping)
        return [found[i] for i in wanted if i in found]

    def delete_file(self, file_id: str, org_id: str | None = None) -> File:
        """Delete the row of ``file_id`` (not its object) and return what it was; ``NotFound``
        if there is none or, given ``org_id``, if it belongs to another organization."""
        condition = [files.c.id == file_id]
        if org_id is not None:
            condition.append(files.c.organization_id == org_id)
        with self._transaction(write=True) as conn:
            row = conn.execute(sql_delete(files).where(*condition).returning(*files.c)).first()
        if row is None:
            raise NotFound("file", file_id)
        return _file(row._mapping)

    # -- internals ---------------------------------------------------------------------------

    def _now_micros(self) -> int:
        return round(self._clock.now() * _MICROS)

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        """One transaction on a pooled connection, with foreign errors translated."""
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
                with conn.begin():
                    yield conn
        except sa_exc.SQLAlchemyError as exc:
            raise _translate(exc) from exc

    def _list_of_org(self, table: Table, org_id: str) -> list[Any]:
        query = (
            select(table)
            .where(table.c.organization_id == org_id)
            .order_by(table.c.created_at, table.c.id)
        )
        with self._transaction(write=False) as conn:
            return [row._mapping for row in conn.execute(query)]

    def _update(self, table: Table, kind: str, ident: str, **values: Any) -> Any:
        """Set ``values`` on the row ``ident`` of ``table`` and return the row as it is now."""
        with self._transaction(write=True) as conn:
            row = conn.execute(
                update(table).where(table.c.id == ident).values(values).returning(*table.c)
            ).first()
        if row is None:
            raise NotFound(kind, ident)
        return row._mapping

    def _pin(self, table: Table, kind: str, ident: str, version: str) -> str:
        checked = _check_version(version)
        if checked is None:
            raise ValidationError("api-version", "must not be empty")
        with self._transaction(write=True) as conn:
            # The WHERE does the deciding: of racing replicas only the first UPDATE matches,
            # the others (blocked on the row lock, then re-checked) match nothing and read back
            # the winner's value in this same transaction.
            won = conn.execute(
                update(table)
                .where(table.c.id == ident, table.c.api_version.is_(None))
                .values(api_version=checked)
                .returning(table.c.api_version)
            ).first()
            if won is not None:
                return checked
            stored = conn.execute(select(table.c.api_version).where(table.c.id == ident)).first()
        if stored is None:
            raise NotFound(kind, ident)
        if stored.api_version is None:
            # An operator cleared it between our two statements: pin again.
            return self._pin(table, kind, ident, checked)
        return str(stored.api_version)


# -- engines -----------------------------------------------------------------------------------


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
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
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


# -- errors ------------------------------------------------------------------------------------


def _translate(exc: sa_exc.SQLAlchemyError) -> RegistryError:
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


# -- rows to records ---------------------------------------------------------------------------


def _one(conn: Connection, table: Table, ident: str, kind: str) -> Any:
    row = conn.execute(select(table).where(table.c.id == ident)).first()
    if row is None:
        raise NotFound(kind, ident)
    return row._mapping


def _seconds(micros: int) -> float:
    return micros / _MICROS


def _organization(row: Any) -> Organization:
    return Organization(id=row["id"], name=row["name"], created_at=_seconds(row["created_at"]))


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        organization_id=row["organization_id"],
        name=row["name"],
        status=row["status"],
        file_url_ttl=row["file_url_ttl"],
        api_version=row["api_version"],
        created_at=_seconds(row["created_at"]),
    )


def _webhook(row: Any) -> Webhook:
    return Webhook(
        id=row["id"],
        organization_id=row["organization_id"],
        url=row["url"],
        status=row["status"],
        file_url_ttl=row["file_url_ttl"],
        api_version=row["api_version"],
        created_at=_seconds(row["created_at"]),
    )


def _file(row: Any) -> File:
    return File(
        id=row["id"],
        organization_id=row["organization_id"],
        filename=row["filename"],
        content_type=row["content_type"],
        byte_size=row["byte_size"],
        checksum=row["checksum"],
        storage_key=row["storage_key"],
        created_by=row["created_by"],
        created_at=_seconds(row["created_at"]),
        metadata=json.loads(row["metadata_json"]),
    )


# -- values from users -------------------------------------------------------------------------


def _check_name(name: object, *, allow_empty: bool) -> str:
    if not isinstance(name, str):
        raise ValidationError("name", "must be a string")
    if len(name) > _MAX_NAME or (not allow_empty and not name.strip()):
        low = 0 if allow_empty else 1
        raise ValidationError("name", f"must be {low} to {_MAX_NAME} characters, not blank")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise ValidationError("name", "must not contain control characters")
    return name


def _check_url(url: object) -> str:
    if not isinstance(url, str) or not url:
        raise ValidationError("url", "must be an http or https URL")
    if len(url) > _MAX_URL:
        raise ValidationError("url", f"must be at most {_MAX_URL} characters")
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):
        raise ValidationError("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        raise ValidationError("url", "is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValidationError("url", "must be an http or https URL with a host")
    return url


def _check_version(version: object) -> str | None:
    # The registry keeps what the versioning layer decided; it only bounds the value.
    if version is None:
        return None
    if (
        not isinstance(version, str)
        or not 1 <= len(version) <= _MAX_VERSION
        or not version.isascii()
        or not version.isprintable()
    ):
        raise ValidationError("api-version", f"must be 1 to {_MAX_VERSION} printable characters")
    return version


# -- cursors -----------------------------------------------------------------------------------


def _encode_cursor(created_at: int, file_id: str) -> str:
    raw = f"{created_at}:{file_id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_cursor(cursor: object) -> tuple[int, str]:
    def bad() -> ValidationError:
        return ValidationError("page[after]", "is not a cursor from links.next")

    if not isinstance(cursor, str) or not 1 <= len(cursor) <= _MAX_CURSOR:
        raise bad()
    if not _CURSOR.fullmatch(cursor):
        raise bad()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise bad() from None
    match = _CURSOR_BODY.fullmatch(raw)
    if match is None or not is_id(match[2], "file") or int(match[1]) > _MAX_MICROS:
        raise bad()
    # Exactly the encoding we hand out, so that each position has one spelling.
    if _encode_cursor(int(match[1]), match[2]) != cursor:
        raise bad()
    return int(match[1]), match[2]
