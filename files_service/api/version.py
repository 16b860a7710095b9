"""Version resolution for one request (§6), on top of ``versioning.resolve``.

``resolve_for`` resolves the version of a request for its principal, pinning the principal
on its first unversioned request: atomically, in the registry, so that when replicas race
exactly one value is stored and every racer serves that one. A request that names a version
never pins anything; a pin is never moved by a later release (only ``files-service keys
set-version`` changes it).

``response_headers`` gives ``Files-Version`` (left out where the version itself was at
fault), ``Vary`` and, for a deprecated version, ``Deprecation``, ``Sunset`` and ``Link``.
"""

from __future__ import annotations

from typing import cast

from flask import request

from ..jsonapi import ApiError, api_version_param
from ..registry.models import Principal
from ..services import Services
from ..versioning import Resolution, VersionBundle, deprecation_headers, resolve_version, utc_today
from ..versioning.resolve import VERSION_HEADER, RetiredPolicy

VARY = ("Files-Version", "Accept")


def _resolve(
    services: Services, bundle: VersionBundle, principal_version: str | None
) -> Resolution:
    settings = services.settings
    return resolve_version(
        header=request.headers.get(VERSION_HEADER),
        accept=request.headers.get("Accept"),
        query=api_version_param(list(request.args.items(multi=True))),
        principal_version=principal_version,
        today=utc_today(services.clock.now()),
        versions=bundle.versions,
        version_dates=settings.version_dates,
        retired_policy=cast(RetiredPolicy, settings.retired_versions),
        enable_unstable=settings.enable_unstable,
    )


def resolve_for(services: Services, bundle: VersionBundle, principal: Principal) -> Resolution:
    """The version serving this request for ``principal``, pinning it where it has none yet.
    ``ApiError`` (400) where the version is at fault."""
    resolution = _resolve(services, bundle, principal.api_version)
    if not resolution.needs_pin:
        return resolution
    pinned = services.registry.pin_principal_version(principal.id, resolution.version)
    if pinned == resolution.version:
        return resolution
    # Another replica pinned first (maybe running a release with another newest version):
    # its value stands, and serves this request too.
    return _resolve(services, bundle, pinned)


def explicit_resolution(services: Services, bundle: VersionBundle) -> Resolution | None:
    """The version a request names itself, where it names a good one; ``None`` otherwise.
    For responses given before the caller is known (401), which have no principal's version
    to fall back on."""
    try:
        resolution = _resolve(services, bundle, None)
    except ApiError:
        return None
    return resolution if resolution.explicit else None


def response_headers(
    resolution: Resolution | None, link_url: str | None
) -> list[tuple[str, str]]:
    """``Files-Version`` and the deprecation headers of ``resolution`` (none without one)."""
    if resolution is None:
        return []
    return [(VERSION_HEADER, resolution.version), *deprecation_headers(resolution, link_url)]


def merge_vary(existing: str | None) -> str:
    """``Vary`` with ``Files-Version`` and ``Accept`` added to what is there."""
    names = [name.strip() for name in (existing or "").split(",") if name.strip()]
    for name in VARY:
        if name.lower() not in (known.lower() for known in names):
            names.append(name)
    return ", ".join(names)
