"""Nothing a client sends steers a minted URL (issue #6): ``Host``, ``X-Forwarded-Host``,
``X-Forwarded-Proto``, ``X-Forwarded-Port`` and ``X-Forwarded-Prefix``, believed or not
(``FILES_TRUSTED_PROXIES``), change no byte of an API response: URLs, ``Location`` and links
are built from the configured base URLs alone. Checked through the API, for both URL styles."""

from __future__ import annotations

from typing import Any

import pytest

from files_service import get_services
from tests.api.conftest import ApiClient, Part, multipart
from tests.conftest import make_world

FORGED = [
    {"Host": "evil.example"},
    {"X-Forwarded-Host": "evil.example"},
    {"X-Forwarded-Proto": "http"},
    {"X-Forwarded-Port": "8443"},
    {"X-Forwarded-Prefix": "/evil"},
    {
        "Host": "evil.example",
        "X-Forwarded-Host": "evil.example, proxy-two.example, proxy-one.example",
        "X-Forwarded-Proto": "http, http, http",
        "X-Forwarded-Port": "1, 2, 3",
        "X-Forwarded-Prefix": "/evil, /evil, /evil",
        "X-Forwarded-For": "6.6.6.6, 10.0.0.2, 10.0.0.1",
    },
]


def comparable(response: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in response.headers.items() if k != "Date")
    return response.status_code, response.data, headers


@pytest.mark.parametrize("hops", [0, 1, 2])
@pytest.mark.parametrize("version", ["2022-09-01", "2025-06-01"])
def test_forged_hosts_change_no_minted_url(make_app, validate, hops, version):
    app = make_app(trusted_proxies=hops)
    services = get_services(app)
    world = make_world(services)
    api = ApiClient(app, validate, world.secret, version)
    requests = [
        ("GET", f"/api/v1/files/{world.file.id}?include=created-by"),
        ("GET", f"/api/v1/files?filter[id]={world.file.id}"),
        ("GET", "/api/v1/files?page[size]=1"),
        ("GET", f"/api/v1/files/{world.file.id}?url-disposition=attachment&url-ttl=3600"),
    ]
    for method, path in requests:
        plain = comparable(api.request(method, path))
        assert plain[0] == 200
        assert b"evil" not in plain[1]
        for headers in FORGED:
            assert comparable(api.request(method, path, headers=headers)) == plain, headers

    # An upload's minted URL and Location, for each forgery (each a new file).
    form, form_type = multipart([Part("file", b"hello", "note.txt", "text/plain")])
    for headers in [{}, *FORGED]:
        response = api.post("/api/v1/files", data=form,
                            headers={**headers, "Content-Type": form_type})
        assert response.status_code == 201, response.data
        document = response.get_json(force=True)
        url = document["data"]["attributes"]["url"]
        assert url.startswith(("https://files.example.com/note.txt?access_token=",
                               "https://api.example.com/api/v1/files/"))
        assert response.headers["Location"] == (
            f"https://api.example.com/api/v1/files/{document['data']['id']}"
        )
        assert "evil" not in response.get_data(as_text=True)
        assert "evil" not in str(response.headers)


@pytest.mark.parametrize(
    "path", ["/api/v1/files//", "/api/v1//files", "/api/v1/versions//", "/api/v1//versions",
             "/healthz//", "/api/v1/files//x"],
)
def test_no_redirect_is_built_from_the_host(app, world, path):
    # Werkzeug answered doubled slashes with a 308 (an HTML page) to the merged path on
    # whatever host the request named: a redirect anyone could point at their own site.
    response = app.test_client().get(
        "/", headers={"Host": "evil.example", "Authorization": f"Bearer {world.secret}"},
        environ_overrides={"PATH_INFO": path},
    )
    assert not 300 <= response.status_code < 400, response.headers
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    assert "evil" not in str(response.headers) + response.get_data(as_text=True)
