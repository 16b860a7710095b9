"""``GET /api/v1/webhooks/{id}``: a read-only view of a webhook of the caller's
organization."""

from __future__ import annotations

from flask import Response

from ..registry.models import Webhook
from .blueprint import route
from .context import current_request
from .documents import query_options, respond
from .lookup import owned
from .resources import WEBHOOK, webhook_resource


@route("/webhooks/<webhook_id>", methods=["GET"])
def get_webhook(webhook_id: str) -> Response:
    """One webhook."""
    api = current_request()
    options = query_options(WEBHOOK)
    registry = api.services.registry
    hook = owned(lambda i: registry.get_principal(i, Webhook), WEBHOOK, webhook_id, api.org_id)
    return respond(webhook_resource(hook), options)
