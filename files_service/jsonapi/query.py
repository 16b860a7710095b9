"""Query parameters (§5, §7): parsed and checked once into a typed ``QueryOptions``.

What is accepted:

- ``include`` (not on list endpoints): comma-separated relationship paths of at most two
  dot-separated names, each a relationship of the type before it; ``include=`` asks for none.
- ``fields[TYPE]``: comma-separated attribute names of TYPE (relationship names are accepted
  too and change nothing, since relationships always stay); ``metadata.KEY`` keeps one key of
  a map attribute (``MAP_ATTRIBUTES``). ``fields[TYPE]=`` keeps no attribute.
- ``page[size]`` (1 to 100, default 25), ``page[after]`` (an opaque cursor), ``filter[id]``
  (1 to 100 comma-separated ids): paginated list endpoints only.
- ``api-version``: anywhere; its value is checked by version resolution, not here.
- the endpoint's own parameters (``extra``: name -> parser), such as the API's minting
  parameters on requests that return files (``files_service.api.mint_query``): each value is
  checked by its parser, which raises ``ApiError``, and kept in ``QueryOptions.extra``.

What is refused with ``400`` (``source.parameter`` naming the parameter): every bad value
above, ``sort``, any parameter given twice, an unknown parameter made only of a-z letters (or
an unknown bracketed family of one, such as ``foo[bar]``: JSON:API reserves those names), and
a near miss of one of ours (``url_ttl``, ``Include``) that would otherwise be silently ignored,
which for ``url-ttl`` would mint a URL that lives far longer than asked. Other unknown
parameters (implementation-specific names such as ``utm-source``) are ignored, as JSON:API
allows. Every problem is reported, one error object each (an ``ApiErrorGroup`` when several).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import ids
from .errors import ApiError, bad_parameter, raise_all, shorten, unsupported_parameter

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_FILTER_IDS = 100
MAX_INCLUDE_NAMES = 2
MAX_CURSOR_CHARS = 1000
MAP_ATTRIBUTES = frozenset({"metadata"})
API_VERSION_PARAMETER = "api-version"

Parser = Callable[[str], Any]
"""Checks one value of an endpoint's own parameter: what it means, or ``ApiError`` (400)."""

_RESERVED = re.compile(r"[a-z]+")
_FAMILY = re.compile(r"([a-z]+)\[([^\[\]]*)\]")
_NUMBER = re.compile(r"[0-9]{1,9}")
_KNOWN_NAMES = ("include", "sort", "fields", "page", "filter", API_VERSION_PARAMETER)


@dataclass(frozen=True)
class QueryOptions:
    """What the query string of one request asks for, checked.

    ``include`` is ``None`` where the request did not say (the endpoint's default applies) and
    ``()`` for ``include=`` (an empty ``included``); paths are dotted strings (``"a.b"``).
    ``fields`` maps a type to its selectors (attribute names, or ``metadata.KEY``); a type not
    in it keeps every attribute. ``api_version`` is the raw ``api-version`` value, for
    ``resolve_version(query=...)``. ``extra`` maps each of the endpoint's own parameters that
    the request gave to what its parser made of it.
    """

    include: tuple[str, ...] | None = None
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    page_size: int = DEFAULT_PAGE_SIZE
    page_after: str | None = None
    filter_ids: tuple[str, ...] | None = None
    api_version: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def wants_attribute(self, type_name: str, attribute: str) -> bool:
        """Whether resources of ``type_name`` will show ``attribute`` (wholly or one map key),
        e.g. to skip minting a URL nobody asked to see."""
        selectors = self.fields.get(type_name)
        if selectors is None:
            return True
        return any(s == attribute or s.startswith(attribute + ".") for s in selectors)


def whole_number(value: str, low: int, high: int) -> int | None:
    """``value`` as a whole number from ``low`` to ``high``, or ``None``: ASCII digits only,
    no sign, space or exponent."""
    number = int(value) if _NUMBER.fullmatch(value) else None
    return number if number is not None and low <= number <= high else None


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.split("[", 1)[0].lower())


def api_version_param(args: Sequence[tuple[str, str]]) -> str | None:
    """The raw ``api-version`` value, or ``None``; 400 where it is given more than once.

    Version resolution needs it before the rest of the query is parsed, so that even a
    response refusing some other parameter can name the version used.
    """
    values = [value for name, value in args if name == API_VERSION_PARAMETER]
    if len(values) > 1:
        raise bad_parameter(API_VERSION_PARAMETER, "Give 'api-version' at most once.")
    return values[0] if values else None


