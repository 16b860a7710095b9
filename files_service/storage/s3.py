"""Objects in an S3 bucket (or any S3-compatible store): ``s3://bucket/prefix``.

A key is stored at ``prefix/key``. Reads of a range ask S3 for that range; writes are streamed,
as one ``PutObject`` when the object fits in one part and as a multipart upload otherwise,
aborted on any error. Every botocore error is translated here into ``ObjectNotFound`` or
``StorageUnavailable``, with a message that names the operation and S3's error code but never
the credentials.

A brown-out (S3 slow or frozen) must cost a worker as little as possible: a call that timed out
is never retried, so a read waits at most the connect timeout plus the read timeout; at most
``max_waiting`` threads of a process wait on S3 before the first byte at once, the others fail
within ``GATE_WAIT_SECONDS`` (``StorageUnavailable``) and keep their threads for the API
and ``/healthz``; and
``check`` (``/readyz``) has its own short timeouts."""

from __future__ import annotations

import bisect
import hashlib
import http.client
import io
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import boto3
import urllib3.exceptions
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError
from botocore.response import StreamingBody

from files_service.errors import (
    InvalidStorageKey,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)
from files_service.storage.interface import (
    CHUNK_SIZE,
    ObjectInfo,
    ReadStream,
    WriteResult,
    validate_key,
)

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts (but the last)
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # the longest a SigV4 signature may live
MAX_KEY_BYTES = 1024  # S3's limit on a whole key; a longer one is KeyTooLongError
# gunicorn's 8 threads per worker (gunicorn_conf) less two kept for the API and health checks.
DEFAULT_MAX_WAITING = 6
# How long a call waits for a place before it is refused: long enough that a burst of healthy
# calls (milliseconds each) queues instead of failing, short against a frozen S3's timeouts.
GATE_WAIT_SECONDS = 0.25
PROBE_TIMEOUT = 2.0  # the longest check() (/readyz) waits, to connect and for the answer
_RETRIED_STATUSES = frozenset({500, 502, 503, 504})

