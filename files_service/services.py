"""The service's parts, built once per app from the settings and shared by the API, the
download server and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from .clock import Clock, SystemClock
from .errors import SettingsError
from .metrics import Metrics
from .minting import Minter
from .registry.cache import RegistryCache
from .registry.sql import Registry
from .settings import Settings
from .storage import Storage, open_storage
from .tokens import TokenService
from .upload_tokens import UploadTokens


@dataclass
class Services:
    settings: Settings
    clock: Clock
    registry: Registry
    storage: Storage
    tokens: TokenService
    upload_tokens: UploadTokens
    minter: Minter
    cache: RegistryCache
    metrics: Metrics

    def close(self) -> None:
        self.registry.dispose()


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    registry: Registry | None = None,
    storage: Storage | None = None,
) -> Services:
    """Wire the parts. ``clock``, ``registry`` and ``storage`` may be passed in by tests."""
    clock = clock or SystemClock()
    metrics = Metrics(settings.metrics_dir)
    registry = registry or Registry(
        settings.database_url, clock=clock, observer=metrics.database_call
    )
    if storage is None:
        try:
            storage = open_storage(
                settings.storage_url,
                s3_endpoint_url=settings.s3_endpoint_url,
                connect_timeout=settings.s3_connect_timeout,
                read_timeout=settings.s3_read_timeout,
                s3_max_waiting=settings.s3_max_waiting,
            )
        except ValueError as exc:
            raise SettingsError("FILES_STORAGE", str(exc)) from None
    keys = settings.resolved_signing_keys()
    metrics.show_key_ids(key.kid for key in keys)
    tokens = TokenService(keys, clock, bucket_seconds=settings.url_bucket_seconds)
    return Services(
        settings=settings,
        clock=clock,
        registry=registry,
        storage=storage,
        tokens=tokens,
        upload_tokens=UploadTokens(keys, clock),
        minter=Minter(tokens, settings),
        cache=RegistryCache(registry, clock, settings.registry_cache_seconds),
        metrics=metrics,
    )
