"""Schemathesis against ``/api/v1/openapi.json`` of every released version (issue #6).

For each version the description is loaded from the running app (in-process, over WSGI), and
every operation in it is called with generated requests, valid ones and invalid ones (the
negative mode), as the world's API key in that version, some of them on real resources (the
ids, token and filename of the world). No response may be a server error, and every response
must conform to the description: a documented status, content type and headers, and a body
that validates against the version's schema. ``ignored_auth`` also sends each request without
its key and wants a refusal; ``unsupported_method`` sends an undescribed method and wants a
405 with a true ``Allow``.

Not used: ``negative_data_rejection``, whose invalid requests include unknown query
parameters, which JSON:API tells a server to ignore (§7: only reserved names are refused); and
``positive_data_acceptance``, which cannot hold for what a description cannot say (an opaque
``page[after]`` cursor, ``filter[id]`` not combining with ``page[…]``, ``metadata`` before
``file``, a ``url-ttl`` no longer than the caller's own). Run once by hand, it found that the
description said less than the API enforces (the ``webhook-id`` pattern admitted ids the API
refuses; ``include``, ``fields[…]``, ``filter[id]`` and ``page[after]`` were any string; other
form parts and a new file's ``id`` were allowed): api/openapi.py and api/schemas.py now say
it. tests/fuzz/test_api_fuzz.py checks what may be accepted, parameter by parameter.
Schemathesis leaves out the description's own endpoint (``/openapi.json``), which
tests/api/test_openapi.py covers.

Bounded: ``MAX_EXAMPLES`` requests per operation, per version and mode."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from files_service import get_services
from files_service.files import store_file
from files_service.registry.models import MAX_FILE_URL_TTL
from files_service.services import Services
from files_service.versioning.released import VERSIONS
from tests.conftest import World, make_world

# More for a deeper run by hand: FILES_TEST_SCHEMATHESIS_EXAMPLES=500 .venv/bin/pytest …
MAX_EXAMPLES = int(os.environ.get("FILES_TEST_SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
    unsupported_method,
    allow_header_conformance,
]
DELETE_ME = "file_deleteme"  # replaced by a new file before each DELETE, so there is one to go
MINTING_PATHS = ("/files", "/files/{id}")


def real_parameters(services: Services, world: World) -> dict[str, Any]:
    """Path parameters naming real resources, by operation path, and a real ``webhook-id``.
    The key and the webhook take any ``url-ttl`` the description allows."""
    services.registry.set_principal_ttl(world.key.id, MAX_FILE_URL_TTL)
    hook = services.registry.create_webhook(world.org.id, url="https://hooks.example.com/a",
                                            file_url_ttl=MAX_FILE_URL_TTL)
    legacy = urlsplit(services.minter.mint(world.file, world.key, style="legacy").url)
    _, token, filename = legacy.path.rsplit("/", 2)
    return {
        "/files/{id}": {"id": world.file.id},
        "/api-keys/{id}": {"id": world.key.id},
        "/webhooks/{id}": {"id": hook.id},
        "/organizations/{id}": {"id": world.org.id},
        "/files/{token}/{filename}": {"token": token, "filename": filename},
        "webhook-id": hook.id,
    }


def strategies_for(operation: Any, version: str, real: dict[str, Any]) -> Any:
    """Valid and invalid requests for ``operation`` in ``version``; with real resources too."""
    query = {"api-version": version}  # the version is fuzzed by test_api_fuzz.py
    found = [
        operation.as_strategy(query=query),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE, query=query),
    ]
    path_parameters = real.get(operation.path)
    if operation.method.upper() == "DELETE":
        path_parameters = {"id": DELETE_ME}
    if path_parameters is not None or operation.path in MINTING_PATHS:
        real_query = dict(query)
        if operation.path in MINTING_PATHS and operation.method.upper() != "DELETE":
            real_query["webhook-id"] = real["webhook-id"]
        found.append(operation.as_strategy(query=real_query, path_parameters=path_parameters))
    return st.one_of(found)


def exercise(operation: Any, cases: Any, services: Services, world: World,
             auth: dict[str, str], client: FlaskClient) -> set[int]:
    """Send ``MAX_EXAMPLES`` of ``cases`` for ``operation`` through ``client`` (which reads
    each response whole and closes it, as a WSGI server does), every check on each response;
    the statuses seen."""
    seen: set[int] = set()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        # The same requests on every run, so that reaching the resources (asserted by the
        # test) never depends on luck; FILES_TEST_SCHEMATHESIS_EXAMPLES explores further.
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def run(case: Any) -> None:
        if case.path_parameters and case.path_parameters.get("id") == DELETE_ME:
            fresh = store_file(services, world.org.id, iter([b"x"]), filename="gone.txt",
                               content_type="text/plain", created_by=world.key.id)
            case.path_parameters["id"] = fresh.id
        response = case.call_and_validate(headers=auth, checks=CHECKS, session=client)
        seen.add(response.status_code)

    run()
    return seen


@pytest.mark.parametrize("version", VERSIONS)
def test_every_operation_conforms_and_never_fails(
    make_app: Callable[..., Flask], version: str
) -> None:
    app = make_app()
    services = get_services(app)
    world = make_world(services)
    auth = {"Authorization": f"Bearer {world.secret}", "Files-Version": version}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=auth)
    schema.validate()  # a valid OpenAPI document in the first place
    real = real_parameters(services, world)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9, [op.label for op in operations]
    statuses: dict[str, set[int]] = {}

    for operation in operations:
        for status in exercise(operation, strategies_for(operation, version, real), services,
                               world, auth, app.test_client()):
            statuses.setdefault(operation.label, set()).add(status)

    # The run reached the resources, not only the refusals.
    ok = {label for label, seen in statuses.items() if seen & {200, 201, 204}}
    assert {"GET /files/{id}", "GET /files", "DELETE /files/{id}", "GET /versions",
            "GET /files/{token}/{filename}"} <= ok, statuses
