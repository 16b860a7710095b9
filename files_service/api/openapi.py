"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 description of the API in the version
requested (§5), as plain JSON.

The description is built from the small head-shaped description below; each version's
``components.schemas`` come from the head ones through the change objects'
``downgrade_openapi`` (``VersionBundle.migrate_openapi``), exactly as responses do, so the
description of an older version cannot drift from what it serves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response

from ..ids import ID_CHARS
from ..jsonapi import MEDIA_TYPE
from ..jsonapi.query import (
    DEFAULT_PAGE_SIZE,
    MAP_ATTRIBUTES,
    MAX_CURSOR_CHARS,
    MAX_FILTER_IDS,
    MAX_INCLUDE_NAMES,
    MAX_PAGE_SIZE,
)
from ..versioning import VersionBundle
from .blueprint import route
from .context import current_request
from .documents import json_response, query_options
from .negotiation import JSON
from .resources import RELATIONSHIPS
from .schemas import TTL, attribute_names, head_schemas, ref, schema

OPENAPI_VERSION = "3.1.0"


def _query(name: str, description: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": value}


def _id_pattern(prefix: str) -> str:
    return f"{prefix}_[A-Za-z0-9]{{{ID_CHARS}}}"


def _list_pattern(items: Iterable[str], *, also: str | None = None) -> str:
    """A comma-separated list of ``items`` (or of what the regex ``also`` matches), or
    nothing: what ``include`` and ``fields[TYPE]`` take (jsonapi/query.py)."""
    # Names are of a-z, '-' and '.': only the dot needs escaping (and ECMA-262 patterns,
    # which JSON Schema uses, refuse Python's escaped '-').
    one = "|".join([*(item.replace(".", r"\.") for item in items), *([also] if also else [])])
    return f"^$|^({one})(,({one}))*$" if one else "^$"


def _include_paths(type_name: str) -> list[str]:
    """The relationship paths ``include`` may name from ``type_name`` (at most
    ``MAX_INCLUDE_NAMES`` names deep)."""
    paths: list[str] = []
    frontier = [("", type_name)]
    for _ in range(MAX_INCLUDE_NAMES):
        frontier = [
            (f"{prefix}{name}", target)
            for prefix, current in frontier
            for name, target in RELATIONSHIPS[current].items()
        ]
        paths += [path for path, _ in frontier]
        frontier = [(f"{path}.", target) for path, target in frontier]
    return paths


def _include(type_name: str) -> dict[str, Any]:
    paths = _include_paths(type_name)
    return _query(
        "include",
        "Related resources to include: comma-separated relationship paths of at most "
        f"{MAX_INCLUDE_NAMES} names ({', '.join(paths) or 'none here'}); empty for none.",
        {"type": "string", "pattern": _list_pattern(paths)},
    )


_PARAMETERS: dict[str, Any] = {
    "FilesVersion": {
        "name": "Files-Version", "in": "header", "required": False,
        "description": "The API version, YYYY-MM-DD (or 'unstable' where enabled).",
        "schema": {"type": "string"},
    },
    "ApiVersion": _query("api-version", "The API version, as the Files-Version header.",
                         {"type": "string"}),
    **{f"Include-{type_name}": _include(type_name)
       for type_name in ("file", "api-key", "webhook", "organization", "upload-url")},
    "WebhookId": _query("webhook-id", "Mint in this webhook's context: its TTL and API version.",
                        {"type": "string", "pattern": f"^{_id_pattern('wbh')}$"}),
    "UrlTtl": _query("url-ttl", "A shorter TTL for the minted URLs; longer is refused.", TTL),
    "UrlDisposition": _query("url-disposition", "Content-Disposition of the download.",
                             {"type": "string", "enum": ["inline", "attachment"],
                              "default": "inline"}),
    "PageSize": _query("page[size]", "Files per page.",
                       {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                        "default": DEFAULT_PAGE_SIZE}),
    "PageAfter": _query("page[after]", "The opaque cursor of links.next.",
                        {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_CHARS}),
    "FilterId": _query(
        "filter[id]", f"1 to {MAX_FILTER_IDS} comma-separated file ids, all minted in one "
        "response.",
        {"type": "string",
         "pattern": f"^{_id_pattern('file')}(,{_id_pattern('file')}){{0,{MAX_FILTER_IDS - 1}}}$"},
    ),
    "Id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
}


def _fieldset(type_name: str, attributes: tuple[str, ...]) -> dict[str, Any]:
    """``fields[TYPE]``: attribute (or relationship) names, or ``metadata.KEY`` for a map."""
    maps = sorted(MAP_ATTRIBUTES & set(attributes))
    return _query(
        f"fields[{type_name}]",
        f"Sparse fieldset: the attributes of {type_name} resources to keep "
        f"({', '.join(attributes)}), comma-separated"
        + ("".join(f", or one key of {name} with {name}.KEY" for name in maps))
        + "; empty for none.",
        {"type": "string", "pattern": _list_pattern(
            [*attributes, *RELATIONSHIPS[type_name]],
            also=f"({'|'.join(maps)})\\.[^,]+" if maps else None,
        )},
    )


def _parameters(names: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """``components.parameters``, the sparse fieldsets naming the attributes of the version
    described (``names``: ``schemas.attribute_names``)."""
    fields = {
        f"Fields-{type_name}": _fieldset(type_name, attributes)
        for type_name, attributes in names.items()
    }
    return {**_PARAMETERS, **fields}


def _params(*names: str) -> list[dict[str, str]]:
    return [ref("parameters", name) for name in ("FilesVersion", "ApiVersion", *names)]


def _fields(*types: str) -> list[str]:
    return [f"Fields-{type_name}" for type_name in types]


def _ok(schema_name: str, description: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "headers": {"Files-Version": ref("headers", "FilesVersion")},
            "content": {MEDIA_TYPE: {"schema": schema(schema_name)}},
        },
        "default": ref("responses", "Error"),
    }


_MINTING = ("WebhookId", "UrlTtl", "UrlDisposition")
_FILE_FIELDS = _fields("file", "organization", "api-key")


def _paths(download_base_url: str) -> dict[str, Any]:
    return {
        "/files": {
            "get": {
                "operationId": "listFiles",
                "summary": "The organization's files, newest first; or many by id.",
                "parameters": _params("PageSize", "PageAfter", "FilterId", *_MINTING,
                                      *_fields("file")),
                "responses": _ok("FileListDocument", "A page of files."),
            },
            "post": {
                "operationId": "createFile",
                "summary": "Upload a file (streamed) or register an object already in storage.",
                "parameters": _params("Include-file", *_MINTING, *_FILE_FIELDS),
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": schema("Upload"),
                            "encoding": {"metadata": {"contentType": JSON}},
                        },
                        MEDIA_TYPE: {"schema": schema("RegisterDocument")},
                    },
                },
                "responses": _ok("FileDocument", "The new file, its URL minted.", "201"),
            },
        },
        "/files/{id}": {
            "parameters": [ref("parameters", "Id")],
            "get": {
                "operationId": "getFile",
                "summary": "A file, with a freshly minted URL.",
                "parameters": _params("Include-file", *_MINTING, *_FILE_FIELDS),
                "responses": _ok("FileDocument", "The file."),
            },
            "delete": {
                "operationId": "deleteFile",
                "summary": "Delete a file and its object.",
                "parameters": _params(),
                "responses": {
                    "204": {"description": "Deleted.",
                            "headers": {"Files-Version": ref("headers", "FilesVersion")}},
                    "default": ref("responses", "Error"),
                },
            },
        },
        "/files/{token}/{filename}": {
            "get": {
                "operationId": "downloadLegacyUrl",
                "summary": "Download through a legacy URL (minted by versions before "
                           "2023-01-05); needs an active API key of the file's organization.",
                "parameters": [
                    {"name": "token", "in": "path", "required": True,
                     "schema": {"type": "string"}},
                    {"name": "filename", "in": "path", "required": True,
                     "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "The file's bytes.",
                            "content": {"*/*": {"schema": {
                                "type": "string",
                                "contentMediaType": "application/octet-stream"}}}},
                    "default": ref("responses", "Error"),
                },
            },
        },
        "/upload-urls": {
            "post": {
                "operationId": "createUploadUrl",
                "summary": "Mint a signed upload URL: a browser uploads one file to it, with "
                           "no API key, until it expires.",
                "parameters": _params("Include-upload-url", "WebhookId",
                                      *_fields("upload-url", "organization", "api-key")),
                "requestBody": {
                    "required": True,
                    "content": {MEDIA_TYPE: {"schema": schema("UploadUrlRequestDocument")}},
                },
                "responses": _ok("UploadUrlDocument", "The upload URL.", "201"),
            },
        },
        "/uploads/{token}": _upload_path(download_base_url),
        "/api-keys/{id}": _read("getApiKey", "An API key (never its secret).", "ApiKeyDocument",
                                "api-key", _fields("api-key", "organization")),
        "/webhooks/{id}": _read("getWebhook", "A webhook.", "WebhookDocument",
                                "webhook", _fields("webhook", "organization")),
        "/organizations/{id}": _read("getOrganization", "Your organization.",
                                     "OrganizationDocument", "organization",
                                     _fields("organization")),
        "/versions": {
            "get": {
                "operationId": "listVersions",
                "summary": "The API versions, their status and the changes each brought.",
                "parameters": _params(*_fields("version")),
                "responses": _ok("VersionListDocument", "The versions, newest first."),
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This description, for the version requested.",
                "parameters": _params(),
                "responses": {
                    "200": {"description": "An OpenAPI 3.1 document.",
                            "headers": {"Files-Version": ref("headers", "FilesVersion")},
                            "content": {JSON: {"schema": {"type": "object"}}}},
                    "default": ref("responses", "Error"),
                },
            },
        },
    }


