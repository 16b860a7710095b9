"""The pure helpers of ``accel`` mode: where nginx finds the bytes, and when the service must
send them itself because nginx would answer the request differently."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from files_service.delivery import Decision, local_accel_path, nginx_agrees, proxied_accel_path

WHOLE = Decision(200, 0, 99)
PART = Decision(206, 10, 19, "bytes 10-19/100")


@pytest.mark.parametrize(
    ("decision", "range_header", "agrees"),
    [
        (WHOLE, None, True),
        (PART, "bytes=10-19", True),
        (PART, "BYTES=10-", True),
        (PART, "bytes=-90", True),
        (WHOLE, "bytes=0-1,5-6", False),  # the service ignores it; nginx would not unless told
        (WHOLE, "bytes=x", False),  # nginx would answer its own 416 page
        (PART, "bytes=10-19,", False),  # RFC: skip the empty element; nginx: 416
        (PART, "bytes = 10-19", False),  # nginx: not a byte range at all
        (PART, "bytes=10-1" + "9" * 19, False),  # nginx: an overflow, 416
        (WHOLE, "bytes=0-9", False),  # e.g. a failed If-Range
    ],
)
def test_nginx_agrees_only_on_plain_requests(decision, range_header, agrees):
    assert nginx_agrees(decision, range_header=range_header) is agrees


@pytest.mark.parametrize("if_range", ['\t"x"', '"x"\t'])
def test_an_if_range_with_a_tab_stays_with_the_service(if_range):
    assert nginx_agrees(PART, range_header="bytes=10-19", if_range='"x"')
    assert not nginx_agrees(PART, range_header="bytes=10-19", if_range=if_range)


def test_if_match_and_if_unmodified_since_stay_with_the_service():
    assert not nginx_agrees(WHOLE, range_header=None, if_match='"x"')
    assert not nginx_agrees(WHOLE, range_header=None, if_unmodified_since="Thu, 01 Jan 1970")


@pytest.mark.parametrize("key", ["org_a/file_b", "in box/é?#%;.bin", "a+b/c&d=e"])
def test_local_path_decodes_once_to_the_key(key):
    path = local_accel_path("/_protected", key)
    assert path.isascii() and " " not in path and "?" not in path and "#" not in path
    assert unquote(path) == f"/_protected/{key}"


def test_proxied_path_decodes_once_to_the_signed_path():
    url = ("https://s3.example:9000/bucket/pre/in%20box/%C3%A9%2B%21.bin"
           "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc%2Fdef")
    path, _, query = proxied_accel_path("/_protected", url).partition("?")
    assert unquote(path) == "/_protected" + urlsplit(url).path  # what nginx's regex captures
    assert query == urlsplit(url).query  # $args: passed on as it is
    assert "s3.example" not in path
