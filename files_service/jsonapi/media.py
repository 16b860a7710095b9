"""JSON:API 1.1 content negotiation, as pure functions over header strings.

The rules (JSON:API 1.1, "Content Negotiation", server responsibilities), and our choices:

- ``Content-Type``: a request body must be ``application/vnd.api+json``. The spec says a JSON:API
  media type with any parameter other than ``ext`` or ``profile`` gets ``415``. We support no
  extension, so an ``ext`` parameter gets ``415`` too (the spec's rule for unsupported extension
  URIs); a ``profile`` parameter is allowed and ignored (profiles never change what a server
  must do, so an unrecognised one is safe to ignore). ``charset=utf-8`` is a parameter like any
  other: ``415``, as JSON:API requires (JSON is always UTF-8 anyway).
- ``Accept``: where it names the JSON:API media type at all, at least one instance must be usable:
  no parameter other than ``ext``/``profile``, no ``ext`` (unsupported), and not ``q=0``; else
  ``406``, even if ``*/*`` is also listed (the spec's rule is about the JSON:API instances).
  ``q`` and what follows it are Accept parameters (RFC 9110), not media type parameters.
  Where it does not name JSON:API, anything we can send is fine: ``*/*``, ``application/*``,
  ``application/json`` and our version media type ``application/vnd.files.YYYY-MM-DD+json``
  (§6; the date itself is checked by version resolution). An Accept header that admits none of
  these gets ``406``. A header with no parseable media range is ignored, as RFC 9110 allows.

Responses are always sent as ``MEDIA_TYPE``, without parameters.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from .errors import not_acceptable, unsupported_media_type

MEDIA_TYPE = "application/vnd.api+json"
ALLOWED_PARAMETERS = frozenset({"ext", "profile"})
VERSION_MEDIA_TYPE = re.compile(r"application/vnd\.files\.([^+/]*)\+json")

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class MediaRange:
    """One entry of a ``Content-Type`` or ``Accept`` header: ``type/subtype``, lowercased, with
    its media type parameters (names lowercased) and, for Accept, its weight ``q``."""

    essence: str
    parameters: dict[str, str] = field(default_factory=dict)
    q: float = 1.0


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside double-quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_media_range(text: str, *, weighted: bool = False) -> MediaRange | None:
    """One media type (or, ``weighted``, one Accept media range, where ``q`` and what follows
    it are not media type parameters), or ``None`` where it is malformed."""
    essence, *params = _split(text, ";")
    essence = essence.strip().lower()
    kind, slash, sub = essence.partition("/")
    if not slash or not _TOKEN.fullmatch(kind) or not _TOKEN.fullmatch(sub):
        return None
    parameters: dict[str, str] = {}
    q = 1.0
    for param in params:
        name, equals, value = param.partition("=")
        name, value = name.strip().lower(), _unquote(value.strip())
        if not name and not value:
            continue  # "type/sub;" is tolerated
        if not equals or not _TOKEN.fullmatch(name):
            return None
        if weighted and name == "q":
            if not re.fullmatch(r"[01](\.[0-9]{0,3})?", value) or float(value) > 1:
                return None
            q = float(value)
            break  # whatever follows q are accept-extensions, not media type parameters
        parameters[name] = value
    return MediaRange(essence, parameters, q)


def parse_accept(accept: str | None) -> list[MediaRange]:
    """The well-formed media ranges of an ``Accept`` header, in order (malformed ones dropped)."""
    if not accept:
        return []
    ranges = (parse_media_range(part, weighted=True) for part in _split(accept, ","))
    return [media_range for media_range in ranges if media_range is not None]


def accept_versions(accept: str | None) -> list[str]:
    """The versions named by ``application/vnd.files.<version>+json`` ranges of an ``Accept``
    header, in order and without repeats (``q=0`` ranges do not name one)."""
    found: list[str] = []
    for media_range in parse_accept(accept):
        match = VERSION_MEDIA_TYPE.fullmatch(media_range.essence)
        if match and media_range.q > 0 and match.group(1) not in found:
            found.append(match.group(1))
    return found


def _usable_jsonapi(media_range: MediaRange) -> bool:
    return (
        media_range.q > 0
        and set(media_range.parameters) <= ALLOWED_PARAMETERS
        and "ext" not in media_range.parameters
    )


def check_content_type(content_type: str | None, *, also_allowed: Collection[str] = ()) -> None:
    """Refuse (415) the ``Content-Type`` of a request that carries a body.

    Call it only for requests with a body (POST). ``also_allowed`` names other media types the
    endpoint takes, e.g. ``{"multipart/form-data"}`` for uploads (their parameters, such as
    ``boundary``, are not checked here). A missing or unparseable header is refused too.
    """
    wanted = f"Send 'Content-Type: {MEDIA_TYPE}'"
    if also_allowed:
        wanted += " or " + " or ".join(sorted(also_allowed))
    media_range = parse_media_range(content_type) if content_type else None
    if media_range is None:
        raise unsupported_media_type(f"{wanted}.")
    if media_range.essence in {allowed.lower() for allowed in also_allowed}:
        return
    if media_range.essence != MEDIA_TYPE:
        raise unsupported_media_type(f"{wanted}, not {media_range.essence}.")
    unknown = sorted(set(media_range.parameters) - ALLOWED_PARAMETERS)
    if unknown:
        raise unsupported_media_type(
            f"{MEDIA_TYPE} takes no media type parameter but 'ext' or 'profile' "
            f"(got {', '.join(unknown)}). {wanted} without parameters."
        )
    if "ext" in media_range.parameters:
        raise unsupported_media_type("This server supports no JSON:API extension ('ext').")


def check_accept(accept: str | None) -> None:
    """Refuse (406) an ``Accept`` header that admits nothing this API can send."""
    ranges = parse_accept(accept)
    if not ranges:
        return
    jsonapi = [media_range for media_range in ranges if media_range.essence == MEDIA_TYPE]
    if jsonapi:
        if not any(_usable_jsonapi(media_range) for media_range in jsonapi):
            raise not_acceptable(
                f"Every {MEDIA_TYPE} in Accept carries a parameter we do not support: list it "
                "once without parameters (this server supports no 'ext' extension)."
            )
        return
    for media_range in ranges:
        if media_range.q > 0 and (
            media_range.essence in {"*/*", "application/*", "application/json"}
            or VERSION_MEDIA_TYPE.fullmatch(media_range.essence)
        ):
            return
    raise not_acceptable(
        f"This API sends only {MEDIA_TYPE}: accept it, application/json or "
        "application/vnd.files.YYYY-MM-DD+json."
    )
