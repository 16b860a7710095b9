"""Minting download URLs (§3): the TTL policy, the URL style of an API version, and the URL
itself. The API, the CLI and ``demo`` all mint here."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from .errors import ValidationError
from .registry.models import File, Principal
from .settings import Settings
from .tokens import CURRENT, LEGACY, TokenService
from .versioning.changes.v2023_01_05 import CHANGE as CURRENT_STYLE_CHANGE

CURRENT_STYLE_SINCE = CURRENT_STYLE_CHANGE.version  # the version that brought access_token URLs


def style_for_version(version: str) -> str:
    """The URL style an API version mints: legacy before 2023-01-05, current from then on.
    ``unstable`` and every later date are current."""
    if version == "unstable":
        return CURRENT
    return LEGACY if version < CURRENT_STYLE_SINCE else CURRENT


def effective_ttl(principal: Principal, requested: object, field: str = "url-ttl") -> int:
    """The principal's ``file-url-ttl``, or shorter where asked. Longer is refused, never
    clamped: a caller that asked for a day and silently got six hours would be surprised."""
    if requested is None:
        return principal.file_url_ttl
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ValidationError(field, "must be a whole number of seconds, at least 1")
    if requested > principal.file_url_ttl:
        raise ValidationError(
            field,
            f"may not exceed the file-url-ttl of {principal.id} "
            f"({principal.file_url_ttl} seconds); ask for {principal.file_url_ttl} or less",
        )
    return requested


def encode_filename(filename: str) -> str:
    """The filename as one percent-encoded (UTF-8) path segment."""
    return quote(filename, safe="")


@dataclass(frozen=True)
class MintedUrl:
    url: str
    expires_at: int | None  # None: a legacy URL, which does not expire by time
    style: str
    disposition: str


class Minter:
    """Builds signed URLs for files on behalf of a principal (api-key or webhook)."""

    def __init__(self, tokens: TokenService, settings: Settings) -> None:
        self.tokens = tokens
        self.download_base = settings.download_base_url
        self.api_base = settings.api_base_url

    def mint(
        self,
        file: File,
        principal: Principal,
        *,
        style: str = CURRENT,
        disposition: str = "inline",
        ttl: int | None = None,
    ) -> MintedUrl:
        """A URL for ``file``, signed for ``principal``; ``ttl`` may only shorten."""
        if principal.organization_id != file.organization_id:
            # Callers only mint their own organization's files; a mismatch is a bug upstream.
            raise ValueError("principal and file belong to different organizations")
        # Checked for both styles, so a bad url-ttl is refused whatever the version.
        lifetime = effective_ttl(principal, ttl)
        minted = self.tokens.mint(
            file_id=file.id,
            filename=file.filename,
            principal_id=principal.id,
            style=style,
            disposition=disposition,
            ttl=lifetime if style == CURRENT else None,
        )
        name = encode_filename(file.filename)
        if style == LEGACY:
            url = f"{self.api_base}/api/v1/files/{minted.token}/{name}"
        else:
            url = f"{self.download_base}/{name}?access_token={minted.token}"
        return MintedUrl(url, minted.expires_at, style, disposition)
