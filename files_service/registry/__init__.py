"""The registry: organizations, api-keys, webhooks and files, kept in SQL (SQLite or
PostgreSQL). ``Registry`` (``sql.py``, which maps its parts) is the interface; the records
(``models.py``) are frozen dataclasses."""

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
from .sql import InitResult, Registry

__all__ = [
    "ACTIVE",
    "DEFAULT_FILE_URL_TTL",
    "MAX_FILE_URL_TTL",
    "REVOKED",
    "SCHEMA_VERSION",
    "ApiKey",
    "File",
    "InitResult",
    "Organization",
    "Principal",
    "Registry",
    "Webhook",
]
