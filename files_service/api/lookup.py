"""Reading one record of the caller's organization: another organization's ids get the very
``404`` unknown ones get (§5), so that no one learns what exists elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from ..jsonapi import ApiError, shorten


class _Owned(Protocol):
    @property
    def organization_id(self) -> str: ...


R = TypeVar("R", bound=_Owned)


def missing(kind: str, ident: str) -> ApiError:
    """404 for the ``kind`` (``file``, ``api-key``, …) ``ident`` of the path."""
    return ApiError(
        404, "not_found", f"There is no {kind} {shorten(ident, 40)!r} in your organization."
    )


def owned(load: Callable[[str], R], kind: str, ident: str, org_id: str) -> R:
    """The record ``load(ident)`` where it exists and belongs to ``org_id``; ``missing``
    otherwise."""
    try:
        record = load(ident)
    except LookupError:
        raise missing(kind, ident) from None
    if record.organization_id != org_id:
        raise missing(kind, ident)
    return record
