"""Fixtures for the storage tests: dummy AWS credentials and a fresh bucket per test, on the
session's moto S3 server (``moto_endpoint``, in tests/conftest.py)."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

# Distinctive, so that a test can prove no error message ever carries it.
SECRET_ACCESS_KEY = "dummy-secret-that-must-never-be-shown"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials for the usual chain, and nothing of the developer's own AWS setup."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    """A plain boto3 client of the moto server, to set up and inspect what S3Storage did.
    Its credentials are its own, so that it can live for the session (building a client costs
    about 0.1 s) while ``aws_env`` stays per test."""
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key=SECRET_ACCESS_KEY,
        region_name="us-east-1",
    )
    return session.client(
        "s3", endpoint_url=moto_endpoint, config=Config(s3={"addressing_style": "path"})
    )


@pytest.fixture
def bucket(s3_client: Any, aws_env: None) -> str:
    """A new, empty bucket (and the environment for an S3Storage to reach it)."""
    name = f"test-{uuid.uuid4().hex}"
    s3_client.create_bucket(Bucket=name)
    return name
