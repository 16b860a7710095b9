"""PostgreSQL restarted while requests flow: downloads and API requests in the gap fail fast
with 503, and the service recovers on its own, without a restart of its own."""

from __future__ import annotations

import time

from files_service import get_services
from tests.conftest import make_world, path_of

FAIL_FAST_SECONDS = 10  # far below any client's patience; a hang would be 30 s or more


def test_postgres_restart_gives_503_then_recovers(make_app, private_postgres):
    app = make_app(database_url=private_postgres.url, registry_cache_seconds=0)
    services = get_services(app)
    client = app.test_client()
    world = make_world(services)
    url = path_of(services.minter.mint(world.file, world.key).url)
    api = f"/api/v1/files/{world.file.id}"
    auth = {"Authorization": f"Bearer {world.secret}"}
    assert client.get(url).status_code == 200
    assert client.get(api, headers=auth).status_code == 200
    assert client.get("/readyz").status_code == 200

    private_postgres.stop()
    started = time.monotonic()
    response = client.get(url)
    assert time.monotonic() - started < FAIL_FAST_SECONDS
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.get_json(force=True)["errors"][0]["code"] == "registry_unavailable"
    started = time.monotonic()
    response = client.get(api, headers=auth)
    assert time.monotonic() - started < FAIL_FAST_SECONDS
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    error = response.get_json(force=True)["errors"][0]
    assert (error["status"], error["code"]) == ("503", "registry_unavailable")
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["database"] == "unavailable"

    private_postgres.start()
    # Same app, same pool: stale connections are noticed (pre-ping) and replaced.
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == world.content
    assert client.get(api, headers=auth).status_code == 200
    assert client.get("/readyz").status_code == 200
