"""``POST /api/v1/upload-urls``: mint a signed upload URL (§5), for the calling api-key or, with
``webhook-id``, in that webhook's context. The upload itself goes to the URL, answered by
``files_service.uploads``."""

from __future__ import annotations

from flask import Response, request

from ..errors import ValidationError
from ..jsonapi import bad_parameter, check_content_type
from ..upload_urls import mint_upload_url
from ..versioning import MigrationContext
from .blueprint import route
from .context import current_request
from .documents import new_resource_attributes, query_options, respond
from .errors import from_validation
from .negotiation import read_document
from .resources import UPLOAD_URL, upload_url_resource

WRITABLE = ("filename", "content-type", "max-bytes", "metadata", "url-ttl")
READ_ONLY = ("url", "expires-at", "file-id")
POINTERS = {name: f"/data/attributes/{name}" for name in WRITABLE}
"""Where the domain's validation errors point: ``url-ttl`` is an attribute here, not the
query parameter of the same name."""


@route("/upload-urls", methods=["POST"], mints=True)
def create_upload_url() -> Response:
    """A new upload URL: ``201`` with the ``upload-url`` resource."""
    api = current_request()
    check_content_type(request.headers.get("Content-Type"))
    # Only webhook-id of the minting parameters applies: url-ttl is an attribute here, and
    # an upload URL has no disposition. Both are refused by name in the query.
    options = query_options(UPLOAD_URL, mints=True)
    for name in ("url-ttl", "url-disposition"):
        if name in options.extra:
            raise bad_parameter(
                name, f"'{name}' does not apply to upload URLs"
                + (" (give url-ttl as an attribute)." if name == "url-ttl" else "."),
            )
    document = api.config.bundle.upgrade_request(read_document(), api.version, MigrationContext())
    attributes = _attributes(document)
    try:
        upload = mint_upload_url(
            api.services, api.minting_principal, api.key,
            filename=attributes["filename"], content_type=attributes.get("content-type"),
            max_bytes=attributes.get("max-bytes"), metadata=attributes.get("metadata"),
            ttl=attributes.get("url-ttl"),
        )
    except ValidationError as exc:
        raise from_validation(exc, POINTERS) from None
    return respond(upload_url_resource(upload, api.org_id, api.key.id), options, status=201)


def _attributes(document: object) -> dict[str, object]:
    """The request document's attributes, its shape checked (each error on its pointer)."""
    return new_resource_attributes(
        document, UPLOAD_URL, writable=WRITABLE, read_only=READ_ONLY, required=("filename",),
        unknown="an upload URL takes", relationships="An upload URL's",
    )
