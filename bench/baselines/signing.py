"""The signing baselines: raw HMAC-SHA256 over the bytes a download token signs (no encoding,
no key derivation: the floor), and a bare itsdangerous ``URLSafeTimedSerializer``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from itsdangerous import URLSafeTimedSerializer


def raw_hmac(key: bytes) -> Callable[[bytes], bytes]:
    """``hmac.new(key, message, sha256).digest()``: the least any HMAC-SHA256 token costs."""

    def sign(message: bytes) -> bytes:
        return hmac.new(key, message, hashlib.sha256).digest()

    return sign


def raw_hmac_oneshot(key: bytes) -> Callable[[bytes], bytes]:
    """``hmac.digest``: the same MAC through the C one-shot (no HMAC object), for context."""

    def sign(message: bytes) -> bytes:
        return hmac.digest(key, message, "sha256")

    return sign


def bare_serializer(secret: bytes, salt: str, *, sha256: bool = True) -> URLSafeTimedSerializer:
    """A ``URLSafeTimedSerializer`` as the itsdangerous docs set one up; with ``sha256`` its
    signer uses HMAC-SHA256 like the service (itsdangerous's own default is SHA-1)."""
    kwargs: dict[str, Any] = {"digest_method": hashlib.sha256} if sha256 else {}
    return URLSafeTimedSerializer(secret, salt=salt, signer_kwargs=kwargs)


def payload(file_id: str, principal_id: str, filename: str, disposition: str) -> dict[str, str]:
    """The claims of a download token as a serializer would carry them (the serializer adds
    the timestamp itself)."""
    return {"f": file_id, "p": principal_id, "n": filename, "d": disposition}
