"""``FILES_TRUSTED_PROXIES`` (§8): ``X-Forwarded-*`` is believed for exactly that many hops,
and nothing a client sends (Host, X-Forwarded-Host, X-Forwarded-Proto) changes a minted URL,
which is built from the configured base URLs alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, jsonify, request

from files_service import get_services
from tests.conftest import make_world, path_of

FORGED = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example, proxy-two.example, proxy-one.example",
    "X-Forwarded-Proto": "http, https, https",
    "X-Forwarded-For": "6.6.6.6, 10.0.0.2, 10.0.0.1",
}


def app_with_echo(make_app: Callable[..., Flask], hops: int) -> Flask:
    """The app with a route that shows what Flask believes of the request and mints a URL
    from inside it, as the API does."""
    app = make_app(trusted_proxies=hops)
    services = get_services(app)
    world = make_world(services)

    def echo():  # type: ignore[no-untyped-def]
        return jsonify(
            remote_addr=request.remote_addr, host=request.host, scheme=request.scheme,
            url=services.minter.mint(world.file, world.key).url,
        )

    app.add_url_rule("/_test/echo", "echo", echo)
    return app


@pytest.mark.parametrize(
    ("hops", "remote_addr", "host", "scheme"),
    [
        (0, "127.0.0.1", "evil.example", "http"),
        (1, "10.0.0.1", "proxy-one.example", "https"),
        (2, "10.0.0.2", "proxy-two.example", "https"),
    ],
)
def test_forwarded_headers_are_believed_for_exactly_that_many_hops(
    make_app, hops, remote_addr, host, scheme
):
    app = app_with_echo(make_app, hops)
    seen = app.test_client().get("/_test/echo", headers=FORGED).get_json()
    assert (seen["remote_addr"], seen["host"], seen["scheme"]) == (remote_addr, host, scheme)
    # Whatever the request claims, the URL is on the configured download host.
    assert seen["url"].startswith("https://files.example.com/report.pdf?access_token=")


def test_a_forged_host_changes_no_download_response(make_app):
    app = make_app(trusted_proxies=1)
    services = get_services(app)
    world = make_world(services)
    url = path_of(services.minter.mint(world.file, world.key).url)
    client = app.test_client()
    plain = client.get(url)
    forged = client.get(url, headers=FORGED)
    assert forged.status_code == plain.status_code == 200
    assert forged.data == plain.data
    assert dict(forged.headers) == dict(plain.headers)
    assert "evil" not in str(forged.headers)