# Loose on purpose: legacy buckets may hold capitals and underscores. What matters is that the
# name cannot carry a path, a host or credentials.
_BUCKET = re.compile(r"[A-Za-z0-9._-]{3,255}")
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
# What reading a response body can raise once the response has begun.
_STREAM_ERRORS = (BotoCoreError, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class S3ReadStream(ReadStream):
    """The chunks of one ``GetObject`` body; closing it closes the body, which releases the
    pooled connection."""

    def __init__(self, key: str, body: StreamingBody | None) -> None:
        self._key = key
        self._body = body
        self._chunks: Iterator[bytes] = iter(()) if body is None else body.iter_chunks(CHUNK_SIZE)

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            raise
        except _STREAM_ERRORS as exc:
            self.close()
            raise StorageUnavailable(
                f"reading {self._key!r} from S3 failed: {type(exc).__name__}"
            ) from exc

    def close(self) -> None:
        """Close the body; safe to call more than once."""
        body, self._body, self._chunks = self._body, None, iter(())
        if body is not None:
            body.close()


class S3Storage:
    """The ``Storage`` of a bucket, under an optional key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        *,
        client: Any = None,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        part_size: int = MIN_PART_SIZE,
        max_waiting: int = DEFAULT_MAX_WAITING,
    ) -> None:
        """``client`` replaces the boto3 client built from the other arguments and the usual AWS
        credential chain (its timeouts and retries are then the client's own). ``part_size`` is
        the size of the first 1,000 parts of a multipart upload; it doubles every 1,000 parts
        (see ``part_limit``). ``max_waiting`` bounds the threads of this process that may wait
        on S3 at once for a read, a stat or a delete (``FILES_S3_MAX_WAITING``)."""
        if not _BUCKET.fullmatch(bucket):
            # The name is not echoed: a mistyped URL may hold a secret where the bucket goes.
            raise ValueError("S3 bucket name must be 3 to 255 of A-Z a-z 0-9 . _ -")
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"S3 part size must be {MIN_PART_SIZE} to {MAX_PART_SIZE} bytes")
        if max_waiting < 1:
            raise ValueError("S3 max_waiting must be at least 1")
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self.url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        probe = client
        if client is None:
            client = _make_client(
                endpoint_url, connect_timeout=connect_timeout, read_timeout=read_timeout
            )
            probe = _make_client(
                endpoint_url,
                connect_timeout=min(connect_timeout, PROBE_TIMEOUT),
                read_timeout=min(read_timeout, PROBE_TIMEOUT),
            )
        # boto3 makes a client's methods at runtime: there is no static type to name here.
        self.client: Any = client
        self._probe: Any = probe
        self.max_waiting = max_waiting
        self._waiting = threading.BoundedSemaphore(max_waiting)

    def stat(self, key: str) -> ObjectInfo:
        """Size and modification time from ``HeadObject``, or ``ObjectNotFound``."""
        full_key = self._full_key(key)
        with self._gate("HeadObject"), self._translate("HeadObject", key):
            head = self.client.head_object(Bucket=self.bucket, Key=full_key)
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            last_modified=head["LastModified"].timestamp(),
        )

    def open(self, key: str, start: int = 0, end: int | None = None) -> ReadStream:
        """Stream bytes ``start`` .. ``end`` (inclusive) with one ``GetObject``, which carries a
        ``Range`` header whenever not the whole object is asked for."""
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range {start}-{end}")
        params = {"Bucket": self.bucket, "Key": self._full_key(key)}
        ranged = start > 0 or end is not None
        if ranged:
            params["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            with self._gate("GetObject"):
                response = self.client.get_object(**params)
        except (BotoCoreError, ClientError) as exc:
            # A range starting past the end selects no bytes; other backends then yield nothing.
            if _error_code(exc) == "InvalidRange":
                return S3ReadStream(key, None)
            raise _domain_error(exc, "GetObject", self.bucket, key) from exc
        body: StreamingBody = response["Body"]
        if ranged and not response.get("ContentRange"):
            # A store that ignored the Range would have us send the wrong bytes as the range.
            body.close()
            raise StorageUnavailable("S3 answered a ranged GetObject with the whole object")
        return S3ReadStream(key, body)

    def write(self, key: str, chunks: Iterable[bytes]) -> WriteResult:
        """Stream ``chunks`` to S3, holding at most about one part in memory."""
        full_key = self._full_key(key)
        digest = hashlib.sha256()
        size = 0
        # The part being gathered, as the chunks that came in: never joined, so a part is in
        # memory once (a bytearray buffer plus the slice and copy sent held it three times).
        pending: list[bytes] = []
        pending_size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                # Strictly more than a part: only then is it sure that this is not the last part
                # and so that the object needs a multipart upload at all.
                while pending_size > (limit := self.part_limit(len(parts) + 1)):
                    if upload_id is None:
                        with self._translate("CreateMultipartUpload"):
                            created = self.client.create_multipart_upload(
                                Bucket=self.bucket, Key=full_key
                            )
                        upload_id = created["UploadId"]
                    part, pending = _split(pending, limit)
                    pending_size -= limit
                    parts.append(
                        self._upload_part(key, full_key, upload_id, len(parts) + 1, part)
                    )
            body = _ChunksReader(pending)
            if upload_id is None:
                with self._translate("PutObject"):
                    self.client.put_object(Bucket=self.bucket, Key=full_key, Body=body)
            else:
                parts.append(self._upload_part(key, full_key, upload_id, len(parts) + 1, pending))
                with self._translate("CompleteMultipartUpload"):
                    self.client.complete_multipart_upload(
                        Bucket=self.bucket,
                        Key=full_key,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},
                    )
        except BaseException:
            if upload_id is not None:
                self._abort(full_key, upload_id)
            raise
        return WriteResult(key=key, size=size, sha256=digest.hexdigest())

    def delete(self, key: str) -> None:
        """``DeleteObject``; S3 itself takes a missing object as deleted."""
        full_key = self._full_key(key)
        with self._gate("DeleteObject"), self._translate("DeleteObject"):
            self.client.delete_object(Bucket=self.bucket, Key=full_key)

    def check(self) -> None:
        """``HeadBucket``: the endpoint answers, the bucket exists and the credentials work;
        within ``PROBE_TIMEOUT`` to connect and as much for the answer, whatever the
        download timeouts, so that ``/readyz`` says "unavailable" while a prober still waits."""
        with self._translate("HeadBucket"):
            self._probe.head_bucket(Bucket=self.bucket)

    def presigned_get_url(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
        cache_control: str | None = None,
    ) -> str:
        """A URL of S3 itself that serves the object for ``expires_in`` seconds.

        Each header given is one S3 answers with instead of the object's own (S3's
        ``response-content-type`` and friends): the ``redirect`` delivery mode gives all three,
        so the browser sees the file's type, disposition and a cache lifetime bound to the
        token; the ``accel`` mode gives none, since nginx keeps the service's own."""
        if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"a presigned URL lives 1 to {MAX_PRESIGN_SECONDS} seconds")
        params = {"Bucket": self.bucket, "Key": self._full_key(key)}
        overrides = {
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition,
            "ResponseCacheControl": cache_control,
        }
        params.update({name: value for name, value in overrides.items() if value is not None})
        with self._translate("presign GetObject"):
            url: str = self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires_in
            )
        return url

    def object_url_path(self, key: str) -> str:
        """``/<bucket>/<prefix/key>``, percent-encoded: the path-style path of the object on the
        S3 endpoint (for an nginx ``accel`` location that proxies to it)."""
        return f"/{quote(self.bucket, safe='')}/{quote(self._full_key(key), safe='/')}"

    def _full_key(self, key: str) -> str:
        validate_key(key)
        full_key = f"{self.prefix}/{key}" if self.prefix else key
        if len(full_key.encode("utf-8")) > MAX_KEY_BYTES:
            raise InvalidStorageKey(
                f"storage key is too long: S3 takes {MAX_KEY_BYTES} bytes, prefix included"
            )
        return full_key

    def part_limit(self, number: int) -> int:
        """The size of part ``number`` (from 1): ``part_size`` for parts 1 to 1,000, doubling
        every 1,000 parts after. Memory holds one part, so small parts keep uploads lean
        (5 MiB by default, S3's minimum), while S3's 10,000-part cap still allows objects of
        about 5 TB (5 MiB x 1,000 x (2^10 - 1)), S3's own maximum."""
        return min(self.part_size << ((number - 1) // 1000), MAX_PART_SIZE)

    def _upload_part(
        self, key: str, full_key: str, upload_id: str, number: int, chunks: list[bytes]
    ) -> dict[str, Any]:
        """Upload part ``number``; what ``CompleteMultipartUpload`` needs to know of it."""
        with self._translate("UploadPart"):
            uploaded = self.client.upload_part(
                Bucket=self.bucket, Key=full_key, UploadId=upload_id, PartNumber=number,
                Body=_ChunksReader(chunks),
            )
        return {"ETag": uploaded["ETag"], "PartNumber": number}

    def _abort(self, full_key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full_key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            # The write's own error is the one to report; the parts left behind cost money
            # until a lifecycle rule (AbortIncompleteMultipartUpload) removes them.
            log.warning(
                "could not abort multipart upload of %r in bucket %r: %s",
                full_key,
                self.bucket,
                type(exc).__name__,
            )

    @contextmanager
    def _gate(self, operation: str) -> Iterator[None]:
        """Hold one of the ``max_waiting`` places for the call, or fail where none frees up
        within ``GATE_WAIT_SECONDS``: threads stuck on a frozen S3 must not take every thread of
        the worker, while a burst of healthy calls only queues for a moment."""
        if not self._waiting.acquire(timeout=GATE_WAIT_SECONDS):
            raise StorageUnavailable(
                f"S3 {operation} on bucket {self.bucket!r} not tried: {self.max_waiting} "
                "calls of this process already wait on S3"
            )
        try:
            yield
        finally:
            self._waiting.release()

    @contextmanager
    def _translate(self, operation: str, key: str | None = None) -> Iterator[None]:
        """Raise botocore's errors as the domain's: ``ObjectNotFound`` only where a ``key`` is
        given (a read), ``StorageUnavailable`` otherwise."""
        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            raise _domain_error(exc, operation, self.bucket, key) from exc


def _make_client(endpoint_url: str | None, *, connect_timeout: float, read_timeout: float) -> Any:
    options: dict[str, Any] = {
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
        # One try: a retry after a timeout would double the wait the docs promise.
        # _retry_at_once adds back the one retry that costs no timeout.
        "retries": {"total_max_attempts": 1, "mode": "standard"},
        "signature_version": "s3v4",
    }
    if endpoint_url:
        # S3-compatible stores (MinIO, Ceph, moto) rarely resolve bucket subdomains; the accel
        # mode's object_url_path is path-style too.
        options["s3"] = {"addressing_style": "path"}
    # A session of its own: the default one boto3.client() shares is not thread-safe.
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, config=Config(**options)
    )
    # botocore types handlers as returning None; a needs-retry handler returns the delay.
    client.meta.events.register("needs-retry.s3", _retry_at_once)  # type: ignore[arg-type]
    return client


def _retry_at_once(
    attempts: int, response: Any = None, caught_exception: Any = None, **_: Any
) -> int | None:
    """botocore's ``needs-retry`` hook: retry the first attempt, at once, where it failed
    without waiting out a timeout: a pooled connection the server had dropped, or a 5xx
    answer. ``None`` leaves the call failed."""
    if attempts != 1:
        return None
    if isinstance(caught_exception, ConnectionClosedError):
        return 0
    if response is not None and response[0].status_code in _RETRIED_STATUSES:
        return 0
    return None


def _error_code(exc: BaseException | None) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _domain_error(exc: Exception, operation: str, bucket: str, key: str | None) -> StorageError:
    code = _error_code(exc)
    if key is not None and code in _NOT_FOUND_CODES:
        return ObjectNotFound(key)
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        detail = f"{code or 'error'} (HTTP {status})"
    else:
        # Not str(exc): the class says what went wrong (EndpointConnectionError,
        # ConnectTimeoutError, NoCredentialsError...) without echoing URLs or parameters.
        detail = type(exc).__name__
    return StorageUnavailable(f"S3 {operation} on bucket {bucket!r} failed: {detail}")


def _split(chunks: list[bytes], size: int) -> tuple[list[bytes], list[bytes]]:
    """The first ``size`` bytes of ``chunks`` and the rest, splitting one chunk at most."""
    head: list[bytes] = []
    taken = 0
    for index, chunk in enumerate(chunks):
        if taken + len(chunk) <= size:
            head.append(chunk)
            taken += len(chunk)
            if taken == size:
                return head, chunks[index + 1 :]
            continue
        cut = size - taken
        return [*head, chunk[:cut]], [chunk[cut:], *chunks[index + 1 :]]
    return head, []


class _ChunksReader(io.RawIOBase):
    """A seekable, read-only file over a list of byte chunks, without joining them: botocore
    seeks a body to checksum it and to rewind it for a retry."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self._starts: list[int] = []
        total = 0
        for chunk in chunks:
            self._starts.append(total)
            total += len(chunk)
        self._size = total
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def __len__(self) -> int:
        return self._size

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        written = 0
        index = max(0, bisect.bisect_right(self._starts, self._pos) - 1)
        while written < len(view) and self._pos < self._size and index < len(self._chunks):
            chunk = self._chunks[index]
            offset = self._pos - self._starts[index]
            if offset >= len(chunk):
                index += 1
                continue
            count = min(len(chunk) - offset, len(view) - written)
            view[written : written + count] = chunk[offset : offset + count]
            written += count
            self._pos += count
            index += 1
        return written
