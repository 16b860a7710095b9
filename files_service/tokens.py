"""Download tokens (§3): minted and verified by pure functions over a key ring and a clock.

A token looks like ``k1.file_….key_….1767246000.i.<sig>``::

    kid . file id . principal id . expiry . disposition . signature

(expiry in Unix seconds, 0 for a legacy token, which does not expire by time)

The signature is HMAC-SHA256 (itsdangerous ``Signer``, one derived key per key id and URL
style, the style being part of the purpose salt) over the dotted payload followed by a NUL and
the filename as it appears in the URL. So the filename and the style are bound without being
carried: a token moved to another filename or the other URL style fails its signature. The
NUL cannot occur in the payload, which makes the signed message unambiguous.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import Signer

from .clock import Clock
from .errors import TokenExpired, TokenInvalid, ValidationError
from .limits import MAX_FILE_URL_TTL

CURRENT = "current"
LEGACY = "legacy"
STYLES = (CURRENT, LEGACY)
DISPOSITIONS = ("inline", "attachment")  # how the download is shown (§4); inline by default
_DISPOSITION_CODES = {name: name[0] for name in DISPOSITIONS}  # one letter in the token
_DISPOSITION_NAMES = {code: name for name, code in _DISPOSITION_CODES.items()}
# A token expiring later than this is refused, signature or not: no URL lives longer.
MAX_AHEAD_SECONDS = MAX_FILE_URL_TTL
LEEWAY_SECONDS = 10  # clock skew between replicas forgiven after expiry (SPEC allows up to 30)
MAX_TOKEN_CHARS = 512  # far above any real token; refuse larger input before any work


@dataclass(frozen=True)
class SigningKey:
    """One key of the ring (``FILES_SIGNING_KEYS``): its id, carried in every token it signs,
    and its secret."""

    kid: str
    secret: bytes

    def __repr__(self) -> str:  # never print a secret, not even in a traceback
        return f"SigningKey(kid={self.kid!r}, secret=<{len(self.secret)} bytes>)"


class _Signer(Signer):
    """An itsdangerous ``Signer`` that derives its key once rather than on every call: the
    derivation is a full HMAC, and minting and verifying run per request."""

    def __init__(self, secret: bytes, salt: str) -> None:
        super().__init__(
            secret, salt=salt, key_derivation="hmac", digest_method=hashlib.sha256
        )
        self._derived = super().derive_key()

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return self._derived if secret_key is None else super().derive_key(secret_key)


@dataclass(frozen=True)
class Claims:
    """What a verified token says."""

    kid: str
    file_id: str
    principal_id: str
    expires_at: int | None  # None for legacy tokens
    disposition: str  # "inline" or "attachment"
    style: str


@dataclass(frozen=True)
class Minted:
    token: str
    expires_at: int | None


class TokenService:
    """Mints and verifies tokens with a key ring: the first key signs, every key verifies."""

    def __init__(
        self, keys: Sequence[SigningKey], clock: Clock, *, bucket_seconds: int = 300
    ) -> None:
        if not keys:
            raise ValueError("the key ring is empty")
        self.clock = clock
        self.bucket_seconds = bucket_seconds
        self._signing_kid = keys[0].kid
        self._signers = {
            (key.kid, style): _Signer(key.secret, f"files_service.download.{style}")
            for key in keys
            for style in STYLES
        }

    def verification_keys(self, style: str) -> dict[str, bytes]:
        """The HMAC key that checks signatures of ``style`` for each key id of the ring.

        These are derived from the secrets (one per style), so a holder of the current-style
        keys, such as the front tier's nginx (``files_service.edge``), can check and forge
        current-style URLs but learns nothing of the secrets themselves or of legacy URLs."""
        return {
            kid: signer.derive_key() for (kid, each), signer in self._signers.items()
            if each == style
        }

    def expiry_for(self, ttl: int) -> int:
        """The absolute expiry of a URL minted now with ``ttl`` seconds.

        Rounded down to the edge of a ``bucket_seconds`` bucket so that two mints within one
        bucket give the same URL (cacheable); never later than ``now + ttl``. A TTL under two
        buckets is minted exactly, or the rounding could take away most of it."""
        exact = int(self.clock.now()) + ttl
        bucket = self.bucket_seconds
        if bucket == 0 or ttl < 2 * bucket:
            return exact
        return exact - exact % bucket

    def mint(
        self,
        *,
        file_id: str,
        filename: str,
        principal_id: str,
        style: str = CURRENT,
        disposition: str = "inline",
        ttl: int | None = None,
    ) -> Minted:
        """A token for ``file_id`` as ``filename``; ``ttl`` is required for the current style
        and ignored for the legacy one, whose URLs do not expire by time."""
        if style not in STYLES:
            raise ValueError(f"unknown URL style {style!r}")
        if disposition not in DISPOSITIONS:
            raise ValidationError("url-disposition", "must be 'inline' or 'attachment'")
        if style == CURRENT:
            if ttl is None:
                raise ValueError("a current-style token needs a ttl")
            expires_at: int | None = self.expiry_for(ttl)
        else:
            expires_at = None
        payload = (
            f"{self._signing_kid}.{file_id}.{principal_id}.{expires_at or 0}."
            f"{_DISPOSITION_CODES[disposition]}"
        )
        signer = self._signers[(self._signing_kid, style)]
        signature = signer.get_signature(_message(payload, filename)).decode("ascii")
        return Minted(f"{payload}.{signature}", expires_at)

    def verify(self, token: str, *, filename: str, style: str = CURRENT) -> Claims:
        """The claims of a good token, else ``TokenInvalid`` or ``TokenExpired``.

        Checked in this order, each failing closed: shape, key id, signature (over the
        filename and style), then time. Expiry is judged only on a genuine token, so a forged
        one never learns anything from the answer."""
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise TokenInvalid("malformed token")
        parts = token.split(".")
        if len(parts) != 6:
            raise TokenInvalid("malformed token")
        kid, file_id, principal_id, expiry_text, disposition_code, signature = parts
        signer = self._signers.get((kid, style))
        if signer is None:
            raise TokenInvalid("unknown signing key")
        payload = token[: -len(signature) - 1]
        try:
            message = _message(payload, filename)
        except UnicodeEncodeError:
            raise TokenInvalid("malformed filename") from None
        expected = signer.get_signature(message)
        if not hmac.compare_digest(expected, signature.encode("ascii")):
            raise TokenInvalid("bad signature")
        # The signature is good: what follows was written by us, but stays defensive.
        disposition = _DISPOSITION_NAMES.get(disposition_code)
        if disposition is None or not expiry_text.isdigit():
            raise TokenInvalid("malformed token")
        expires = int(expiry_text)
        if style == LEGACY:
            if expires != 0:
                raise TokenInvalid("malformed token")
            return Claims(kid, file_id, principal_id, None, disposition, style)
        now = self.clock.now()
        if expires - now > MAX_AHEAD_SECONDS:
            raise TokenInvalid("expiry too far ahead")
        if now > expires + LEEWAY_SECONDS:
            raise TokenExpired(expires, now)
        return Claims(kid, file_id, principal_id, expires, disposition, style)


def _message(payload: str, filename: str) -> bytes:
    return payload.encode("ascii") + b"\0" + filename.encode("utf-8")