def _upload_path(download_base_url: str) -> dict[str, Any]:
    """The upload URL itself, on the download host: no API key, no version header."""
    created = {
        "201": {
            "description": "The file, as GET /files/{id} shows it to the principal that "
                           "minted the URL (in its version), its download URL minted.",
            "headers": {"Location": {"schema": {"type": "string", "format": "uri"}},
                        "Files-Version": ref("headers", "FilesVersion")},
            "content": {MEDIA_TYPE: {"schema": schema("FileDocument")}},
        },
        "default": {
            "description": "A JSON:API error document (no-store): 403 invalid_token, "
                           "expired_token, revoked_token, quota_exceeded; 409 "
                           "upload_url_used; 413 upload_too_large; 415 "
                           "unsupported_media_type.",
            "content": {MEDIA_TYPE: {"schema": schema("ErrorDocument")}},
        },
    }
    common = {
        "servers": [{"url": download_base_url, "description": "The download host."}],
        "security": [],
    }
    return {
        "parameters": [{"name": "token", "in": "path", "required": True,
                        "schema": {"type": "string"}}],
        "put": {
            **common,
            "operationId": "uploadThroughUrlPut",
            "summary": "Upload the raw bytes; the request's Content-Type is the file's.",
            "requestBody": {"required": True, "content": {"*/*": {"schema": {
                "type": "string", "contentMediaType": "application/octet-stream"}}}},
            "responses": created,
        },
        "post": {
            **common,
            "operationId": "uploadThroughUrlPost",
            "summary": "Upload from an HTML form: multipart/form-data with one part 'file'.",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "additionalProperties": False,
                "properties": {"file": {"type": "string",
                                        "contentMediaType": "application/octet-stream"}},
            }}}},
            "responses": created,
        },
    }


