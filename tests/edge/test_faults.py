"""The front tier when what is behind it fails (SPEC §9, the issue's faults): the service down
gives ``503 registry_unavailable`` JSON with ``Retry-After`` (never nginx's HTML page) for a
download it must look up and for the API; storage down gives ``503 storage_unavailable``. And
nothing the public listener answers is the internal one's: /metrics, /readyz and the lookup."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from moto.server import ThreadedMotoServer

from tests.edge.conftest import Stack
from tests.edge.test_parity import send

pytestmark = pytest.mark.e2e


def ask(base: str, target: str, method: str = "GET",
        headers: tuple[tuple[str, str], ...] = ()) -> tuple[int, dict[str, str], bytes]:
    status, header_list, body = send(base, method, target, headers)
    return status, {name.lower(): value for name, value in header_list}, body


def assert_unavailable(answer: tuple[int, dict[str, str], bytes], code: str) -> None:
    status, headers, body = answer
    assert status == 503
    assert headers["content-type"] == "application/vnd.api+json"
    assert headers["retry-after"] == "5"
    assert headers["cache-control"] == "no-store"
    assert json.loads(body)["errors"][0]["code"] == code


def test_the_service_down(stacks: Callable[..., Stack]) -> None:
    stack = stacks()
    looked_up = stack.store("looked-up.txt", b"seen before")
    fresh = stack.store("fresh.txt", b"never asked about")
    seen_url, fresh_url = stack.url(looked_up), stack.url(fresh)
    assert ask(stack.edge.base, seen_url.removeprefix(stack.edge.base))[0] == 200
    stack.server.stop()

    # What the edge knows it still serves, for at most the cache's life...
    status, _, body = ask(stack.edge.base, seen_url.removeprefix(stack.edge.base))
    assert (status, body) == (200, b"seen before")
    # ...what it must ask the service about, it cannot:
    answer = ask(stack.edge.base, fresh_url.removeprefix(stack.edge.base))
    assert_unavailable(answer, "registry_unavailable")
    assert answer[1]["access-control-allow-origin"] == "*"  # a page's script can read why
    # The API, and anything else passed on.
    assert_unavailable(ask(stack.edge.base, "/api/v1/files"), "registry_unavailable")
    assert_unavailable(ask(stack.edge.base, "/healthz"), "registry_unavailable")
    assert_unavailable(ask(stack.edge.internal, "/metrics"), "registry_unavailable")
    # A token the edge refuses needs no service.
    status, _, body = ask(stack.edge.base, "/fresh.txt?access_token=nope")
    assert status == 403 and b"invalid_token" in body


def test_storage_down(stacks: Callable[..., Stack]) -> None:
    """An S3 endpoint that stops answering: the edge's bytes fail before the first one."""
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    try:
        stack = stacks(storage="s3", moto_endpoint=f"http://{host}:{port}")
        file = stack.store("stored.bin", b"x" * 1000)
        url = stack.url(file)
        target = url.removeprefix(stack.edge.base)
        assert ask(stack.edge.base, target)[0] == 200
    finally:
        moto.stop()
    assert_unavailable(ask(stack.edge.base, target), "storage_unavailable")
    assert_unavailable(ask(stack.edge.base, target, headers=(("Range", "bytes=0-9"),)),
                       "storage_unavailable")
    # A HEAD needs no bytes: the service answers it without storage too.
    assert ask(stack.edge.base, target, "HEAD")[0] == 200


def test_a_local_object_gone_is_not_found(stacks: Callable[..., Stack]) -> None:
    stack = stacks()
    file = stack.store("vanishing.txt", b"here, then not")
    target = stack.url(file).removeprefix(stack.edge.base)
    assert ask(stack.edge.base, target)[0] == 200
    stack.services.storage.delete(file.storage_key)
    status, headers, body = ask(stack.edge.base, target)
    assert status == 404
    assert headers["cache-control"] == "no-store"
    assert json.loads(body)["errors"][0]["code"] == "not_found"
    assert "etag" not in headers and "content-disposition" not in headers


def test_internal_endpoints_only_on_the_internal_listener(stacks: Callable[..., Stack]) -> None:
    stack = stacks()
    file = stack.store("probe.txt", b"probe")
    lookup = f"/_edge/lookup/{file.id}/{stack.key.id}"
    for target in ("/metrics", "/readyz", lookup, "/_edge/bytes/whole", "/_edge/bytes/s3",
                   "/_edge/%6cookup/" + f"{file.id}/{stack.key.id}"):
        status, headers, body = ask(stack.edge.base, target)
        assert status == 404, target
        assert headers["content-type"] == "application/vnd.api+json", target
        assert b"errors" in body and file.id.encode() not in body, target
    assert ask(stack.edge.internal, "/metrics")[0] == 200
    assert ask(stack.edge.internal, "/readyz")[0] == 200
    status, _, body = ask(stack.edge.internal, lookup)
    assert status == 200 and json.loads(body)["principal"] == "active"
    assert ask(stack.edge.internal, "/nginx_status")[0] == 200
    # The internal listener serves nothing else: no downloads, no API.
    url = stack.url(file)
    assert ask(stack.edge.internal, url.removeprefix(stack.edge.base))[0] == 404
    assert ask(stack.edge.internal, "/api/v1/files")[0] == 404
    # /healthz stays public, for load balancers; nginx's own status is not public either
    # (the service answers for that path: a download without a token).
    assert ask(stack.edge.base, "/healthz")[0] == 200
    status, _, body = ask(stack.edge.base, "/nginx_status")
    assert status == 403 and b"invalid_token" in body
