"""The one renderer of error responses: status, headers in order, the document as bytes."""

from __future__ import annotations

import json
from typing import Any

from files_service.jsonapi import ApiErrorGroup, render_error
from files_service.jsonapi.errors import ApiError, bad_parameter, method_not_allowed


def test_an_error_renders_as_a_no_store_jsonapi_document(validate: Any) -> None:
    status, headers, body = render_error(method_not_allowed(["GET", "HEAD"]))
    assert status == 405
    assert headers == [
        ("Content-Type", "application/vnd.api+json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("Allow", "GET, HEAD"),
    ]
    document = json.loads(body)
    validate(document)
    assert document["errors"][0]["code"] == "method_not_allowed"
    assert document["errors"][0]["status"] == "405"


def test_a_group_renders_every_problem_in_one_document(validate: Any) -> None:
    group = ApiErrorGroup([bad_parameter("a", "one"), bad_parameter("b", "two")])
    status, _, body = render_error(group)
    document = json.loads(body)
    validate(document)
    assert status == 400
    assert [e["source"] for e in document["errors"]] == [{"parameter": "a"}, {"parameter": "b"}]


def test_the_body_is_utf8_and_its_length_counts_bytes() -> None:
    _, headers, body = render_error(ApiError(404, "not_found", "Aucun fichier « naïve ».txt"))
    assert json.loads(body.decode("utf-8"))["errors"][0]["detail"].endswith("« naïve ».txt")
    assert dict(headers)["Content-Length"] == str(len(body)) != str(len(body.decode()))
