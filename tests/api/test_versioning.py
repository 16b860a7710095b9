"""Dated versions through the API (§6): the three sources and their precedence, the
principal's version, pinning (atomic, once, surviving restarts and releases), resolution of
unreleased dates, refusals, retired versions, deprecation headers, ``unstable``, and
``Files-Version`` / ``Vary`` on every response."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from files_service import get_services
from files_service.api.context import api_config
from files_service.cli import cli
from files_service.errors import SettingsError
from files_service.registry import Registry
from files_service.services import Services
from files_service.settings import Settings
from files_service.versioning import BUNDLE, VersionBundle, VersionChange
from files_service.versioning.resolve import VersionDates
from tests.api.conftest import ApiClient, error_of
from tests.conftest import World
from tests.registry.conftest import PG_ENV, PG_SKIP_REASON, isolated_postgres_url

SUPPORTED = list(BUNDLE.versions)
NEWEST = BUNDLE.newest  # what an unversioned first request pins (under the test clock)


def older_release() -> VersionBundle:
    """The bundle of a release of the code before 2025-06-01 existed."""
    return VersionBundle(
        versions=("2023-01-05", "2022-09-01"),
        changes=tuple(c for c in BUNDLE.changes if c.version <= "2023-01-05"),
        first_description=BUNDLE.first_description,
    )


def newer_release() -> VersionBundle:
    """The bundle of a later release that brought a version after 2025-06-01."""
    return VersionBundle(
        versions=("2025-12-31", *BUNDLE.versions),
        changes=BUNDLE.changes,
        first_description=BUNDLE.first_description,
    )


@pytest.fixture
def fresh(services: Services, world: World, app: Flask, validate: Any) -> tuple[str, ApiClient]:
    """A new, unpinned API key of the world's organization and a client for it."""
    key, secret = services.registry.create_api_key(world.org.id, name="fresh")
    return key.id, ApiClient(app, validate, secret)


def org_path(world: World) -> str:
    return f"/api/v1/organizations/{world.org.id}"


def file_path(world: World) -> str:
    return f"/api/v1/files/{world.file.id}"


# -- choosing the version ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Files-Version": "2023-01-05"}, ""),
        ({"Accept": "application/vnd.files.2023-01-05+json"}, ""),
        ({}, "?api-version=2023-01-05"),
        ({"Files-Version": "2023-01-05", "Accept": "application/vnd.files.2023-01-05+json"},
         "?api-version=2023-01-05"),
    ],
)
def test_each_source_names_the_version(api: ApiClient, world: World, headers, query):
    response = api.get(file_path(world) + query, headers=headers)
    assert response.status_code == 200
    assert response.headers["Files-Version"] == "2023-01-05"
    assert isinstance(response.get_json(force=True)["data"]["attributes"]["checksum"], str)


@pytest.mark.parametrize(
    ("headers", "query", "source"),
    [
        ({"Files-Version": "2023-01-05", "Accept": "application/vnd.files.2022-09-01+json"}, "",
         {"header": "Accept"}),
        ({"Files-Version": "2023-01-05"}, "?api-version=2025-06-01", {"parameter": "api-version"}),
        ({"Accept": "application/vnd.files.2023-01-05+json"}, "?api-version=2025-06-01",
         {"parameter": "api-version"}),
    ],
)
def test_sources_that_disagree_are_refused(api: ApiClient, world: World, headers, query,
                                           source):
    response = api.get(file_path(world) + query, headers=headers)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "conflicting_api_versions"
    assert error["source"] == source
    assert "Files-Version" not in response.headers  # the version itself is at fault


def test_the_request_overrides_the_principal(api: ApiClient, world: World):
    assert api.get(file_path(world)).headers["Files-Version"] == "2025-06-01"  # the key's pin
    assert api.get(file_path(world), version="2022-09-01").headers["Files-Version"] == (
        "2022-09-01")


