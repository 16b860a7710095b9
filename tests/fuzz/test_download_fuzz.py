"""Property tests of the download path: no token, filename or header a client can send
ever gets a 5xx, and nothing but a genuine token for that very file is ever served."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from files_service import get_services
from tests.conftest import World, make_world

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=80,
)


@dataclass
class Download:
    """The world's file and the path and token of its URL, and a client of the app."""

    world: World
    path: str
    token: str
    client: FlaskClient


@pytest.fixture
def download(app: Flask) -> Download:
    services = get_services(app)
    world = make_world(services)
    parts = urlsplit(services.minter.mint(world.file, world.key).url)
    return Download(world, parts.path, parts.query.removeprefix("access_token="),
                    app.test_client())


def assert_refused_cleanly(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.data
    if response.status_code >= 400:
        assert response.headers["Content-Type"] == "application/vnd.api+json"
        body = json.loads(response.data)
        assert body["errors"][0]["status"] == str(response.status_code)


def test_no_token_string_is_accepted_or_crashes(download: Download):
    world, path, token, client = download.world, download.path, download.token, download.client

    @FUZZ
    @given(st.one_of(
        st.text(max_size=300),
        st.builds(lambda i, c: token[:i] + c + token[i + 1:],
                  st.integers(0, len(token) - 1), st.characters()),
        st.builds(lambda extra: token + extra, st.text(min_size=1, max_size=5)),
    ))
    def check(candidate: str) -> None:
        if candidate == token:
            return
        response = client.get(f"{path}?access_token={quote(candidate, safe='')}")
        assert_refused_cleanly(response)
        assert response.status_code in (403, 404), response.status_code
        assert response.data != world.content

    check()


def test_no_filename_is_served_with_another_files_token(download: Download):
    world, token, client = download.world, download.token, download.client

    @FUZZ
    @given(st.text(min_size=1, max_size=300))
    def check(name: str) -> None:
        if name == world.file.filename:
            return
        response = client.get(f"/{quote(name, safe='')}?access_token={token}")
        assert_refused_cleanly(response)
        assert response.status_code != 200 or response.data != world.content

    check()


def test_no_range_or_condition_header_crashes(download: Download):
    world, path, token, client = download.world, download.path, download.token, download.client
    size = len(world.content)

    @FUZZ
    @given(
        rng=st.one_of(HEADER_TEXT, st.from_regex(r"bytes=[0-9]{0,6}-[0-9]{0,6}", fullmatch=True)),
        if_range=HEADER_TEXT, if_none_match=HEADER_TEXT, if_modified_since=HEADER_TEXT,
        method=st.sampled_from(["GET", "HEAD"]),
    )
    def check(rng: str, if_range: str, if_none_match: str, if_modified_since: str,
              method: str) -> None:
        headers = {"Range": rng, "If-Range": if_range, "If-None-Match": if_none_match,
                   "If-Modified-Since": if_modified_since}
        response = client.open(f"{path}?access_token={token}", method=method, headers=headers)
        assert_refused_cleanly(response)
        assert response.status_code in (200, 206, 304, 416)
        if response.status_code == 206 and method == "GET":
            first, last = map(int, response.headers["Content-Range"][6:].split("/")[0].split("-"))
            assert response.data == world.content[first:last + 1]
            assert 0 <= first <= last < size

    check()
