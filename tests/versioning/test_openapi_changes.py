"""The change objects also migrate the OpenAPI description, one version at a time."""

from __future__ import annotations

import copy
from typing import Any

from files_service.versioning import VERSIONS, VersionBundle, VersionChange
from files_service.versioning.changes import v2023_01_05, v2025_06_01

KNOWN = (v2025_06_01.CHANGE, v2023_01_05.CHANGE)
# The changes these samples were written for (a later change may expect other schemas).
BUNDLE = VersionBundle(VERSIONS, KNOWN)


def schemas() -> dict[str, Any]:
    return {
        "FileAttributes": {
            "type": "object",
            "properties": {
                "checksum": {"type": "object"},
                "url": {"type": "string", "description": "current"},
                "url-expires-at": {"type": "string", "format": "date-time"},
            },
        },
        "Other": {"type": "string"},
    }


def test_each_change_alters_the_description() -> None:
    for change in KNOWN:
        before = schemas()
        after = change.downgrade_openapi(copy.deepcopy(before))
        assert after != before, change
        assert after["Other"] == before["Other"]
        assert (type(change).downgrade_openapi.__doc__ or "").strip()


def test_migrate_openapi_walks_back_through_each_change() -> None:
    head = schemas()
    assert BUNDLE.migrate_openapi(head, "2025-06-01") == head
    middle = BUNDLE.migrate_openapi(head, "2023-01-05")["FileAttributes"]["properties"]
    assert middle["checksum"]["type"] == "string"
    assert middle["url"] == head["FileAttributes"]["properties"]["url"]
    first = BUNDLE.migrate_openapi(head, "2022-09-01")["FileAttributes"]["properties"]
    assert first["checksum"]["type"] == "string"
    assert first["url-expires-at"]["type"] == "null"
    assert head == schemas()  # left untouched


def test_a_change_without_a_schema_effect_keeps_it() -> None:
    class Quiet(VersionChange):
        """Nothing to describe."""

        version = "2025-06-01"
        description = "x"
        applies_to = frozenset({"file"})

    assert Quiet().downgrade_openapi(schemas()) == schemas()
