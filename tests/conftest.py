"""Shared fixtures: a movable clock, settings on a real SQLite file and a local storage
directory under ``tmp_path``, apps built from them, a small world (org, key, file), and one
moto S3 server over real HTTP for the whole session (storage, download and e2e tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from flask import Flask
from moto.server import ThreadedMotoServer

from files_service import create_app, get_services
from files_service.clock import ManualClock
from files_service.files import store_file
from files_service.registry import Registry
from files_service.registry.models import ApiKey, File, Organization
from files_service.services import Services
from files_service.settings import Settings, SigningKey
from files_service.storage import Storage

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SIGNING_KEY = SigningKey("k1", b"test-signing-secret-of-32-bytes!!")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server on a free local port, shared by the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


# Dummy credentials of the moto server, for clients built without the environment.
S3_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "region_name": "us-east-1",
}


def s3_client(endpoint: str) -> Any:
    """A boto3 client of an S3 endpoint with the dummy credentials (no environment read)."""
    return boto3.session.Session(**S3_CREDENTIALS).client(
        "s3", endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )


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
