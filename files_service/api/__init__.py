"""The ``/api/v1`` API (§5): JSON:API documents (§7), in dated versions (§6).

    blueprint.py      the blueprint the resource modules add their views to
    pipeline.py       before every request: auth, principal, version (and pin), Accept;
                      after: Files-Version, Vary, deprecation headers
    auth.py           Authorization: Bearer <api key secret>
    version.py        version resolution and pinning for a request
    negotiation.py    media types, query strings, request documents
    errors.py         every error as a JSON:API error document
    documents.py      query parameters in, versioned JSON:API documents out
    mint_query.py     the minting parameters: webhook-id, url-ttl, url-disposition
    resources.py      the resource types in the head shape
    urls.py           minting a response's download URLs
    upload.py         streaming multipart uploads
    upload_urls.py    minting signed upload URLs (the uploads: files_service.uploads)
    lookup.py         the one 404 of a resource the caller may not see
    files.py, api_keys.py, webhooks.py, organizations.py, versions.py, openapi.py
                      one module per resource

The legacy download path ``/api/v1/files/{token}/{filename}`` is not here: the download
server answers it in front of Flask (``files_service.download``).
"""

from __future__ import annotations

from flask import Flask

# The resource modules add their views to the blueprint when imported.
from . import (  # noqa: F401
    api_keys,
    errors,
    files,
    openapi,
    organizations,
    pipeline,
    upload_urls,
    versions,
    webhooks,
)
from .blueprint import bp
from .context import EXTENSION, ApiConfig
from .negotiation import TolerantRequest

__all__ = ["ApiConfig", "init_app"]


def init_app(app: Flask, config: ApiConfig | None = None) -> None:
    """Serve the API from ``app``."""
    app.extensions[EXTENSION] = config or ApiConfig()
    app.request_class = TolerantRequest
    app.register_blueprint(bp)
    pipeline.init_app(app)
    errors.init_app(app)
