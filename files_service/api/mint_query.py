"""The minting parameters of a request's query (§5): ``webhook-id`` (mint in that webhook's
context), ``url-ttl`` (shorter only) and ``url-disposition``.

They are the API's, not JSON:API's: ``parse_query`` takes them as the endpoint's own
parameters (``extra``) and checks them with the rest of the query, so that one ``400`` names
every bad parameter. Endpoints that return no files refuse them by name (``NOT_MINTING``).
``webhook_id_param`` reads ``webhook-id`` ahead of the rest: the principal of a mint, and so
its API version, must be known first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import NoReturn

from .. import ids
from ..jsonapi.errors import bad_parameter, shorten, unsupported_parameter
from ..jsonapi.query import Parser, QueryOptions, whole_number
from ..limits import MAX_FILE_URL_TTL
from ..tokens import DISPOSITIONS

WEBHOOK_ID = "webhook-id"
URL_TTL = "url-ttl"
URL_DISPOSITION = "url-disposition"


def webhook_id(value: str) -> str:
    """A well-formed webhook id (whether it exists is the pipeline's question)."""
    if not ids.is_id(value, "wbh"):
        raise bad_parameter(
            WEBHOOK_ID, f"Malformed webhook id {shorten(value)!r}: it starts with 'wbh_'."
        )
    return value


def url_ttl(value: str) -> int:
    """Whole seconds from 1 to a day; the principal's ``file-url-ttl`` bounds it later."""
    ttl = whole_number(value, 1, MAX_FILE_URL_TTL)
    if ttl is None:
        raise bad_parameter(
            URL_TTL,
            f"url-ttl must be a whole number of seconds from 1 to {MAX_FILE_URL_TTL}, "
            f"not {shorten(value)!r}.",
        )
    return ttl


def url_disposition(value: str) -> str:
    """``inline`` or ``attachment``, exactly."""
    if value not in DISPOSITIONS:
        raise bad_parameter(
            URL_DISPOSITION,
            f"url-disposition must be 'inline' or 'attachment', not {shorten(value)!r}.",
        )
    return value


def _not_here(name: str, value: str) -> NoReturn:
    raise unsupported_parameter(name, f"{name!r} applies only to requests that return files.")


MINTING: Mapping[str, Parser] = {
    WEBHOOK_ID: webhook_id, URL_TTL: url_ttl, URL_DISPOSITION: url_disposition,
}
"""``parse_query(extra=…)`` of an endpoint that returns files."""

NOT_MINTING: Mapping[str, Parser] = {name: partial(_not_here, name) for name in MINTING}
"""``parse_query(extra=…)`` of any other endpoint: each minting parameter refused."""


@dataclass(frozen=True)
class MintOptions:
    """What a request asks of the URLs it mints (defaults where it asks nothing); its
    ``webhook-id`` has already chosen the principal (``webhook_id_param``)."""

    ttl: int | None = None
    disposition: str = "inline"

    @classmethod
    def of(cls, options: QueryOptions) -> MintOptions:
        """The minting parameters among a parsed query's (``parse_query(extra=MINTING)``)."""
        given = options.extra
        return cls(ttl=given.get(URL_TTL), disposition=given.get(URL_DISPOSITION, "inline"))


def webhook_id_param(args: Sequence[tuple[str, str]]) -> str | None:
    """The ``webhook-id`` value, or ``None``; 400 where it is repeated or malformed."""
    values = [value for name, value in args if name == WEBHOOK_ID]
    if len(values) > 1:
        raise bad_parameter(WEBHOOK_ID, "Give 'webhook-id' at most once.")
    return webhook_id(values[0]) if values else None
