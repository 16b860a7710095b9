"""The registry: organizations, api-keys, webhooks and files, kept in SQL (SQLite or
PostgreSQL). ``Registry`` is the interface; the records are frozen dataclasses."""

from __future__ import annotations

from .models import (
    ACTIVE,
    DEFAULT_FILE_URL_TTL,
    MAX_FILE_URL_TTL,
    REVOKED,
    ApiKey,
    File,
    Organization,
    Principal,
    Webhook,
)
from .schema import SCHEMA_VERSION
from .sql import Registry

__all__ = [
    "ACTIVE",
    "DEFAULT_FILE_URL_TTL",
    "MAX_FILE_URL_TTL",
    "REVOKED",
    "SCHEMA_VERSION",
    "ApiKey",
    "File",
    "Organization",
    "Principal",
    "Registry",
    "Webhook",
]
