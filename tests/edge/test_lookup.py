"""The service's lookup for the front tier, ``/_edge/lookup/{file}/{principal}`` (SPEC §9):
what the edge needs to answer a download as the service would, read from the registry itself
(the edge's cache is the only one in front of it, so the two lifetimes cannot add up)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from werkzeug.http import http_date

from files_service import create_app, get_services
from files_service.clock import ManualClock
from files_service.delivery import content_disposition
from files_service.files import delete_file
from files_service.registry import Registry
from files_service.settings import Settings
from files_service.storage import S3Storage
from tests.conftest import World, make_world
from tests.servers import s3_client


def lookup(app: Flask, file_id: str, principal_id: str):  # type: ignore[no-untyped-def]
    return app.test_client().get(f"/_edge/lookup/{file_id}/{principal_id}")


def test_a_good_pair_gets_what_the_edge_sends(app: Flask, world: World) -> None:
    response = lookup(app, world.file.id, world.key.id)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    file = world.file
    assert response.json == {
        "principal": "active",
        "file": {
            "size": len(world.content),
            "contentType": "application/pdf",
            "etag": f'"{file.checksum}"',
            "lastModified": http_date(int(file.created_at)),
            "modified": int(file.created_at),
            "disposition": {
                "inline": content_disposition(file.filename, "inline"),
                "attachment": content_disposition(file.filename, "attachment"),
            },
            "storage": {"path": get_services(app).storage.path_for(file.storage_key)},
        },
    }


def test_revoked_deleted_and_foreign_are_told_apart_in_the_services_order(
    app: Flask, world: World
) -> None:
    services = get_services(app)
    registry = services.registry
    other_org = registry.create_organization("Other")
    foreign_key, _ = registry.create_api_key(other_org.id, name="foreign")
    assert lookup(app, world.file.id, foreign_key.id).json == {"principal": "active",
                                                               "file": None}
    unknown = "key_" + "A" * 22
    assert lookup(app, world.file.id, unknown).json == {"principal": "revoked", "file": None}
    delete_file(services, world.file.id)
    assert lookup(app, world.file.id, world.key.id).json == {"principal": "active",
                                                             "file": None}
    registry.revoke_principal(world.key.id)
    # Revoked first: the principal is checked before the file, as downloads do.
    assert lookup(app, world.file.id, world.key.id).json == {"principal": "revoked",
                                                             "file": None}


def test_the_lookup_reads_the_registry_not_the_services_cache(
    make_app: Callable[..., Flask],
) -> None:
    """A download warms the service's own cache (30 s); a revocation then reaches the lookup
    at once, so the edge's cache is the only delay between them."""
    app = make_app(registry_cache_seconds=30)
    services = get_services(app)
    world = make_world(services)
    url = services.minter.mint(world.file, world.key).url
    client = app.test_client()
    path = urlsplit(url).path + "?" + urlsplit(url).query
    assert client.get(path).status_code == 200
    services.registry.revoke_principal(world.key.id)
    assert client.get(path).status_code == 200  # the service's cache still says active
    assert lookup(app, world.file.id, world.key.id).json["principal"] == "revoked"


def test_ids_of_the_wrong_form_are_refused(app: Flask, world: World) -> None:
    for file_id, principal_id in (("file_x", world.key.id), (world.file.id, "org_" + "A" * 22),
                                  ("..", world.key.id)):
        response = lookup(app, file_id, principal_id)
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/vnd.api+json"
        assert response.json["errors"][0]["code"] == "not_found"


def test_a_registry_that_cannot_be_reached_is_a_503(base_settings: Settings, world: World,
                                                   clock: ManualClock) -> None:
    """A real outage: a PostgreSQL address where nothing listens."""
    registry = Registry("postgresql://nobody@127.0.0.1:9/none", clock=clock)
    app = create_app(base_settings, clock=clock, registry=registry, check=False)
    response = lookup(app, world.file.id, world.key.id)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json["errors"][0]["code"] == "registry_unavailable"


def test_an_s3_object_comes_with_a_presigned_path_outliving_the_cache(
    make_app: Callable[..., Flask], moto_endpoint: str,
) -> None:
    client = s3_client(moto_endpoint)
    bucket = f"lookup-{uuid.uuid4().hex}"
    client.create_bucket(Bucket=bucket)
    app = make_app(storage=S3Storage(bucket, "pre/fix", client=client),
                   registry_cache_seconds=45)
    world = make_world(get_services(app))
    storage = lookup(app, world.file.id, world.key.id).json["file"]["storage"]
    uri = urlsplit(storage["uri"])
    assert not uri.netloc and uri.path.startswith(f"/{bucket}/pre/fix/")
    query = parse_qs(uri.query)
    assert query["X-Amz-Expires"] == ["105"]  # 45 s in nginx's cache, and a minute more
    assert query["X-Amz-SignedHeaders"] == ["host"]  # any Range may be added
