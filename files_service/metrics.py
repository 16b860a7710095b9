"""Prometheus metrics. Labels are fixed, small enumerations: never a token, a key, a filename
or an id, so no secret can reach a scrape and cardinality stays bounded."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from importlib import metadata

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

DOWNLOAD_OUTCOMES = (
    "ok", "partial", "not_modified", "invalid_token", "expired_token", "revoked_token",
    "unauthorized", "not_found", "range_not_satisfiable", "storage_unavailable",
    "method_not_allowed", "registry_unavailable", "preflight", "redirect", "accel", "aborted",
    "rate_limited",
)
AUTH_FAILURE_KINDS = ("api_key", "invalid_token", "expired_token", "revoked_token")
RATE_LIMITED_SURFACES = ("download", "api")
STORAGE_OPERATIONS = ("open",)
DATABASE_OPERATIONS = ("read", "write")
# An upload through the API stored (``ok``) or refused, and why (``intake.upload_outcome``).
UPLOAD_OUTCOMES = (
    "ok", "upload_too_large", "quota_exceeded", "bad_request", "storage_unavailable",
    "registry_unavailable", "failed",
)
# From a cached hit on local disk (~1 ms) to a frozen S3 (the read timeout, 30 s).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


def _version() -> str:
    try:
        return metadata.version("files_service")
    except metadata.PackageNotFoundError:
        return "unknown"


class Metrics:
    """The service's counters, registered in a registry of their own (one per app, so tests
    can build many apps in one process). Under several gunicorn workers prometheus-client's
    multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``files-service serve``) sums the
    workers' values for every scrape."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess_dir = multiprocess_dir
        self.downloads = Counter(
            "files_downloads", "Download requests by outcome", ["outcome"],
            registry=self.registry,
        )
        self.bytes_sent = Counter(
            "files_download_bytes", "Bytes of file content sent", registry=self.registry
        )
        self.urls_minted = Counter(
            "files_urls_minted", "Download URLs minted, by URL style", ["style"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "files_auth_failures", "Refused API keys and tokens, by kind", ["kind"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "files_rate_limited", "Requests refused by FILES_RATE_LIMIT, by surface",
            ["surface"], registry=self.registry,
        )
        # A key id is a short public name from FILES_SIGNING_KEYS (never the secret, never a
        # token), and only a key of the ring verifies: the label set stays the ring.
        self.token_verifications = Counter(
            "files_token_verifications",
            "Download tokens whose signature verified, by signing key id", ["kid"],
            registry=self.registry,
        )
        self.first_byte = Histogram(
            "files_download_first_byte_seconds",
            "Streamed downloads: from the storage call to the first byte handed to the server",
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.download_duration = Histogram(
            "files_download_duration_seconds",
            "Streamed downloads: from the storage call to the end of the body (or its abort)",
            buckets=_DURATION_BUCKETS, registry=self.registry,
        )
        self.in_flight = Gauge(
            "files_downloads_in_flight", "Streamed downloads whose body is being sent",
            multiprocess_mode="livesum", registry=self.registry,
        )
        self.storage_seconds = Histogram(
            "files_storage_seconds", "Storage calls of downloads, by operation", ["operation"],
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.storage_errors = Counter(
            "files_storage_errors", "Storage calls of downloads that failed (not a missing "
            "object), by operation", ["operation"], registry=self.registry,
        )
        self.database_seconds = Histogram(
            "files_database_seconds",
            "Registry transactions, from asking for a connection to the commit, by kind",
            ["operation"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.database_errors = Counter(
            "files_database_errors",
            "Registry transactions the database failed (unreachable, refused, timed out), by "
            "kind", ["operation"], registry=self.registry,
        )
        self.uploads = Counter(
            "files_uploads", "Uploads: stored (ok) or refused, by outcome", ["outcome"],
            registry=self.registry,
        )
        self.upload_bytes = Counter(
            "files_upload_bytes", "Bytes of uploaded files stored", registry=self.registry
        )
        self.build_info = Gauge(
            "files_build_info", "Always 1: the running version", ["version", "python"],
            multiprocess_mode="max", registry=self.registry,
        )
        self.build_info.labels(_version(), platform.python_version()).set(1)
        self.api_requests = Histogram(
            "files_api_request_seconds", "API request latency", ["method", "status"],
            registry=self.registry,
        )
        # Pre-create every label so a scrape shows zeros rather than missing series.
        for outcome in DOWNLOAD_OUTCOMES:
            self.downloads.labels(outcome)
        for style in ("current", "legacy"):
            self.urls_minted.labels(style)
        for kind in AUTH_FAILURE_KINDS:
            self.auth_failures.labels(kind)
        for surface in RATE_LIMITED_SURFACES:
            self.rate_limited.labels(surface)
        for operation in STORAGE_OPERATIONS:
            self.storage_seconds.labels(operation)
            self.storage_errors.labels(operation)
        for operation in DATABASE_OPERATIONS:
            self.database_seconds.labels(operation)
            self.database_errors.labels(operation)
        for outcome in UPLOAD_OUTCOMES:
            self.uploads.labels(outcome)

    def show_key_ids(self, kids: Iterable[str]) -> None:
        """Show the key ring's key ids from the start (at zero) in
        ``files_token_verifications_total``."""
        for kid in kids:
            self.token_verifications.labels(kid)

    def database_call(self, operation: str, seconds: float, failed: bool) -> None:
        """One registry transaction (the registry's ``engine.Observer``)."""
        self.database_seconds.labels(operation).observe(seconds)
        if failed:
            self.database_errors.labels(operation).inc()

    def upload(self, outcome: str, stored_bytes: int = 0) -> None:
        """One upload, stored (``ok``, with its size) or refused."""
        self.uploads.labels(outcome).inc()
        if stored_bytes:
            self.upload_bytes.inc(stored_bytes)

    def exposition(self) -> bytes:
        """The text format for ``/metrics``."""
        if self.multiprocess_dir and os.path.isdir(self.multiprocess_dir):
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged, path=self.multiprocess_dir)
            return generate_latest(merged)
        return generate_latest(self.registry)
