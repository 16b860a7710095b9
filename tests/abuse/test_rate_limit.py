"""``FILES_RATE_LIMIT`` (issue #6): failed token and key attempts per client address, counted in
fixed windows on the service's clock; over the limit, ``429`` with ``Retry-After`` and the code
``rate_limited`` on the download paths and the API alike, before any token or key work."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from files_service import get_rate_limiter, get_services
from files_service.cli import cli
from files_service.clock import ManualClock
from files_service.errors import SettingsError
from files_service.ratelimit import FailureLimiter, RateLimit, address_key, parse_rate_limit
from files_service.settings import Settings
from tests.conftest import World, make_world, path_of, sample

LIMIT = RateLimit(3, 60)
JSON_API = "application/vnd.api+json"
ELSEWHERE = "203.0.113.9"


def forged(token: str) -> str:
    """``token`` with its signature's last character changed."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def assert_rate_limited(response: Any, retry_after: int) -> dict[str, Any]:
    assert response.status_code == 429, response.data
    assert response.headers["Retry-After"] == str(retry_after)
    assert response.headers["Content-Type"] == JSON_API
    (error,) = json.loads(response.data)["errors"]
    assert (error["status"], error["code"]) == ("429", "rate_limited")
    return error  # type: ignore[no-any-return]


@pytest.fixture
def limited(make_app: Callable[..., Flask]) -> Flask:
    return make_app(rate_limit=LIMIT)


@pytest.fixture
def limited_world(limited: Flask) -> World:
    return make_world(get_services(limited))


class Calls:
    """How often the expensive checks ran: token verification and key lookups."""

    def __init__(self, app: Flask) -> None:
        services = get_services(app)
        self.verify = 0
        self.lookups = 0
        real_verify, real_lookup = services.tokens.verify, services.registry.authenticate

        def verify(*args: Any, **kwargs: Any) -> Any:
            self.verify += 1
            return real_verify(*args, **kwargs)

        def lookup(*args: Any, **kwargs: Any) -> Any:
            self.lookups += 1
            return real_lookup(*args, **kwargs)

        services.tokens.verify = verify  # type: ignore[method-assign]
        services.registry.authenticate = lookup  # type: ignore[method-assign]


# -- the limiter alone ---------------------------------------------------------------------


def test_the_limit_is_n_failures_per_window_then_the_window_closes():
    clock = ManualClock()
    limiter = FailureLimiter(LIMIT, clock)
    for _ in range(3):
        assert limiter.retry_after("192.0.2.1") is None
        limiter.failed("192.0.2.1")
    assert limiter.retry_after("192.0.2.1") == 60
    assert limiter.retry_after("192.0.2.2") is None  # per address
    clock.advance(59.5)
    assert limiter.retry_after("192.0.2.1") == 1  # whole seconds, rounded up
    clock.advance(0.5)
    assert limiter.retry_after("192.0.2.1") is None
    limiter.failed("192.0.2.1")  # a new window opens, with one failure in it
    assert limiter.retry_after("192.0.2.1") is None


def test_failures_spread_over_two_windows_are_not_added_up():
    clock = ManualClock()
    limiter = FailureLimiter(LIMIT, clock)
    limiter.failed("192.0.2.1")
    limiter.failed("192.0.2.1")
    clock.advance(60)
    limiter.failed("192.0.2.1")
    limiter.failed("192.0.2.1")
    assert limiter.retry_after("192.0.2.1") is None


def test_memory_is_bounded_and_the_soonest_closing_window_goes_first():
    clock = ManualClock()
    limiter = FailureLimiter(RateLimit(1, 60), clock, max_entries=100)
    for i in range(1000):
        clock.advance(0.01)
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
        assert limiter.entries <= 100
    assert limiter.retry_after("10.0.0.0") is None  # forgotten: the oldest
    assert limiter.retry_after("10.0.3.231") is not None  # the newest is still held
    clock.advance(61)
    limiter.failed("192.0.2.1")  # closed windows are dropped as new ones open
    assert limiter.entries == 1


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("not an address", "not an address"),
        ("x" * 500, "x" * 64),
        (None, ""),
    ],
)
def test_addresses_are_counted_by_what_one_client_controls(address, key):
    assert address_key(address) == key


