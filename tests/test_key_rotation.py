"""The two-phase rotation of docs/tokens.md, on two replicas (two apps on one registry and one
storage) restarted one after the other: at every step, a URL minted by either replica downloads
from both. And ``files_token_verifications_total{kid}`` tells when the old key is idle.

The one-phase rotation the docs used to give (put the new key first on each replica in turn)
fails the same check: it is kept here as the counter-example."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask

from files_service import get_services
from files_service.registry import Registry
from files_service.settings import SigningKey
from files_service.upload_urls import mint_upload_url
from tests.conftest import World, make_world

OLD = SigningKey("k1", b"old-signing-secret-of-32-bytes!!!")
NEW = SigningKey("k2", b"new-signing-secret-of-32-bytes!!!")

# Each phase is one rolling restart: replica A restarts first, then replica B. Every state the
# fleet passes through is listed: (A's ring, B's ring).
TWO_PHASE = [
    ((OLD,), (OLD,)),            # before
    ((OLD, NEW), (OLD,)),        # phase 1: the new key added second, A restarted
    ((OLD, NEW), (OLD, NEW)),    # phase 1 done: everyone verifies k2, nobody signs with it
    ((NEW, OLD), (OLD, NEW)),    # phase 2: the new key first, A restarted
    ((NEW, OLD), (NEW, OLD)),    # phase 2 done
    ((NEW,), (NEW, OLD)),        # phase 3, a day later: the old key dropped, A restarted
    ((NEW,), (NEW,)),            # done
]
ONE_PHASE = [((OLD,), (OLD,)), ((NEW, OLD), (OLD,))]


def path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def replicas(make_app: Callable[..., Flask], registry: Registry, state) -> tuple[Flask, Flask]:
    ring_a, ring_b = state
    return (make_app(registry=registry, signing_keys=ring_a),
            make_app(registry=registry, signing_keys=ring_b))


def failures(make_app, registry: Registry, world: World, states) -> list[str]:
    """What went wrong across ``states``: a URL minted by one replica refused by the other,
    or by a later state of the fleet (URLs live on while replicas restart)."""
    wrong = []
    minted: list[tuple[str, str]] = []  # (when, url) of every URL minted so far
    for index, state in enumerate(states):
        apps = replicas(make_app, registry, state)
        for name, app in zip("AB", apps, strict=True):
            services = get_services(app)
            url = services.minter.mint(world.file, world.key).url
            minted.append((f"state {index}, replica {name}", url))
        # The URLs of this state and of the one before (minted moments before a restart)
        # must work on both replicas. Older ones may have been signed by a key phase 3 drops,
        # which voids them on purpose, a day after the last was minted.
        for when, url in minted[-4:]:
            for name, app in zip("AB", apps, strict=True):
                status = app.test_client().get(path(url)).status_code
                if status != 200:
                    wrong.append(f"state {index}: replica {name} answers {status} to {when}")
    return wrong


def test_the_two_phase_rotation_never_breaks_a_url(make_app, base_settings, clock):
    registry = Registry(base_settings.database_url, clock=clock)
    registry.init()
    world = make_world(get_services(make_app(registry=registry)))
    assert failures(make_app, registry, world, TWO_PHASE) == []


def test_the_one_phase_rotation_did(make_app, base_settings, clock):
    registry = Registry(base_settings.database_url, clock=clock)
    registry.init()
    world = make_world(get_services(make_app(registry=registry)))
    assert failures(make_app, registry, world, ONE_PHASE) == [
        "state 1: replica B answers 403 to state 1, replica A",
    ]


def test_verifications_are_counted_by_key_id(make_app, base_settings, clock):
    app = make_app(signing_keys=(NEW, OLD))
    services = get_services(app)
    world = make_world(services)
    old_minter = get_services(make_app(registry=services.registry, signing_keys=(OLD,))).minter
    client = app.test_client()
    for _ in range(3):
        assert client.get(path(services.minter.mint(world.file, world.key).url)).status_code == 200
    old_url = path(old_minter.mint(world.file, world.key).url)
    assert client.get(old_url).status_code == 200
    tampered = old_url[:-3] + ("AAA" if not old_url.endswith("AAA") else "BBB")
    assert client.get(tampered).status_code == 403  # a bad signature is not a verification
    scrape = client.get("/metrics").get_data(as_text=True)
    assert 'files_token_verifications_total{kid="k2"} 3.0' in scrape
    assert 'files_token_verifications_total{kid="k1"} 1.0' in scrape
    assert world.secret not in scrape
    assert old_url.split("access_token=")[1] not in scrape


def test_upload_urls_count_as_verifications_of_their_key(make_app, base_settings, clock):
    # A live upload URL signed by the old key keeps it busy: its count must rise too, or an
    # operator would drop the key under it.
    app = make_app(signing_keys=(NEW, OLD))
    services = get_services(app)
    world = make_world(services)
    old_services = get_services(make_app(registry=services.registry, signing_keys=(OLD,)))
    minted = mint_upload_url(old_services, world.key, world.key, filename="late.txt")
    client = app.test_client()
    response = client.put(urlsplit(minted.url).path, data=b"hello",
                          headers={"Content-Type": "text/plain"})
    assert response.status_code == 201, response.get_data(as_text=True)
    scrape = client.get("/metrics").get_data(as_text=True)
    assert 'files_token_verifications_total{kid="k1"} 1.0' in scrape
    assert urlsplit(minted.url).path.rsplit("/", 1)[1] not in scrape
