"""``GET /api/v1/versions``: every version (§6) with its status, deprecation and sunset dates
and the changes it brought, generated from the change objects."""

from __future__ import annotations

from flask import Response

from ..versioning import utc_today, versions_resources
from .blueprint import route
from .context import current_request
from .documents import query_options, respond
from .resources import VERSION


@route("/versions", methods=["GET"])
def list_versions() -> Response:
    """The versions, newest first (``unstable`` on top where enabled). Not paginated."""
    api = current_request()
    options = query_options(VERSION, is_list=True, paginated=False)
    settings = api.services.settings
    resources = versions_resources(
        utc_today(api.services.clock.now()), settings.version_dates,
        enable_unstable=settings.enable_unstable, bundle=api.config.bundle,
    )
    return respond(resources, options)
