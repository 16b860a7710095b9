"""An object backs at most one file: registering it again, from any organization, is a 400
pointing at the storage key, and the first file keeps working."""

from __future__ import annotations

from tests.api.conftest import ApiClient, error_of


def test_an_object_is_registered_once(api: ApiClient, services, other):  # type: ignore[no-untyped-def]
    services.storage.write("incoming/shared.pdf", iter([b"%PDF"]))
    body = {"filename": "shared.pdf", "storage-key": "incoming/shared.pdf"}
    assert api.register(body).status_code == 201
    for caller in (api, api.as_caller(other.secret)):
        response = caller.register(body)
        assert response.status_code == 400
        error = error_of(response)
        assert error["source"] == {"pointer": "/data/attributes/storage-key"}
    assert services.storage.stat("incoming/shared.pdf").size == 4
