"""The registry's queries: ``Registry`` is the only way the service reads and writes
organizations, principals (api-keys and webhooks) and files.

It returns the frozen records of ``models.py`` and raises only the domain's errors. Its parts:

    engine.py      engines for SQLite and PostgreSQL, and ``transaction``
    translate.py   database errors into the domain's (``RegistryUnavailable``, ``SchemaMissing``)
    schema.py      the tables, ``SCHEMA_VERSION`` and ``MIGRATIONS``
    rows.py        rows into records
    checks.py      the values the registry bounds itself (names, URLs, versions, file figures)
    cursor.py      the ``page[after]`` cursor of the files listing

Api-keys and webhooks are both principals: one set of operations (get, list, revoke, set the
TTL or version, pin the version) serves both, told apart by the id's prefix (``key_``,
``wbh_``); only their creation differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar, cast, overload

from sqlalchemy import (
    Connection,
    Table,
    func,
    insert,
    inspect,
    select,
    tuple_,
    update,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy import exc as sa_exc

from ..clock import Clock
from ..errors import FileIdTaken, NotFound, QuotaExceeded, SchemaMissing, ValidationError
from ..ids import hash_secret, new_id, new_secret
from ..validation import check_file_fields, validate_quota, validate_ttl
from . import rows
from .checks import (
    check_byte_size,
    check_checksum,
    check_file_id,
    check_name,
    check_storage_key,
    check_url,
    check_version,
)
from .cursor import decode_cursor, encode_cursor
from .engine import Observer, open_engine, transaction
from .models import (
    ACTIVE,
    DEFAULT_FILE_URL_TTL,
    REVOKED,
    ApiKey,
    File,
    Organization,
    Principal,
    Webhook,
)
from .schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    api_keys,
    files,
    metadata,
    organizations,
    schema_version,
    upload_urls,
    webhooks,
)
from .translate import SCHEMA_MISSING_MESSAGE

__all__ = ["InitResult", "Registry"]

P = TypeVar("P", bound=Principal)

# Any fixed 64-bit number: every replica's ``init`` takes the same lock, so two run one by one.
_INIT_LOCK_KEY = 0x66696C65735F696E  # "files_in"


@dataclass(frozen=True)
class _PrincipalKind:
    """What differs between the two kinds of principal, for the operations they share."""

    name: str  # as errors and the API name it
    record: type[Principal]
    table: Table
    to_record: Callable[[rows.Row], Principal]


_PRINCIPAL_KINDS = {
    "key": _PrincipalKind("api-key", ApiKey, api_keys, rows.api_key),
    "wbh": _PrincipalKind("webhook", Webhook, webhooks, rows.webhook),
}
_KIND_OF_RECORD: dict[type, _PrincipalKind] = {k.record: k for k in _PRINCIPAL_KINDS.values()}


def _principal_kind(principal_id: str, wanted: type | None = None) -> _PrincipalKind:
    """The kind of principal an id names by its prefix; ``NotFound`` where it names none (or
    not the ``wanted`` one)."""
    kind = _PRINCIPAL_KINDS.get(principal_id.partition("_")[0])
    if kind is None or (wanted is not None and kind.record is not wanted):
        raise NotFound(_KIND_OF_RECORD[wanted].name if wanted else "principal", principal_id)
    return kind


class InitResult(NamedTuple):
    """What ``init`` did: ``created`` the schema, ``migrated`` it from ``previous``, found it
    ``current``, or found it ``newer`` than this code (and left it alone)."""

    outcome: Literal["created", "migrated", "current", "newer"]
    previous: int | None
    version: int


class Registry:
    """Organizations, api-keys, webhooks and files, on SQLite or PostgreSQL.

    Thread-safe: each call checks a connection out of the engine's pool for its own short
    transaction. Call ``dispose()`` when done to close the pooled connections."""

    def __init__(self, url: str, *, clock: Clock, observer: Observer | None = None) -> None:
        """Build the engine for ``url`` (``sqlite:///path`` or ``postgresql://…``); connects lazily.
        ``observer`` is told of every transaction (the metrics': ``engine.Observer``).

        Raises ``SettingsError`` for a URL that is not one of those."""
        self._clock = clock
        self._engine = open_engine(url)
        self._observer = observer
        self.backend: str = self._engine.dialect.name

    def _transaction(self, *, write: bool) -> AbstractContextManager[Connection]:
        """One transaction (``engine.transaction``), observed."""
        return transaction(self._engine, write=write, observer=self._observer)

    # -- lifecycle ---------------------------------------------------------------------------

    def init(self) -> InitResult:
        """Create the schema, or migrate it to ``SCHEMA_VERSION``, and say which. Idempotent,
        and safe when several processes run it at once: they take a lock and run one after
        the other."""
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
                return InitResult("created", None, SCHEMA_VERSION)
            if current > SCHEMA_VERSION:
                # An older replica of a rolling deploy: migrations only ever add what older
                # code can ignore.
                return InitResult("newer", current, current)
            if current == SCHEMA_VERSION:
                return InitResult("current", current, current)
            for target in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](conn)
            conn.execute(update(schema_version).values(version=SCHEMA_VERSION))
            return InitResult("migrated", current, SCHEMA_VERSION)

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
        name = check_name(name, allow_empty=False)
        values = {"id": new_id("org"), "name": name, "created_at": self._now_micros()}
        with self._transaction(write=True) as conn:
            conn.execute(insert(organizations).values(values))
        return rows.organization(values)

    def get_organization(self, org_id: str) -> Organization:
        """The organization ``org_id``, with what its files take now; ``NotFound`` if there is
        none."""
        with self._transaction(write=False) as conn:
            row = conn.execute(_ORGANIZATIONS.where(organizations.c.id == org_id)).first()
        if row is None:
            raise NotFound("organization", org_id)
        return rows.organization(row._mapping)

    def list_organizations(self) -> list[Organization]:
        """Every organization, oldest first, with what its files take."""
        query = _ORGANIZATIONS.order_by(organizations.c.created_at, organizations.c.id)
        with self._transaction(write=False) as conn:
            return [rows.organization(row._mapping) for row in conn.execute(query)]

    def set_storage_quota(self, org_id: str, quota: int | None) -> Organization:
        """Set (or with ``None`` remove) the storage quota of ``org_id``, in bytes. A quota
        below what the organization stores already refuses its next files, and keeps what it
        has."""
        quota = validate_quota(quota)
        with self._transaction(write=True) as conn:
            done = conn.execute(
                update(organizations).where(organizations.c.id == org_id)
                .values(storage_quota=quota)
            )
            if done.rowcount != 1:
                raise NotFound("organization", org_id)
        return self.get_organization(org_id)

    # -- principals: api-keys and webhooks ---------------------------------------------------

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
        name = check_name(name, allow_empty=True)
        secret = new_secret()
        values = {"name": name, "secret_hash": hash_secret(secret)}
        key = self._create_principal("key", org_id, file_url_ttl, api_version, values)
        return rows.api_key(key), secret

    def create_webhook(
        self,
        org_id: str,
        *,
        url: str,
        file_url_ttl: int = DEFAULT_FILE_URL_TTL,
        api_version: str | None = None,
    ) -> Webhook:
        """A new active webhook of ``org_id`` calling ``url`` (http or https, with a host)."""
        values = {"url": check_url(url)}
        return rows.webhook(
            self._create_principal("wbh", org_id, file_url_ttl, api_version, values)
        )

    def authenticate(self, secret: str) -> ApiKey | None:
        """The api-key whose secret this is, whatever its status (the caller decides what a
        revoked key may do), or ``None``."""
        if not isinstance(secret, str) or not secret:
            return None
        with self._transaction(write=False) as conn:
            row = conn.execute(
                select(api_keys).where(api_keys.c.secret_hash == hash_secret(secret))
            ).first()
        return None if row is None else rows.api_key(row._mapping)

    @overload
    def get_principal(self, principal_id: str) -> Principal: ...

    @overload
    def get_principal(self, principal_id: str, kind: type[P]) -> P: ...

    def get_principal(
        self, principal_id: str, kind: type | None = None
    ) -> Principal:
        """The api-key (``key_…``) or webhook (``wbh_…``) with this id, whatever its status;
        ``NotFound`` if there is none, or given ``kind`` (``ApiKey`` or ``Webhook``), if the
        id names the other kind."""
        found = _principal_kind(principal_id, kind)
        with self._transaction(write=False) as conn:
            return found.to_record(_one(conn, found.table, principal_id, found.name))

    def list_principals(self, org_id: str, kind: type[P]) -> list[P]:
        """The principals of ``kind`` (``ApiKey`` or ``Webhook``) of ``org_id``, oldest
        first."""
        found = _KIND_OF_RECORD[kind]
        query = (
            select(found.table)
            .where(found.table.c.organization_id == org_id)
            .order_by(found.table.c.created_at, found.table.c.id)
        )
        with self._transaction(write=False) as conn:
            return [cast(P, found.to_record(row._mapping)) for row in conn.execute(query)]

    def revoke_principal(self, principal_id: str) -> Principal:
        """Revoke an api-key or webhook for good (again is fine) and return it: it stops
        working and the URLs it minted die."""
        return self._update_principal(principal_id, status=REVOKED)

    def set_principal_ttl(self, principal_id: str, ttl: int) -> Principal:
        """Set the ``file-url-ttl`` of an api-key or webhook (1 to 86400 seconds, never
        clamped)."""
        return self._update_principal(principal_id, file_url_ttl=validate_ttl(ttl))

    def set_principal_version(self, principal_id: str, version: str | None) -> Principal:
        """Set (or with ``None`` clear) the api-version of an api-key or webhook: the
        operator's override."""
        return self._update_principal(principal_id, api_version=check_version(version))

    def pin_principal_version(self, principal_id: str, version: str) -> str:
        """Pin an api-key or webhook to ``version`` unless it has one already; return the
        version it is pinned to now. Atomic: when replicas race, one wins and all get the
        winner's value."""
        kind = _principal_kind(principal_id)
        checked = check_version(version)
        if checked is None:
            raise ValidationError("api-version", "must not be empty")
        table = kind.table
        with self._transaction(write=True) as conn:
            # The WHERE does the deciding: of racing replicas only the first UPDATE matches,
            # the others (blocked on the row lock, then re-checked) match nothing and read back
            # the winner's value in this same transaction.
            won = conn.execute(
                update(table)
                .where(table.c.id == principal_id, table.c.api_version.is_(None))
                .values(api_version=checked)
                .returning(table.c.api_version)
            ).first()
            if won is not None:
                return checked
            stored = conn.execute(
                select(table.c.api_version).where(table.c.id == principal_id)
            ).first()
        if stored is None:
            raise NotFound(kind.name, principal_id)
        if stored.api_version is None:
            # An operator cleared it between our two statements: pin again.
            return self.pin_principal_version(principal_id, checked)
        return str(stored.api_version)

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
        upload_url_expires_at: float | None = None,
    ) -> File:
        """Register a file of ``org_id`` already written to storage at ``storage_key``.

        ``file_id`` is the id chosen beforehand (``new_id("file")``, or the one an upload URL
        bound, expiring at ``upload_url_expires_at``: the URL is then marked used, for good);
        ``FileIdTaken`` where a file has it already or its upload URL was used: of two
        uploads racing with one upload URL, the first to get here gets in. ``created_by`` is
        the uploading api-key, of the same organization. ``QuotaExceeded`` where the file
        would take the organization past its storage quota: checked and inserted in one
        transaction that holds the organization's row, so that of two files racing for the
        last bytes of a quota only one gets in (and of two racing for one file id, the
        second sees the first's row)."""
        fields = check_file_fields(filename, content_type, metadata)
        size = check_byte_size(byte_size)
        new_file_id = new_id("file") if file_id is None else check_file_id(file_id)
        values = {
            "id": new_file_id,
            "organization_id": org_id,
            "filename": fields.filename,
            "content_type": fields.content_type,
            "byte_size": size,
            "checksum": check_checksum(checksum),
            "storage_key": check_storage_key(storage_key),
            "created_by": created_by,
            "metadata_json": json.dumps(
                fields.metadata, ensure_ascii=False, separators=(",", ":")
            ),
            "created_at": self._now_micros(),
        }
        with self._transaction(write=True) as conn:
            quota = _lock_organization(conn, org_id)
            if created_by is not None:
                key = _one(conn, api_keys, created_by, "api-key")
                if key["organization_id"] != org_id:
                    raise NotFound("api-key", created_by)
            # Before the quota: the second of two uploads racing with one upload URL is told
            # the URL is used, whatever the first's bytes did to the quota.
            if _exists(conn, files.c.id == new_file_id) or _used(conn, new_file_id):
                raise FileIdTaken(new_file_id)
            _check_quota(conn, org_id, quota, size)
            if _exists(conn, files.c.storage_key == storage_key):
                raise ValidationError("storage-key", "is already registered as another file")
            try:
                conn.execute(insert(files).values(values))
            except sa_exc.IntegrityError:
                # Two inserts raced past the checks; the unique indexes kept one.
                raise FileIdTaken(new_file_id) if file_id is not None else ValidationError(
                    "storage-key", "is already registered as another file"
                ) from None
            if upload_url_expires_at is not None:
                self._mark_used(conn, org_id, new_file_id, upload_url_expires_at)
        return rows.file(values)

    # -- upload URLs -------------------------------------------------------------------------

    def keep_upload_metadata(
        self, org_id: str, file_id: str, metadata: dict[str, Any], expires_at: float
    ) -> None:
        """Keep the ``metadata`` of an upload URL of ``org_id`` bound to ``file_id`` until
        the upload comes; the row goes a day after the URL's expiry (``expires_at``)."""
        text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
        with self._transaction(write=True) as conn:
            self._prune_upload_urls(conn)
            conn.execute(insert(upload_urls).values(
                file_id=check_file_id(file_id), organization_id=org_id, metadata_json=text,
                expires_at=rows.to_micros(expires_at),
            ))

    def upload_metadata(self, file_id: str) -> dict[str, Any]:
        """The metadata kept for the upload URL bound to ``file_id`` (``{}`` for none)."""
        with self._transaction(write=False) as conn:
            text = conn.execute(
                select(upload_urls.c.metadata_json).where(upload_urls.c.file_id == file_id)
            ).scalar()
        return {} if text is None else dict(json.loads(text))

    def upload_url_used(self, file_id: str) -> bool:
        """Whether the upload URL bound to ``file_id`` has made its file (which may since
        have been deleted)."""
        with self._transaction(write=False) as conn:
            return _exists(conn, files.c.id == file_id) or _used(conn, file_id)

    def _mark_used(self, conn: Connection, org_id: str, file_id: str, expires_at: float) -> None:
        """Mark the upload URL of ``file_id`` used, in the transaction that inserts its file
        (which holds the organization's row, so no other insert of this id runs meanwhile)."""
        self._prune_upload_urls(conn)
        now = self._now_micros()
        done = conn.execute(
            update(upload_urls).where(upload_urls.c.file_id == file_id).values(used_at=now)
        )
        if done.rowcount == 0:
            conn.execute(insert(upload_urls).values(
                file_id=file_id, organization_id=org_id, metadata_json="{}",
                expires_at=rows.to_micros(expires_at), used_at=now,
            ))

    def _prune_upload_urls(self, conn: Connection) -> None:
        """Forget upload URLs expired for a day: their tokens are refused by then anyway."""
        conn.execute(sql_delete(upload_urls).where(
            upload_urls.c.expires_at < self._now_micros() - rows.to_micros(86400)
        ))

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
        return rows.file(row._mapping)

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
            position = tuple_(*decode_cursor(after))
            query = query.where(tuple_(files.c.created_at, files.c.id) < position)
        # One more than asked says whether there is a next page without a COUNT.
        query = query.order_by(files.c.created_at.desc(), files.c.id.desc()).limit(limit + 1)
        with self._transaction(write=False) as conn:
            found = [row._mapping for row in conn.execute(query)]
        page = found[:limit]
        if len(found) <= limit:
            return [rows.file(row) for row in page], None
        last = page[-1]
        return [rows.file(row) for row in page], encode_cursor(last["created_at"], last["id"])

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
                    found[row.id] = rows.file(row._mapping)
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
        return rows.file(row._mapping)

    # -- internals ---------------------------------------------------------------------------

    def _now_micros(self) -> int:
        return rows.to_micros(self._clock.now())

    def _create_principal(
        self, prefix: str, org_id: str, ttl: int, version: str | None, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Insert a new active principal of ``org_id`` with its kind's own ``values``; return
        every value of the row."""
        table = _PRINCIPAL_KINDS[prefix].table
        row = {
            "id": new_id(prefix),
            "organization_id": org_id,
            **values,
            "status": ACTIVE,
            "file_url_ttl": validate_ttl(ttl),
            "api_version": check_version(version),
            "created_at": self._now_micros(),
        }
        with self._transaction(write=True) as conn:
            _one(conn, organizations, org_id, "organization")
            conn.execute(insert(table).values(row))
        return row

    def _update_principal(self, principal_id: str, **values: Any) -> Principal:
        """Set ``values`` on a principal and return it as it is now."""
        kind = _principal_kind(principal_id)
        table = kind.table
        with self._transaction(write=True) as conn:
            row = conn.execute(
                update(table).where(table.c.id == principal_id).values(values)
                .returning(*table.c)
            ).first()
        if row is None:
            raise NotFound(kind.name, principal_id)
        return kind.to_record(row._mapping)


def _storage_used(org: Any) -> Any:
    """The bytes the files of ``org`` (an id, or the organizations' id column) take."""
    return (
        select(func.coalesce(func.sum(files.c.byte_size), 0))
        .where(files.c.organization_id == org)
        .scalar_subquery()
    )


_ORGANIZATIONS = select(organizations, _storage_used(organizations.c.id).label("storage_used"))
"""Organizations with what their files take, summed when read: exact whatever wrote the rows
(an older release during a rolling deploy too), at the cost of reading the organization's
file sizes."""


def _lock_organization(conn: Connection, org_id: str) -> int | None:
    """Lock the organization's row until the transaction ends, and return its quota
    (``None``: none); ``NotFound`` for no such organization.

    The lock makes the checks and the insert after it one step: a racing transaction waits
    here until this one has committed its file (PostgreSQL's ``FOR UPDATE``; on SQLite the
    write transaction, begun IMMEDIATE, already holds the database), and then counts it."""
    row = conn.execute(
        select(organizations.c.storage_quota)
        .where(organizations.c.id == org_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("organization", org_id)
    return row.storage_quota  # type: ignore[no-any-return]


def _check_quota(conn: Connection, org_id: str, quota: int | None, byte_size: int) -> None:
    """Refuse ``byte_size`` more bytes past ``quota`` (``QuotaExceeded``), the organization's
    row locked (``_lock_organization``)."""
    if quota is None:
        return
    used = int(conn.execute(select(_storage_used(org_id))).scalar_one())
    if used + byte_size > quota:
        raise QuotaExceeded(quota, used)


def _used(conn: Connection, file_id: str) -> bool:
    """Whether the upload URL bound to ``file_id`` is marked used."""
    query = select(upload_urls.c.file_id).where(
        upload_urls.c.file_id == file_id, upload_urls.c.used_at.is_not(None))
    return conn.execute(query).first() is not None


def _exists(conn: Connection, condition: Any) -> bool:
    """Whether a file matches ``condition``."""
    return conn.execute(select(files.c.id).where(condition)).first() is not None


def _one(conn: Connection, table: Table, ident: str, kind: str) -> rows.Row:
    """The row ``ident`` of ``table``; ``NotFound`` (of ``kind``) if there is none."""
    row = conn.execute(select(table).where(table.c.id == ident)).first()
    if row is None:
        raise NotFound(kind, ident)
    return row._mapping
