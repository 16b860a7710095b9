"""An object backs at most one file: registering it again is a 400 pointing at the storage
key (from another organization, a 403: the key is outside its import folder), and the first
file keeps working."""

from __future__ import annotations

from tests.api.conftest import ApiClient, error_of


def test_an_object_is_registered_once(api: ApiClient, services, world, other):  # type: ignore[no-untyped-def]
    key = f"imports/{world.org.id}/shared.pdf"
    services.storage.write(key, iter([b"%PDF"]))
    body = {"filename": "shared.pdf", "storage-key": key}
    assert api.register(body).status_code == 201
    for caller, status in ((api, 400), (api.as_caller(other.secret), 403)):
        response = caller.register(body)
        assert response.status_code == status
        error = error_of(response)
        assert error["source"] == {"pointer": "/data/attributes/storage-key"}
    assert services.storage.stat(key).size == 4