def test_the_principals_version_applies(api: ApiClient, world: World, make_key, app, validate):
    _, secret = make_key(world.org, version="2022-09-01")
    response = api.as_caller(secret).get(file_path(world))
    assert response.headers["Files-Version"] == "2022-09-01"
    assert "/api/v1/files/" in response.get_json(force=True)["data"]["attributes"]["url"]


# -- pinning -----------------------------------------------------------------------------------


def test_a_first_unversioned_request_pins_the_newest_release(
    fresh: tuple[str, ApiClient], services: Services, world: World
):
    key_id, client = fresh
    assert services.registry.get_principal(key_id).api_version is None
    response = client.get(org_path(world))
    assert response.headers["Files-Version"] == BUNDLE.newest
    assert services.registry.get_principal(key_id).api_version == BUNDLE.newest
    shown = client.get(f"/api/v1/api-keys/{key_id}").get_json(force=True)
    assert shown["data"]["attributes"]["api-version"] == BUNDLE.newest


def test_an_explicit_version_never_pins(fresh: tuple[str, ApiClient], services: Services,
                                        world: World):
    key_id, client = fresh
    for headers, query in (({"Files-Version": "2023-01-05"}, ""),
                           ({"Accept": "application/vnd.files.2023-01-05+json"}, ""),
                           ({}, "?api-version=2023-01-05")):
        assert client.get(org_path(world) + query, headers=headers).status_code == 200
    bad = client.get(org_path(world), version="1999-01-01")
    assert bad.status_code == 400
    assert services.registry.get_principal(key_id).api_version is None


def test_a_refused_request_does_not_pin(services: Services, world: World, anonymous):
    key, _ = services.registry.create_api_key(world.org.id)
    anonymous.get(org_path(world))
    assert services.registry.get_principal(key.id).api_version is None


def test_a_later_release_never_moves_a_pin(fresh: tuple[str, ApiClient], services: Services,
                                           world: World, app: Flask):
    key_id, client = fresh
    assert client.get(org_path(world)).headers["Files-Version"] == NEWEST
    api_config(app).bundle = newer_release()
    assert client.get(org_path(world)).headers["Files-Version"] == NEWEST
    _, newcomer = services.registry.create_api_key(world.org.id)
    assert client.as_caller(newcomer).get(org_path(world)).headers["Files-Version"] == (
        "2025-12-31")
    assert services.registry.get_principal(key_id).api_version == NEWEST


def test_a_release_dated_after_today_is_not_pinned_yet(
    fresh: tuple[str, ApiClient], services: Services, world: World, app: Flask
):
    """Code deployed ahead of its newest version's date pins the release before it."""
    key_id, client = fresh
    api_config(app).bundle = VersionBundle(
        versions=("2026-06-01", *BUNDLE.versions), changes=BUNDLE.changes,
        first_description=BUNDLE.first_description,
    )
    assert client.get(org_path(world)).headers["Files-Version"] == NEWEST
    assert services.registry.get_principal(key_id).api_version == NEWEST
    early = client.get(org_path(world), version="2026-06-01")
    assert early.status_code == 400 and error_of(early)["code"] == "invalid_api_version"


def test_a_pin_survives_a_restart(make_app: Callable[..., Flask], validate: Any, clock,
                                  base_settings: Settings):
    first = make_app()
    registry = get_services(first).registry
    org = registry.create_organization("Acme")
    key, secret = registry.create_api_key(org.id)
    client = ApiClient(first, validate, secret)
    assert client.get(f"/api/v1/organizations/{org.id}").headers["Files-Version"] == NEWEST
    get_services(first).close()

    restarted = make_app()  # a new process on the same database file, of a later release
    api_config(restarted).bundle = newer_release()
    again = ApiClient(restarted, validate, secret)
    assert again.get(f"/api/v1/organizations/{org.id}").headers["Files-Version"] == NEWEST
    fresh = Registry(base_settings.database_url, clock=clock)
    try:
        assert fresh.get_principal(key.id).api_version == NEWEST
    finally:
        fresh.dispose()


