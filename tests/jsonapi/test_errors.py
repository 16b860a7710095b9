"""Error objects and documents (§7): shape, status as a string, helpers, groups."""

from __future__ import annotations

from typing import Any

import pytest

from files_service.jsonapi.errors import (
    ApiError,
    ApiErrorGroup,
    bad_header,
    bad_parameter,
    bad_pointer,
    error_document,
    internal_error,
    json_pointer,
    method_not_allowed,
    not_acceptable,
    not_found,
    overall_status,
    raise_all,
    unauthorized,
    unsupported_media_type,
    unsupported_parameter,
)

HELPERS = [
    (bad_parameter("url-ttl", "too long"), 400, "invalid_parameter", {"parameter": "url-ttl"}),
    (unsupported_parameter("sort", "no"), 400, "unsupported_parameter", {"parameter": "sort"}),
    (bad_header("Files-Version", "bad"), 400, "invalid_header", {"header": "Files-Version"}),
    (bad_pointer("/data/attributes/filename", "bad"), 400, "invalid_body",
     {"pointer": "/data/attributes/filename"}),
    (not_found(), 404, "not_found", None),
    (unauthorized(), 401, "unauthorized", None),
    (method_not_allowed(["get", "HEAD"]), 405, "method_not_allowed", None),
    (not_acceptable("no"), 406, "not_acceptable", {"header": "Accept"}),
    (unsupported_media_type("no"), 415, "unsupported_media_type", {"header": "Content-Type"}),
    (internal_error(), 500, "internal_error", None),
]


@pytest.mark.parametrize(("error", "status", "code", "source"), HELPERS)
def test_helpers_build_valid_error_documents(
    error: ApiError, status: int, code: str, source: dict[str, str] | None, validate: Any
) -> None:
    document = error_document([error])
    validate(document)
    (obj,) = document["errors"]
    assert obj["status"] == str(status)
    assert error.status == status
    assert obj["code"] == code
    assert obj["title"] and obj["detail"]
    assert obj.get("source") == source
    assert "meta" not in obj


def test_error_object_members_in_full(validate: Any) -> None:
    error = ApiError(
        403, "expired_token", "The URL has expired.",
        meta={"expired-at": "2026-01-01T00:00:00Z", "server-time": "2026-01-01T00:01:00Z"},
    )
    document = error_document([error])
    validate(document)
    assert document == {
        "errors": [{
            "status": "403",
            "code": "expired_token",
            "title": "Expired token",
            "detail": "The URL has expired.",
            "meta": {"expired-at": "2026-01-01T00:00:00Z", "server-time": "2026-01-01T00:01:00Z"},
        }]
    }
    assert str(error) == "The URL has expired."
    assert "403" in repr(error)


def test_title_is_fixed_per_code_and_can_be_given() -> None:
    assert bad_parameter("a", "x").title == bad_parameter("b", "y").title
    assert ApiError(418, "some_new_code", "x").title == "some new code"
    assert ApiError(403, "invalid_token", "no", title="Invalid token").title == "Invalid token"


def test_headers_for_401_and_405() -> None:
    assert unauthorized().headers == [("WWW-Authenticate", "Bearer")]
    error = method_not_allowed(["POST", "get", "GET"])
    assert error.headers == [("Allow", "GET, POST")]
    assert "GET, POST" in error.detail


def test_group_flattens_and_picks_the_most_general_status(validate: Any) -> None:
    a, b = bad_parameter("a", "x"), unsupported_parameter("b", "y")
    group = ApiErrorGroup([a, ApiErrorGroup([b])])
    assert group.errors == (a, b)
    assert group.status == 400 and group.source == {"parameter": "a"}
    document = error_document([group])
    validate(document)
    assert [e["source"] for e in document["errors"]] == [{"parameter": "a"}, {"parameter": "b"}]
    assert ApiErrorGroup([not_found(), bad_parameter("a", "x")]).status == 400
    assert ApiErrorGroup([not_found(), internal_error()]).status == 500
    assert overall_status([not_found(), not_found()]) == 404
    with pytest.raises(ValueError):
        ApiErrorGroup([])


def test_group_keeps_every_header() -> None:
    group = ApiErrorGroup([unauthorized(), method_not_allowed(["GET"])])
    assert group.headers == [("WWW-Authenticate", "Bearer"), ("Allow", "GET")]


def test_raise_all() -> None:
    raise_all([])
    one = not_found()
    with pytest.raises(ApiError) as caught:
        raise_all([one])
    assert caught.value is one
    with pytest.raises(ApiErrorGroup) as grouped:
        raise_all([one, internal_error()])
    assert len(grouped.value.errors) == 2


def test_json_pointer_escapes() -> None:
    assert json_pointer("data", "attributes", "a/b~c") == "/data/attributes/a~1b~0c"
    assert json_pointer() == ""
