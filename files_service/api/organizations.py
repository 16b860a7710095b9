"""``GET /api/v1/organizations/{id}``: the caller's own organization (any other id is
``404``)."""

from __future__ import annotations

from flask import Response

from .blueprint import route
from .context import current_request
from .documents import query_options, respond
from .lookup import missing
from .resources import ORGANIZATION, organization_resource


@route("/organizations/<org_id>", methods=["GET"])
def get_organization(org_id: str) -> Response:
    """The caller's organization."""
    api = current_request()
    options = query_options(ORGANIZATION)
    if org_id != api.org_id:
        raise missing("organization", org_id)
    return respond(organization_resource(api.services.registry.get_organization(org_id)), options)
