"""Upload tokens (§5 "Signed upload URLs"): minted and verified by pure functions over the key
ring of the download tokens and a clock.

A token looks like ``k1.file_….key_….<creator>.org_….1767229200.1048576.<rule>.<name>.<sig>``::

    kid . file id . principal id . creator . organization id . expiry . max bytes
        . type rule . filename . signature

- ``creator``: the api-key that minted the URL where the principal is a webhook (a mint with
  ``webhook-id``), empty where the principal is that api-key itself, ``-`` for none (the
  command line minting for a webhook): the file's ``created-by``;
- ``type rule`` and ``filename``: URL-safe base64 (no padding) of their UTF-8, the rule empty
  for "any type";
- expiry in Unix seconds, exact (no bucket: every upload URL names a file of its own).

Unlike a download URL, an upload URL carries no filename of its own, so the token carries
every value it binds. The signature is HMAC-SHA256 (itsdangerous ``Signer``, one derived key
per key id) with a purpose salt of its own, ``files_service.upload``: an upload token never
verifies as a download token (a salt per URL style there, and another count of fields), nor
the other way round. The file id and principal come first, as in a download token, so that
the logs' redaction (``files_service.redact``) knows an upload token by the same shape.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous.encoding import base64_decode, base64_encode

from .clock import Clock
from .errors import TokenExpired, TokenInvalid
from .tokens import LEEWAY_SECONDS, MAX_AHEAD_SECONDS, SigningKey
from .tokens import _Signer as Signer  # the download tokens' signer, its key derived once

PURPOSE = "files_service.upload"
MAX_UPLOAD_TOKEN_CHARS = 2048  # a 255-byte filename and a long type rule fit; refuse beyond
_FIELDS = 10
_NO_CREATOR = "-"


@dataclass(frozen=True)
class UploadClaims:
    """What a verified upload token says."""

    kid: str
    file_id: str
    principal_id: str
    created_by: str | None  # the api-key that minted it (None: the command line, for a webhook)
    organization_id: str
    expires_at: int
    max_bytes: int
    content_type: str | None  # the type rule: ``type/subtype``, ``type/*``, or None for any
    filename: str


class UploadTokens:
    """Mints and verifies upload tokens with a key ring: the first key signs, every key
    verifies (rotation works as for download tokens, ``docs/tokens.md``)."""

    def __init__(self, keys: Sequence[SigningKey], clock: Clock) -> None:
        if not keys:
            raise ValueError("the key ring is empty")
        self.clock = clock
        self._signing_kid = keys[0].kid
        self._signers = {key.kid: Signer(key.secret, PURPOSE) for key in keys}

    def mint(
        self, *, file_id: str, principal_id: str, created_by: str | None, organization_id: str,
        ttl: int, max_bytes: int, content_type: str | None, filename: str,
    ) -> tuple[str, int]:
        """A token and its expiry (``now + ttl``, exact). The values are checked by the
        caller (``upload_urls``); here they are only written down and signed."""
        expires_at = int(self.clock.now()) + ttl
        creator = "" if created_by == principal_id else (created_by or _NO_CREATOR)
        payload = ".".join((
            self._signing_kid, file_id, principal_id, creator, organization_id,
            str(expires_at), str(max_bytes), _encode(content_type or ""), _encode(filename),
        ))
        signature = self._signers[self._signing_kid].get_signature(payload.encode("ascii"))
        return f"{payload}.{signature.decode('ascii')}", expires_at

    def verify(self, token: str) -> UploadClaims:
        """The claims of a good token, else ``TokenInvalid`` or ``TokenExpired``; checked in
        the order of download tokens: shape, key id, signature, then time."""
        if not token or len(token) > MAX_UPLOAD_TOKEN_CHARS or not token.isascii():
            raise TokenInvalid("malformed token")
        parts = token.split(".")
        if len(parts) != _FIELDS:
            raise TokenInvalid("malformed token")
        kid, file_id, principal_id, creator, org_id, expiry, size, rule, name, signature = parts
        signer = self._signers.get(kid)
        if signer is None:
            raise TokenInvalid("unknown signing key")
        payload = token[: -len(signature) - 1]
        expected = signer.get_signature(payload.encode("ascii"))
        if not hmac.compare_digest(expected, signature.encode("ascii")):
            raise TokenInvalid("bad signature")
        # The signature is good: what follows was written by us, but stays defensive.
        if not expiry.isdigit() or not size.isdigit():
            raise TokenInvalid("malformed token")
        try:
            content_type = _decode(rule) or None
            filename = _decode(name)
        except ValueError:
            raise TokenInvalid("malformed token") from None
        expires = int(expiry)
        now = self.clock.now()
        if expires - now > MAX_AHEAD_SECONDS:
            raise TokenInvalid("expiry too far ahead")
        if now > expires + LEEWAY_SECONDS:
            raise TokenExpired(expires, now)
        created_by = None if creator == _NO_CREATOR else (creator or principal_id)
        return UploadClaims(
            kid, file_id, principal_id, created_by, org_id, expires, int(size), content_type,
            filename,
        )


def _encode(text: str) -> str:
    return base64_encode(text.encode("utf-8")).decode("ascii") if text else ""


def _decode(text: str) -> str:
    if not text:
        return ""
    try:
        return base64_decode(text).decode("utf-8")
    except Exception as exc:  # itsdangerous' BadData, or bytes that are no UTF-8
        raise ValueError("not base64 of UTF-8") from exc
