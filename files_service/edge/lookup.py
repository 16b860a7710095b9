"""The front tier's lookup (SPEC §9): what the edge's nginx needs to answer a download whose
token it has checked, ``GET /_edge/lookup/{file id}/{principal id}``.

The answer is the registry's, read now: the edge's nginx caches it for
``FILES_REGISTRY_CACHE_SECONDS`` (one request per file and principal per that time), so this
endpoint bypasses the service's own cache. Were it to read through that cache too, the two
lifetimes would add up, and a revocation could take twice the promised time to reach the edge.

It answers, as JSON (``Cache-Control: no-store``; nginx keeps it by its own rule)::

    {"principal": "revoked", "file": null}       principal revoked or unknown: revoked_token
    {"principal": "active", "file": null}        file deleted, or another organization's: 404
    {"principal": "active", "file": {
        "size": 16384, "contentType": "application/pdf",
        "etag": "\\"<sha256>\\"", "lastModified": "<HTTP date>", "modified": <Unix seconds>,
        "disposition": {"inline": "inline; filename=…", "attachment": "attachment; …"},
        "storage": {"path": "/abs/path"} | {"uri": "/bucket/key?X-Amz-…"} | {}}}

``storage`` says where the bytes are: a local file (its resolved path, which nginx opens), a
presigned S3 URL's path and query (signed here, so nginx holds no storage credentials; it
lives a minute longer than nginx keeps the answer), or nothing where the object cannot be
where it should (the service answers ``404`` then, as the edge does).

The checks are the download paths' own (``download.Authorizer``, in its order: the principal,
then the file and its organization), asked through a cache that keeps nothing; the headers are
``download.decide``'s. Errors are JSON:API documents: ``503`` ``registry_unavailable`` (or
``storage_unavailable`` where a URL cannot be signed), ``404`` for ids of the wrong form.
Served on every listener of the service; the edge's public listener never passes ``/_edge/``
on (docs/delivery.md), its internal one does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app

from ..download.authorize import Authorizer
from ..download.decide import decide
from ..download.refusals import unavailable
from ..errors import InvalidStorageKey, ObjectNotFound, RegistryError, StorageUnavailable
from ..ids import is_id
from ..jsonapi import ApiError, not_found
from ..registry.cache import RegistryCache
from ..registry.models import File
from ..services import Services
from ..storage import PresignedUrls
from ..storage.s3 import MAX_PRESIGN_SECONDS
from ..tokens import CURRENT, Claims
from ..web_errors import render

log = logging.getLogger(__name__)

bp = Blueprint("edge", __name__)
PREFIX = "/_edge/lookup/"
# A presigned URL outlives the cached answer that carries it by this much.
PRESIGN_MARGIN_SECONDS = 60


def _services() -> Services:
    from .. import get_services

    return get_services(current_app)


@bp.get(PREFIX + "<file_id>/<principal_id>")
def lookup(file_id: str, principal_id: str) -> Response:
    """The edge's view of one file for one principal (see the module docstring)."""
    if not is_id(file_id, "file") or not (
        is_id(principal_id, "key") or is_id(principal_id, "wbh")
    ):
        return render(not_found("No such file or principal."))
    services = _services()
    try:
        document = answer(services, file_id, principal_id)
    except RegistryError:
        log.warning("registry unavailable during an edge lookup")
        return render(unavailable("registry_unavailable"))
    except StorageUnavailable:
        log.warning("storage unavailable during an edge lookup")
        return render(unavailable("storage_unavailable"))
    return Response(
        json.dumps(document), mimetype="application/json", headers={"Cache-Control": "no-store"}
    )


def answer(services: Services, file_id: str, principal_id: str) -> dict[str, Any]:
    """The lookup's document, from the registry itself (never the service's cache)."""
    uncached = RegistryCache(services.registry, services.clock, 0)
    authorizer = Authorizer(services.tokens, uncached, services.registry, services.metrics)
    claims = Claims("", file_id, principal_id, None, "inline", CURRENT)
    try:
        file = authorizer.file(claims)
    except ApiError as refused:
        if refused.code == "revoked_token":
            return {"principal": "revoked", "file": None}
        return {"principal": "active", "file": None}  # not_found
    return {"principal": "active", "file": describe(services, file, claims)}


def describe(services: Services, file: File, claims: Claims) -> dict[str, Any]:
    """What the edge sends for ``file``: the download paths' own headers (``decide``'s, for
    either disposition), and where the bytes are."""
    headers = {}
    for disposition in ("inline", "attachment"):
        decided = decide(
            "HEAD", file, dataclasses.replace(claims, disposition=disposition),
            services.clock.now(),
            cdn_cache=services.settings.cdn_cache, range_header=None, if_range=None,
            if_none_match=None, if_modified_since=None,
        )
        headers[disposition] = dict(decided.headers)
    inline = headers["inline"]
    return {
        "size": file.byte_size,
        "contentType": inline["Content-Type"],
        "etag": inline["ETag"],
        "lastModified": inline["Last-Modified"],
        "modified": math.floor(file.created_at),
        "disposition": {name: h["Content-Disposition"] for name, h in headers.items()},
        "storage": _location(services, file),
    }


def _location(services: Services, file: File) -> dict[str, str]:
    storage = services.storage
    path_for = getattr(storage, "path_for", None)
    if path_for is not None:
        try:
            return {"path": path_for(file.storage_key)}
        except (InvalidStorageKey, ObjectNotFound):
            # A key that leaves the storage root (through a symlink): the service's own
            # open() calls it missing.
            return {}
    if not isinstance(storage, PresignedUrls):
        return {}
    lifetime = min(
        services.settings.registry_cache_seconds + PRESIGN_MARGIN_SECONDS, MAX_PRESIGN_SECONDS
    )
    url = urlsplit(storage.presigned_get_url(file.storage_key, lifetime))
    return {"uri": f"{url.path}?{url.query}"}


def init_app(app: Flask) -> None:
    """Serve the lookup from ``app``."""
    app.register_blueprint(bp)
