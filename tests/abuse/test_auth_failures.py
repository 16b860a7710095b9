"""Refused keys and tokens (issue #6): an unknown and a wrong API key take the very same code
path (one lookup of the secret's hash, the same SQL), get byte-identical answers, and every
refusal is counted in ``files_auth_failures_total`` under a fixed kind, with no secret in any
label.

The sameness is proven by what reaches the database, not by timing it: a timing assertion
would be flaky, and the lookup by hash makes the work independent of the secret by
construction. Every statement a request runs is recorded, with its parameters, from
SQLAlchemy's engine events."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from files_service.ids import hash_secret
from files_service.metrics import AUTH_FAILURE_KINDS
from files_service.services import Services
from tests.conftest import World, sample


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: tuple[Any, ...]


Trace = Callable[[Callable[[], Any]], tuple[list[Statement], Any]]


@pytest.fixture
def traced() -> Iterator[Trace]:
    """``traced(request)``: the statements ``request()`` ran against any database, in order,
    and what it returned."""
    seen: list[Statement] = []

    def on_execute(conn: Any, cursor: Any, sql: str, parameters: Any, *args: Any) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters
        seen.append(Statement(sql, tuple(values)))

    def trace(request: Callable[[], Any]) -> tuple[list[Statement], Any]:
        seen.clear()
        response = request()
        return list(seen), response

    event.listen(Engine, "before_cursor_execute", on_execute)
    yield trace
    event.remove(Engine, "before_cursor_execute", on_execute)


def key_lookup(statements: list[Statement], secret: str) -> list[Statement]:
    """The statements up to the lookup of ``secret``: there must be exactly one, by the
    secret's hash, and the secret itself must never reach the database."""
    lookups = [i for i, s in enumerate(statements) if hash_secret(secret) in s.parameters]
    assert len(lookups) == 1, statements
    assert not any(secret in map(str, s.parameters) for s in statements)
    return statements[: lookups[0] + 1]


def bad_secrets(world: World, services: Services) -> dict[str, str]:
    """Every kind of refused key a caller can send with the Bearer scheme."""
    revoked_key, revoked = services.registry.create_api_key(world.org.id, name="old")
    services.registry.revoke_principal(revoked_key.id)
    last = world.secret[-1]
    return {
        "unknown": "fsk_" + "Q" * 43,
        "wrong (one character off)": world.secret[:-1] + ("A" if last != "A" else "B"),
        "truncated": world.secret[:-5],
        "extended": world.secret + "x",
        "revoked": revoked,
        "not a key at all": "hunter2",
        "long": "fsk_" + "z" * 4000,
    }


@pytest.mark.parametrize("where", ["api", "legacy download"])
def test_unknown_and_wrong_keys_take_the_same_path(client, services, world, traced, where):
    if where == "api":
        path, headers = "/api/v1/versions", {"Files-Version": "2025-06-01"}
    else:
        url = services.minter.mint(world.file, world.key, style="legacy").url
        path, headers = urlsplit(url).path, {}
    good, ok = traced(lambda: client.get(
        path, headers={**headers, "Authorization": f"Bearer {world.secret}"}))
    assert ok.status_code == 200
    lookup = [statement.sql for statement in key_lookup(good, world.secret)]
    bodies = set()
    for kind, secret in bad_secrets(world, services).items():
        statements, response = traced(lambda s=secret: client.get(
            path, headers={**headers, "Authorization": f"Bearer {s}"}))
        assert response.status_code == 401, kind
        # One lookup by the secret's hash, running the very statements a good key's lookup
        # runs, and nothing else touching the database.
        assert key_lookup(statements, secret) == statements, kind
        assert [statement.sql for statement in statements] == lookup, kind
        bodies.add(response.data)
    assert len(bodies) == 1


SECRETISH = re.compile(r"fsk_[A-Za-z0-9_-]{8,}|k1\.file_")


def test_every_refusal_is_counted_under_a_fixed_kind_and_no_secret_reaches_a_label(
    app, client, services, world, clock
):
    minted = services.minter.mint(world.file, world.key)
    parts = urlsplit(minted.url)
    token = parts.query.removeprefix("access_token=")
    sent: list[str] = [world.secret, token]
    # API: no key, another scheme, an unknown key, a revoked key.
    revoked_key, revoked = services.registry.create_api_key(world.org.id)
    services.registry.revoke_principal(revoked_key.id)
    for authorization in (None, f"Basic {world.secret}", "Bearer fsk_" + "u" * 43,
                          f"Bearer {revoked}"):
        headers = {"Authorization": authorization} if authorization else {}
        assert client.get("/api/v1/files", headers=headers).status_code == 401
        sent.append(authorization or "")
    assert sample(services, "files_auth_failures_total", kind="api_key") == 4
    # Downloads: a tampered, an expired and a revoked token; a legacy URL with a bad key.
    assert client.get(f"{parts.path}?access_token={token[:-2]}").status_code == 403
    hook = services.registry.create_webhook(world.org.id, url="https://hooks.example.com/x")
    by_hook = urlsplit(services.minter.mint(world.file, hook).url)
    services.registry.revoke_principal(hook.id)
    assert client.get(f"{by_hook.path}?{by_hook.query}").status_code == 403
    clock.advance(86400 * 2)
    assert client.get(f"{parts.path}?{parts.query}").status_code == 403
    legacy = urlsplit(services.minter.mint(world.file, world.key, style="legacy").url).path
    assert client.get(legacy, headers={"Authorization": "Bearer fsk_" + "l" * 43}
                      ).status_code == 401
    counts = {kind: sample(services, "files_auth_failures_total", kind=kind)
              for kind in AUTH_FAILURE_KINDS}
    assert counts == {"api_key": 5, "invalid_token": 1, "expired_token": 1, "revoked_token": 1}
    exposition = client.get("/metrics").get_data(as_text=True)
    kinds = set(re.findall(r'files_auth_failures_total\{kind="([^"]*)"\}', exposition))
    assert kinds == set(AUTH_FAILURE_KINDS)
    for secret in sent:
        if secret:
            assert secret not in exposition
    assert not SECRETISH.search(exposition)
