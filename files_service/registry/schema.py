"""The registry's tables, as SQLAlchemy Core, portable between SQLite and PostgreSQL.

Times are ``BigInteger`` microseconds since the Unix epoch: exact, sortable and the same on every
backend (SQLite has no timestamp type, and float seconds would not compare exactly in cursors).
The records in ``models.py`` expose them as float seconds.

``SCHEMA_VERSION`` is the version this code needs; ``schema_version`` holds the one a database is
at. Whenever a table changes: change it here, raise ``SCHEMA_VERSION`` and add the step that
takes a database of the previous version there to ``MIGRATIONS`` (``Registry.init`` runs it).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 3

# Named constraints, so that a later migration can drop or alter them by a known name on
# every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_ID = 64  # ids are ~27 characters; room to spare without being unbounded

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(_ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Bytes its files may take in all; NULL: no quota (version 2). What they take is summed
    # from ``files`` when needed, so it is exact whatever wrote the rows.
    Column("storage_quota", BigInteger, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(_ID), primary_key=True),
    Column(
        "organization_id", String(_ID), ForeignKey("organizations.id"), nullable=False, index=True
    ),
    Column("name", String(200), nullable=False, default=""),
    # SHA-256 hex of the secret; the plaintext is never stored.
    Column("secret_hash", String(64), nullable=False, unique=True, index=True),
    Column("status", String(16), nullable=False),
    Column("file_url_ttl", Integer, nullable=False),
    Column("api_version", String(32), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    CheckConstraint("status IN ('active', 'revoked')", name="status"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(_ID), primary_key=True),
    Column(
        "organization_id", String(_ID), ForeignKey("organizations.id"), nullable=False, index=True
    ),
    Column("url", String(2048), nullable=False),
    Column("status", String(16), nullable=False),
    Column("file_url_ttl", Integer, nullable=False),
    Column("api_version", String(32), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    CheckConstraint("status IN ('active', 'revoked')", name="status"),
)

files = Table(
    "files",
    metadata,
    Column("id", String(_ID), primary_key=True),
    Column("organization_id", String(_ID), ForeignKey("organizations.id"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("byte_size", BigInteger, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("storage_key", String(1024), nullable=False),
    Column("created_by", String(_ID), ForeignKey("api_keys.id"), nullable=True),
    # JSON text rather than a JSON type: the same on SQLite and PostgreSQL, never queried into.
    Column("metadata_json", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
)
# Serves the newest-first keyset listing of one organization's files
# (WHERE organization_id = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC).
Index(
    "ix_files_organization_id_created_at_id",
    files.c.organization_id,
    files.c.created_at,
    files.c.id,
)

# One object backs at most one file: a second registration of an object is refused, and
# deleting a file (which removes its object) can never break another file.
Index("ux_files_storage_key", files.c.storage_key, unique=True)

# Upload URLs (version 3): the metadata of one minted with some, too large for the URL, kept
# under the file id the URL binds until its upload comes; and each URL used, until it has
# long expired, so that it stays used after its file is deleted (a URL works once). Rows go
# a day after their URL's expiry (pruned as new ones are written).
upload_urls = Table(
    "upload_urls",
    metadata,
    Column("file_id", String(_ID), primary_key=True),
    Column("organization_id", String(_ID), ForeignKey("organizations.id"), nullable=False),
    Column("metadata_json", Text, nullable=False, default="{}"),
    Column("expires_at", BigInteger, nullable=False, index=True),
    Column("used_at", BigInteger, nullable=True),  # NULL: not used yet
)

schema_version = Table(
    "schema_version",
    metadata,
    # Always 1: the primary key keeps the table to a single row.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)


def _add_storage_quota(conn: Connection) -> None:
    """Version 2: ``organizations.storage_quota`` (NULL for every organization: no quota)."""
    column_type = BigInteger().compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE organizations ADD COLUMN storage_quota {column_type}")


def _add_upload_urls(conn: Connection) -> None:
    """Version 3: ``upload_urls``, for signed upload URLs."""
    upload_urls.create(conn)


# Steps from version N-1 to N, run in order by ``init`` inside its transaction. Migrations only
# ever add what older code can ignore, so that replicas of the previous release keep working
# during a rolling deploy.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _add_storage_quota,
    3: _add_upload_urls,
}
