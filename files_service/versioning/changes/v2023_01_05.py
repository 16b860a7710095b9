"""2023-01-05: file URLs in the current style."""

from __future__ import annotations

from typing import Any

from ..bundle import MigrationContext, VersionChange


class FileUrlsInCurrentStyle(VersionChange):
    """File URLs are in the current style: they expire and need no API key.

    Since 2023-01-05 a file's ``url`` is ``{DOWNLOAD_BASE_URL}/{filename}?access_token=…``:
    anyone holding it may download the file until ``url-expires-at``, so it can be handed to a
    browser as it is. Before, ``url`` was ``{API_BASE_URL}/api/v1/files/{token}/{filename}``,
    which works only with ``Authorization: Bearer <API key secret>`` of the file's
    organization and does not expire by time; ``url-expires-at`` was ``null``. Requests made
    with an earlier version still get (and can still use) URLs of the legacy style.
    """

    version = "2023-01-05"
    description = (
        "A file's `url` is in the current style (`access_token`, expiring at "
        "`url-expires-at`) instead of the legacy style that needs an API key."
    )
    applies_to = frozenset({"file"})

    def downgrade_response(self, resource: dict[str, Any], ctx: MigrationContext) -> dict[str, Any]:
        """``url`` becomes the legacy URL from ``ctx.legacy_file_url``; ``url-expires-at``
        becomes ``null``."""
        attributes = resource.get("attributes")
        if not isinstance(attributes, dict):
            return resource
        if "url" in attributes:
            if ctx.legacy_file_url is None:
                raise ValueError("serving a version before 2023-01-05 needs ctx.legacy_file_url")
            attributes["url"] = ctx.legacy_file_url(resource["id"])
        if "url-expires-at" in attributes:
            attributes["url-expires-at"] = None
        return resource

    def downgrade_openapi(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """``FileAttributes.url`` is described as a legacy URL, ``url-expires-at`` as null."""
        properties = schemas["FileAttributes"]["properties"]
        properties["url"] = {
            "type": "string",
            "format": "uri",
            "description": (
                "A legacy download URL, {API_BASE_URL}/api/v1/files/{token}/{filename}. It "
                "works only with 'Authorization: Bearer <API key secret>' of an active API "
                "key of the file's organization, and does not expire by time."
            ),
        }
        properties["url-expires-at"] = {
            "type": "null",
            "description": "Always null: legacy URLs do not expire by time.",
        }
        return schemas


CHANGE = FileUrlsInCurrentStyle()
