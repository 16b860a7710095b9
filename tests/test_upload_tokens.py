"""Upload tokens (``files_service.upload_tokens``): what they bind, how they fail, and that
they are kept apart from download tokens made with the same key ring."""

from __future__ import annotations

import pytest

from files_service.clock import ManualClock
from files_service.errors import TokenExpired, TokenInvalid
from files_service.ids import new_id
from files_service.tokens import LEEWAY_SECONDS, SigningKey, TokenService
from files_service.upload_tokens import UploadTokens

K1 = SigningKey("k1", b"first-signing-secret-of-32-bytes!!")
K2 = SigningKey("k2", b"second-signing-secret-of-32-bytes!")
ORG, FILE, KEY, HOOK = new_id("org"), new_id("file"), new_id("key"), new_id("wbh")


def mint(tokens: UploadTokens, **overrides: object) -> tuple[str, int]:
    values: dict = {"file_id": FILE, "principal_id": KEY, "created_by": KEY,
                    "organization_id": ORG, "ttl": 3600, "max_bytes": 1 << 20,
                    "content_type": "image/*", "filename": "Résumé «final».pdf"}
    values.update(overrides)
    return tokens.mint(**values)


def test_a_token_says_what_it_binds() -> None:
    clock = ManualClock()
    tokens = UploadTokens([K1], clock)
    token, expires_at = mint(tokens)
    assert expires_at == int(clock.now()) + 3600
    claims = tokens.verify(token)
    assert (claims.kid, claims.file_id, claims.principal_id, claims.created_by) == (
        "k1", FILE, KEY, KEY)
    assert (claims.organization_id, claims.expires_at, claims.max_bytes) == (
        ORG, expires_at, 1 << 20)
    assert (claims.content_type, claims.filename) == ("image/*", "Résumé «final».pdf")
    assert token.isascii() and "/" not in token and "?" not in token


def test_the_creator_of_a_webhook_mint_and_of_none() -> None:
    tokens = UploadTokens([K1], ManualClock())
    assert tokens.verify(mint(tokens, principal_id=HOOK, created_by=KEY)[0]).created_by == KEY
    assert tokens.verify(mint(tokens, principal_id=HOOK, created_by=None)[0]).created_by is None
    assert tokens.verify(mint(tokens, content_type=None)[0]).content_type is None


def test_short_enough_for_a_url() -> None:
    token, _ = mint(UploadTokens([K1], ManualClock()), principal_id=HOOK,
                    filename="quarterly-report-2026-final-version-A.pdf",
                    content_type="application/pdf", max_bytes=10 * 1024**3)
    assert len(token) < 400


@pytest.mark.parametrize("field", range(9))
def test_changing_any_field_breaks_the_signature(field: int) -> None:
    tokens = UploadTokens([K1], ManualClock())
    parts = mint(tokens)[0].split(".")
    parts[field] = parts[field][:-1] + ("x" if parts[field][-1:] != "x" else "y")
    with pytest.raises(TokenInvalid):
        tokens.verify(".".join(parts))


def test_purposes_are_kept_apart() -> None:
    clock = ManualClock()
    uploads, downloads = UploadTokens([K1], clock), TokenService([K1], clock)
    upload_token, _ = mint(uploads)
    download_token = downloads.mint(file_id=FILE, filename="a.pdf", principal_id=KEY,
                                    ttl=3600).token
    with pytest.raises(TokenInvalid):
        uploads.verify(download_token)
    for style in ("current", "legacy"):
        with pytest.raises(TokenInvalid):
            downloads.verify(upload_token, filename="Résumé «final».pdf", style=style)


def test_expiry_leeway_and_a_far_future() -> None:
    clock = ManualClock()
    tokens = UploadTokens([K1], clock)
    token, expires_at = mint(tokens, ttl=60)
    clock.advance(60 + LEEWAY_SECONDS)
    assert tokens.verify(token).expires_at == expires_at
    clock.advance(1)
    with pytest.raises(TokenExpired) as raised:
        tokens.verify(token)
    assert raised.value.expired_at == expires_at
    # Signed by a clock two days ahead: refused, good signature or not.
    ahead = UploadTokens([K1], ManualClock(clock.now() + 2 * 86400))
    with pytest.raises(TokenInvalid):
        tokens.verify(mint(ahead)[0])


def test_rotation_and_dropping_a_key() -> None:
    clock = ManualClock()
    old_token, _ = mint(UploadTokens([K1], clock))
    assert UploadTokens([K2, K1], clock).verify(old_token).kid == "k1"
    with pytest.raises(TokenInvalid):
        UploadTokens([K2], clock).verify(old_token)


@pytest.mark.parametrize("token", ["", "x" * 5000, "é.a", "a.b.c", "k9." + "a." * 8 + "sig"])
def test_malformed_tokens_are_invalid(token: str) -> None:
    with pytest.raises(TokenInvalid):
        UploadTokens([K1], ManualClock()).verify(token)
