"""Cache-Control from the token's expiry, and the fixed security / CORS headers (SPEC §4)."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from files_service.delivery.caching import (
    CORS_HEADERS,
    PREFLIGHT_ALLOWED_HEADERS,
    SECURITY_HEADERS,
    cache_control,
    preflight_headers,
)

NOW = 1_700_000_000.25


@pytest.mark.parametrize(
    ("expires_at", "now", "mode", "expected"),
    [
        (1_700_021_600, NOW, "private", "private, max-age=21599"),
        (1_700_021_600, NOW, "public",
         "public, max-age=21599, s-maxage=21599, stale-while-revalidate=0, stale-if-error=0"),
        (1_700_000_100, 1_700_000_000.0, "private", "private, max-age=100"),
        (1_700_000_001, NOW, "private", "no-store"),  # 0.75 s left: less than a whole second
        (1_700_000_000, NOW, "public", "no-store"),  # inside the clock leeway after expiry
        (1_699_999_990, NOW, "private", "no-store"),
        (None, NOW, "private", "private, no-cache"),  # legacy: bound to an API key
        (None, NOW, "public", "private, no-cache"),
    ],
)
def test_cache_control(expires_at: int | None, now: float, mode: str, expected: str) -> None:
    assert cache_control(expires_at, now, mode=mode) == expected


def test_default_mode_is_private() -> None:
    assert cache_control(1_700_000_100, 1_700_000_000.0) == "private, max-age=100"


@pytest.mark.parametrize("mode", ["", "Public", "shared", "no-store"])
def test_unknown_mode_is_refused(mode: str) -> None:
    with pytest.raises(ValueError, match="cache mode"):
        cache_control(1_700_000_100, NOW, mode=mode)
    with pytest.raises(ValueError, match="cache mode"):
        cache_control(None, NOW, mode=mode)


@settings(max_examples=400, deadline=None)
@given(
    expires_at=st.integers(min_value=0, max_value=2**40),
    now=st.floats(min_value=0, max_value=2**40, allow_nan=False, allow_infinity=False),
    mode=st.sampled_from(["private", "public"]),
)
def test_max_age_never_outlives_the_token(expires_at: int, now: float, mode: str) -> None:
    value = cache_control(expires_at, now, mode=mode)
    left = Fraction(expires_at) - Fraction(now)  # exact, unlike a float subtraction
    if left < 1:
        assert value == "no-store"
        return
    ages = [int(n) for n in re.findall(r"max-?age=(\d+)", value)]
    assert value.startswith(f"{mode}, ")
    assert len(ages) == (2 if mode == "public" else 1)
    assert len(set(ages)) == 1
    # Whole seconds, rounded down: never past the expiry, and less than a second short.
    assert left - 1 < ages[0] <= left


def test_security_headers() -> None:
    assert dict(SECURITY_HEADERS) == {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }


def test_cors_headers() -> None:
    headers = dict(CORS_HEADERS)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in headers
    exposed = [name.strip() for name in headers["Access-Control-Expose-Headers"].split(",")]
    assert exposed == [
        "Content-Type",
        "Content-Length",
        "Content-Disposition",
        "Content-Range",
        "Accept-Ranges",
        "ETag",
        "Last-Modified",
        "Cache-Control",
    ]


def _allowed(headers: list[tuple[str, str]]) -> list[str]:
    return [n.strip() for n in dict(headers)["Access-Control-Allow-Headers"].split(",")]


def test_preflight_without_request_headers() -> None:
    headers = preflight_headers(None)
    as_dict = dict(headers)
    assert len(as_dict) == len(headers)  # no field twice
    assert as_dict["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert as_dict["Access-Control-Max-Age"] == "86400"
    assert _allowed(headers) == list(PREFLIGHT_ALLOWED_HEADERS)
    assert "Authorization" in _allowed(headers)
    # Sent alongside CORS_HEADERS, so it must not repeat Allow-Origin; and never credentials.
    assert "Access-Control-Allow-Origin" not in as_dict
    assert "Access-Control-Allow-Credentials" not in as_dict
    assert preflight_headers("") == headers


def test_preflight_echoes_only_valid_names() -> None:
    headers = preflight_headers("range, X-Requested-With,, if-none-match ,bad name,a\r\nb:c,é")
    assert _allowed(headers) == [*PREFLIGHT_ALLOWED_HEADERS, "x-requested-with"]


def test_preflight_echo_is_bounded() -> None:
    many = ", ".join(f"x-h{i}" for i in range(10_000))
    allowed = _allowed(preflight_headers(many))
    assert len(allowed) <= len(PREFLIGHT_ALLOWED_HEADERS) + 16
    assert all(len(name) <= 64 for name in allowed)
    assert _allowed(preflight_headers("x" * 10_000)) == list(PREFLIGHT_ALLOWED_HEADERS)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_preflight_never_writes_a_bad_header(value: str) -> None:
    for name, field in preflight_headers(value):
        assert re.fullmatch(r"[A-Za-z-]+", name)
        assert re.fullmatch(r"[ -~]*", field), field
