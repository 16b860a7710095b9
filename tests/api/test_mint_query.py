"""The minting parameters (§5): checked with the rest of the query on endpoints that return
files, refused by name everywhere else."""

from __future__ import annotations

from typing import Any

import pytest

from files_service.api.mint_query import (
    MINTING,
    NOT_MINTING,
    MintOptions,
    webhook_id_param,
)
from files_service.jsonapi.errors import ApiError
from files_service.jsonapi.query import QueryOptions, parse_query

WEBHOOK = "wbh_" + "w" * 22
KEY = "key_" + "k" * 22
FILE_TYPES = {"file": {"filename", "url"}, "api-key": {"name"}}


def parse(args: list[tuple[str, str]], *, mints: bool = True) -> QueryOptions:
    return parse_query(
        args, is_list=False, known_types=FILE_TYPES, relationships={},
        primary_type="file" if mints else "api-key",
        extra=MINTING if mints else NOT_MINTING,
    )


# (args, mints, parameter named in source, code)
REFUSALS: list[tuple[list[tuple[str, str]], bool, str, str]] = [
    ([("url-ttl", "0")], True, "url-ttl", "invalid_parameter"),
    ([("url-ttl", "86401")], True, "url-ttl", "invalid_parameter"),
    ([("url-ttl", "abc")], True, "url-ttl", "invalid_parameter"),
    ([("url-ttl", "")], True, "url-ttl", "invalid_parameter"),
    ([("url-ttl", "1e3")], True, "url-ttl", "invalid_parameter"),
    ([("url-ttl", "60.0")], True, "url-ttl", "invalid_parameter"),
    ([("url-ttl", "+60")], True, "url-ttl", "invalid_parameter"),
    ([("url-disposition", "Attachment")], True, "url-disposition", "invalid_parameter"),
    ([("url-disposition", "download")], True, "url-disposition", "invalid_parameter"),
    ([("url-disposition", "")], True, "url-disposition", "invalid_parameter"),
    ([("webhook-id", KEY)], True, "webhook-id", "invalid_parameter"),
    ([("webhook-id", "wbh_short")], True, "webhook-id", "invalid_parameter"),
    ([("webhook-id", "")], True, "webhook-id", "invalid_parameter"),
    ([("url-ttl", "60"), ("url-ttl", "60")], True, "url-ttl", "invalid_parameter"),
    # where no file is returned, each is refused by name
    ([("url-ttl", "60")], False, "url-ttl", "unsupported_parameter"),
    ([("url-disposition", "inline")], False, "url-disposition", "unsupported_parameter"),
    ([("webhook-id", WEBHOOK)], False, "webhook-id", "unsupported_parameter"),
    # a near miss would mint a URL living far longer than asked: refused, on every endpoint
    ([("url_ttl", "60")], True, "url_ttl", "unsupported_parameter"),
    ([("URL-TTL", "60")], True, "URL-TTL", "unsupported_parameter"),
    ([("webhookId", WEBHOOK)], True, "webhookId", "unsupported_parameter"),
    ([("url_ttl", "60")], False, "url_ttl", "unsupported_parameter"),
]


@pytest.mark.parametrize(
    ("args", "mints", "parameter", "code"), REFUSALS,
    ids=[f"{i}-{r[2]}" for i, r in enumerate(REFUSALS)],
)
def test_refusals(args: list[tuple[str, str]], mints: bool, parameter: str, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse(args, mints=mints)
    error = caught.value
    assert len(error.errors) == 1, [e.detail for e in error.errors]
    assert (error.status, error.code, error.source) == (400, code, {"parameter": parameter})
    assert error.detail


def test_the_minting_parameters_are_reported_with_the_rest() -> None:
    with pytest.raises(ApiError) as caught:
        parse([("sort", "x"), ("url-ttl", "0"), ("url-disposition", "x")])
    assert [e.source for e in caught.value.errors] == [
        {"parameter": "sort"}, {"parameter": "url-ttl"}, {"parameter": "url-disposition"}
    ]


def test_what_a_mint_asks_for() -> None:
    options = parse([
        ("url-ttl", "86400"), ("url-disposition", "attachment"), ("webhook-id", WEBHOOK),
    ])
    assert MintOptions.of(options) == MintOptions(ttl=86400, disposition="attachment")
    assert MintOptions.of(parse([("url-ttl", "1")])).ttl == 1
    assert MintOptions.of(parse([])) == MintOptions(ttl=None, disposition="inline")


@pytest.mark.parametrize("args", [[("x", "1")], []])
def test_webhook_id_param_absent(args: Any) -> None:
    assert webhook_id_param(args) is None


def test_webhook_id_param() -> None:
    assert webhook_id_param([("webhook-id", WEBHOOK)]) == WEBHOOK
    for args in ([("webhook-id", KEY)], [("webhook-id", WEBHOOK), ("webhook-id", WEBHOOK)]):
        with pytest.raises(ApiError) as caught:
            webhook_id_param(args)
        assert caught.value.source == {"parameter": "webhook-id"}
