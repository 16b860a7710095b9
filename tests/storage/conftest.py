"""Fixtures for the storage tests: dummy AWS credentials and a fresh bucket per test, on the
session's moto S3 server (``moto_endpoint``, in tests/conftest.py)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests import servers

# Distinctive, so that a test can prove no error message ever carries it.
SECRET_ACCESS_KEY = "dummy-secret-that-must-never-be-shown"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials for the usual chain, and nothing of the developer's own AWS setup."""
    for name, value in {**servers.AWS_ENV, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    """A plain boto3 client of the moto server, to set up and inspect what S3Storage did.
    Its credentials are its own, so that it can live for the session (building a client costs
    about 0.1 s) while ``aws_env`` stays per test."""
    return servers.s3_client(moto_endpoint)


@pytest.fixture
def bucket(s3_client: Any, aws_env: None) -> str:
    """A new, empty bucket (and the environment for an S3Storage to reach it)."""
    name = f"test-{uuid.uuid4().hex}"
    s3_client.create_bucket(Bucket=name)
    return name
