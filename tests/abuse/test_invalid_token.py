"""A refused token says ``invalid_token`` and nothing more (§4, issue #6): whatever check
failed (signature, key id, filename, style, shape), the response is byte for byte the same, on
both download paths, so an attacker learns nothing about how close a guess came."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from files_service import get_services
from files_service.tokens import SigningKey
from tests.conftest import make_world

OTHER_KEY = SigningKey("k9", b"a-signing-secret-nobody-here-has!")


def swap_last(text: str) -> str:
    return text[:-1] + ("A" if text[-1] != "A" else "B")


def test_every_invalid_token_gets_the_same_bytes(make_app):
    app = make_app()
    services = get_services(app)
    world = make_world(services)
    # A service with another key ring, minting for the same file and key.
    stranger = get_services(make_app(signing_keys=(OTHER_KEY,)))
    client = app.test_client()
    legacy_key = {"Authorization": f"Bearer {world.secret}"}

    current = urlsplit(services.minter.mint(world.file, world.key).url)
    token = current.query.removeprefix("access_token=")
    legacy_token = urlsplit(
        services.minter.mint(world.file, world.key, style="legacy").url
    ).path.split("/")[4]
    foreign = stranger.tokens.mint(
        file_id=world.file.id, filename=world.file.filename, principal_id=world.key.id, ttl=600,
    ).token
    rest = token.split(".", 1)[1]
    name = quote(world.file.filename)

    current_cases = {
        "wrong signature": token[:-4] + "AAAA",
        "one character off": swap_last(token),
        "unknown key id": f"zz.{rest}",
        "signed by another ring": foreign,
        "legacy token on the current path": legacy_token,
        "payload edited": token.replace(world.file.id, world.file.id[:-1] + "x"),
        "malformed": "not-a-token",
        "too many parts": token + ".x",
        "empty": "",
        "non-ascii": token[:-1] + "é",
        "huge": "a" * 5000,
    }
    bodies = {}
    headers = {}
    for case, candidate in current_cases.items():
        response = client.get(f"/{name}?access_token={quote(candidate, safe='')}")
        assert response.status_code == 403, case
        bodies[case] = response.data
        headers[case] = sorted(response.headers.items())
    # Another filename with the genuine token.
    response = client.get(f"/other.pdf?access_token={token}")
    bodies["wrong filename"], headers["wrong filename"] = response.data, sorted(
        response.headers.items()
    )
    # No token at all.
    response = client.get(f"/{name}")
    bodies["no token"], headers["no token"] = response.data, sorted(response.headers.items())

    legacy_cases = {
        "current token on the legacy path": token,
        "wrong signature": swap_last(legacy_token),
        "unknown key id": "zz." + legacy_token.split(".", 1)[1],
        "malformed": "garbage",
    }
    for case, candidate in legacy_cases.items():
        response = client.get(f"/api/v1/files/{quote(candidate, safe='')}/{name}",
                              headers=legacy_key)
        assert response.status_code == 403, case
        bodies[f"legacy: {case}"] = response.data
        headers[f"legacy: {case}"] = sorted(response.headers.items())
    response = client.get(f"/api/v1/files/{legacy_token}/other.pdf", headers=legacy_key)
    bodies["legacy: wrong filename"] = response.data
    headers["legacy: wrong filename"] = sorted(response.headers.items())

    assert len(set(bodies.values())) == 1, bodies
    assert len({tuple(h) for h in headers.values()}) == 1, headers
    only = next(iter(bodies.values()))
    assert b'"code": "invalid_token"' in only
    # The genuine URLs still work: the refusals above were not about the file.
    assert client.get(f"{current.path}?{current.query}").status_code == 200
    assert client.get(f"/api/v1/files/{legacy_token}/{name}", headers=legacy_key
                      ).status_code == 200
