"""Rows to records: what a table row (or the values just inserted) looks like to the rest of
the service. Times are stored as integer microseconds and shown as float seconds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .models import ApiKey, File, Organization, Webhook

Row = Mapping[Any, Any]
"""A row's mapping (``row._mapping``), or the dict of values an INSERT wrote."""

_MICROS = 1_000_000


def to_micros(seconds: float) -> int:
    """Unix seconds as the stored microseconds."""
    return round(seconds * _MICROS)


def to_seconds(micros: int) -> float:
    """Stored microseconds as Unix seconds."""
    return micros / _MICROS


def organization(row: Row) -> Organization:
    """An organization; its ``storage_used`` where the query summed it (0 otherwise)."""
    return Organization(
        id=row["id"], name=row["name"], created_at=to_seconds(row["created_at"]),
        storage_quota=row.get("storage_quota"), storage_used=int(row.get("storage_used") or 0),
    )


def api_key(row: Row) -> ApiKey:
    return ApiKey(name=row["name"], **_principal(row))


def webhook(row: Row) -> Webhook:
    return Webhook(url=row["url"], **_principal(row))


def _principal(row: Row) -> dict[str, Any]:
    """What api-keys and webhooks both hold."""
    return {
        "id": row["id"],
        "organization_id": row["organization_id"],
        "status": row["status"],
        "file_url_ttl": row["file_url_ttl"],
        "api_version": row["api_version"],
        "created_at": to_seconds(row["created_at"]),
    }


def file(row: Row) -> File:
    return File(
        id=row["id"],
        organization_id=row["organization_id"],
        filename=row["filename"],
        content_type=row["content_type"],
        byte_size=row["byte_size"],
        checksum=row["checksum"],
        storage_key=row["storage_key"],
        created_by=row["created_by"],
        created_at=to_seconds(row["created_at"]),
        metadata=json.loads(row["metadata_json"]),
    )
