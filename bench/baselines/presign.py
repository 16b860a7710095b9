"""The S3 baseline for minting: boto3 ``generate_presigned_url``, with one client built once
(as an application would keep it). Presigning is local computation: nothing is sent."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def presign_client() -> Any:
    """An S3 client with fixed dummy credentials: SigV4 presigning needs keys, not a network."""
    session = boto3.session.Session(
        aws_access_key_id="AKIABENCHMARKBENCH00",
        aws_secret_access_key="bench-secret-access-key-bench-secret-acce",
        region_name="us-east-1",
    )
    return session.client("s3", config=Config(signature_version="s3v4"))


def presign(client: Any, bucket: str, key: str, expires_in: int) -> str:
    """A presigned ``GetObject`` URL, as S3 users mint download links."""
    url: str = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )
    return url