def test_the_setting_is_parsed_and_checked():
    assert Settings.from_env({}).rate_limit is None
    assert Settings.from_env({"FILES_RATE_LIMIT": "off"}).rate_limit is None
    assert Settings.from_env({"FILES_RATE_LIMIT": " 20/60 "}).rate_limit == RateLimit(20, 60)
    assert str(parse_rate_limit("5/1")) == "5/1"
    for bad in ("20", "20/", "/60", "0/60", "20/0", "20/86401", "a/b", "-1/60", "20/60/1",
                "20 / 60", "1e3/60", "20/60s"):
        with pytest.raises(SettingsError) as refused:
            Settings.from_env({"FILES_RATE_LIMIT": bad})
        assert refused.value.name == "FILES_RATE_LIMIT"


def test_a_malformed_limit_refuses_to_start_in_one_line(tmp_path):
    env = {
        "FILES_DATABASE_URL": f"sqlite:///{tmp_path / 'files.db'}",
        "FILES_STORAGE": f"local://{tmp_path / 'objects'}",
        "FILES_VAR_DIR": str(tmp_path / "var"),
        "FILES_RATE_LIMIT": "twenty a minute",
    }
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code != 0
    (line,) = result.stderr.strip().splitlines()
    assert "FILES_RATE_LIMIT" in line


def test_off_by_default(app, client, world):
    assert get_rate_limiter(app) is None
    url = get_services(app).minter.mint(world.file, world.key).url
    for _ in range(50):
        assert client.get(forged(path_of(url))).status_code == 403
        assert client.get("/api/v1/files", headers={"Authorization": "Bearer fsk_no"}
                          ).status_code == 401
    assert client.get(path_of(url)).status_code == 200


# -- downloads --------------------------------------------------------------------------------


def test_bad_tokens_then_429_before_any_check_then_let_in_when_the_window_closes(
    limited, limited_world, clock
):
    services = get_services(limited)
    client = limited.test_client()
    good = path_of(services.minter.mint(limited_world.file, limited_world.key).url)
    for _ in range(3):
        assert client.get(forged(good)).status_code == 403
    calls = Calls(limited)
    refused = client.get(good)  # even a good token: nothing is checked for this address
    error = assert_rate_limited(refused, 60)
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert good.split("access_token=")[1] not in refused.get_data(as_text=True)
    assert error["detail"]
    assert (calls.verify, calls.lookups) == (0, 0)
    assert client.head(good).status_code == 429
    assert client.options(good).status_code == 204  # a preflight checks nothing: not limited
    # Another address is not affected.
    assert client.get(good, environ_base={"REMOTE_ADDR": ELSEWHERE}).status_code == 200
    clock.advance(30)
    assert_rate_limited(client.get(good), 30)
    clock.advance(30)
    response = client.get(good)
    assert response.status_code == 200 and response.data == limited_world.content
    assert sample(services, "files_rate_limited_total", surface="download") == 3
    assert sample(services, "files_downloads_total", outcome="rate_limited") == 3


def test_requests_without_a_token_or_with_a_genuine_one_are_not_counted(
    limited, limited_world, clock
):
    services = get_services(limited)
    client = limited.test_client()
    for _ in range(10):  # a browser asking the files host for its icon is no guess
        assert client.get("/favicon.ico").status_code == 403
        assert client.get("/report.pdf?access_token=").status_code == 403
    expired = path_of(services.minter.mint(limited_world.file, limited_world.key, ttl=5).url)
    clock.advance(3600)
    for _ in range(10):
        assert client.get(expired).status_code == 403
    services.registry.revoke_principal(limited_world.key.id)
    services.cache.forget_principal(limited_world.key.id)
    revoked = path_of(services.minter.mint(limited_world.file, limited_world.key).url)
    for _ in range(10):
        assert client.get(revoked).status_code == 403
    limiter = get_rate_limiter(limited)
    assert limiter is not None and limiter.entries == 0


