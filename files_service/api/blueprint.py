"""The ``/api/v1`` blueprint the resource modules add their views to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint

V = TypeVar("V", bound=Callable[..., Any])

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MINTING_ENDPOINTS: set[str] = set()
"""Endpoints whose responses hold files, where ``webhook-id``, ``url-ttl`` and
``url-disposition`` apply (§5)."""


def route(rule: str, *, methods: list[str], mints: bool = False) -> Callable[[V], V]:
    """Add a view at ``rule`` (a trailing slash matches too); ``mints``: it returns files."""

    def decorator(view: V) -> V:
        bp.add_url_rule(rule, view.__name__, view, methods=methods, strict_slashes=False)
        if mints:
            MINTING_ENDPOINTS.add(f"{bp.name}.{view.__name__}")
        return view

    return decorator
