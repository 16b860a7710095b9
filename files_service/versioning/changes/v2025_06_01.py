"""2025-06-01: a file's checksum names its algorithm."""

from __future__ import annotations

from typing import Any

from ..bundle import MigrationContext, VersionChange


class ChecksumNamesItsAlgorithm(VersionChange):
    """A file's ``checksum`` is an object naming its algorithm.

    Since 2025-06-01 ``checksum`` is ``{"algorithm": "sha256", "value": "<hex>"}``, so that
    other algorithms can be added later without another breaking change. Before, it was the
    SHA-256 digest alone, as a string of 64 lowercase hexadecimal digits (the same value as
    ``checksum.value`` now).
    """

    version = "2025-06-01"
    description = (
        'A file\'s `checksum` is `{"algorithm": "sha256", "value": "<hex>"}` instead of '
        "the SHA-256 hex string alone."
    )
    applies_to = frozenset({"file"})

    def downgrade_response(self, resource: dict[str, Any], ctx: MigrationContext) -> dict[str, Any]:
        """``checksum`` becomes its ``value``: the hex string."""
        attributes = resource.get("attributes")
        if isinstance(attributes, dict) and isinstance(attributes.get("checksum"), dict):
            attributes["checksum"] = attributes["checksum"].get("value")
        return resource

    def downgrade_openapi(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """``FileAttributes.checksum`` is described as the hex string."""
        schemas["FileAttributes"]["properties"]["checksum"] = {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "The SHA-256 digest of the content, as 64 lowercase hex digits.",
        }
        return schemas


CHANGE = ChecksumNamesItsAlgorithm()