def test_keys_set_version_changes_the_pin(api: ApiClient, world: World, tmp_path: Path,
                                          base_settings: Settings):
    env = {
        "FILES_DATABASE_URL": base_settings.database_url,
        "FILES_STORAGE": base_settings.storage_url,
        "FILES_VAR_DIR": str(tmp_path / "cli-var"),
        "FILES_SIGNING_KEYS": "c1:" + "c" * 32,
    }
    result = CliRunner().invoke(cli, ["keys", "set-version", world.key.id, "2022-09-01"],
                                env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    response = api.get(file_path(world))
    assert response.headers["Files-Version"] == "2022-09-01"
    assert response.get_json(force=True)["data"]["attributes"]["url-expires-at"] is None


def test_a_webhook_mint_pins_the_webhook_not_the_key(
    fresh: tuple[str, ApiClient], services: Services, world: World
):
    key_id, client = fresh
    hook = services.registry.create_webhook(world.org.id, url="https://example.com/h")
    response = client.get(f"{file_path(world)}?webhook-id={hook.id}")
    assert response.headers["Files-Version"] == BUNDLE.newest
    assert services.registry.get_principal(hook.id).api_version == BUNDLE.newest
    assert services.registry.get_principal(key_id).api_version is None


def race_first_requests(apps: list[Flask], validate: Any, secret: str, path: str,
                        threads: int = 8) -> list[tuple[int, str]]:
    """Fire ``threads`` first requests at once, spread over ``apps``: which app answered
    each, and the Files-Version it answered with."""
    barrier = threading.Barrier(threads)
    answers: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def fire(index: int) -> None:
        try:
            client = ApiClient(apps[index], validate, secret)
            barrier.wait()
            response = client.get(path)
            assert response.status_code == 200, response.data
            answers.append((index, response.headers["Files-Version"]))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=fire, args=(n % len(apps),)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert not errors, errors
    assert len(answers) == threads
    return answers


# What each replica serves for each value the race may have pinned: the newer release serves
# either as it is; the older one knows no 2025-06-01 and serves it as the release before.
SERVED = [
    {NEWEST: NEWEST, "2023-01-05": "2023-01-05"},
    {NEWEST: "2023-01-05", "2023-01-05": "2023-01-05"},
]


@pytest.mark.parametrize(
    "backend",
    ["sqlite", pytest.param("postgresql", marks=[
        pytest.mark.postgres, pytest.mark.skipif(not os.environ.get(PG_ENV), reason=PG_SKIP_REASON)
    ])],
)
def test_replicas_racing_to_pin_pin_once(backend: str, make_app: Callable[..., Flask],
                                         validate: Any, base_settings: Settings):
    """Two replicas (two apps, two registries, one database), the second still on an older
    release (a rolling deploy) whose newest version differs: exactly one value is pinned,
    and every response of the race serves that value, whichever replica won."""

    def run(database_url: str) -> None:
        replicas = [make_app(database_url=database_url), make_app(database_url=database_url)]
        api_config(replicas[1]).bundle = older_release()
        registry = get_services(replicas[0]).registry
        org = registry.create_organization("Race")
        for _ in range(6):
            key, secret = registry.create_api_key(org.id)
            answers = race_first_requests(replicas, validate, secret,
                                          f"/api/v1/organizations/{org.id}")
            stored = get_services(replicas[1]).registry.get_principal(key.id).api_version
            assert stored in (NEWEST, "2023-01-05")
            for index, version in answers:
                assert version == SERVED[index][stored], (answers, stored)
            # Later requests on either replica keep to it.
            for index, app in enumerate(replicas):
                later = ApiClient(app, validate, secret).get(f"/api/v1/organizations/{org.id}")
                assert later.headers["Files-Version"] == SERVED[index][stored]

    if backend == "sqlite":
        run(base_settings.database_url)
    else:
        with isolated_postgres_url(os.environ[PG_ENV]) as url:
            run(url)


def test_a_racer_that_loses_serves_the_winners_version(
    fresh: tuple[str, ApiClient], services: Services, world: World,
    monkeypatch: pytest.MonkeyPatch,
):
    """Deterministically: another replica (of an older release) pins between this replica's
    resolution and its own pin; this request then serves the other's value, not its own."""
    key_id, client = fresh
    registry = services.registry
    pin = registry.pin_principal_version

    def lose(ident: str, version: str) -> str:
        assert pin(ident, "2023-01-05") == "2023-01-05"  # the other replica got there first
        return pin(ident, version)

    monkeypatch.setattr(registry, "pin_principal_version", lose)
    response = client.get(file_path(world))
    assert response.headers["Files-Version"] == "2023-01-05"
    assert isinstance(response.get_json(force=True)["data"]["attributes"]["checksum"], str)
    assert registry.get_principal(key_id).api_version == "2023-01-05"


# -- resolving dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "served"),
    [
        ("2022-09-01", "2022-09-01"),
        ("2022-12-31", "2022-09-01"),
        ("2023-01-05", "2023-01-05"),
        ("2024-02-29", "2023-01-05"),
        ("2025-05-31", "2023-01-05"),
        ("2025-06-01", "2025-06-01"),
        ("2026-01-01", NEWEST),  # today, on the test clock
    ],
)
def test_a_date_is_served_as_the_closest_earlier_release(api: ApiClient, world: World, asked,
                                                         served):
    response = api.get(file_path(world), version=asked)
    assert response.status_code == 200
    assert response.headers["Files-Version"] == served


