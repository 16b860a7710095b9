"""``GET /api/v1/api-keys/{id}``: a read-only view of an API key of the caller's organization
(never its secret), so that a file's ``created-by`` can be included."""

from __future__ import annotations

from flask import Response

from ..registry.models import ApiKey
from .blueprint import route
from .context import current_request
from .documents import query_options, respond
from .lookup import owned
from .resources import API_KEY, api_key_resource


@route("/api-keys/<key_id>", methods=["GET"])
def get_api_key(key_id: str) -> Response:
    """One API key."""
    api = current_request()
    options = query_options(API_KEY)
    registry = api.services.registry
    key = owned(lambda i: registry.get_principal(i, ApiKey), API_KEY, key_id, api.org_id)
    return respond(api_key_resource(key), options)
