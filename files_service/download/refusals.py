"""The refusals of the download paths (§4): each code with its fixed detail, so that an answer
never says more than the code does (whether a file exists, which check failed first)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..jsonapi.errors import ApiError

RETRY_AFTER = "5"
DETAILS = {
    "invalid_token": "The access token is missing, malformed or not valid for this URL.",
    "expired_token": "The access token has expired; mint a new URL.",
    "revoked_token": "The API key or webhook that minted this URL has been revoked.",
    "unauthorized": "This URL needs 'Authorization: Bearer <api key>' with an active API key "
                    "of the file's organization.",
    "not_found": "No such file.",
    "method_not_allowed": "Downloads answer GET, HEAD and OPTIONS.",
    "range_not_satisfiable": "The requested range lies outside the file.",
    "storage_unavailable": "The file cannot be read from storage right now; try again shortly.",
    "registry_unavailable": "The service cannot check this URL right now; try again shortly.",
}


def refusal(
    status: int, code: str, *, headers: Sequence[tuple[str, str]] = (),
    meta: dict[str, Any] | None = None,
) -> ApiError:
    """A download refusal: its status, §4 code, fixed detail and any extra headers."""
    return ApiError(status, code, DETAILS[code], headers=headers, meta=meta)


def unavailable(code: str) -> ApiError:
    """``503`` with ``Retry-After``: ``storage_unavailable`` or ``registry_unavailable``."""
    return refusal(503, code, headers=[("Retry-After", RETRY_AFTER)])
