"""``POST /api/v1/upload-urls``: mint a signed upload URL (§5), for the calling api-key or, with
``webhook-id``, in that webhook's context. The upload itself goes to the URL, answered by
``files_service.uploads``."""

from __future__ import annotations

from flask import Response, request

from ..errors import ValidationError
from ..jsonapi import ApiError, bad_parameter, bad_pointer, check_content_type, json_pointer
from ..upload_urls import mint_upload_url
from ..versioning import MigrationContext
from .blueprint import route
from .context import current_request
from .documents import query_options, respond
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
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise bad_pointer("/data", "'data' must be a resource object of type 'upload-url'.")
    if "type" not in data:
        raise bad_pointer("/data/type", "'type' is required: 'upload-url'.")
    if data["type"] != UPLOAD_URL:
        raise ApiError(
            409, "conflict", "This endpoint creates resources of type 'upload-url'.",
            source={"pointer": "/data/type"},
        )
    if "id" in data:
        raise ApiError(
            403, "client_generated_id", "Ids are made by the server: leave 'id' out.",
            source={"pointer": "/data/id"},
        )
    if "relationships" in data:
        raise bad_pointer(
            "/data/relationships", "An upload URL's relationships are set by the server."
        )
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        raise bad_pointer("/data/attributes", "'attributes' must be an object.")
    for name in attributes:
        pointer = json_pointer("data", "attributes", name)
        if name in READ_ONLY:
            raise bad_pointer(pointer, f"'{name}' is read-only: it is set by the server.")
        if name not in WRITABLE:
            raise bad_pointer(
                pointer, f"Unknown attribute (an upload URL takes {', '.join(WRITABLE)})."
            )
    if "filename" not in attributes:
        raise bad_pointer("/data/attributes/filename", "'filename' is required.")
    return attributes