def parse_query(
    args: Sequence[tuple[str, str]],
    *,
    is_list: bool,
    known_types: Mapping[str, Collection[str]],
    relationships: Mapping[str, Mapping[str, str]],
    primary_type: str,
    id_prefix: str | None = None,
    paginated: bool | None = None,
    extra: Mapping[str, Parser] | None = None,
) -> QueryOptions:
    """Check a request's query parameters; raise ``ApiError`` (400) naming every bad one.

    ``args``: every (name, value) pair in order, repeats included (Flask:
    ``list(request.args.items(multi=True))``). ``is_list``: a list endpoint (pagination and
    filters allowed, ``include`` not). ``known_types``: type -> its attribute names, for every
    type a response may hold. ``relationships``: type -> relationship name -> target type.
    ``primary_type``: the type of the primary data. ``id_prefix``: what ids in ``filter[id]``
    must start with (``"file"``); ``None`` accepts any of the service's id forms.
    ``paginated``: whether ``page[…]`` and ``filter[…]`` are allowed; by default, on every list
    endpoint (a short, fixed list such as the versions sets it to ``False``). ``extra``: the
    endpoint's own parameters, name -> ``Parser`` (their near misses are refused too).
    """
    extra = extra or {}
    if paginated is None:
        paginated = is_list
    errors: list[ApiError] = []
    counts: dict[str, int] = {}
    for name, _ in args:
        counts[name] = counts.get(name, 0) + 1

    parsed: dict[str, object] = {}
    fields: dict[str, tuple[str, ...]] = {}
    own: dict[str, Any] = {}
    for name, value in args:
        if counts[name] < 0:
            continue
        try:
            used = _parse_one(
                name, value, parsed, fields, own,
                is_list=is_list, known_types=known_types, relationships=relationships,
                primary_type=primary_type, id_prefix=id_prefix, paginated=paginated,
                extra=extra,
            )
        except ApiError as error:
            errors.append(error)
            used = False
        if used and counts[name] > 1:
            errors.append(bad_parameter(name, f"Give {shorten(name)!r} at most once."))
        counts[name] = -1  # later repeats are not looked at again
    raise_all(errors)
    return QueryOptions(fields=fields, extra=own, **parsed)  # type: ignore[arg-type]


def _parse_one(
    name: str,
    value: str,
    parsed: dict[str, object],
    fields: dict[str, tuple[str, ...]],
    own: dict[str, Any],
    *,
    is_list: bool,
    known_types: Mapping[str, Collection[str]],
    relationships: Mapping[str, Mapping[str, str]],
    primary_type: str,
    id_prefix: str | None,
    paginated: bool,
    extra: Mapping[str, Parser],
) -> bool:
    """Check one parameter, recording what it asks for in ``parsed``, ``fields`` or ``own``;
    ``False`` for a parameter we ignore."""
    if name == API_VERSION_PARAMETER:
        parsed["api_version"] = value
    elif name in extra:
        own[name] = extra[name](value)
    elif name == "include":
        if is_list:
            raise unsupported_parameter("include", "'include' is not supported on list endpoints.")
        parsed["include"] = _include(value, relationships, primary_type)
    elif name == "sort":
        raise unsupported_parameter("sort", "Sorting is not supported: lists are newest first.")
    elif family := _FAMILY.fullmatch(name):
        base, member = family.groups()
        if base == "fields":
            fields[member] = _fieldset(name, member, value, known_types, relationships)
        elif base in ("page", "filter"):
            if not paginated:
                where = "paginated list endpoints" if is_list else "list endpoints"
                raise unsupported_parameter(name, f"{shorten(name)!r} applies only to {where}.")
            if name == "page[size]":
                parsed["page_size"] = _page_size(value)
            elif name == "page[after]":
                parsed["page_after"] = _cursor(value)
            elif name == "filter[id]":
                parsed["filter_ids"] = _filter_ids(value, id_prefix)
            else:
                supported = "page[size] and page[after]" if base == "page" else "filter[id]"
                raise unsupported_parameter(
                    name, f"{shorten(name)!r} is not supported; use {supported}."
                )
        else:
            raise unsupported_parameter(name, _reserved(name))
    elif _RESERVED.fullmatch(name):
        raise unsupported_parameter(name, _reserved(name))
    elif ("[" in name or "]" in name) and _RESERVED.fullmatch(re.split(r"[\[\]]", name)[0]):
        raise unsupported_parameter(
            name, f"Malformed parameter name {shorten(name)!r}: use a form such as fields[file]."
        )
    elif (normal := _normalized(name)) and (
        near := [known for known in (*_KNOWN_NAMES, *extra) if _normalized(known) == normal]
    ):
        raise unsupported_parameter(
            name, f"Unknown parameter {shorten(name)!r}: did you mean {near[0]!r}?"
        )
    else:
        return False  # an implementation-specific parameter we do not use: ignored (JSON:API)
    return True


