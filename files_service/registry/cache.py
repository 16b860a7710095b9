"""A short-lived, per-process cache of the registry rows a download needs. Revocation and
deletion reach every replica within ``FILES_REGISTRY_CACHE_SECONDS`` (§3): an entry is trusted
for that long and no longer. Misses are cached too (a deleted file stays deleted)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from ..clock import Clock
from ..errors import NotFound
from .models import File, Principal
from .sql import Registry

T = TypeVar("T")
_MAX_ENTRIES = 50_000  # bounded memory under a flood of distinct ids


class _TimedCache(Generic[T]):
    def __init__(self, load: Callable[[str], T], clock: Clock, seconds: int) -> None:
        self._load = load
        self._clock = clock
        self._seconds = seconds
        self._entries: dict[str, tuple[float, T | None]] = {}

    def get(self, key: str) -> T | None:
        now = self._clock.now()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            value: T | None = self._load(key)
        except NotFound:
            value = None
        if self._seconds:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now + self._seconds, value)
        return value

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


class RegistryCache:
    """Files and principals by id, each trusted for ``seconds`` (0 = always ask the database)."""

    def __init__(self, registry: Registry, clock: Clock, seconds: int) -> None:
        self._files: _TimedCache[File] = _TimedCache(registry.get_file, clock, seconds)
        self._principals: _TimedCache[Principal] = _TimedCache(
            registry.get_principal, clock, seconds
        )

    def file(self, file_id: str) -> File | None:
        return self._files.get(file_id)

    def principal(self, principal_id: str) -> Principal | None:
        return self._principals.get(principal_id)

    def forget_file(self, file_id: str) -> None:
        """Drop a file at once in this process (it was deleted here)."""
        self._files.forget(file_id)

    def forget_principal(self, principal_id: str) -> None:
        self._principals.forget(principal_id)
