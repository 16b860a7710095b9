"""The state of one API request, kept on ``flask.g``: who is calling, on whose behalf URLs are
minted and which API version serves the request. The pipeline (``pipeline.py``) fills it in
before a view runs; views and the error handlers read it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g

from ..registry.models import ApiKey, Principal
from ..services import Services
from ..versioning import BUNDLE, Resolution, VersionBundle

EXTENSION = "files_service.api"


@dataclass
class ApiConfig:
    """What the API serves, per app. ``bundle``: the released versions and their changes
    (tests swap in another one to play an older or newer release of the code)."""

    bundle: VersionBundle = BUNDLE


@dataclass
class ApiRequest:
    """One request's caller and version.

    ``api_key``: the authenticated, active key. ``principal``: on whose behalf URLs are minted
    and whose version applies (the webhook of a ``webhook-id`` mint, else the key).
    ``resolution``: the version served, once resolved. ``version_at_fault``: the version
    itself was refused, so the response names none.
    """

    services: Services
    config: ApiConfig
    started: float
    api_key: ApiKey | None = None
    principal: Principal | None = None
    resolution: Resolution | None = None
    version_at_fault: bool = False

    @property
    def version(self) -> str:
        """The version served; only valid once the pipeline has resolved it."""
        if self.resolution is None:  # pragma: no cover - a view runs only after resolution
            raise RuntimeError("the API version is not resolved yet")
        return self.resolution.version

    @property
    def key(self) -> ApiKey:
        """The calling API key; only valid once the pipeline has authenticated it."""
        if self.api_key is None:  # pragma: no cover - a view runs only after authentication
            raise RuntimeError("the request is not authenticated yet")
        return self.api_key

    @property
    def org_id(self) -> str:
        """The caller's organization: everything it sees belongs to it."""
        return self.key.organization_id

    @property
    def minting_principal(self) -> Principal:
        """The principal URLs are minted for."""
        return self.principal or self.key


def api_config(app: Flask | None = None) -> ApiConfig:
    """The API configuration of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]  # type: ignore[no-any-return]


def current_request() -> ApiRequest:
    """The ``ApiRequest`` of the request being served."""
    return g.files_api  # type: ignore[no-any-return]


def current_request_or_none() -> ApiRequest | None:
    """The ``ApiRequest``, or ``None`` where the pipeline never got to make one."""
    api: ApiRequest | None = g.get("files_api")
    return api