def _reserved(name: str) -> str:
    hint = {
        "fields": " Use fields[TYPE].",
        "page": " Use page[size] and page[after].",
        "filter": " Use filter[id].",
    }.get(name, "")
    return (
        f"Unknown query parameter {shorten(name)!r}: names made only of a-z letters are reserved "
        f"by JSON:API.{hint}"
    )


def _include(
    value: str, relationships: Mapping[str, Mapping[str, str]], primary_type: str
) -> tuple[str, ...]:
    if value == "":
        return ()
    paths: list[str] = []
    for path in value.split(","):
        names = path.split(".")
        if "" in names:
            raise bad_parameter("include", f"Malformed relationship path {shorten(path)!r}.")
        if len(names) > MAX_INCLUDE_NAMES:
            raise bad_parameter(
                "include",
                f"Relationship path {shorten(path)!r} is too deep: at most "
                f"{MAX_INCLUDE_NAMES} names, such as 'a.b'.",
            )
        type_name = primary_type
        for relationship in names:
            targets = relationships.get(type_name, {})
            if relationship not in targets:
                known = ", ".join(sorted(targets)) or "none"
                raise bad_parameter(
                    "include",
                    f"Unknown relationship {shorten(relationship)!r} of {type_name!r} in "
                    f"{shorten(path)!r} (known: {known}).",
                )
            type_name = targets[relationship]
        if path not in paths:
            paths.append(path)
    return tuple(paths)


def _fieldset(
    name: str,
    type_name: str,
    value: str,
    known_types: Mapping[str, Collection[str]],
    relationships: Mapping[str, Mapping[str, str]],
) -> tuple[str, ...]:
    if type_name not in known_types:
        known = ", ".join(sorted(known_types))
        raise bad_parameter(name, f"Unknown resource type {shorten(type_name)!r} (known: {known}).")
    if value == "":
        return ()
    attributes = set(known_types[type_name])
    allowed = attributes | set(relationships.get(type_name, {}))
    selectors: list[str] = []
    for selector in value.split(","):
        attribute, dot, key = selector.partition(".")
        if selector in allowed or (dot and key and attribute in attributes & MAP_ATTRIBUTES):
            if selector not in selectors:
                selectors.append(selector)
            continue
        if selector == "":
            raise bad_parameter(name, f"Empty attribute name in {shorten(value)!r}.")
        raise bad_parameter(
            name,
            f"Unknown attribute {shorten(selector)!r} of {type_name!r} "
            f"(known: {', '.join(sorted(attributes))}).",
        )
    return tuple(selectors)


def _page_size(value: str) -> int:
    size = whole_number(value, 1, MAX_PAGE_SIZE)
    if size is not None:
        return size
    raise bad_parameter(
        "page[size]",
        f"page[size] must be a whole number from 1 to {MAX_PAGE_SIZE}, not {shorten(value)!r}.",
    )


def _cursor(value: str) -> str:
    if not value or len(value) > MAX_CURSOR_CHARS:
        raise bad_parameter("page[after]", "page[after] must be the cursor from 'links.next'.")
    return value


def _filter_ids(value: str, id_prefix: str | None) -> tuple[str, ...]:
    given = value.split(",") if value else []
    if not 1 <= len(given) <= MAX_FILTER_IDS:
        raise bad_parameter(
            "filter[id]", f"filter[id] takes 1 to {MAX_FILTER_IDS} comma-separated ids."
        )
    prefixes = (id_prefix,) if id_prefix else ids.PREFIXES
    found: list[str] = []
    for ident in given:
        if not any(ids.is_id(ident, prefix) for prefix in prefixes):
            want = f" (ids here start with '{id_prefix}_')" if id_prefix else ""
            raise bad_parameter(
                "filter[id]", f"Malformed id {shorten(ident)!r} in filter[id]{want}."
            )
        if ident not in found:
            found.append(ident)
    return tuple(found)
