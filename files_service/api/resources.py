"""The API's resource types in the head shape (§2, §5): their attributes and relationships,
and one builder per type from a registry record. Older versions' shapes are made from these
by the version changes, never here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import NotFound
from ..jsonapi import QueryOptions, Resource
from ..registry.models import ApiKey, File, Organization, Principal, Webhook
from ..registry.sql import Registry
from ..timefmt import iso
from ..upload_urls import UploadUrl
from .urls import RequestUrls

FILE = "file"
API_KEY = "api-key"
WEBHOOK = "webhook"
ORGANIZATION = "organization"
VERSION = "version"
UPLOAD_URL = "upload-url"

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    FILE: (
        "filename", "content-type", "byte-size", "checksum", "metadata", "created-at", "url",
        "url-expires-at",
    ),
    API_KEY: ("name", "status", "file-url-ttl", "api-version", "created-at"),
    WEBHOOK: ("url", "status", "file-url-ttl", "api-version", "created-at"),
    ORGANIZATION: ("name", "created-at", "storage-quota", "storage-used"),
    VERSION: ("status", "deprecation-date", "sunset-date", "changes"),
    UPLOAD_URL: ("url", "expires-at", "file-id", "filename", "content-type", "max-bytes"),
}
"""Every type's attribute names, in the order they are shown (for ``fields[TYPE]``)."""

RELATIONSHIPS: dict[str, dict[str, str]] = {
    FILE: {"organization": ORGANIZATION, "created-by": API_KEY},
    API_KEY: {"organization": ORGANIZATION},
    WEBHOOK: {"organization": ORGANIZATION},
    ORGANIZATION: {},
    VERSION: {},
    UPLOAD_URL: {"organization": ORGANIZATION, "created-by": API_KEY},
}
"""Every type's relationships: name -> the type it points at (for ``include``)."""

CHECKSUM_ALGORITHM = "sha256"


def file_resource(
    file: File, urls: RequestUrls | None = None, options: QueryOptions | None = None
) -> Resource:
    """A file in the head shape. ``urls`` mints its URL afresh, but only where the response
    shows it (a sparse fieldset of ``options`` without ``url`` and ``url-expires-at`` mints
    nothing); without ``urls`` (the command line, which mints for no principal) it has none."""
    attributes: dict[str, Any] = {
        "filename": file.filename,
        "content-type": file.content_type,
        "byte-size": file.byte_size,
        "checksum": {"algorithm": CHECKSUM_ALGORITHM, "value": file.checksum},
        "metadata": file.metadata,
        "created-at": iso(file.created_at),
    }
    if urls is not None:
        wants_url = options is None or options.wants_attribute(FILE, "url")
        wants_expiry = options is None or options.wants_attribute(FILE, "url-expires-at")
        if wants_url or wants_expiry:
            minted = urls.current(file)
            if wants_url:
                attributes["url"] = minted.url
            if wants_expiry:
                attributes["url-expires-at"] = iso(minted.expires_at)
    return Resource(
        FILE,
        file.id,
        attributes,
        {
            "organization": (ORGANIZATION, file.organization_id),
            "created-by": None if file.created_by is None else (API_KEY, file.created_by),
        },
    )


def upload_url_resource(upload: UploadUrl, org_id: str, created_by: str) -> Resource:
    """A signed upload URL; its id is that of the file it will create (``file-id``)."""
    return Resource(
        UPLOAD_URL,
        upload.file_id,
        {
            "url": upload.url,
            "expires-at": iso(upload.expires_at),
            "file-id": upload.file_id,
            "filename": upload.filename,
            "content-type": upload.content_type,
            "max-bytes": upload.max_bytes,
        },
        {"organization": (ORGANIZATION, org_id), "created-by": (API_KEY, created_by)},
    )


def api_key_resource(key: ApiKey) -> Resource:
    """An API key (never its secret)."""
    return Resource(
        API_KEY,
        key.id,
        {
            "name": key.name,
            "status": key.status,
            "file-url-ttl": key.file_url_ttl,
            "api-version": key.api_version,
            "created-at": iso(key.created_at),
        },
        {"organization": (ORGANIZATION, key.organization_id)},
    )


def webhook_resource(hook: Webhook) -> Resource:
    """A webhook."""
    return Resource(
        WEBHOOK,
        hook.id,
        {
            "url": hook.url,
            "status": hook.status,
            "file-url-ttl": hook.file_url_ttl,
            "api-version": hook.api_version,
            "created-at": iso(hook.created_at),
        },
        {"organization": (ORGANIZATION, hook.organization_id)},
    )


def principal_resource(principal: Principal) -> Resource:
    """An API key or a webhook, whichever ``principal`` is."""
    if isinstance(principal, ApiKey):
        return api_key_resource(principal)
    return webhook_resource(principal)


def organization_resource(org: Organization) -> Resource:
    """An organization, with its storage quota (bytes, or null for none) and the bytes its
    files take."""
    return Resource(ORGANIZATION, org.id, {
        "name": org.name,
        "created-at": iso(org.created_at),
        "storage-quota": org.storage_quota,
        "storage-used": org.storage_used,
    })


def related_loader(registry: Registry, org_id: str) -> Callable[[str, str], Resource | None]:
    """Loads the resources ``include`` names, of the caller's organization only (``None``
    for anything else, which ``include`` then leaves out)."""
    loaders: dict[str, tuple[Callable[[str], Any], Callable[[Any], Resource]]] = {
        ORGANIZATION: (registry.get_organization, organization_resource),
        API_KEY: (lambda i: registry.get_principal(i, ApiKey), api_key_resource),
        WEBHOOK: (lambda i: registry.get_principal(i, Webhook), webhook_resource),
    }

    def load(type_name: str, ident: str) -> Resource | None:
        if type_name not in loaders:
            return None
        fetch, build = loaders[type_name]
        try:
            record = fetch(ident)
        except NotFound:
            return None
        visible = record.id == org_id if type_name == ORGANIZATION else (
            record.organization_id == org_id)
        return build(record) if visible else None

    return load
