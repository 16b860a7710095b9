"""Ranges and conditional requests (§4, RFC 9110) through the app, on local files and on S3:
the status, the headers and the bytes, and that a range is read from storage as a range."""

from __future__ import annotations

import json

import pytest
from werkzeug.http import http_date

from tests.conftest import path_of
from tests.download.conftest import Backend

SIZE = 16384  # tests.conftest.CONTENT


def url_of(backend: Backend, **kw: object) -> str:
    return path_of(backend.services.minter.mint(backend.world.file, backend.world.key, **kw).url)


def get(backend: Backend, headers: dict[str, str] | None = None, method: str = "GET"):  # type: ignore[no-untyped-def]
    client = backend.app.test_client()
    return client.open(url_of(backend), method=method, headers=headers or {})


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=16000-", 16000, SIZE - 1),
        ("bytes=-100", SIZE - 100, SIZE - 1),
        ("bytes=100-99999999", 100, SIZE - 1),
        # RFC 9110 §14.1.1, where Werkzeug differs: a suffix longer than the file is all of it.
        ("bytes=-999999", 0, SIZE - 1),
    ],
)
def test_one_range_is_a_206_read_as_a_range(backend: Backend, spec: str, start: int, end: int):
    response = get(backend, {"Range": spec})
    assert response.status_code == 206
    assert response.data == backend.world.content[start : end + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["Content-Length"] == str(end - start + 1)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "Content-Range" in response.headers["Access-Control-Expose-Headers"]
    # Read from storage once, as a range: never read and thrown away.
    assert backend.reads() == [f"bytes={start}-{end}" if backend.name == "s3" else None]


def test_the_whole_file_is_read_once(backend: Backend):
    response = get(backend)
    assert response.status_code == 200
    assert response.data == backend.world.content
    assert backend.reads() == [f"bytes=0-{SIZE - 1}" if backend.name == "s3" else None]


@pytest.mark.parametrize("spec", ["bytes=16384-", "bytes=99999-100000", "bytes=-0"])
def test_an_unsatisfiable_range_is_a_json_416(backend: Backend, spec: str):
    response = get(backend, {"Range": spec})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{SIZE}"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    assert json.loads(response.data)["errors"][0]["code"] == "range_not_satisfiable"
    assert backend.reads() == []


@pytest.mark.parametrize(
    "spec", ["bytes=0-1,5-6", "bytes=0-1, 100-200", "items=0-5", "bytes=5-2", "bytes=x-"]
)
def test_several_ranges_another_unit_or_a_malformed_range_get_the_whole_file(
    backend: Backend, spec: str
):
    response = get(backend, {"Range": spec})
    assert response.status_code == 200
    assert response.data == backend.world.content
    assert "Content-Range" not in response.headers


def test_if_range_with_the_etag_or_the_date_keeps_the_range(backend: Backend):
    etag = f'"{backend.world.file.checksum}"'
    date = http_date(int(backend.world.file.created_at))
    for validator in (etag, date):
        response = get(backend, {"Range": "bytes=0-9", "If-Range": validator})
        assert response.status_code == 206
        assert response.data == backend.world.content[:10]


@pytest.mark.parametrize(
    "validator", ['"another"', "W/\"{etag}\"", "Thu, 01 Jan 1970 00:00:00 GMT"]
)
def test_a_failed_if_range_sends_the_whole_file(backend: Backend, validator: str):
    validator = validator.replace("{etag}", backend.world.file.checksum)
    response = get(backend, {"Range": "bytes=0-9", "If-Range": validator})
    assert response.status_code == 200
    assert response.data == backend.world.content


def test_if_none_match_and_if_modified_since_give_304_with_the_validators(backend: Backend):
    etag = f'"{backend.world.file.checksum}"'
    later = http_date(int(backend.world.file.created_at) + 60)
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},  # weak comparison for If-None-Match
        {"If-None-Match": "*"},
        {"If-Modified-Since": later},
        {"If-Modified-Since": http_date(int(backend.world.file.created_at))},
    ):
        response = get(backend, headers)
        assert response.status_code == 304, headers
        assert response.data == b""
        assert response.headers["ETag"] == etag
        assert response.headers["Cache-Control"].startswith("private, max-age=")
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert backend.reads() == []


def test_if_none_match_wins_over_if_modified_since(backend: Backend):
    later = http_date(int(backend.world.file.created_at) + 60)
    response = get(backend, {"If-None-Match": '"other"', "If-Modified-Since": later})
    assert response.status_code == 200
    assert response.data == backend.world.content


def test_an_older_if_modified_since_sends_the_file(backend: Backend):
    earlier = http_date(int(backend.world.file.created_at) - 60)
    assert get(backend, {"If-Modified-Since": earlier}).status_code == 200


def test_304_beats_the_range(backend: Backend):
    etag = f'"{backend.world.file.checksum}"'
    assert get(backend, {"If-None-Match": etag, "Range": "bytes=0-9"}).status_code == 304


@pytest.mark.parametrize("headers", [{}, {"Range": "bytes=0-9"}])
def test_head_describes_the_whole_file_and_reads_nothing(backend: Backend, headers):
    response = get(backend, headers, method="HEAD")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == str(SIZE)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert backend.reads() == []
