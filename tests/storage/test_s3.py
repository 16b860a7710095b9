"""What only ``S3Storage`` does: the prefix, real Range requests, multipart uploads, releasing
connections, error translation, presigned URLs and object paths."""

from __future__ import annotations

import io
import logging
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import urllib3.exceptions
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from files_service.errors import InvalidStorageKey, ObjectNotFound, StorageUnavailable
from files_service.storage import S3Storage
from files_service.storage.interface import CHUNK_SIZE
from files_service.storage.s3 import MIN_PART_SIZE

# conftest.py's SECRET_ACCESS_KEY; conftest cannot be imported under --import-mode=importlib.
SECRET_ACCESS_KEY = "dummy-secret-that-must-never-be-shown"
MiB = 1024 * 1024


@pytest.fixture
def s3(bucket: str, moto_endpoint: str) -> S3Storage:
    return S3Storage(bucket, "pre/fix", moto_endpoint, part_size=MIN_PART_SIZE)


def read(storage: S3Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    stream = storage.open(key, start, end)
    try:
        return b"".join(stream)
    finally:
        stream.close()


def record_operations(storage: S3Storage) -> list[str]:
    """The names of the S3 operations the storage calls from now on."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    storage.client.meta.events.register("before-call.s3", record)
    return calls


def client_error(code: str, status: int, operation: str) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "injected"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


def keys_in(s3_client: Any, bucket: str) -> list[str]:
    listing = s3_client.list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def uploads_in(s3_client: Any, bucket: str) -> list[dict[str, Any]]:
    uploads: list[dict[str, Any]] = s3_client.list_multipart_uploads(Bucket=bucket).get(
        "Uploads", []
    )
    return uploads


class TestPrefix:
    def test_keys_are_stored_under_the_prefix(
        self, s3: S3Storage, s3_client: Any, bucket: str
    ) -> None:
        s3.write("a/b.txt", [b"x"])
        assert keys_in(s3_client, bucket) == ["pre/fix/a/b.txt"]
        assert s3.url == f"s3://{bucket}/pre/fix"

    def test_slashes_around_the_prefix_are_dropped(
        self, bucket: str, moto_endpoint: str, s3_client: Any
    ) -> None:
        storage = S3Storage(bucket, "/pre/fix/", moto_endpoint)
        storage.write("k", [b"x"])
        assert keys_in(s3_client, bucket) == ["pre/fix/k"]
        assert storage.url == f"s3://{bucket}/pre/fix"

    def test_empty_prefix(self, bucket: str, moto_endpoint: str, s3_client: Any) -> None:
        storage = S3Storage(bucket, "", moto_endpoint)
        storage.write("k", [b"x"])
        assert keys_in(s3_client, bucket) == ["k"]
        assert storage.url == f"s3://{bucket}"

    @pytest.mark.parametrize("prefix", ["a//b", "../up", "a/./b"])
    def test_bad_prefix_is_refused(self, prefix: str) -> None:
        with pytest.raises(ValueError):
            S3Storage("bucket", prefix, client=object())


def test_a_key_too_long_with_its_prefix_is_refused_before_s3_is_asked() -> None:
    storage = S3Storage("bucket", "pre/fix", client=object())  # any call to S3 would fail
    key = "k" * (1024 - len("pre/fix/") + 1)  # a valid key alone, one byte too long in S3
    for call in (storage.stat, storage.open, storage.delete):
        with pytest.raises(InvalidStorageKey, match="too long"):
            call(key)
    with pytest.raises(InvalidStorageKey):
        storage.write(key, [b"x"])
    with pytest.raises(InvalidStorageKey):
        storage.presigned_get_url(key, 60)


@pytest.mark.parametrize(
    "name", ["ab", "with/slash", "key:secret@bucket", "bucket name", "x" * 256, ""]
)
def test_bad_bucket_is_refused_without_echoing_it(name: str) -> None:
    with pytest.raises(ValueError) as error:
        S3Storage(name, client=object())
    assert "secret" not in str(error.value)


def test_part_size_below_the_s3_minimum_is_refused() -> None:
    with pytest.raises(ValueError):
        S3Storage("bucket", client=object(), part_size=MIN_PART_SIZE - 1)


def test_client_has_the_configured_timeouts_and_retries(aws_env: None) -> None:
    storage = S3Storage("bucket", endpoint_url="http://127.0.0.1:9", connect_timeout=2.5)
    config = storage.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.5, 30)
    # One try: a retry after a timeout would double the documented wait (docs/operations.md).
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.signature_version == "s3v4"
    probe = storage._probe.meta.config  # /readyz's own, short, timeouts
    assert (probe.connect_timeout, probe.read_timeout) == (2.0, 2.0)


def test_only_failures_that_cost_no_timeout_are_retried() -> None:
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    from files_service.storage.s3 import _retry_at_once

    dropped = ConnectionClosedError(endpoint_url="http://s3")
    timed_out = ReadTimeoutError(endpoint_url="http://s3")
    assert _retry_at_once(1, caught_exception=dropped) == 0
    assert _retry_at_once(2, caught_exception=dropped) is None  # once only
    assert _retry_at_once(1, caught_exception=timed_out) is None

    class Answer:
        status_code = 503

    assert _retry_at_once(1, response=(Answer(), {})) == 0
    Answer.status_code = 404
    assert _retry_at_once(1, response=(Answer(), {})) is None


class TestRange:
    def test_a_range_is_asked_of_s3(self, s3: S3Storage) -> None:
        data = bytes(range(256)) * 4096  # 1 MiB
        s3.write("big", [data])
        sent: list[str | None] = []
        received: list[int] = []

        def on_send(request: Any, **_: Any) -> None:
            value = request.headers.get("Range")
            sent.append(value.decode() if isinstance(value, bytes) else value)

        def on_parsed(parsed: dict[str, Any], **_: Any) -> None:
            received.append(parsed["ContentLength"])

        s3.client.meta.events.register("before-send.s3.GetObject", on_send)
        s3.client.meta.events.register("after-call.s3.GetObject", on_parsed)

        assert read(s3, "big", 1000, 1000) == data[1000:1001]
        assert read(s3, "big", 5, 9) == data[5:10]
        assert read(s3, "big", len(data) - 10) == data[-10:]
        assert read(s3, "big", 0, 0) == data[:1]
        assert read(s3, "big") == data
        assert sent == [
            "bytes=1000-1000",
            "bytes=5-9",
            f"bytes={len(data) - 10}-",
            "bytes=0-0",
            None,
        ]
        # Only the asked-for bytes came over the wire.
        assert received == [1, 5, 10, 1, len(data)]

    def test_a_store_that_ignores_the_range_is_caught(self, aws_env: None) -> None:
        storage = S3Storage("bucket", endpoint_url="http://127.0.0.1:9")
        whole = b"the whole object"
        with Stubber(storage.client) as stub:
            stub.add_response(
                "get_object",
                {"Body": StreamingBody(io.BytesIO(whole), len(whole)), "ContentLength": len(whole)},
                {"Bucket": "bucket", "Key": "k", "Range": "bytes=4-8"},
            )
            with pytest.raises(StorageUnavailable):
                storage.open("k", 4, 8)


class TestMultipart:
    def test_small_object_is_one_put(self, s3: S3Storage) -> None:
        calls = record_operations(s3)
        s3.write("small", [b"x" * MIN_PART_SIZE])  # exactly one part still fits one PutObject
        assert calls == ["PutObject"]

    def test_large_object_is_uploaded_in_parts(self, s3: S3Storage) -> None:
        calls = record_operations(s3)
        data = bytes(11 * MiB)
        result = s3.write("large", (data[i : i + MiB] for i in range(0, len(data), MiB)))
        assert calls == [
            "CreateMultipartUpload",
            "UploadPart",
            "UploadPart",
            "UploadPart",
            "CompleteMultipartUpload",
        ]
        assert result.size == len(data)
        assert s3.stat("large").size == len(data)
        assert read(s3, "large", 5 * MiB - 1, 5 * MiB) == b"\0\0"

    def test_one_byte_over_a_part_makes_two_parts(self, s3: S3Storage) -> None:
        calls = record_operations(s3)
        data = bytes(range(256)) * (MIN_PART_SIZE // 256) + b"!"
        s3.write("edge", [data])
        assert calls.count("UploadPart") == 2
        assert read(s3, "edge", len(data) - 2) == data[-2:]

    def test_failed_part_aborts_the_upload(
        self, s3: S3Storage, s3_client: Any, bucket: str
    ) -> None:
        parts = 0

        def fail_second_part(**_: Any) -> None:
            nonlocal parts
            parts += 1
            if parts == 2:
                raise client_error("InternalError", 500, "UploadPart")

        s3.client.meta.events.register("before-call.s3.UploadPart", fail_second_part)
        with pytest.raises(StorageUnavailable) as error:
            s3.write("failing", [bytes(MiB)] * 12)
        assert "UploadPart" in str(error.value)
        assert "InternalError" in str(error.value)
        assert uploads_in(s3_client, bucket) == []
        assert keys_in(s3_client, bucket) == []

    def test_failed_abort_is_logged_and_the_first_error_raised(
        self, s3: S3Storage, s3_client: Any, bucket: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        def refuse(**_: Any) -> None:
            raise client_error("AccessDenied", 403, "AbortMultipartUpload")

        s3.client.meta.events.register("before-call.s3.AbortMultipartUpload", refuse)

        def chunks() -> Iterator[bytes]:
            yield bytes(6 * MiB)
            raise KeyboardInterrupt  # even this: the upload must not be left as it is

        with caplog.at_level(logging.WARNING), pytest.raises(KeyboardInterrupt):
            s3.write("interrupted", chunks())
        assert "could not abort multipart upload" in caplog.text
        (upload,) = uploads_in(s3_client, bucket)  # what a lifecycle rule would clean up
        s3_client.abort_multipart_upload(
            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )


class TestReleasingConnections:
    def test_closing_midway_closes_the_body(self, s3: S3Storage) -> None:
        data = bytes(3 * CHUNK_SIZE)
        s3.write("long", [data])
        bodies: list[StreamingBody] = []
        s3.client.meta.events.register(
            "after-call.s3.GetObject", lambda parsed, **_: bodies.append(parsed["Body"])
        )
        stream = s3.open("long")
        assert len(next(stream)) == CHUNK_SIZE
        stream.close()
        (body,) = bodies
        assert body._raw_stream.closed  # the urllib3 response: its connection is let go
        assert s3.stat("long").size == len(data)
        assert read(s3, "long") == data

    def test_error_after_the_first_chunk_is_unavailable(self, aws_env: None) -> None:
        class BreaksOff(io.RawIOBase):
            def __init__(self) -> None:
                self.reads = 0

            def read(self, size: int = -1) -> bytes:
                self.reads += 1
                if self.reads > 1:
                    raise urllib3.exceptions.ProtocolError("Connection broken")
                return b"x" * size

        raw = BreaksOff()
        storage = S3Storage("bucket", endpoint_url="http://127.0.0.1:9")
        with Stubber(storage.client) as stub:
            stub.add_response(
                "get_object",
                {"Body": StreamingBody(raw, 3 * CHUNK_SIZE), "ContentLength": 3 * CHUNK_SIZE},
                {"Bucket": "bucket", "Key": "k"},
            )
            stream = storage.open("k")
        assert next(stream) == b"x" * CHUNK_SIZE
        with pytest.raises(StorageUnavailable):
            next(stream)
        assert raw.closed
        stream.close()


class TestErrors:
    @pytest.fixture
    def unreachable(self, aws_env: None) -> S3Storage:
        # A port that was free a moment ago: nothing listens, connections are refused.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return S3Storage(
            "bucket", "prefix", f"http://127.0.0.1:{port}", connect_timeout=1, read_timeout=1
        )

    @pytest.mark.parametrize(
        ("operation", "call"),
        [
            pytest.param("HeadObject", lambda s: s.stat("k"), id="stat"),
            pytest.param("GetObject", lambda s: s.open("k"), id="open"),
            pytest.param("GetObject", lambda s: s.open("k", 5, 10), id="open-range"),
            pytest.param("PutObject", lambda s: s.write("k", [b"x"]), id="write"),
            pytest.param("DeleteObject", lambda s: s.delete("k"), id="delete"),
            pytest.param("HeadBucket", lambda s: s.check(), id="check"),
        ],
    )
    def test_unreachable_endpoint_is_unavailable(
        self, unreachable: S3Storage, operation: str, call: Any
    ) -> None:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as error:
            call(unreachable)
        # Two attempts with at most a second of backoff, well inside the timeouts.
        assert time.monotonic() - started < 5
        assert operation in str(error.value)
        assert SECRET_ACCESS_KEY not in str(error.value)
        assert "testing" not in str(error.value)

    def test_missing_bucket(self, moto_endpoint: str, aws_env: None) -> None:
        storage = S3Storage("no-such-bucket-here", "", moto_endpoint)
        with pytest.raises(StorageUnavailable):
            storage.check()
        with pytest.raises(StorageUnavailable) as error:
            storage.open("k")  # NoSuchBucket, not NoSuchKey
        assert "NoSuchBucket" in str(error.value)

    def test_error_details_are_not_echoed(self, s3: S3Storage) -> None:
        # S3's message for a refused key quotes the key id; only the code goes into ours.
        def refuse(**_: Any) -> None:
            error = client_error("InvalidAccessKeyId", 403, "HeadObject")
            error.response["Error"]["Message"] = "The AWS Access Key Id AKIAEXAMPLE is unknown"
            raise error

        s3.client.meta.events.register("before-call.s3.HeadObject", refuse)
        with pytest.raises(StorageUnavailable) as error:
            s3.stat("k")
        assert "InvalidAccessKeyId (HTTP 403)" in str(error.value)
        assert "AKIA" not in str(error.value)

    def test_not_found_codes(self, aws_env: None) -> None:
        storage = S3Storage("bucket", endpoint_url="http://127.0.0.1:9")
        with Stubber(storage.client) as stub:
            stub.add_client_error("head_object", "NotFound", http_status_code=404)
            stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
            with pytest.raises(ObjectNotFound):
                storage.stat("k")
            with pytest.raises(ObjectNotFound):
                storage.open("k")


class TestDeliveryHelpers:
    def test_presigned_url_serves_the_object_with_the_headers(self, s3: S3Storage) -> None:
        s3.write("report.pdf", [b"%PDF-1.7 ..."])
        url = s3.presigned_get_url(
            "report.pdf",
            60,
            content_type="application/pdf",
            content_disposition='attachment; filename="report.pdf"',
        )
        with urllib.request.urlopen(url) as response:
            assert response.read() == b"%PDF-1.7 ..."
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.headers["Content-Disposition"] == 'attachment; filename="report.pdf"'
        assert SECRET_ACCESS_KEY not in url

    @pytest.mark.parametrize("seconds", [0, -1, 7 * 24 * 3600 + 1])
    def test_presigned_url_lifetime_is_bounded(self, s3: S3Storage, seconds: int) -> None:
        with pytest.raises(ValueError):
            s3.presigned_get_url("k", seconds, content_type="a/b", content_disposition="inline")

    @pytest.mark.parametrize("key", ["plain.txt", "dir/with space/ü+=&?#%.txt", "文件/🎉"])
    def test_object_url_path_is_the_path_s3_serves(
        self, s3: S3Storage, bucket: str, key: str
    ) -> None:
        path = s3.object_url_path(key)
        assert path.startswith(f"/{bucket}/pre/fix/")
        assert path.isascii() and " " not in path and "?" not in path and "#" not in path
        # botocore encodes the path of a signed request the same way.
        signed = s3.presigned_get_url(key, 60, content_type="a/b", content_disposition="inline")
        assert urlsplit(signed).path == path