@pytest.mark.parametrize(
    ("headers", "query", "source"),
    [
        ({"Files-Version": "banana"}, "", {"header": "Files-Version"}),
        ({"Files-Version": "2023-1-5"}, "", {"header": "Files-Version"}),
        ({"Files-Version": "2023-02-30"}, "", {"header": "Files-Version"}),
        ({"Files-Version": "2026-01-02"}, "", {"header": "Files-Version"}),  # the future
        ({"Files-Version": "2022-08-31"}, "", {"header": "Files-Version"}),  # before the first
        ({"Accept": "application/vnd.files.nope+json"}, "", {"header": "Accept"}),
        ({}, "?api-version=9999-01-01", {"parameter": "api-version"}),
        ({}, "?api-version=2023-01-05&api-version=2023-01-05", {"parameter": "api-version"}),
        ({"Files-Version": "unstable"}, "", {"header": "Files-Version"}),  # not enabled
    ],
)
def test_bad_versions_are_refused_listing_the_supported_ones(api: ApiClient, world: World,
                                                             headers, query, source):
    response = api.get(file_path(world) + query, headers=headers)
    assert response.status_code == 400
    error = error_of(response)
    assert error["source"] == source
    if error["code"] != "invalid_parameter":
        assert error["code"] == "invalid_api_version"
        assert error["meta"]["supported-versions"] == SUPPORTED
        assert ", ".join(SUPPORTED) in error["detail"]
    assert "Files-Version" not in response.headers
    assert "Files-Version" in response.headers["Vary"]


DATES = {
    "2022-09-01": VersionDates(date(2024, 1, 1), date(2025, 1, 1)),  # retired by 2026-01-01
    "2023-01-05": VersionDates(date(2025, 7, 1), date(2026, 6, 30)),  # deprecated
}


def test_a_retired_version_is_refused_by_default(make_app, validate, world_factory):
    app = make_app(version_dates=DATES)
    world, client = world_factory(app)
    response = client.get(file_path(world), version="2022-10-01")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "retired_api_version"
    assert error["source"] == {"header": "Files-Version"}
    assert error["meta"]["supported-versions"] == [v for v in BUNDLE.versions if v != "2022-09-01"]
    assert "Files-Version" not in response.headers


