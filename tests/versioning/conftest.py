"""Fixtures for the versioning core: full head-shaped sample resources."""

from __future__ import annotations

from typing import Any

import pytest

from files_service.versioning import MigrationContext

FILE_ID = "file_" + "A" * 22
HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
CURRENT_URL = "https://files.example.com/report.pdf?access_token=tok"
LEGACY_URL = "https://api.example.com/api/v1/files/legacytok/report.pdf"


def _head_file() -> dict[str, Any]:
    return {
        "type": "file",
        "id": FILE_ID,
        "attributes": {
            "filename": "report.pdf",
            "content-type": "application/pdf",
            "byte-size": 16384,
            "checksum": {"algorithm": "sha256", "value": HEX},
            "metadata": {"project": "apollo"},
            "created-at": "2026-01-01T00:00:00Z",
            "url": CURRENT_URL,
            "url-expires-at": "2026-01-01T06:00:00Z",
        },
        "relationships": {
            "organization": {"data": {"type": "organization", "id": "org_" + "B" * 22}},
            "created-by": {"data": {"type": "api-key", "id": "key_" + "C" * 22}},
        },
    }


def _head_samples() -> list[dict[str, Any]]:
    org = {"type": "organization", "id": "org_" + "B" * 22,
           "attributes": {"name": "Acme", "created-at": "2026-01-01T00:00:00Z"}}
    key = {
        "type": "api-key", "id": "key_" + "C" * 22,
        "attributes": {"name": "main", "status": "active", "file-url-ttl": 21600,
                       "api-version": "2025-06-01", "created-at": "2026-01-01T00:00:00Z"},
        "relationships": {"organization": {"data": {"type": "organization",
                                                    "id": "org_" + "B" * 22}}},
    }
    return [_head_file(), org, key]


@pytest.fixture
def head_file() -> dict[str, Any]:
    """A full file resource object in the head shape (a fresh copy)."""
    return _head_file()


@pytest.fixture
def head_samples() -> list[dict[str, Any]]:
    """One full head-shaped resource object of each type (fresh copies)."""
    return _head_samples()


@pytest.fixture
def legacy_url() -> str:
    return LEGACY_URL


@pytest.fixture
def ctx() -> MigrationContext:
    """A context whose legacy URLs are recognisable."""
    return MigrationContext(legacy_file_url=lambda file_id: LEGACY_URL)
