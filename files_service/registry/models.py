"""The registry's records: plain frozen dataclasses, what the rest of the service sees of rows.
Times are Unix seconds (floats, microsecond precision)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The bounds and states of §2 live in the pure core; here for the registry's callers.
from ..limits import ACTIVE, DEFAULT_FILE_URL_TTL, MAX_FILE_URL_TTL, REVOKED

__all__ = [
    "ACTIVE",
    "DEFAULT_FILE_URL_TTL",
    "MAX_FILE_URL_TTL",
    "REVOKED",
    "ApiKey",
    "File",
    "Organization",
    "Principal",
    "Webhook",
]


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    created_at: float
    storage_quota: int | None = None  # bytes; None: no quota
    storage_used: int = 0  # bytes of its files, as the registry counts them when read


@dataclass(frozen=True)
class ApiKey:
    id: str
    organization_id: str
    name: str
    status: str  # ACTIVE or REVOKED
    file_url_ttl: int
    api_version: str | None  # None until pinned
    created_at: float


@dataclass(frozen=True)
class Webhook:
    id: str
    organization_id: str
    url: str
    status: str
    file_url_ttl: int
    api_version: str | None
    created_at: float


Principal = ApiKey | Webhook


@dataclass(frozen=True)
class File:
    id: str
    organization_id: str
    filename: str
    content_type: str
    byte_size: int
    checksum: str  # SHA-256, lowercase hex
    storage_key: str  # never shown to users
    created_by: str | None  # api-key id; None for a CLI upload
    created_at: float
    metadata: dict[str, Any] = field(default_factory=dict)
