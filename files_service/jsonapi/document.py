"""Response documents (§7): resource objects, ``included``, sparse fieldsets.

Handlers describe what they return as ``Resource`` values in the newest ("head") shape; this
module turns them into a JSON:API document::

    related = resolve_includes(file, options.include or (), loader)
    document = build_document(
        file, included=related, fieldsets=options.fields,
        transform=lambda obj: BUNDLE.migrate_resource(obj, version, ctx),
    )

``transform`` runs on each serialized resource object before sparse fieldsets, so fieldsets
always select from the shape of the version being served.

Sparse fieldsets keep only the listed attributes of resources of the listed types, in ``data``
and in ``included``. Relationships always stay: a deliberate departure from JSON:API (which
would drop unlisted relationships), so that linkage to ``included`` never goes missing and
responses look like the seed examples. ``metadata.KEY`` keeps only that key of the
``metadata`` map (the whole map where ``metadata`` itself is listed too).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

Ref: TypeAlias = tuple[str, str]
"""A resource identifier: (type, id)."""

Linkage: TypeAlias = Ref | list[Ref] | None
"""A relationship's data: one identifier (to-one), ``None`` (an empty to-one) or a list."""

Loader: TypeAlias = Callable[[str, str], "Resource | None"]
"""Fetches a related resource by (type, id); ``None`` where it is gone or not visible."""


@dataclass(frozen=True)
class Resource:
    """A resource object in the head shape. ``relationships`` maps a name to its linkage."""

    type: str
    id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    relationships: Mapping[str, Linkage] = field(default_factory=dict)
    links: Mapping[str, str] | None = None
    meta: Mapping[str, Any] | None = None

    @property
    def ref(self) -> Ref:
        """This resource's identifier, (type, id)."""
        return (self.type, self.id)

    def related(self, name: str) -> list[Ref]:
        """The identifiers the relationship ``name`` points at (none where it is empty or
        absent)."""
        linkage = self.relationships.get(name)
        if linkage is None:
            return []
        return list(linkage) if isinstance(linkage, list) else [linkage]

    def to_json(self) -> dict[str, Any]:
        """This resource as a JSON:API resource object (a fresh, deep copy)."""
        obj: dict[str, Any] = {
            "type": self.type,
            "id": self.id,
            "attributes": copy.deepcopy(dict(self.attributes)),
        }
        if self.relationships:
            obj["relationships"] = {
                name: {"data": _linkage_json(linkage)}
                for name, linkage in self.relationships.items()
            }
        if self.links:
            obj["links"] = dict(self.links)
        if self.meta:
            obj["meta"] = copy.deepcopy(dict(self.meta))
        return obj


def _identifier(ref: Ref) -> dict[str, str]:
    return {"type": ref[0], "id": ref[1]}


def _linkage_json(linkage: Linkage) -> Any:
    if linkage is None:
        return None
    if isinstance(linkage, list):
        return [_identifier(ref) for ref in linkage]
    return _identifier(linkage)


def apply_fieldset(obj: dict[str, Any], selectors: Collection[str]) -> dict[str, Any]:
    """Keep, in the resource object ``obj``, only the attributes ``selectors`` name (in their
    original order); ``name.key`` keeps one key of a map attribute. Relationships stay."""
    attributes: Mapping[str, Any] = obj.get("attributes") or {}
    whole = set(selectors)
    keys: dict[str, list[str]] = {}
    for selector in selectors:
        attribute, dot, key = selector.partition(".")
        if dot and attribute not in whole:
            keys.setdefault(attribute, []).append(key)
    kept: dict[str, Any] = {}
    for name, value in attributes.items():
        if name in whole:
            kept[name] = value
        elif name in keys:
            if isinstance(value, Mapping):
                kept[name] = {key: value[key] for key in keys[name] if key in value}
            else:
                kept[name] = value
    return {**obj, "attributes": kept}


def build_document(
    primary: Resource | Sequence[Resource] | None,
    *,
    included: Sequence[Resource] | None = None,
    fieldsets: Mapping[str, Collection[str]] | None = None,
    meta: Mapping[str, Any] | None = None,
    links: Mapping[str, Any] | None = None,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A JSON:API document whose primary data is ``primary`` (one resource, a list, or
    ``None`` for ``data: null``).

    ``included``: related resources, or ``None`` to leave ``included`` out (``[]`` gives
    ``included: []``); each appears once and never repeats a primary resource.
    ``fieldsets``: type -> selectors, as ``QueryOptions.fields``. ``meta``, ``links``:
    top-level members, copied as given. ``transform``: applied to each serialized resource
    object before fieldsets (version migration).
    """

    def render(resource: Resource) -> dict[str, Any]:
        obj = resource.to_json()
        if transform is not None:
            obj = transform(obj)
        if fieldsets is not None and resource.type in fieldsets:
            obj = apply_fieldset(obj, fieldsets[resource.type])
        return obj

    document: dict[str, Any] = {}
    if primary is None:
        document["data"] = None
        primaries: list[Resource] = []
    elif isinstance(primary, Resource):
        document["data"] = render(primary)
        primaries = [primary]
    else:
        primaries = list(primary)
        document["data"] = [render(resource) for resource in primaries]
    if included is not None:
        seen = {resource.ref for resource in primaries}
        rendered = []
        for resource in included:
            if resource.ref not in seen:
                seen.add(resource.ref)
                rendered.append(render(resource))
        document["included"] = rendered
    if links:
        document["links"] = dict(links)
    if meta:
        document["meta"] = copy.deepcopy(dict(meta))
    return document


def resolve_includes(
    primary: Resource | Sequence[Resource], paths: Iterable[str], loader: Loader
) -> list[Resource]:
    """The resources ``include`` asks for, in the order found, each once and none of them a
    primary resource.

    ``paths`` are dotted relationship paths of at most two names (``"created-by"``,
    ``"created-by.organization"``), as checked by ``parse_query``; the resources along the
    way of a two-name path are included too, as JSON:API's full linkage requires. ``loader``
    is called at most once per (type, id); what it cannot find (``None``) is left out.
    """
    primaries = [primary] if isinstance(primary, Resource) else list(primary)
    known: dict[Ref, Resource | None] = {resource.ref: resource for resource in primaries}
    primary_refs = set(known)
    found: dict[Ref, Resource] = {}

    def load(ref: Ref) -> Resource | None:
        if ref not in known:
            known[ref] = loader(*ref)
        return known[ref]

    for path in paths:
        current = primaries
        for name in path.split(".")[:2]:
            following: dict[Ref, Resource] = {}
            for resource in current:
                for ref in resource.related(name):
                    related = load(ref)
                    if related is None:
                        continue
                    if ref not in primary_refs:
                        found.setdefault(ref, related)
                    following.setdefault(ref, related)
            current = list(following.values())
    return list(found.values())