def test_the_legacy_path_counts_bad_keys_and_bad_tokens(limited, limited_world):
    services = get_services(limited)
    client = limited.test_client()
    url = path_of(services.minter.mint(limited_world.file, limited_world.key, style="legacy").url)
    good_key = {"Authorization": f"Bearer {limited_world.secret}"}
    for _ in range(5):  # no key at all: 401, not a guess
        assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer fsk_wrong"}).status_code == 401
    assert client.get(url, headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401
    token = url.split("/")[4]
    assert client.get(url.replace(token, forged(token)), headers=good_key).status_code == 403
    calls = Calls(limited)
    assert_rate_limited(client.get(url, headers=good_key), 60)
    assert (calls.verify, calls.lookups) == (0, 0)


# -- the API ----------------------------------------------------------------------------------


def test_bad_keys_then_429_on_the_api_before_any_lookup(limited, limited_world, clock):
    services = get_services(limited)
    client = limited.test_client()
    good = {"Authorization": f"Bearer {limited_world.secret}"}
    for _ in range(5):
        assert client.get("/api/v1/files").status_code == 401  # no key: not counted
    for secret in ("fsk_unknown", limited_world.secret[:-1] + "x", "not-even-a-key"):
        assert client.get("/api/v1/files", headers={"Authorization": f"Bearer {secret}"}
                          ).status_code == 401
    calls = Calls(limited)
    refused = client.get("/api/v1/files", headers={**good, "Files-Version": "2025-06-01"})
    assert_rate_limited(refused, 60)
    assert calls.lookups == 0
    assert refused.headers["Files-Version"] == "2025-06-01"  # every API response names it
    assert "Files-Version" in refused.headers["Vary"]
    assert sample(services, "files_rate_limited_total", surface="api") == 1
    clock.advance(60)
    assert client.get("/api/v1/files", headers=good).status_code == 200


def test_one_count_per_address_across_downloads_and_the_api(limited, limited_world):
    services = get_services(limited)
    client = limited.test_client()
    good = path_of(services.minter.mint(limited_world.file, limited_world.key).url)
    client.get(forged(good))
    client.get(forged(good))
    client.get("/api/v1/files", headers={"Authorization": "Bearer fsk_unknown"})
    assert_rate_limited(
        client.get("/api/v1/files", headers={"Authorization": f"Bearer {limited_world.secret}"}),
        60,
    )
    assert_rate_limited(client.get(good), 60)


# -- the client address behind proxies ------------------------------------------------------


@pytest.mark.parametrize("hops", [0, 1, 2])
def test_the_address_is_the_forwarded_hop_the_setting_believes(make_app, hops):
    app = make_app(rate_limit=RateLimit(1, 60), trusted_proxies=hops)
    services = get_services(app)
    world = make_world(services)
    client = app.test_client()
    good = path_of(services.minter.mint(world.file, world.key).url)

    def get(path: str, chain: str) -> int:
        return client.get(path, headers={"X-Forwarded-For": chain}).status_code

    # The client forges the left of the chain; the proxies it passed append on the right.
    assert get(forged(good), "6.6.6.6, 10.0.0.2, 10.0.0.1") == 403
    # Forging another left part does not make another address...
    assert get(good, "7.7.7.7, 10.0.0.2, 10.0.0.1") == 429
    # ...but the hop the setting believes does (none: the peer's own address is the one).
    other_hop = {0: None, 1: "7.7.7.7, 10.0.0.2, 10.0.0.9", 2: "7.7.7.7, 10.0.0.9, 10.0.0.1"}
    if other_hop[hops] is not None:
        assert get(good, other_hop[hops]) == 200
    # Counted from the right, as ProxyFix does: the peer itself, or the hop'th forwarded one.
    believed = {0: "127.0.0.1", 1: "10.0.0.1", 2: "10.0.0.2"}[hops]
    limiter = get_rate_limiter(app)
    assert limiter is not None and limiter.retry_after(believed) == 60
    # The API (Flask, behind the same ProxyFix) sees the same address.
    auth = {"Authorization": f"Bearer {world.secret}"}
    assert client.get("/api/v1/files", headers={
        **auth, "X-Forwarded-For": "8.8.8.8, 10.0.0.2, 10.0.0.1"}).status_code == 429
