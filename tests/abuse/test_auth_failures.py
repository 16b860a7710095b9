"""Refused keys and tokens (issue #6): an unknown and a wrong API key take the very same code
path (one hash, one lookup, the same SQL), get byte-identical answers, and every refusal is
counted in ``files_auth_failures_total`` under a fixed kind, with no secret in any label.

The sameness is proven by counting what runs, not by timing it: a timing assertion would be
flaky, and the lookup by hash makes the work independent of the secret by construction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event

import files_service.registry.sql as registry_sql
from files_service.metrics import AUTH_FAILURE_KINDS
from files_service.services import Services
from tests.conftest import World, sample


@dataclass
class Trace:
    """What one request did on the way to its answer."""

    hashes: int = 0
    lookups: int = 0
    statements: list[str] = field(default_factory=list)  # every one the request ran
    in_lookup: list[str] = field(default_factory=list)  # those the key lookup ran
    looking_up: bool = False


@pytest.fixture
def tracer(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Trace]:
    """Records hashes of secrets, registry key lookups and SQL statements (their text, not
    their parameters) into the current ``Trace`` (replace ``tracer.__dict__`` to reset)."""
    trace = Trace()
    real_hash, real_lookup = registry_sql.hash_secret, services.registry.authenticate

    def hashing(secret: str) -> str:
        trace.hashes += 1
        return real_hash(secret)

    def lookup(secret: str) -> Any:
        trace.lookups += 1
        trace.looking_up = True
        try:
            return real_lookup(secret)
        finally:
            trace.looking_up = False

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        trace.statements.append(statement)
        if trace.looking_up:
            trace.in_lookup.append(statement)

    monkeypatch.setattr(registry_sql, "hash_secret", hashing)
    monkeypatch.setattr(services.registry, "authenticate", lookup)
    engine = services.registry._engine
    event.listen(engine, "before_cursor_execute", on_execute)
    yield trace
    event.remove(engine, "before_cursor_execute", on_execute)


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


def traced(tracer: Trace, request: Any) -> tuple[Trace, Any]:
    tracer.__dict__.update(Trace().__dict__)
    response = request()
    return Trace(**{**tracer.__dict__, "statements": list(tracer.statements),
                    "in_lookup": list(tracer.in_lookup)}), response


def test_unknown_and_wrong_keys_take_the_same_path_on_the_api(client, services, world, tracer):
    headers = {"Files-Version": "2025-06-01"}
    good, _ = traced(tracer, lambda: client.get(
        "/api/v1/versions", headers={**headers, "Authorization": f"Bearer {world.secret}"}))
    assert (good.hashes, good.lookups) == (1, 1)
    assert any("secret_hash" in statement for statement in good.in_lookup)
    bodies = set()
    for kind, secret in bad_secrets(world, services).items():
        trace, response = traced(tracer, lambda s=secret: client.get(
            "/api/v1/versions", headers={**headers, "Authorization": f"Bearer {s}"}))
        assert response.status_code == 401, kind
        # One hash and one lookup running the very statements a good key's lookup runs,
        # and nothing else touching the database.
        assert (trace.hashes, trace.lookups) == (1, 1), kind
        assert trace.in_lookup == good.in_lookup, kind
        assert trace.statements == trace.in_lookup, kind
        bodies.add(response.data)
    assert len(bodies) == 1


def test_unknown_and_wrong_keys_take_the_same_path_on_the_legacy_download(
    client, services, world, tracer
):
    url = services.minter.mint(world.file, world.key, style="legacy").url
    path = urlsplit(url).path
    good, ok = traced(tracer, lambda: client.get(
        path, headers={"Authorization": f"Bearer {world.secret}"}))
    assert ok.status_code == 200
    bodies = set()
    for kind, secret in bad_secrets(world, services).items():
        trace, response = traced(tracer, lambda s=secret: client.get(
            path, headers={"Authorization": f"Bearer {s}"}))
        assert response.status_code == 401, kind
        assert (trace.hashes, trace.lookups) == (1, 1), kind
        assert trace.in_lookup == good.in_lookup, kind
        assert trace.statements == trace.in_lookup, kind
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
