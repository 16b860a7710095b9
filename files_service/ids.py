"""Random, unguessable identifiers and API key secrets."""

from __future__ import annotations

import hashlib
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
ID_CHARS = 22  # 22 base-62 characters: about 131 bits
PREFIXES = ("org", "key", "wbh", "file")
SECRET_PREFIX = "fsk_"  # noqa: S105 - a prefix, not a secret


def new_id(prefix: str) -> str:
    """A new id such as ``file_4fZ0…``: the prefix, ``_`` and 22 random base-62 characters.

    Base 62 (no ``-`` or ``_``) keeps ids one double-click wide and safe as CLI arguments."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(ID_CHARS))


def is_id(value: str, prefix: str) -> bool:
    """Whether ``value`` has the form of an id with ``prefix`` (says nothing of existence)."""
    head, sep, tail = value.partition("_")
    return (
        sep == "_" and head == prefix and len(tail) == ID_CHARS
        and all(c in _ALPHABET for c in tail)
    )


def new_secret() -> str:
    """A new API key secret: ``fsk_`` and 43 URL-safe characters (256 bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a secret. Secrets carry 256 random bits, so one SHA-256 is enough:
    no dictionary can guess them, and a lookup by hash costs the same for any input."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def bearer_secret(authorization: str | None) -> str | None:
    """The secret of an ``Authorization: Bearer <secret>`` header, or ``None``. One parser for
    the API and the legacy download path, so both refuse exactly the same headers."""
    if not authorization:
        return None
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret or " " in secret:
        return None
    return secret
