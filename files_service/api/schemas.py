"""The API's resources described as JSON Schema (OpenAPI 3.1 ``components.schemas``), in the
head shape; each version's come from these through the change objects' ``downgrade_openapi``.

They also say which attribute names each version has (``attribute_names``), which is what
sparse fieldsets (``fields[TYPE]``) of a request in that version may name."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from ..limits import MAX_FILE_URL_TTL
from ..versioning import VersionBundle
from .resources import ATTRIBUTES, RELATIONSHIPS

ATTRIBUTE_SCHEMAS = {
    "file": "FileAttributes",
    "api-key": "ApiKeyAttributes",
    "webhook": "WebhookAttributes",
    "organization": "OrganizationAttributes",
    "version": "VersionAttributes",
    "upload-url": "UploadUrlAttributes",
}
"""The schema of each type's attributes."""


def ref(kind: str, name: str) -> dict[str, str]:
    """A reference to ``components.<kind>.<name>``."""
    return {"$ref": f"#/components/{kind}/{name}"}


def schema(name: str) -> dict[str, str]:
    """A reference to ``components.schemas.<name>``."""
    return ref("schemas", name)


_TIME = {"type": "string", "format": "date-time"}
TTL = {"type": "integer", "minimum": 1, "maximum": MAX_FILE_URL_TTL}
_VERSION_STRING = {"type": ["string", "null"], "description": "A version, YYYY-MM-DD."}


def _resource(type_name: str, prefix: str | None, attributes: str) -> dict[str, Any]:
    """A resource object schema of ``type_name`` with its relationships."""
    properties: dict[str, Any] = {
        "type": {"const": type_name},
        "id": {"type": "string"} if prefix is None else {
            "type": "string", "pattern": f"^{prefix}_[A-Za-z0-9]+$"},
        "attributes": schema(attributes),
    }
    required = ["type", "id", "attributes"]
    relationships = RELATIONSHIPS[type_name]
    if relationships:
        properties["relationships"] = {
            "type": "object",
            "properties": {name: schema("Relationship") for name in relationships},
        }
        required.append("relationships")
    return {"type": "object", "required": required, "properties": properties}


def _attributes(properties: dict[str, Any], type_name: str) -> dict[str, Any]:
    """An attributes schema: exactly these attributes (the head's are ``ATTRIBUTES``), each
    present unless a sparse fieldset leaves it out, so none is ``required``."""
    if tuple(properties) != ATTRIBUTES[type_name]:  # pragma: no cover - a guard for editors
        raise AssertionError(f"the OpenAPI attributes of {type_name} are out of date")
    return {"type": "object", "properties": properties, "additionalProperties": False}


