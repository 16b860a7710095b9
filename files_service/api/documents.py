"""Reading a request's query and writing its response document (§7), in the version served.

Views build head-shaped ``Resource`` values and call ``respond``, which resolves ``include``,
migrates every resource object back to the version served (``VersionBundle``), applies the
sparse fieldsets and sends ``application/vnd.api+json``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Response, request

from ..jsonapi import (
    MEDIA_TYPE,
    ApiError,
    QueryOptions,
    Resource,
    bad_pointer,
    build_document,
    json_pointer,
    parse_query,
    resolve_includes,
)
from ..versioning import MigrationContext
from .context import current_request
from .mint_query import MINTING, NOT_MINTING, MintOptions
from .resources import RELATIONSHIPS, related_loader
from .schemas import attribute_names
from .urls import RequestUrls


def query_options(
    primary_type: str,
    *,
    is_list: bool = False,
    mints: bool = False,
    paginated: bool | None = None,
    id_prefix: str | None = None,
) -> QueryOptions:
    """The request's query parameters, checked for an endpoint returning ``primary_type``;
    ``ApiError`` (400) naming every bad one. Sparse fieldsets name the attributes of the
    version served; ``mints``: the endpoint returns files (the minting parameters apply)."""
    api = current_request()
    return parse_query(
        list(request.args.items(multi=True)),
        is_list=is_list,
        known_types=attribute_names(api.config.bundle, api.version),
        relationships=RELATIONSHIPS,
        primary_type=primary_type,
        id_prefix=id_prefix,
        paginated=paginated,
        extra=MINTING if mints else NOT_MINTING,
    )


def request_urls(options: QueryOptions) -> RequestUrls:
    """The URL minting of this request (``url-ttl`` checked now)."""
    api = current_request()
    asked = MintOptions.of(options)
    return RequestUrls(
        api.services, api.minting_principal, ttl=asked.ttl, disposition=asked.disposition
    )


def json_response(
    document: Mapping[str, Any] | None,
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (),
    *,
    content_type: str = MEDIA_TYPE,
) -> Response:
    """A response carrying ``document`` as JSON (no body for ``None``)."""
    body = "" if document is None else json.dumps(document, ensure_ascii=False)
    response = Response(body, status=status, headers=list(headers))
    if document is not None:
        response.headers["Content-Type"] = content_type
    else:
        del response.headers["Content-Type"]
    return response


def respond(
    primary: Resource | Sequence[Resource],
    options: QueryOptions,
    *,
    status: int = 200,
    links: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    headers: Sequence[tuple[str, str]] = (),
    urls: RequestUrls | None = None,
) -> Response:
    """The JSON:API response for head-shaped ``primary`` in the version served: ``include``
    resolved (in the caller's organization), every resource migrated, fieldsets applied."""
    api = current_request()
    version = api.version
    bundle = api.config.bundle
    included = None
    if options.include is not None:
        loader = related_loader(api.services.registry, api.org_id)
        included = resolve_includes(primary, options.include, loader)
    migration = urls.migration_context() if urls is not None else MigrationContext()
    document = build_document(
        primary,
        included=included,
        fieldsets=options.fields,
        links=links,
        meta=meta,
        transform=lambda obj: bundle.migrate_resource(obj, version, migration),
    )
    if urls is not None:
        urls.count_shown(document, version)
    return json_response(document, status, headers)


def new_resource_attributes(
    document: object, resource_type: str, *, writable: Sequence[str], read_only: Sequence[str],
    required: Sequence[str], unknown: str, relationships: str,
) -> dict[str, Any]:
    """The attributes of a request document that creates a ``resource_type``, its shape
    checked, each error on its pointer (§7): ``data`` a resource object of that type, no
    client-generated ``id`` (``403``), no ``relationships``, no ``read_only`` or unknown
    attribute, every ``required`` one present. ``unknown`` and ``relationships`` end the
    details of those two refusals (for example "a file is registered with" and "A new
    file's")."""
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise bad_pointer(
            "/data", f"'data' must be a resource object of type '{resource_type}'."
        )
    if "type" not in data:
        raise bad_pointer("/data/type", f"'type' is required: '{resource_type}'.")
    if data["type"] != resource_type:
        raise ApiError(
            409, "conflict", f"This endpoint creates resources of type '{resource_type}'.",
            source={"pointer": "/data/type"},
        )
    if "id" in data:
        raise ApiError(
            403, "client_generated_id", "Ids are made by the server: leave 'id' out.",
            source={"pointer": "/data/id"},
        )
    if "relationships" in data:
        raise bad_pointer("/data/relationships", f"{relationships} relationships are set by "
                                                 "the server.")
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        raise bad_pointer("/data/attributes", "'attributes' must be an object.")
    for name in attributes:
        pointer = json_pointer("data", "attributes", name)
        if name in read_only:
            raise bad_pointer(pointer, f"'{name}' is read-only: it is set by the server.")
        if name not in writable:
            raise bad_pointer(pointer, f"Unknown attribute ({unknown} {', '.join(writable)}).")
    for name in required:
        if name not in attributes:
            raise bad_pointer(f"/data/attributes/{name}", f"'{name}' is required.")
    return attributes
