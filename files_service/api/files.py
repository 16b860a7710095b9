"""``/api/v1/files``: upload or register, read, list (with batch minting) and delete (§5).

Views speak the head shape only; ``documents.respond`` serves each version its own."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, request

from ..errors import Forbidden, ValidationError
from ..files import delete_file, guess_content_type, register_file
from ..intake import Intake
from ..jsonapi import (
    check_content_type,
    unsupported_parameter,
)
from ..registry.models import File
from ..tenancy import check_import_key
from ..validation import check_file_fields
from ..versioning import MigrationContext
from .blueprint import route
from .context import ApiRequest, current_request
from .documents import (
    json_response,
    new_resource_attributes,
    query_options,
    request_urls,
    respond,
)
from .errors import from_forbidden, from_validation
from .lookup import missing, owned
from .negotiation import read_document
from .pipeline import failed_attempt
from .resources import FILE, file_resource
from .upload import MAX_FRAMING_BYTES, POINTERS, MultipartUpload, boundary_of

MULTIPART = "multipart/form-data"
WRITABLE = ("filename", "content-type", "storage-key", "metadata")
READ_ONLY = ("byte-size", "checksum", "created-at", "url", "url-expires-at")


@route("/files", methods=["POST"], mints=True)
def create_file() -> Response:
    """Upload (multipart/form-data, streamed) or register (a JSON:API document naming an
    object already in storage) a file; ``201`` with the file and its URL."""
    api = current_request()
    content_type = request.headers.get("Content-Type")
    check_content_type(content_type, also_allowed={MULTIPART})
    options = query_options(FILE, mints=True)
    urls = request_urls(options)  # a bad url-ttl is refused before the upload moves a byte
    if _essence(content_type) == MULTIPART:
        file = _upload(api, content_type)
    else:
        file = _register(api)
    location = f"{api.services.settings.api_base_url}/api/v1/files/{file.id}"
    return respond(
        file_resource(file, urls, options), options, status=201,
        headers=[("Location", location)], urls=urls,
    )


@route("/files/<file_id>", methods=["GET"], mints=True)
def get_file(file_id: str) -> Response:
    """One file, with a freshly minted URL."""
    api = current_request()
    options = query_options(FILE, mints=True)
    urls = request_urls(options)
    file = _own_file(api, file_id)
    return respond(file_resource(file, urls, options), options, urls=urls)


@route("/files", methods=["GET"], mints=True)
def list_files() -> Response:
    """The organization's files, newest first, a page at a time; or with ``filter[id]`` up to
    100 files by id, all minted in this one response (ids that are unknown or of another
    organization are left out)."""
    api = current_request()
    options = query_options(FILE, is_list=True, mints=True, id_prefix="file")
    urls = request_urls(options)
    registry = api.services.registry
    cursor: str | None = None
    if options.filter_ids is not None:
        for name, _ in request.args.items(multi=True):
            if name.startswith("page["):
                raise unsupported_parameter(
                    name, f"{name} does not combine with filter[id], which returns every file "
                    "it names in one response."
                )
        files = registry.get_files(api.org_id, options.filter_ids)
    else:
        files, cursor = registry.list_files(
            api.org_id, limit=options.page_size, after=options.page_after
        )
    links = {"self": _page_url(None), "next": None if cursor is None else _page_url(cursor)}
    return respond(
        [file_resource(file, urls, options) for file in files], options, links=links, urls=urls
    )


@route("/files/<file_id>", methods=["DELETE"])
def remove_file(file_id: str) -> Response:
    """Delete the file and its object; every URL to it dies with it. ``204``."""
    api = current_request()
    query_options(FILE)
    try:
        delete_file(api.services, file_id, api.org_id)
    except LookupError:
        raise missing(FILE, file_id) from None
    return json_response(None, 204)


# -- helpers -----------------------------------------------------------------------------------


def _essence(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _part_type(content_type: str | None) -> str | None:
    """The file part's media type, unless it is missing or the generic
    ``application/octet-stream`` most clients send when they know nothing better (curl
    does): then the filename says more."""
    if content_type is None or _essence(content_type) == "application/octet-stream":
        return None
    return content_type


def _own_file(api: ApiRequest, file_id: str) -> File:
    return owned(api.services.registry.get_file, FILE, file_id, api.org_id)


def _page_url(after: str | None) -> str:
    """This list's URL (``after=None``) or that of the page after ``after``, with every other
    parameter kept."""
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "page[after]"]
    if after is not None:
        pairs.append(("page[after]", after))
    elif "page[after]" in request.args:
        pairs.append(("page[after]", request.args["page[after]"]))
    base = f"{current_request().services.settings.api_base_url}{request.path}"
    return f"{base}?{urlencode(pairs)}" if pairs else base


def _upload(api: ApiRequest, content_type: str | None) -> File:
    """Stream the form's file into storage, under ``FILES_MAX_UPLOAD_BYTES``; the row is
    written once the whole body is read, the metadata part before or after the file."""
    upload = MultipartUpload(request.stream, boundary_of(content_type))
    limit = api.services.settings.max_upload_bytes
    with Intake(api.services, api.org_id, max_bytes=limit) as intake:
        intake.refuse_declared(request.content_length, framing=MAX_FRAMING_BYTES)
        head = upload.read_head()
        file_type = _part_type(head.content_type) or guess_content_type(head.filename)
        try:
            # Everything known of the file is checked before a byte of it moves.
            check_file_fields(head.filename, file_type, head.metadata)
            intake.write(upload.file_chunks())
            fields = check_file_fields(head.filename, file_type, upload.metadata)
            return intake.commit(fields, created_by=api.key.id)
        except ValidationError as exc:
            raise from_validation(exc, POINTERS) from None


def _register(api: ApiRequest) -> File:
    document = api.config.bundle.upgrade_request(read_document(), api.version, MigrationContext())
    attributes = new_resource_attributes(
        document, FILE, writable=WRITABLE, read_only=READ_ONLY,
        required=("filename", "storage-key"), unknown="a file is registered with",
        relationships="A new file's",
    )
    filename = attributes["filename"]
    try:
        # Decided on the key's spelling alone, before storage is asked anything: the answer
        # for a key outside the folder is the same whatever lies there.
        storage_key = check_import_key(api.org_id, attributes["storage-key"])
    except Forbidden as exc:
        failed_attempt()  # a probe of what other tenants store counts as a guess
        raise from_forbidden(exc) from None
    except ValidationError as exc:
        raise from_validation(exc) from None
    content_type = attributes.get("content-type")
    if content_type is None and isinstance(filename, str):
        content_type = guess_content_type(filename)
    try:
        # Checked here since a JSON document may hold anything.
        fields = check_file_fields(filename, content_type, attributes.get("metadata"))
        return register_file(
            api.services, api.org_id, storage_key, filename=fields.filename,
            content_type=fields.content_type, created_by=api.key.id, metadata=fields.metadata,
        )
    except ValidationError as exc:
        raise from_validation(exc) from None
