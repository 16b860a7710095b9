"""Fixtures for the API tests: a client that checks every response it gets.

``ApiClient`` sends ``Authorization: Bearer <secret>`` (and, where given, ``Files-Version``)
and asserts on every response what holds for all of them: a JSON:API document validates
against the official schema (``../shared/jsonapi``; the tests skip, saying why, where that
folder is missing), an error document's statuses agree with the response, and an API response
carries ``Vary: Files-Version, Accept``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from files_service.registry.models import ApiKey, Organization
from files_service.services import Services
from tests.conftest import World, make_world, sample

JSON_API = "application/vnd.api+json"
_LEGACY_DOWNLOAD = re.compile(r"^/api/v1/files/[^/?]+/[^/?]+")


def check_response(path: str, response: TestResponse, validate: Callable[[Any], None]) -> None:
    """What every API response must satisfy."""
    if response.headers.get("Content-Type") == JSON_API and response.data:
        document = json.loads(response.data)
        validate(document)
        if "errors" in document:
            assert response.status_code >= 400
            statuses = {error["status"] for error in document["errors"]}
            assert str(response.status_code) in statuses or len(statuses) > 1
            for error in document["errors"]:
                assert "Traceback" not in error["detail"]
    if path.startswith("/api/v1") and not _LEGACY_DOWNLOAD.match(path):
        vary = [name.strip() for name in response.headers.get("Vary", "").split(",")]
        assert "Files-Version" in vary and "Accept" in vary, response.headers


@dataclass
class ApiClient:
    """A test client for the API as one caller (``secret``), checking every response."""

    app: Flask
    validate: Callable[[Any], None]
    secret: str | None = None
    version: str | None = None

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None,
        version: str | None = None, **kwargs: Any,
    ) -> TestResponse:
        sent: dict[str, str] = {}
        if self.secret is not None:
            sent["Authorization"] = f"Bearer {self.secret}"
        if (version or self.version) is not None:
            sent["Files-Version"] = version or self.version or ""
        sent.update(headers or {})
        response = self.app.test_client().open(path, method=method, headers=sent, **kwargs)
        check_response(path, response, self.validate)
        return response

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)

    def as_caller(self, secret: str | None, version: str | None = None) -> ApiClient:
        """The same client for another caller."""
        return ApiClient(self.app, self.validate, secret, version)

    # -- conveniences ------------------------------------------------------------------------

    def upload(
        self, content: bytes, filename: str = "notes.txt", *, metadata: Any = None,
        content_type: str | None = "text/plain", query: str = "", **kwargs: Any,
    ) -> TestResponse:
        """``POST /api/v1/files`` as multipart/form-data."""
        parts: list[Part] = []
        if metadata is not None:
            parts.append(Part("metadata", json.dumps(metadata).encode(), None, JSON))
        parts.append(Part("file", content, filename, content_type))
        body, form_type = multipart(parts)
        return self.post(
            f"/api/v1/files{query}", data=body, headers={"Content-Type": form_type}, **kwargs
        )

    def register(self, attributes: dict[str, Any], query: str = "", **kwargs: Any) -> TestResponse:
        """``POST /api/v1/files`` as a JSON:API document."""
        body = json.dumps({"data": {"type": "file", "attributes": attributes}})
        return self.post(
            f"/api/v1/files{query}", data=body, headers={"Content-Type": JSON_API}, **kwargs
        )


JSON = "application/json"


@dataclass(frozen=True)
class Part:
    name: str
    value: bytes
    filename: str | None = None
    content_type: str | None = None


BOUNDARY = "testboundary7MA4YWxkTrZu0gW"


def multipart(parts: Iterable[Part], boundary: str = BOUNDARY) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    out = bytearray()
    for part in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if part.content_type is not None:
            out += f"Content-Type: {part.content_type}\r\n".encode()
        out += b"\r\n" + part.value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def error_of(response: TestResponse) -> dict[str, Any]:
    """The one error object of an error response."""
    assert response.headers["Content-Type"] == JSON_API
    (error,) = response.get_json(force=True)["errors"]
    assert error["status"] == str(response.status_code)
    return error  # type: ignore[no-any-return]


def minted(services: Services, style: str) -> float:
    """The ``files_urls_minted`` counter of ``style``."""
    return sample(services, "files_urls_minted_total", style=style)


@pytest.fixture
def api(app: Flask, validate: Any, world: World) -> ApiClient:
    """The API as the world's API key (pinned to 2025-06-01)."""
    return ApiClient(app, validate, world.secret)


@pytest.fixture
def anonymous(app: Flask, validate: Any) -> ApiClient:
    """The API without credentials."""
    return ApiClient(app, validate)


@pytest.fixture
def other(services: Services, world: World) -> World:
    """Another organization, with its own key and file."""
    return make_world(services, filename="theirs.txt", content=b"theirs", content_type="text/plain")


@pytest.fixture
def make_key(services: Services) -> Callable[..., tuple[ApiKey, str]]:
    """New API keys (unpinned unless a version is given)."""

    def make(org: Organization, *, version: str | None = None, ttl: int = 21600
             ) -> tuple[ApiKey, str]:
        return services.registry.create_api_key(
            org.id, name="extra", api_version=version, file_url_ttl=ttl
        )

    return make
