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
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from files_service import get_services
from files_service.registry import Registry
from files_service.registry.models import ApiKey, Organization
from files_service.services import Services
from files_service.storage import S3Storage
from tests.conftest import World, make_world, sample
from tests.registry.conftest import backend_url
from tests.servers import s3_client

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


# -- every backend: local files or S3 (the session's moto server), SQLite or PostgreSQL ------


@dataclass
class Stack:
    """The app on one storage and one database, a world in it, and ways to see what storage
    holds around the service (boto3 for S3, the directory for local files)."""

    storage_kind: str
    database_kind: str
    app: Flask
    services: Services
    world: World
    api: ApiClient
    s3: Any = None  # a boto3 client of the bucket, for S3
    bucket: str = ""
    s3_calls: list[str] = field(default_factory=list)  # every S3 operation the service made

    def put(self, key: str, content: bytes) -> None:
        """Put an object in storage as the main API would (not through the service)."""
        if self.s3 is not None:
            self.s3.put_object(Bucket=self.bucket, Key=f"{STACK_PREFIX}/{key}", Body=content)
        else:
            path = self._root() / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

    def objects(self) -> dict[str, bytes]:
        """Every object in storage and its bytes (local storage's temporary area left out)."""
        if self.s3 is not None:
            listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{STACK_PREFIX}/")
            return {
                item["Key"].removeprefix(f"{STACK_PREFIX}/"): self.s3.get_object(
                    Bucket=self.bucket, Key=item["Key"])["Body"].read()
                for item in listed.get("Contents", [])
            }
        root = self._root()
        return {
            str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not str(p.relative_to(root)).startswith(".tmp")
        }

    def leftovers(self) -> list[str]:
        """What an aborted write could leave: open S3 multipart uploads, or local temporary
        files."""
        if self.s3 is not None:
            uploads = self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
            return [upload["Key"] for upload in uploads]
        return [str(p) for p in (self._root() / ".tmp").rglob("*") if p.is_file()]

    def rows(self, org_id: str | None = None) -> list[str]:
        """The ids of the files of ``org_id`` (default: the world's) in the registry."""
        files, _ = self.services.registry.list_files(org_id or self.world.org.id, limit=100)
        return [file.id for file in files]

    def _root(self) -> Path:
        return Path(self.services.storage.url.removeprefix("local://"))


STACK_PREFIX = "stack/prefix"
STACKS = [
    pytest.param(("local", "sqlite"), id="local-sqlite"),
    pytest.param(("s3", "sqlite"), id="s3-sqlite"),
    pytest.param(("local", "postgresql"), id="local-postgresql", marks=pytest.mark.postgres),
    pytest.param(("s3", "postgresql"), id="s3-postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture
def make_stack(
    request: pytest.FixtureRequest, make_app: Callable[..., Flask], validate: Any,
    tmp_path: Path,
) -> Iterator[Callable[..., Stack]]:
    """Build ``Stack``s: ``make_stack("s3", "postgresql", **settings)``. PostgreSQL needs
    ``FILES_TEST_DATABASE_URL`` (skipped, saying so, without it); each stack gets a schema of
    its own there and a bucket of its own on S3."""
    with ExitStack() as cleanup:

        def make(storage_kind: str, database_kind: str, **settings: Any) -> Stack:
            url = cleanup.enter_context(backend_url(database_kind, tmp_path))
            registry = Registry(url, clock=request.getfixturevalue("clock"))
            cleanup.callback(registry.dispose)
            registry.init()
            storage = None
            s3 = None
            bucket = ""
            calls: list[str] = []
            if storage_kind == "s3":
                endpoint = request.getfixturevalue("moto_endpoint")
                s3 = s3_client(endpoint)
                bucket = f"stack-{uuid.uuid4().hex}"
                s3.create_bucket(Bucket=bucket)
                storage = S3Storage(bucket, STACK_PREFIX, client=s3_client(endpoint))
                storage.client.meta.events.register(
                    "before-call.s3", lambda model, **_: calls.append(model.name)
                )
            app = make_app(storage=storage, registry=registry, database_url=url, **settings)
            services = get_services(app)
            world = make_world(services)
            return Stack(storage_kind, database_kind, app, services, world,
                         ApiClient(app, validate, world.secret), s3, bucket, calls)

        yield make


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest, make_stack: Callable[..., Stack]) -> Stack:
    """The app on each storage backend and each database."""
    storage_kind, database_kind = request.param
    return make_stack(storage_kind, database_kind)