def test_a_retired_version_falls_forward_where_set(make_app, validate, world_factory):
    app = make_app(version_dates=DATES, retired_versions="fall-forward")
    world, client = world_factory(app)
    response = client.get(file_path(world), version="2022-09-01")
    assert response.status_code == 200
    assert response.headers["Files-Version"] == "2023-01-05"  # the oldest supported
    attributes = response.get_json(force=True)["data"]["attributes"]
    assert "access_token=" in attributes["url"]


def test_a_pin_on_a_retired_version(make_app, validate, world_factory):
    app = make_app(version_dates=DATES)
    world, _ = world_factory(app)
    registry = get_services(app).registry
    _, secret = registry.create_api_key(world.org.id, api_version="2022-09-01")
    response = ApiClient(app, validate, secret).get(file_path(world))
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "retired_api_version" and "source" not in error
    forward = make_app(version_dates=DATES, retired_versions="fall-forward")
    response = ApiClient(forward, validate, secret).get(file_path(world))
    assert response.headers["Files-Version"] == "2023-01-05"


def test_a_deprecated_version_says_so(make_app, validate, world_factory):
    app = make_app(version_dates=DATES)
    world, client = world_factory(app)
    response = client.get(file_path(world), version="2023-01-05")
    assert response.status_code == 200
    assert response.headers["Deprecation"] == "@1751328000"  # 2025-07-01T00:00:00Z
    assert response.headers["Sunset"] == "Tue, 30 Jun 2026 00:00:00 GMT"
    assert parsedate_to_datetime(response.headers["Sunset"]).date() == date(2026, 6, 30)
    assert response.headers["Link"] == (
        '<https://api.example.com/api/v1/versions>; rel="deprecation"')
    error = client.get("/api/v1/files/file_nope", version="2023-01-05")
    assert error.status_code == 404 and error.headers["Deprecation"] == "@1751328000"
    current = client.get(file_path(world), version="2025-06-01")
    for name in ("Deprecation", "Sunset", "Link"):
        assert name not in current.headers
    versions = client.get("/api/v1/versions").get_json(force=True)["data"]
    statuses = {item["id"]: item["attributes"]["status"] for item in versions}
    assert (statuses["2023-01-05"], statuses["2022-09-01"]) == ("deprecated", "retired")
    assert statuses[NEWEST] == "current"


def test_version_dates_are_checked_at_start():
    with pytest.raises(SettingsError, match="FILES_VERSION_DATES"):
        Settings.from_env({"FILES_VERSION_DATES": "2022-09-01:2026-06-01:2026-01-01"})
    with pytest.raises(SettingsError, match="FILES_VERSION_DATES"):
        Settings.from_env({"FILES_VERSION_DATES": "2021-01-01:2026-06-01:2027-01-01"})


def test_unstable_only_where_enabled(make_app, validate, world_factory):
    app = make_app(enable_unstable=True)
    world, client = world_factory(app)
    response = client.get(file_path(world), version="unstable")
    assert response.status_code == 200
    assert response.headers["Files-Version"] == "unstable"
    versions = client.get("/api/v1/versions").get_json(force=True)["data"]
    assert versions[0]["id"] == "unstable"
    _, unpinned = get_services(app).registry.create_api_key(world.org.id)
    # Pins go to the newest release, never to unstable.
    assert client.as_caller(unpinned).get(file_path(world)).headers["Files-Version"] == (
        NEWEST)


@pytest.fixture
def world_factory(validate: Any) -> Callable[[Flask], tuple[World, ApiClient]]:
    """A world (org, key pinned to 2025-06-01, file) in a given app, and a client for it."""
    from tests.conftest import make_world

    def make(app: Flask) -> tuple[World, ApiClient]:
        world = make_world(get_services(app))
        return world, ApiClient(app, validate, world.secret)

    return make


# -- Files-Version and Vary on every response --------------------------------------------------


