"""The S3 baseline for big downloads: boto3 reading the object straight from the S3 server the
service reads from (moto here), discarding the bytes."""

from __future__ import annotations

import time
from typing import Any

import boto3
from botocore.config import Config

from bench.common import MIB

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def client(endpoint: str) -> Any:
    """A path-style client of ``endpoint`` with the bench's dummy credentials."""
    session = boto3.session.Session(
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=AWS_ENV["AWS_DEFAULT_REGION"],
    )
    return session.client(
        "s3", endpoint_url=endpoint,
        config=Config(
            s3={"addressing_style": "path"}, read_timeout=300, retries={"max_attempts": 1}
        ),
    )


def read_object(s3: Any, bucket: str, key: str) -> tuple[int, float]:
    """``GetObject`` and read the body to the end in 1 MiB chunks: (bytes, seconds)."""
    began = time.perf_counter()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    total = 0
    try:
        for chunk in body.iter_chunks(MIB):
            total += len(chunk)
    finally:
        body.close()
    return total, time.perf_counter() - began
