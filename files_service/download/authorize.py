"""Authorizing a download (§3, §4): whether a request may have a file, checked in a fixed order
that leaks nothing a caller may not know. Each check raises the refusal of §4 (an
``ApiError``); none reads WSGI's environ, so any edge (the download handler, an endpoint that
answers another server's questions) can ask the same questions.

1. the API key, on the legacy path only (``401 unauthorized``);
2. the token: signature, filename, style, expiry (``403 invalid_token`` / ``expired_token``);
3. the principal that minted it, still active (``403 revoked_token``);
4. the file, still there and of the principal's organization, and on the legacy path of the
   API key's (``404 not_found``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NotFound, RegistryError, TokenError, TokenExpired
from ..ids import bearer_secret
from ..registry.models import ACTIVE, ApiKey, File
from ..timefmt import iso
from ..tokens import Claims
from .refusals import refusal

if TYPE_CHECKING:
    from ..metrics import Metrics
    from ..registry import Registry
    from ..registry.cache import RegistryCache
    from ..tokens import TokenService


class Authorizer:
    """The checks of one app's tokens, registry and cache; failures counted by kind in
    ``files_auth_failures_total``."""

    def __init__(
        self, tokens: TokenService, cache: RegistryCache, registry: Registry, metrics: Metrics
    ) -> None:
        self.tokens = tokens
        self.cache = cache
        self.registry = registry
        self.metrics = metrics
        self._verified: dict[str, Any] = {}  # token verifications' children, by key id

    def api_key(self, authorization: str | None) -> ApiKey:
        """The active API key of an ``Authorization: Bearer`` header, or ``401``."""
        secret = bearer_secret(authorization)
        key = None if secret is None else self.registry.authenticate(secret)
        if key is None or key.status != ACTIVE:
            self.metrics.auth_failures.labels("api_key").inc()
            raise refusal(
                401, "unauthorized", headers=[("WWW-Authenticate", 'Bearer realm="files"')]
            )
        return key

    def claims(self, token: str, *, filename: str, style: str) -> Claims:
        """What a good token says, or ``403 invalid_token`` / ``expired_token``."""
        try:
            claims = self.tokens.verify(token, filename=filename, style=style)
        except TokenExpired as exc:
            self.metrics.auth_failures.labels("expired_token").inc()
            raise refusal(
                403, "expired_token",
                meta={"expired-at": iso(exc.expired_at), "server-time": iso(exc.now)},
            ) from None
        except TokenError as exc:
            self.metrics.auth_failures.labels(exc.code).inc()
            raise refusal(403, exc.code) from None
        # Only a key of the ring verifies, so the label set is the ring (docs/tokens.md: when
        # the old key's count stops rising, it can go).
        verified = self._verified.get(claims.kid)
        if verified is None:
            verified = self._verified[claims.kid] = (
                self.metrics.token_verifications.labels(claims.kid)
            )
        verified.inc()
        return claims

    def file(self, claims: Claims, api_key: ApiKey | None = None) -> File:
        """The file a good token names, while its principal is active and the file is of the
        principal's organization (and of ``api_key``'s, where one was needed); else
        ``403 revoked_token`` or ``404 not_found``."""
        principal = self.cache.principal(claims.principal_id)
        if principal is None or principal.status != ACTIVE:
            self.metrics.auth_failures.labels("revoked_token").inc()
            raise refusal(403, "revoked_token")
        file = self.cache.file(claims.file_id)
        if file is None or file.organization_id != principal.organization_id:
            raise refusal(404, "not_found")
        if api_key is not None and api_key.organization_id != file.organization_id:
            raise refusal(404, "not_found")
        return file

    def row_gone(self, file: File) -> bool:
        """Whether ``file``'s row is gone from the database (it was deleted, and this worker
        held the row in its cache until now); the cached row is forgotten either way, so the
        next request asks the database. ``False`` where the database cannot tell."""
        self.cache.forget_file(file.id)
        try:
            self.registry.get_file(file.id)
        except NotFound:
            return True
        except RegistryError:
            return False
        return False