def head_schemas() -> dict[str, Any]:
    """``components.schemas`` in the head shape (the newest version)."""
    return {
        "ResourceIdentifier": {
            "type": "object",
            "required": ["type", "id"],
            "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
        },
        "Relationship": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": {"oneOf": [schema("ResourceIdentifier"), {"type": "null"}]}},
        },
        "FileAttributes": _attributes({
            "filename": {"type": "string", "description": "1 to 255 bytes of UTF-8."},
            "content-type": {"type": "string"},
            "byte-size": {"type": "integer", "minimum": 0},
            "checksum": {
                "type": "object",
                "required": ["algorithm", "value"],
                "properties": {
                    "algorithm": {"type": "string", "enum": ["sha256"]},
                    "value": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                },
                "description": "The digest of the content and the algorithm that made it.",
            },
            "metadata": {"type": "object", "additionalProperties": True},
            "created-at": _TIME,
            "url": {
                "type": "string",
                "format": "uri",
                "description": (
                    "A download URL, {DOWNLOAD_BASE_URL}/{filename}?access_token={token}: "
                    "anyone holding it may download the file until url-expires-at; no API "
                    "key is needed."
                ),
            },
            "url-expires-at": {**_TIME, "description": "When url stops working."},
        }, "file"),
        "File": _resource("file", "file", "FileAttributes"),
        "ApiKeyAttributes": _attributes({
            "name": {"type": "string"},
            "status": {"type": "string", "enum": ["active", "revoked"]},
            "file-url-ttl": TTL,
            "api-version": _VERSION_STRING,
            "created-at": _TIME,
        }, "api-key"),
        "ApiKey": _resource("api-key", "key", "ApiKeyAttributes"),
        "WebhookAttributes": _attributes({
            "url": {"type": "string", "format": "uri"},
            "status": {"type": "string", "enum": ["active", "revoked"]},
            "file-url-ttl": TTL,
            "api-version": _VERSION_STRING,
            "created-at": _TIME,
        }, "webhook"),
        "Webhook": _resource("webhook", "wbh", "WebhookAttributes"),
        "OrganizationAttributes": _attributes({
            "name": {"type": "string"},
            "created-at": _TIME,
            "storage-quota": {
                "type": ["integer", "null"], "minimum": 0,
                "description": "Bytes the organization's files may take in all; null: no "
                               "quota. Set by the operator (files-service orgs set-quota).",
            },
            "storage-used": {
                "type": "integer", "minimum": 0,
                "description": "Bytes the organization's files take now.",
            },
        }, "organization"),
        "Organization": _resource("organization", "org", "OrganizationAttributes"),
        "VersionAttributes": _attributes({
            "status": {
                "type": "string",
                "enum": ["current", "supported", "deprecated", "retired", "unstable"],
            },
            "deprecation-date": {"type": ["string", "null"], "format": "date"},
            "sunset-date": {"type": ["string", "null"], "format": "date"},
            "changes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "description": {"type": "string"},
                        "resource-types": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        }, "version"),
        "Version": _resource("version", None, "VersionAttributes"),
        "UploadUrlAttributes": _attributes({
            "url": {
                "type": "string",
                "format": "uri",
                "description": (
                    "{DOWNLOAD_BASE_URL}/uploads/{token}: PUT the raw bytes (the request's "
                    "Content-Type is the file's) or POST multipart/form-data with one part "
                    "'file' (an HTML form). No API key is needed; it works once, until "
                    "expires-at. The answer is 201 with the file's document."
                ),
            },
            "expires-at": {**_TIME, "description": "When url stops working."},
            "file-id": {
                "type": "string", "pattern": "^file_[A-Za-z0-9]+$",
                "description": "The id the file will have; GET /files/{file-id} is 404 "
                               "until the upload has finished.",
            },
            "filename": {"type": "string", "description": "The name the file will have."},
            "content-type": {
                "type": ["string", "null"],
                "description": "The types the upload may have: an exact type (image/png), "
                               "a pattern (image/*), or null for any.",
            },
            "max-bytes": {
                "type": "integer", "minimum": 1,
                "description": "The largest file the URL takes, in bytes.",
            },
        }, "upload-url"),
        "UploadUrl": _resource("upload-url", "file", "UploadUrlAttributes"),
        "UploadUrlDocument": document(schema("UploadUrl"), included=True),
        "UploadUrlRequestDocument": _create_document("upload-url", ["filename"], {
            "filename": {"type": "string",
                         "description": "1 to 255 bytes of UTF-8."},
            "content-type": {
                "type": ["string", "null"],
                "description": "An exact type or a type/* pattern; "
                               "default: any type.",
            },
            "max-bytes": {
                "type": "integer", "minimum": 1,
                "description": "At most FILES_MAX_UPLOAD_BYTES, which "
                               "is the default; larger is refused.",
            },
            "metadata": {"type": "object",
                         "description": "The file's metadata."},
            "url-ttl": {
                **TTL,
                "description": "Seconds the URL lives: default 3600, "
                               "or the principal's file-url-ttl where "
                               "shorter; longer than that is refused.",
            },
        }),
        "Included": {
            "type": "array",
            "items": {"oneOf": [schema("ApiKey"), schema("Organization")]},
        },
        "ListLinks": {
            "type": "object",
            "required": ["self", "next"],
            "properties": {
                "self": {"type": "string", "format": "uri"},
                "next": {"type": ["string", "null"], "format": "uri",
                         "description": "The next page; null on the last one."},
            },
        },
        "FileDocument": document(schema("File"), included=True),
        "FileListDocument": {
            **document({"type": "array", "items": schema("File")}),
            "required": ["data", "links"],
        },
        "ApiKeyDocument": document(schema("ApiKey"), included=True),
        "WebhookDocument": document(schema("Webhook"), included=True),
        "OrganizationDocument": document(schema("Organization"), included=True),
        "VersionListDocument": document({"type": "array", "items": schema("Version")}),
        "RegisterDocument": _create_document("file", ["filename", "storage-key"], {
            "filename": {"type": "string"},
            "content-type": {
                "type": "string",
                "description": "Default: guessed from the filename.",
            },
            "storage-key": {
                "type": "string",
                "description": (
                    "Relative to the storage root or prefix, in the "
                    "organization's import folder: imports/{organization "
                    "id}/… (any other key: 403 forbidden)."
                ),
            },
            "metadata": {"type": "object"},
        }),
        "Upload": {
            "type": "object",
            "required": ["file"],
            "additionalProperties": False,  # any other part is refused (upload.py)
            "properties": {
                "metadata": {
                    "type": "object",
                    "description": "Optional; before or after the file part.",
                },
                "file": {"type": "string", "contentMediaType": "application/octet-stream"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["status", "code", "title", "detail"],
            "properties": {
                "status": {"type": "string"},
                "code": {"type": "string"},
                "title": {"type": "string"},
                "detail": {"type": "string"},
                "source": {
                    "type": "object",
                    "properties": {
                        "pointer": {"type": "string"},
                        "parameter": {"type": "string"},
                        "header": {"type": "string"},
                    },
                },
                "meta": {"type": "object"},
            },
        },
        "ErrorDocument": {
            "type": "object",
            "required": ["errors"],
            "properties": {"errors": {"type": "array", "items": schema("Error")}},
        },
    }


def _create_document(
    type_name: str, required: list[str], properties: dict[str, Any]
) -> dict[str, Any]:
    """A request document that creates a ``type_name``: ids are the server's to make (403),
    and so are relationships (400); no attribute but ``properties``."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["type", "attributes"],
                "properties": {
                    "type": {"const": type_name},
                    "id": False,
                    "relationships": False,
                    "attributes": {
                        "type": "object",
                        "required": required,
                        "additionalProperties": False,
                        "properties": properties,
                    },
                },
            },
        },
    }


def document(data: dict[str, Any], *, included: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {"data": data}
    if included:
        properties["included"] = schema("Included")
    else:
        properties["links"] = schema("ListLinks")
    return {"type": "object", "required": ["data"], "properties": properties}


@lru_cache(maxsize=64)
def attribute_names(bundle: VersionBundle, version: str) -> Mapping[str, tuple[str, ...]]:
    """Every type's attribute names as ``version`` shows them (computed once per version)."""
    schemas = bundle.migrate_openapi(head_schemas(), version)
    return MappingProxyType({
        type_name: tuple(schemas[name]["properties"])
        for type_name, name in ATTRIBUTE_SCHEMAS.items()
    })
