"""Download URLs for one API response (§3, §5): minted for the request's principal with its
``url-ttl`` and ``url-disposition``.

Handlers build the head shape, so they mint current-style URLs; the 2023-01-05 change turns
them into legacy URLs for older versions through ``legacy`` (``MigrationContext``). Only the
URLs a response shows are counted in the ``files_urls_minted`` metric."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..minting import MintedUrl, effective_ttl, style_for_version
from ..registry.models import File, Principal
from ..services import Services
from ..tokens import CURRENT, LEGACY
from ..versioning import MigrationContext


class RequestUrls:
    """The URL minting of one request. Creating it checks ``url-ttl`` against the principal's
    ``file-url-ttl`` (``ValidationError`` on ``url-ttl`` where it asks for longer), so a bad
    value is refused before any work, an upload's included."""

    def __init__(
        self, services: Services, principal: Principal, *, ttl: int | None, disposition: str
    ) -> None:
        effective_ttl(principal, ttl)
        self._services = services
        self._principal = principal
        self._ttl = ttl
        self._disposition = disposition
        self._files: dict[str, File] = {}

    def current(self, file: File) -> MintedUrl:
        """The file's current-style URL (the head shape's)."""
        self._files[file.id] = file
        return self._mint(file, CURRENT)

    def legacy(self, file_id: str) -> str:
        """The legacy-style URL of a file this request minted a current URL for."""
        return self._mint(self._files[file_id], LEGACY).url

    def migration_context(self) -> MigrationContext:
        """What the version changes need to serve an older version."""
        return MigrationContext(legacy_file_url=self.legacy)

    def count_shown(self, document: dict[str, Any], version: str) -> None:
        """Count, by style, the file URLs ``document`` (as served in ``version``) shows."""
        shown = sum(1 for obj in _resources(document) if obj.get("type") == "file"
                    and "url" in (obj.get("attributes") or {}))
        if shown:
            self._services.metrics.urls_minted.labels(style_for_version(version)).inc(shown)

    def _mint(self, file: File, style: str) -> MintedUrl:
        return self._services.minter.mint(
            file, self._principal, style=style, disposition=self._disposition, ttl=self._ttl
        )


def _resources(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    data = document.get("data")
    if isinstance(data, dict):
        yield data
    elif isinstance(data, list):
        yield from data
    yield from document.get("included") or []