def test_every_response_names_its_version(api: ApiClient, world: World, anonymous: ApiClient,
                                          app: Flask):
    cases = [
        api.get("/api/v1/files/file_nope"),  # 404
        api.get("/api/v1/nothing-here"),  # 404 of routing
        api.request("PUT", "/api/v1/files"),  # 405
        api.get(file_path(world), headers={"Accept": "text/html"}),  # 406
        api.post("/api/v1/files", data=b"x", headers={"Content-Type": "text/plain"}),  # 415
        api.get("/api/v1/files?sort=name"),  # 400 on a parameter
        api.delete(file_path(world)),  # 204
        api.get("/api/v1/openapi.json"),
    ]
    for response in cases:
        assert response.headers["Files-Version"] == "2025-06-01", response.status_code
        assert response.headers["Vary"] == "Files-Version, Accept"
    assert [r.status_code for r in cases] == [404, 404, 405, 406, 415, 400, 204, 200]


def test_a_401_names_the_version_only_where_the_request_named_one(anonymous: ApiClient,
                                                                  world: World):
    plain = anonymous.get(file_path(world))
    assert plain.status_code == 401
    assert plain.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Files-Version" not in plain.headers
    named = anonymous.get(file_path(world), version="2024-01-01")
    assert named.status_code == 401
    assert named.headers["Files-Version"] == "2023-01-05"
    bad = anonymous.get(file_path(world), version="banana")
    assert bad.status_code == 401 and "Files-Version" not in bad.headers


def test_an_internal_error_is_a_json_api_document(api: ApiClient, world: World,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture):
    services = get_services(api.app)

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services.registry, "get_file", boom)
    response = api.get(file_path(world))
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)
    assert response.headers["Files-Version"] == "2025-06-01"
    assert "secret internals" in caplog.text


# -- sparse fieldsets name the attributes of the version served --------------------------------


class SizeWasLength(VersionChange):
    """Test only: ``byte-size`` was called ``length`` before 2025-12-31.

    Plays a release that renamed an attribute, to show that older versions keep the old name
    everywhere: in responses, in sparse fieldsets and in the OpenAPI description.
    """

    version = "2025-12-31"
    description = "`length` is renamed `byte-size`."
    applies_to = frozenset({"file"})

    def downgrade_response(self, resource: dict[str, Any], ctx: Any) -> dict[str, Any]:
        """``byte-size`` becomes ``length``."""
        attributes = resource.get("attributes") or {}
        if "byte-size" in attributes:
            resource["attributes"] = {
                ("length" if name == "byte-size" else name): value
                for name, value in attributes.items()
            }
        return resource

    def downgrade_openapi(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """``FileAttributes.byte-size`` becomes ``length``."""
        properties = schemas["FileAttributes"]["properties"]
        schemas["FileAttributes"]["properties"] = {
            ("length" if name == "byte-size" else name): value
            for name, value in properties.items()
        }
        return schemas


def test_fieldsets_name_the_attributes_of_the_version_served(api: ApiClient, world: World,
                                                            app: Flask):
    api_config(app).bundle = VersionBundle(
        versions=("2025-12-31", *BUNDLE.versions), changes=(SizeWasLength(), *BUNDLE.changes)
    )
    path = file_path(world) + "?fields[file]="
    old = api.get(path + "length", version="2025-06-01")
    assert old.get_json(force=True)["data"]["attributes"] == {"length": len(world.content)}
    refused = api.get(path + "byte-size", version="2025-06-01")
    assert error_of(refused)["source"] == {"parameter": "fields[file]"}
    new = api.get(path + "byte-size", version="2025-12-31")
    assert new.get_json(force=True)["data"]["attributes"] == {"byte-size": len(world.content)}
    assert api.get(path + "length", version="2025-12-31").status_code == 400
    spec = api.get("/api/v1/openapi.json", version="2025-06-01").get_json()
    assert "length" in spec["components"]["schemas"]["FileAttributes"]["properties"]