def _read(
    operation: str, summary: str, schema_name: str, type_name: str, fields: list[str]
) -> dict[str, Any]:
    return {
        "parameters": [ref("parameters", "Id")],
        "get": {
            "operationId": operation,
            "summary": summary,
            "parameters": _params(f"Include-{type_name}", *fields),
            "responses": _ok(schema_name, summary),
        },
    }


def openapi_document(
    version: str, bundle: VersionBundle, api_base_url: str, download_base_url: str | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the API as ``version`` serves it; upload URLs are on
    ``download_base_url`` (default: ``api_base_url``, where both hosts share one address)."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "files_service API",
            "version": version,
            "description": (
                "Upload, register, list and mint signed download URLs for files. JSON:API "
                f"documents ({MEDIA_TYPE}); dated versions chosen with the Files-Version "
                "header. This document describes version " + version + "."
            ),
        },
        "servers": [{"url": f"{api_base_url}/api/v1"}],
        "security": [{"apiKey": []}],
        "paths": _paths(download_base_url or api_base_url),
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer <API key secret> (fsk_…).",
                },
            },
            "parameters": _parameters(attribute_names(bundle, version)),
            "headers": {
                "FilesVersion": {
                    "description": "The API version that served the request.",
                    "schema": {"type": "string"},
                },
            },
            "responses": {
                "Error": {
                    "description": "A JSON:API error document.",
                    "headers": {"Files-Version": ref("headers", "FilesVersion")},
                    "content": {MEDIA_TYPE: {"schema": schema("ErrorDocument")}},
                },
            },
            "schemas": bundle.migrate_openapi(head_schemas(), version),
        },
    }


@route("/openapi.json", methods=["GET"])
def openapi_document_view() -> Response:
    """The OpenAPI description for the version requested (``application/json``)."""
    api = current_request()
    query_options("openapi")
    document = openapi_document(
        api.version, api.config.bundle, api.services.settings.api_base_url,
        api.services.settings.download_base_url,
    )
    return json_response(document, content_type=JSON)
