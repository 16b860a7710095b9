"""Shared fixtures: a movable clock, settings on a real SQLite file and a local storage
directory under ``tmp_path``, apps built from them, a small world (org, key, file), one moto
S3 server over real HTTP for the whole session (storage, download and e2e tests), real
servers and nginx on loopback ports (tests/servers.py), and ``validate``, the official
JSON:API schema."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from files_service import create_app, get_services
from files_service.clock import ManualClock
from files_service.files import store_file
from files_service.registry import Registry
from files_service.registry.models import ApiKey, File, Organization
from files_service.services import Services
from files_service.settings import Settings
from files_service.storage import Storage
from files_service.tokens import SigningKey
from tests.servers import (
    NGINX,
    REPO,
    Nginx,
    Server,
    documented_server,
    new_server,
    start_nginx,
)

# The official JSON:API schema lives beside the repository, not in it (SPEC §7).
SHARED_JSONAPI = REPO.parent / "shared" / "jsonapi"
SIGNING_KEY = SigningKey("k1", b"test-signing-secret-of-32-bytes!!")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server on a free local port, shared by the whole session."""
    from moto.server import ThreadedMotoServer  # imported here: it costs every start a second

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def base_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'files.db'}",
        storage_url=f"local://{tmp_path / 'objects'}",
        signing_keys=(SIGNING_KEY,),
        var_dir=str(tmp_path / "var"),
        download_base_url="https://files.example.com",
        api_base_url="https://api.example.com",
    )


class BufferedClient(FlaskClient):
    """The test client of the apps built here: it reads each response whole and closes it, as
    a WSGI server does once the body is sent, so that no storage stream is left for the
    garbage collector. A test that reads a body as a stream passes ``buffered=False`` and
    closes the response itself."""

    def open(self, *args: Any, buffered: bool = True, **kwargs: Any) -> TestResponse:
        return super().open(*args, buffered=buffered, **kwargs)


@pytest.fixture
def make_app(base_settings: Settings, clock: ManualClock) -> Iterator[Callable[..., Flask]]:
    """Build apps (schema initialized) from ``base_settings`` with overrides."""
    built: list[Services] = []

    def make(
        *, storage: Storage | None = None, registry: Registry | None = None, **overrides: object
    ) -> Flask:
        settings = base_settings.with_changes(**overrides) if overrides else base_settings
        if registry is None:
            registry = Registry(settings.database_url, clock=clock)
            registry.init()
        app = create_app(settings, clock=clock, registry=registry, storage=storage)
        app.config["TESTING"] = True
        app.test_client_class = BufferedClient
        built.append(get_services(app))
        return app

    yield make
    for services in built:
        services.close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def services(app: Flask) -> Services:
    return get_services(app)


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()


@dataclass
class World:
    org: Organization
    key: ApiKey
    secret: str
    file: File
    content: bytes


CONTENT = bytes(range(256)) * 64  # 16 KiB, every byte value


def make_world(services: Services, filename: str = "report.pdf", content: bytes = CONTENT,
               content_type: str = "application/pdf") -> World:
    registry = services.registry
    org = registry.create_organization("Acme")
    key, secret = registry.create_api_key(org.id, name="main", api_version="2025-06-01")
    file = store_file(
        services, org.id, iter([content]), filename=filename, content_type=content_type,
        created_by=key.id,
    )
    return World(org, key, secret, file, content)


@pytest.fixture
def world(services: Services) -> World:
    return make_world(services)


def path_of(url: str) -> str:
    """The path and query of ``url``: what a test client or a raw request asks for."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def sample(services: Services, name: str, **labels: str) -> float:
    """The value of one metric sample of the app (0 where it has none yet)."""
    return services.metrics.registry.get_sample_value(name, labels) or 0.0


Validate = Callable[[Any], None]


@pytest.fixture(scope="session")
def validate() -> Validate:
    """A function asserting that a document is a valid JSON:API response, loaded from
    ``../shared/jsonapi`` by path with its ``compat.load_validator()``; skips the test where
    that folder is missing."""
    compat_path = SHARED_JSONAPI / "compat.py"
    if not compat_path.is_file():
        pytest.skip(f"the official JSON:API schema is not available: {SHARED_JSONAPI} does "
                    "not exist (it lives beside the repository, not in it)")
    spec = importlib.util.spec_from_file_location("shared_jsonapi_compat", compat_path)
    assert spec is not None and spec.loader is not None
    compat = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compat)
    validator = compat.load_validator(str(SHARED_JSONAPI / "schema-1.0.json"))

    def check(document: Any) -> None:
        problems = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not problems, "\n".join(
            f"{'/'.join(map(str, p.absolute_path)) or '<root>'}: {p.message}" for p in problems
        )

    return check


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """New servers (``files-service serve``, schema made, not started), each with its own
    settings overrides; all stopped at the end."""
    made: list[Server] = []

    def make(**overrides: str) -> Server:
        made.append(new_server(tmp_path, **overrides))
        return made[-1]

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def make_nginx(tmp_path: Path) -> Iterator[Callable[..., Nginx]]:
    """nginx on ``port`` running the docs/delivery.md block ``config`` with its example
    addresses and paths replaced; all stopped at the end."""
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian package nginx; .ci/run installs it)")
    started: list[Nginx] = []

    def make(port: int, config: str, replacements: Mapping[str, str]) -> Nginx:
        block = documented_server(config, port, replacements)
        started.append(start_nginx(tmp_path / f"nginx-{port}", block, [port]))
        return started[-1]

    yield make
    for nginx in started:
        nginx.stop()
