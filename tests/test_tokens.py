"""Tokens (§3): binding, key rotation, expiry by a moved clock, stable URLs, size."""

import pytest

from files_service.clock import ManualClock
from files_service.errors import TokenExpired, TokenInvalid, ValidationError
from files_service.tokens import (
    CURRENT,
    LEEWAY_SECONDS,
    LEGACY,
    MAX_AHEAD_SECONDS,
    SigningKey,
    TokenService,
)

FILE = "file_" + "A" * 22
KEY = "key_" + "B" * 22
K1 = SigningKey("k1", b"1" * 32)
K2 = SigningKey("k2", b"2" * 32)


@pytest.fixture
def clock():
    return ManualClock(1_767_225_600)


def service(clock, *keys, bucket=300):
    return TokenService(keys or (K1,), clock, bucket_seconds=bucket)


def mint(svc, **kw):
    args = {"file_id": FILE, "filename": "report.pdf", "principal_id": KEY, "ttl": 21600}
    args.update(kw)
    return svc.mint(**args)


def test_round_trip_carries_the_claims(clock):
    svc = service(clock)
    minted = mint(svc, disposition="attachment")
    claims = svc.verify(minted.token, filename="report.pdf")
    assert (claims.file_id, claims.principal_id, claims.kid) == (FILE, KEY, "k1")
    assert claims.disposition == "attachment"
    assert claims.expires_at == minted.expires_at
    assert claims.style == CURRENT


def test_token_is_short_and_url_safe(clock):
    minted = mint(service(clock), filename="x" * 40)
    assert len(minted.token) < 300
    assert all(c.isalnum() or c in "-_." for c in minted.token)


@pytest.mark.parametrize("position", [0, 5, 30, 60, -1, -10])
def test_any_changed_character_is_refused(clock, position):
    svc = service(clock)
    token = mint(svc).token
    chars = list(token)
    chars[position] = "Z" if chars[position] != "Z" else "Y"
    with pytest.raises(TokenInvalid):
        svc.verify("".join(chars), filename="report.pdf")


def test_another_filename_is_refused(clock):
    svc = service(clock)
    token = mint(svc).token
    with pytest.raises(TokenInvalid):
        svc.verify(token, filename="report.PDF")


def test_styles_do_not_cross(clock):
    svc = service(clock)
    current = mint(svc).token
    legacy = mint(svc, style=LEGACY).token
    with pytest.raises(TokenInvalid):
        svc.verify(current, filename="report.pdf", style=LEGACY)
    with pytest.raises(TokenInvalid):
        svc.verify(legacy, filename="report.pdf", style=CURRENT)
    assert svc.verify(legacy, filename="report.pdf", style=LEGACY).expires_at is None


def test_legacy_tokens_do_not_expire_by_time(clock):
    svc = service(clock)
    legacy = mint(svc, style=LEGACY)
    assert legacy.expires_at is None
    clock.advance(365 * 86400)
    assert svc.verify(legacy.token, filename="report.pdf", style=LEGACY).file_id == FILE


def test_expiry_follows_the_clock(clock):
    svc = service(clock, bucket=0)
    minted = mint(svc, ttl=600)
    assert minted.expires_at == 1_767_225_600 + 600
    clock.advance(600 + LEEWAY_SECONDS)
    svc.verify(minted.token, filename="report.pdf")  # inside the leeway
    clock.advance(1)
    with pytest.raises(TokenExpired) as caught:
        svc.verify(minted.token, filename="report.pdf")
    assert caught.value.expired_at == minted.expires_at


def test_a_genuine_token_too_far_ahead_is_refused(clock):
    svc = service(clock, bucket=0)
    minted = mint(svc, ttl=MAX_AHEAD_SECONDS)
    svc.verify(minted.token, filename="report.pdf")
    clock.advance(-10)  # the server's clock stepped back: expiry is now > a day ahead
    with pytest.raises(TokenInvalid):
        svc.verify(minted.token, filename="report.pdf")


def test_rotation_old_keys_verify_new_key_signs_dropping_voids(clock):
    old = service(clock, K1)
    old_token = mint(old).token
    rotated = service(clock, K2, K1)
    assert rotated.verify(old_token, filename="report.pdf").kid == "k1"
    new_token = mint(rotated).token
    assert new_token.startswith("k2.")
    dropped = service(clock, K2)
    with pytest.raises(TokenInvalid):
        dropped.verify(old_token, filename="report.pdf")
    assert dropped.verify(new_token, filename="report.pdf").kid == "k2"


def test_same_kid_other_secret_is_refused(clock):
    token = mint(service(clock, K1)).token
    impostor = service(clock, SigningKey("k1", b"9" * 32))
    with pytest.raises(TokenInvalid):
        impostor.verify(token, filename="report.pdf")


def test_stable_urls_within_a_bucket(clock):
    svc = service(clock, bucket=300)
    first = mint(svc)
    clock.advance(100)
    assert mint(svc).token == first.token
    clock.advance(200)  # the next bucket: a new URL
    assert mint(svc).token != first.token
    # The expiry sits on a bucket edge, never later than the TTL allows.
    assert first.expires_at % 300 == 0
    assert first.expires_at <= 1_767_225_600 + 21600


def test_expiry_rounds_down_never_past_ttl(clock):
    clock.set(1_767_225_600 + 299)
    svc = service(clock, bucket=300)
    minted = mint(svc, ttl=3600)
    assert minted.expires_at == 1_767_225_600 + 3600
    assert minted.expires_at <= clock.now() + 3600
    clock.advance(1)
    assert mint(svc, ttl=3600).expires_at == 1_767_225_600 + 3900


def test_short_ttl_is_minted_exactly(clock):
    clock.set(1_767_225_600 + 17)
    svc = service(clock, bucket=300)
    assert mint(svc, ttl=599).expires_at == clock.now() + 599


def test_bucket_zero_turns_stability_off(clock):
    clock.set(1_767_225_600 + 17)
    assert mint(service(clock, bucket=0), ttl=3600).expires_at == clock.now() + 3600


@pytest.mark.parametrize(
    "garbage", ["", ".", "a.b.c.d.e.f", "k1" * 400, "k1.x.y.z.i.sig", "ü" * 10, "k1....."]
)
def test_garbage_is_invalid(clock, garbage):
    with pytest.raises(TokenInvalid):
        service(clock).verify(garbage, filename="report.pdf")


def test_non_utf8_filename_is_invalid(clock):
    svc = service(clock)
    token = mint(svc).token
    with pytest.raises(TokenInvalid):
        svc.verify(token, filename="\udcff")


def test_bad_disposition_is_a_validation_error(clock):
    with pytest.raises(ValidationError) as caught:
        mint(service(clock), disposition="download")
    assert caught.value.field == "url-disposition"
