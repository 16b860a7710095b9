"""Dated versions as small change objects, after cadwyn (§6).

Handlers speak only the newest shape, "head". Each released version after the first brings one
or more ``VersionChange`` objects, each in a module named for its date under ``changes/``. To
serve an older version, a response's resource objects are migrated back one version at a time,
newest change first: the change of version V turns the shape of V into the shape of the
version just before V. Requests go the other way (``upgrade_request``), oldest first.

``unstable`` sorts after every date: a change being worked on carries ``version = "unstable"``,
so every released version is served without it.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

UNSTABLE = "unstable"


@dataclass(frozen=True)
class MigrationContext:
    """What a change needs from the API layer to stay pure.

    ``legacy_file_url(file_id)``: the file's legacy-style URL (§3), minted by the API layer for
    the principal of the request. Called only when serving a version before 2023-01-05.
    """

    legacy_file_url: Callable[[str], str] | None = None


def version_key(version: str) -> str:
    """Sort key of a version: dates in order, ``unstable`` after all of them."""
    return "9999-99-99" if version == UNSTABLE else version


class VersionChange:
    """One documented change between a version and the one before it.

    Subclasses set ``version`` (the date that brought it, or ``unstable``), ``description``
    (one line, for the changelog and ``GET /api/v1/versions``), ``applies_to`` (the resource
    types it touches) and a docstring explaining the change to users; and override
    ``downgrade_response`` (head-side shape -> the shape before ``version``) and, where the
    change touches request bodies, ``upgrade_request``; and, where it changes what the OpenAPI
    description says, ``downgrade_openapi``.
    """

    version: ClassVar[str]
    description: ClassVar[str]
    applies_to: ClassVar[frozenset[str]]

    def downgrade_response(self, resource: dict[str, Any], ctx: MigrationContext) -> dict[str, Any]:
        """Turn one resource object of the shape of ``version`` into the shape before it.
        ``resource`` may be modified in place; return the result. Attributes left out by a
        sparse fieldset may be missing: only touch what is there."""
        return resource

    def upgrade_request(self, body: dict[str, Any], ctx: MigrationContext) -> dict[str, Any]:
        """Turn a request document written for the version before ``version`` into the shape
        of ``version``. Most changes touch only responses and keep this as it is."""
        return body

    def downgrade_openapi(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """Turn the OpenAPI ``components.schemas`` of ``version`` into those of the version
        before it, as ``downgrade_response`` does for responses. ``schemas`` may be modified in
        place; return the result."""
        return schemas

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.version}>"


@dataclass(frozen=True)
class VersionBundle:
    """The released versions, newest first, and the changes each brought.

    ``first_description`` says what the first version was (it has no change object).
    """

    versions: tuple[str, ...]
    changes: tuple[VersionChange, ...]
    first_description: str = "First version."

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError("a version bundle needs at least one released version")
        if list(self.versions) != sorted(set(self.versions), reverse=True):
            raise ValueError("released versions must be distinct and newest first")
        if UNSTABLE in self.versions:
            raise ValueError("'unstable' is never a released version")
        for change in self.changes:
            if change.version != UNSTABLE and change.version not in self.versions:
                raise ValueError(f"{change!r} is for a version that is not released")
            if change.version == self.first:
                raise ValueError(f"{change!r}: the first version has nothing to change from")

    @property
    def newest(self) -> str:
        """The newest released version."""
        return self.versions[0]

    @property
    def first(self) -> str:
        """The first (oldest) version."""
        return self.versions[-1]

    def changes_of(self, version: str) -> list[VersionChange]:
        """The changes ``version`` brought."""
        return [change for change in self.changes if change.version == version]

    def changes_after(self, version: str) -> list[VersionChange]:
        """Changes of versions after ``version``, newest first (stable within a version)."""
        return list(self._changes_after(version))

    @functools.lru_cache(maxsize=64)  # noqa: B019 - bundles are few and live for the process
    def _changes_after(self, version: str) -> tuple[VersionChange, ...]:
        # Asked once per resource of every response: sorted once per version.
        newer = [c for c in self.changes if version_key(c.version) > version_key(version)]
        return tuple(sorted(newer, key=lambda change: version_key(change.version), reverse=True))

    def migrate_resource(
        self, resource: dict[str, Any], to_version: str, ctx: MigrationContext
    ) -> dict[str, Any]:
        """A head-shaped resource object as ``to_version`` shows it. ``resource`` itself is left
        untouched: it is copied before the first change that applies, and returned as it is
        where none does (the head version, the usual case: no copy per resource of a batch).
        ``to_version`` must be a released version or ``unstable``, as resolved."""
        kind = resource.get("type")
        changes = [c for c in self._changes_after(to_version) if kind in c.applies_to]
        if not changes:
            return resource
        migrated = copy.deepcopy(resource)
        for change in changes:
            migrated = change.downgrade_response(migrated, ctx)
        return migrated

    def migrate_document(
        self, document: dict[str, Any], to_version: str, ctx: MigrationContext
    ) -> dict[str, Any]:
        """A head-shaped document with every resource object of ``data`` and ``included``
        migrated to ``to_version`` (a new dict; ``document`` is left untouched)."""
        out = dict(document)
        data = document.get("data")
        if isinstance(data, list):
            out["data"] = [self.migrate_resource(obj, to_version, ctx) for obj in data]
        elif isinstance(data, dict):
            out["data"] = self.migrate_resource(data, to_version, ctx)
        if isinstance(document.get("included"), list):
            out["included"] = [
                self.migrate_resource(obj, to_version, ctx) for obj in document["included"]
            ]
        return out

    def migrate_openapi(self, schemas: dict[str, Any], to_version: str) -> dict[str, Any]:
        """The head OpenAPI ``components.schemas`` as ``to_version`` describes them (a new
        dict; ``schemas`` is left untouched)."""
        migrated = copy.deepcopy(schemas)
        for change in self.changes_after(to_version):
            migrated = change.downgrade_openapi(migrated)
        return migrated

    def upgrade_request(
        self, body: dict[str, Any], from_version: str, ctx: MigrationContext
    ) -> dict[str, Any]:
        """A request document written for ``from_version`` in the head shape, oldest change
        first."""
        upgraded = copy.deepcopy(body)
        for change in reversed(self.changes_after(from_version)):
            data = upgraded.get("data")
            if isinstance(data, dict) and data.get("type") in change.applies_to:
                upgraded = change.upgrade_request(upgraded, ctx)
        return upgraded


def find_ineffective_changes(
    bundle: VersionBundle, samples: Iterable[dict[str, Any]], ctx: MigrationContext
) -> list[VersionChange]:
    """The changes that alter none of the head-shaped ``samples`` (cadwyn refuses a change that
    matches nothing; a test calls this with one full sample of each resource type).

    Each change sees the samples as the changes newer than it left them, exactly as in a real
    migration, so a change whose input a newer change hides is caught too.
    """
    current: Sequence[dict[str, Any]] = [copy.deepcopy(sample) for sample in samples]
    ineffective: list[VersionChange] = []
    for change in bundle.changes_after(bundle.first):
        changed = False
        following = []
        for sample in current:
            if sample.get("type") in change.applies_to:
                after = change.downgrade_response(copy.deepcopy(sample), ctx)
                changed = changed or after != sample
                sample = after
            following.append(sample)
        if not changed:
            ineffective.append(change)
        current = following
    return ineffective
