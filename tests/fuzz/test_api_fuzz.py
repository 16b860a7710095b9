"""Property tests of the API (issue #6): no string or byte sequence in a query parameter
(``include``, ``fields[…]``, ``page[…]``, ``filter[id]``, the minting parameters, names of
our own making), a version header (``Files-Version``, ``Accept``, ``api-version``), the
``Authorization`` header, a path segment, a JSON:API request document or a multipart body
ever gets a 5xx, an HTML page or a document that breaks the JSON:API schema; and none is
accepted where it should not be: each accepted value is checked against what §5 to §7 allow, and
nothing of another organization (its files, keys, webhooks) ever appears in a 2xx.

Bounded in time: each test sends at most ``FUZZ.max_examples`` requests in-process."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_from_bytes, unquote

from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from files_service.validation import MAX_FILENAME_BYTES
from files_service.versioning.released import VERSIONS
from tests.api.conftest import BOUNDARY, JSON_API, check_response
from tests.fuzz.conftest import REGISTRABLE_NAME, Tenants

# More for a deeper run by hand: FILES_TEST_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/fuzz
FUZZ = settings(
    max_examples=int(os.environ.get("FILES_TEST_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TODAY = date(2026, 1, 1)  # the ManualClock's day
FIRST_RELEASE = date.fromisoformat(min(VERSIONS))
KEY_TTL = 21600  # the world's key: the default file-url-ttl
TYPES = {  # §5: every resource type, its attributes (2025-06-01) and relationships
    "file": ({"filename", "content-type", "byte-size", "checksum", "metadata", "created-at",
              "url", "url-expires-at"}, {"organization": "organization", "created-by": "api-key"}),
    "api-key": ({"name", "status", "file-url-ttl", "api-version", "created-at"},
                {"organization": "organization"}),
    "webhook": ({"url", "status", "file-url-ttl", "api-version", "created-at"},
                {"organization": "organization"}),
    "organization": ({"name", "created-at"}, {}),
    "version": ({"status", "deprecation-date", "sunset-date", "changes"}, {}),
}
OURS = ("include", "page[size]", "page[after]", "filter[id]", "api-version", "webhook-id",
        "url-ttl", "url-disposition")
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)
SAFE_TEXT = st.text(
    alphabet=st.characters(exclude_characters='"\\\r\n;', exclude_categories=("Cs",)),
    max_size=12,
)
NUMBER = re.compile(r"[0-9]{1,9}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# -- what every response must be --------------------------------------------------------------


def body_of(response: Any) -> Any:
    return json.loads(response.data) if response.data else None


def assert_sound(path: str, response: Any, validate: Any, tenants: Tenants | None) -> None:
    """No 5xx, never HTML, a valid JSON:API document (or the plain JSON of openapi.json), and
    (given ``tenants``) in a 2xx nothing of the other organization."""
    assert response.status_code < 500, (path, response.status_code, response.data[:500])
    event(f"status {response.status_code}")
    content_type = response.headers.get("Content-Type", "")
    if response.data:
        assert content_type in (JSON_API, "application/json"), (path, response.data[:300])
    check_response(unquote(path), response, validate)
    if response.status_code < 300 and tenants is not None:
        document = body_of(response)
        if isinstance(document, dict):
            document.pop("links", None)  # echoes the request's own query, ids and all
        text = json.dumps(document)
        theirs = tenants.theirs
        for secret_of_theirs in (theirs.org.id, theirs.file.id, theirs.key.id,
                                 tenants.their_webhook.id, theirs.secret):
            assert secret_of_theirs not in text, (path, secret_of_theirs)


def resources(document: Any) -> list[dict[str, Any]]:
    data = document.get("data") if isinstance(document, dict) else None
    primary = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    return [*primary, *document.get("included", [])] if isinstance(document, dict) else []


# -- query parameters -------------------------------------------------------------------------


def endpoints(tenants: Tenants) -> list[tuple[str, str, bool]]:
    """(path, primary type or ``files`` for the list, whether the caller may see it)."""
    ours, theirs = tenants.ours, tenants.theirs
    return [
        (f"/api/v1/files/{ours.file.id}", "file", True),
        ("/api/v1/files", "files", True),
        ("/api/v1/versions", "versions", True),
        (f"/api/v1/api-keys/{ours.key.id}", "api-key", True),
        (f"/api/v1/webhooks/{tenants.our_webhook.id}", "webhook", True),
        (f"/api/v1/organizations/{ours.org.id}", "organization", True),
        ("/api/v1/openapi.json", "openapi", True),
        (f"/api/v1/files/{theirs.file.id}", "file", False),
        (f"/api/v1/api-keys/{theirs.key.id}", "api-key", False),
        (f"/api/v1/webhooks/{tenants.their_webhook.id}", "webhook", False),
        (f"/api/v1/organizations/{theirs.org.id}", "organization", False),
    ]


def near_misses(tenants: Tenants) -> list[str]:
    ours, theirs = tenants.ours, tenants.theirs
    return [
        "", ",", ".", "..", "organization", "created-by", "created-by.organization",
        "created-by.organization.created-by", "organization,organization", "Organization",
        "filename,url", "metadata.", "metadata.a", "metadata.a.b", "url,", "checksum",
        "0", "1", "25", "100", "101", "-1", "+5", " 5", "5 ", "1e2", "٣", "0x10", "007",
        "21600", "21601", "86400", "999999999", "9999999999",
        ours.file.id, theirs.file.id, f"{ours.file.id},{theirs.file.id}",
        ",".join([ours.file.id] * 101), ours.key.id, tenants.our_webhook.id,
        tenants.their_webhook.id, "wbh_", "file_", "file_" + "A" * 22,
        "inline", "attachment", "Attachment", "2022-09-01", "2023-01-05", "2025-06-01",
        "2024-02-30", "unstable", "2099-01-01", "1999-12-31", "\x00", "\u0130", "%", "%ff",
    ]


def good_values(tenants: Tenants) -> dict[str, list[str]]:
    """Values each parameter of ours takes somewhere, so that many requests get through."""
    return {
        "include": ["", "organization", "created-by", "created-by.organization"],
        "page[size]": ["1", "2", "100"],
        "page[after]": [tenants.our_files[-1].id],
        "filter[id]": [tenants.ours.file.id, f"{tenants.ours.file.id},{tenants.theirs.file.id}"],
        "api-version": ["2022-09-01", "2023-01-05", "2024-12-31", "2025-06-01"],
        "webhook-id": [tenants.our_webhook.id],
        "url-ttl": ["1", "600", "21600"],
        "url-disposition": ["inline", "attachment"],
        **{f"fields[{t}]": ["", ",".join(sorted(TYPES[t][0])[:2]), "metadata.a"]
           for t in TYPES},
    }


PARAMETERS_OF = {  # what each kind of endpoint takes, besides fields[…] and api-version
    "file": ("include", "webhook-id", "url-ttl", "url-disposition"),
    "files": ("page[size]", "page[after]", "filter[id]", "webhook-id", "url-ttl",
              "url-disposition"),
    "api-key": ("include",), "webhook": ("include",), "organization": ("include",),
    "versions": (), "openapi": (),
}


@st.composite
def query_pairs(draw: Any, tenants: Tenants, kind: str) -> list[tuple[bytes, bytes]]:
    """1 to 3 parameters: most of them ones the endpoint takes, with good values or near
    misses, the rest anything at all."""
    good = good_values(tenants)
    takes = [*PARAMETERS_OF[kind], "api-version", *(f"fields[{t}]" for t in TYPES)]
    names = st.one_of(
        st.sampled_from(takes),
        st.sampled_from(takes),
        st.sampled_from(sorted(good)),
        st.sampled_from(["sort", "fields", "page", "filter[name]", "page[number]", "fields[]",
                         "include[]", "url_ttl", "Include", "utm-source", "foo[bar]", "a"]),
        st.text(max_size=12),
    )
    pairs = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 9)) == 0:
            name = draw(st.binary(max_size=8))
        else:
            name = draw(names).encode()
        value = draw(st.one_of(
            st.sampled_from(good.get(name.decode(errors="replace"), [""])),
            st.sampled_from(good.get(name.decode(errors="replace"), [""])),
            st.sampled_from(near_misses(tenants)),
            st.text(max_size=30),
        ).map(lambda text: text.encode()) | st.binary(max_size=30))
        pairs.append((name, value))
    return pairs


def query_string(pairs: list[tuple[bytes, bytes]], raw: bool) -> str:
    """The QUERY_STRING a WSGI server would pass: percent-encoded, or (``raw``) with the
    bytes as sent (the environ carries them as latin-1)."""
    def one(part: bytes) -> str:
        if raw:
            return part.replace(b"&", b"%26").replace(b"=", b"%3D").replace(b"#", b"%23"
                                                                             ).decode("latin-1")
        return quote_from_bytes(part, safe="")

    return "&".join(f"{one(name)}={one(value)}" for name, value in pairs)


def seen_by_server(query: str) -> list[tuple[str, str]]:
    """The (name, value) pairs as the app reads them (Werkzeug's parsing)."""
    text = query.encode("latin-1").decode("utf-8", "werkzeug.url_quote")
    return parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")


def check_accepted_query(kind: str, args: list[tuple[str, str]], document: Any,
                         tenants: Tenants) -> None:
    """What a 2xx says of the query: every parameter of ours in it was a good one."""
    names = [name for name, _ in args]
    listing, mints = kind == "files", kind in ("file", "files")
    for name, value in args:
        if name in OURS or name.startswith("fields["):
            assert names.count(name) == 1, f"{name} given twice and accepted"
        if re.fullmatch(r"[a-z]+", name):  # reserved by JSON:API: only ours may pass
            assert name == "include", name
        family = re.fullmatch(r"([a-z]+)\[([^\[\]]*)\]", name)
        if family:
            assert family.group(1) in ("fields", "page", "filter"), name
        if name == "include":
            assert kind in ("file", "api-key", "webhook", "organization"), kind
            if value:
                for path in value.split(","):
                    target = kind
                    steps = path.split(".")
                    assert 1 <= len(steps) <= 2, path
                    for step in steps:
                        assert step in TYPES[target][1], (kind, path)
                        target = TYPES[target][1][step]
        elif name.startswith("fields["):
            type_name = name[7:-1]
            assert type_name in TYPES, name
            attributes, relationships = TYPES[type_name]
            wanted = value.split(",") if value else []
            for selector in wanted:
                head, dot, key = selector.partition(".")
                assert selector in attributes | set(relationships) or (
                    dot and key and head == "metadata"
                ), (name, selector)
            shown = {s.partition(".")[0] for s in wanted}
            for resource in resources(document):
                if resource.get("type") == type_name:
                    assert set(resource.get("attributes", {})) <= shown, (name, resource)
        elif name == "page[size]":
            assert listing and NUMBER.fullmatch(value) and 1 <= int(value) <= 100, value
            assert len(document["data"]) <= int(value)
        elif name == "page[after]":
            assert listing and value, value
        elif name == "filter[id]":
            assert listing, kind
            asked = set(value.split(","))
            assert {r["id"] for r in document["data"]} <= asked & tenants.our_file_ids
        elif name == "api-version":
            assert good_date(value), value
        elif name == "webhook-id":
            assert mints and value == tenants.our_webhook.id, value
        elif name == "url-ttl":
            assert mints and NUMBER.fullmatch(value) and 1 <= int(value) <= KEY_TTL, value
        elif name == "url-disposition":
            assert mints and value in ("inline", "attachment"), value


def test_no_query_string_crashes_or_is_wrongly_accepted(app: Flask, validate, tenants):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tenants.ours.secret}"}

    @st.composite
    def requests(draw: Any) -> tuple[tuple[str, str, bool], list[tuple[bytes, bytes]]]:
        endpoint = draw(st.sampled_from(endpoints(tenants)))
        return endpoint, draw(query_pairs(tenants, endpoint[1]))

    @FUZZ
    @given(requests(), st.booleans())
    def check(request: tuple[tuple[str, str, bool], list[tuple[bytes, bytes]]],
              raw: bool) -> None:
        (path, kind, visible), pairs = request
        query = query_string(pairs, raw)
        response = client.get(path, headers=auth, environ_overrides={"QUERY_STRING": query})
        assert_sound(path, response, validate, tenants)
        if response.status_code < 300:
            assert visible, path
            if kind != "openapi":
                check_accepted_query(kind, seen_by_server(query), body_of(response), tenants)
            for resource in resources(body_of(response)):
                if resource["type"] == "file":
                    assert resource["id"] in tenants.our_file_ids

    check()


def test_no_path_segment_crashes_or_reaches_another_organization(app: Flask, validate, tenants):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tenants.ours.secret}"}
    collections = ["files", "api-keys", "webhooks", "organizations", "versions", "x"]
    theirs = [tenants.theirs.file.id, tenants.theirs.key.id, tenants.their_webhook.id,
              tenants.theirs.org.id]
    ours = [tenants.ours.file.id, tenants.ours.key.id, tenants.our_webhook.id,
            tenants.ours.org.id]

    @FUZZ
    @given(st.sampled_from(collections),
           st.one_of(st.binary(min_size=1, max_size=40),
                     st.sampled_from(theirs + ours).map(str.encode),
                     st.text(min_size=1, max_size=40).map(str.encode)),
           st.sampled_from(["GET", "DELETE", "HEAD", "PUT", "PATCH", "POST"]))
    def check(collection: str, segment: bytes, method: str) -> None:
        path = f"/api/v1/{collection}/{quote_from_bytes(segment, safe='')}"
        response = client.open(path, method=method, headers=auth)
        assert_sound(path, response, validate, tenants)
        if response.status_code < 300:
            assert segment.decode("utf-8", "replace") in {
                tenants.ours.file.id, tenants.ours.key.id, tenants.our_webhook.id,
                tenants.ours.org.id, *tenants.our_file_ids,
            }, (path, method)

    check()


# -- version headers --------------------------------------------------------------------------


VERSIONISH = st.one_of(
    st.sampled_from([*VERSIONS, "unstable", "2024-02-30", "2099-01-01", "1999-12-31",
                     "2025-6-1", "2025-06-01T00:00:00Z", "", " ", "20250601", "latest"]),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)).map(date.isoformat),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    HEADER_TEXT,
)
TOKEN_VERSION = st.one_of(
    st.sampled_from([*VERSIONS, "unstable", "2024-02-30", "2099-01-01", "1999-12-31"]),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)).map(date.isoformat),
    st.text(alphabet="0123456789-abcxyz.", min_size=1, max_size=12),
)


@st.composite
def accept_headers(draw: Any) -> tuple[str, list[str]]:
    """An Accept header and the versions its well-formed vnd.files ranges name (q > 0)."""
    if draw(st.booleans()):
        return draw(HEADER_TEXT), []
    ranges, named = [], []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["version", "jsonapi", "any", "json", "html"]))
        if kind == "version":
            version = draw(TOKEN_VERSION).lower()
            ranges.append(f"application/vnd.files.{version}+json")
            named.append(version)
        else:
            ranges.append({"jsonapi": JSON_API, "any": "*/*", "json": "application/json",
                           "html": "text/html"}[kind])
    return ", ".join(ranges), named


def served(version: str) -> str:
    """The release serving a good date: the newest on or before it."""
    return next(v for v in sorted(VERSIONS, reverse=True) if v <= version)


def good_date(value: str) -> bool:
    if not DATE.fullmatch(value):
        return False
    try:
        return FIRST_RELEASE <= date.fromisoformat(value) <= TODAY
    except ValueError:
        return False


def test_no_version_header_crashes_or_is_wrongly_accepted(app: Flask, validate, tenants):
    client = app.test_client()
    path = f"/api/v1/files/{tenants.ours.file.id}"

    good = st.sampled_from([*VERSIONS, "2024-02-29", "2026-01-01"])
    source = st.one_of(st.none(), st.none(), good, VERSIONISH)

    @FUZZ
    @given(source, st.none() | st.none() | accept_headers(), source)
    def check(header: str | None, accept: tuple[str, list[str]] | None,
              query: str | None) -> None:
        headers = {"Authorization": f"Bearer {tenants.ours.secret}"}
        if header is not None:
            headers["Files-Version"] = header
        if accept is not None:
            headers["Accept"] = accept[0]
        url = path if query is None else f"{path}?api-version={quote(query, safe='')}"
        response = client.get(url, headers=headers)
        assert_sound(url, response, validate, tenants)
        if response.status_code >= 300:
            return
        named = [v for v in ([header.strip()] if header is not None else [])
                 + (accept[1] if accept is not None else [])
                 + ([query] if query is not None else [])]
        assert len(set(named)) <= 1, named  # two different versions: 400, never served
        if named:
            assert good_date(named[0]), named
            assert response.headers["Files-Version"] == served(named[0])
        else:
            assert response.headers["Files-Version"] == "2025-06-01"  # the key's pin

    check()


# -- Authorization ----------------------------------------------------------------------------


def test_no_authorization_header_is_wrongly_accepted(app: Flask, validate, tenants, services):
    client = app.test_client()
    secret = tenants.ours.secret
    revoked_key, revoked = services.registry.create_api_key(tenants.ours.org.id)
    services.registry.revoke_principal(revoked_key.id)
    active = {secret, tenants.theirs.secret}
    variants = st.one_of(
        st.just(f"Bearer {secret}"),
        HEADER_TEXT,
        st.sampled_from([secret, revoked, secret.upper(), secret.lower(), secret[:-1],
                         secret + "=", secret[4:], tenants.theirs.secret[:-1] + "x", "fsk_"])
        .flatmap(lambda s: st.sampled_from([f"Bearer {s}", f"bearer {s}", f"BEARER {s}",
                                            f"Bearer  {s}", f"Bearer {s} ", f"Bearer\t{s}",
                                            f"Basic {s}", s, f"Bearer {s} {s}",
                                            f"Token {s}", f"Bearer {s}\x00"])),
        st.builds(lambda i, c: f"Bearer {secret[:i]}{c}{secret[i + 1:]}",
                  st.integers(0, len(secret) - 1),
                  st.characters(max_codepoint=0xFF, exclude_characters="\r\n")),
    )

    @FUZZ
    @given(variants, st.sampled_from(["/api/v1/versions", "/api/v1/files"]))
    def check(authorization: str, path: str) -> None:
        response = client.get(path, headers={"Authorization": authorization})
        # (No tenancy check: the other organization's own key rightly sees its files.)
        assert_sound(path, response, validate, None)
        if response.status_code < 300:
            scheme, _, rest = authorization.strip().partition(" ")
            assert scheme.lower() == "bearer" and rest.strip() in active, authorization
        else:
            assert response.status_code in (400, 401, 406), response.status_code

    check()


# -- request documents ------------------------------------------------------------------------


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(
    max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)


@st.composite
def register_documents(draw: Any, tenants: Tenants) -> Any:
    """Documents near a good ``register`` one, and far from it."""
    if draw(st.integers(0, 4)) == 0:
        return draw(JSON_VALUES)
    if draw(st.booleans()):  # a good document, but for one member maybe
        attributes = {"filename": draw(st.sampled_from(["a.csv", "é.csv"]) | SAFE_TEXT),
                      "storage-key": draw(st.sampled_from([tenants.registrable_key] * 3 + [
                          tenants.theirs.file.storage_key, f"./{tenants.registrable_key}",
                          f"imports/{tenants.theirs.org.id}/{REGISTRABLE_NAME}"]))}
        if draw(st.booleans()):
            attributes["metadata"] = draw(st.dictionaries(st.text(max_size=5), JSON_VALUES,
                                                          max_size=2) | JSON_VALUES)
        if draw(st.booleans()):
            attributes["content-type"] = draw(st.sampled_from(["text/csv", "nope"]))
        return {"data": {"type": "file", "attributes": attributes}}
    attributes: dict[str, Any] = {}
    for name, strategy in (
        ("filename", st.one_of(st.sampled_from(["a.csv", "", ".", "..", "a/b", "x\x00y",
                                                "\u202e.exe", "a" * 256, "é" * 128]),
                               st.text(max_size=40), JSON_SCALARS)),
        ("storage-key", st.one_of(
            st.sampled_from([tenants.registrable_key, tenants.ours.file.storage_key,
                             tenants.theirs.file.storage_key, f"./{tenants.registrable_key}",
                             f"imports/{tenants.ours.org.id}/../{tenants.theirs.org.id}/"
                             f"{REGISTRABLE_NAME}",
                             f"imports/{tenants.theirs.org.id}/{REGISTRABLE_NAME}",
                             f"/{tenants.registrable_key}", tenants.registrable_key + "/",
                             f"imports/{tenants.ours.org.id}//{REGISTRABLE_NAME}",
                             f"IMPORTS/{tenants.ours.org.id}/{REGISTRABLE_NAME}",
                             f"{tenants.theirs.org.id}/x", "..", ""]),
            st.text(max_size=30), JSON_SCALARS)),
        ("content-type", st.one_of(st.sampled_from(["text/csv", "text/html; charset=utf-8",
                                                    "nope", ""]), st.text(max_size=20),
                                   JSON_SCALARS)),
        ("metadata", JSON_VALUES),
        ("byte-size", st.integers()),
        ("url", st.text(max_size=10)),
        (draw(st.text(max_size=10)), JSON_VALUES),
    ):
        # The required attributes are usually there, the others now and then.
        chance = draw(st.integers(0, 3))
        if (chance > 0) if name in ("filename", "storage-key") else (chance == 0):
            attributes[name] = draw(strategy)
    data: dict[str, Any] = {"type": draw(st.sampled_from(["file", "files", "api-key", ""])
                                         | st.text(max_size=6)),
                            "attributes": attributes}
    if draw(st.integers(0, 5)) == 0:
        data["id"] = draw(st.sampled_from([tenants.theirs.file.id, "x"]))
    if draw(st.integers(0, 5)) == 0:
        data["relationships"] = {"organization": {"data": {"type": "organization",
                                                           "id": tenants.theirs.org.id}}}
    if draw(st.integers(0, 6)) == 0:
        del data["attributes"]
    return {"data": data} if draw(st.integers(0, 6)) else {"data": [data]}


def valid_filename(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    return (1 <= size <= MAX_FILENAME_BYTES and "/" not in value and value not in (".", "..")
            and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value))


def stored_keys(services: Any) -> set[str]:
    root = Path(services.storage.url.removeprefix("local://"))
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_no_request_document_crashes_or_is_wrongly_accepted(app: Flask, validate, tenants,
                                                           services):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tenants.ours.secret}"}
    objects = stored_keys(services)
    writable = {"filename", "content-type", "storage-key", "metadata"}

    @FUZZ
    @given(st.one_of(register_documents(tenants).map(lambda d: json.dumps(d).encode()),
                     st.binary(max_size=200)),
           st.sampled_from([JSON_API, JSON_API, f"{JSON_API}; charset=utf-8",
                            f'{JSON_API}; profile="x"', "application/json", "text/plain", ""]))
    def check(body: bytes, content_type: str) -> None:
        response = client.post("/api/v1/files", data=body,
                               headers={**auth, "Content-Type": content_type})
        assert_sound("/api/v1/files", response, validate, tenants)
        assert stored_keys(services) == objects  # registering never writes to storage
        if response.status_code >= 300:
            return
        assert response.status_code == 201
        assert content_type.split(";")[0] == JSON_API and "charset" not in content_type
        data = json.loads(body)["data"]
        assert data["type"] == "file" and "id" not in data and "relationships" not in data
        attributes = data["attributes"]
        assert set(attributes) <= writable, attributes
        assert attributes["storage-key"] == tenants.registrable_key, attributes
        assert valid_filename(attributes["filename"]), attributes
        assert attributes.get("metadata") is None or isinstance(attributes["metadata"], dict)
        created = body_of(response)["data"]
        assert created["relationships"]["organization"]["data"]["id"] == tenants.ours.org.id
        # Forget the row (not the object), so that the key can be registered again.
        services.registry.delete_file(created["id"], tenants.ours.org.id)

    check()


@st.composite
def multipart_bodies(draw: Any) -> tuple[bytes, str, list[str], bool]:
    """A multipart body, its Content-Type, the names of its parts (``bad-metadata`` for a
    metadata part that is no JSON object) and whether it closes properly."""
    boundary = draw(st.sampled_from([BOUNDARY, BOUNDARY, BOUNDARY, "b", "x" * 70, "--", "a b",
                                     "é"]))
    content_type = f"multipart/form-data; boundary={boundary}"
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=300)), content_type, ["<bytes>"], False
    parts: list[bytes] = []
    shape: list[str] = []
    good = draw(st.booleans())  # the form of §5, but for its names maybe
    for index in range(2 if good else draw(st.integers(0, 4))):
        if good:
            name = ["metadata", "file"][index]
            if draw(st.integers(0, 7)) == 0:
                name = draw(st.sampled_from(["file", "metadata", "other", ""]))
        else:
            name = draw(st.sampled_from(["file", "metadata", "other", "", "FILE"]) | SAFE_TEXT)
        filename = draw(st.none() | st.sampled_from(["a.txt", "", "a/b", "..", "ok é.txt",
                                                     "\x00", "a\u202eb"]) | SAFE_TEXT)
        if good and name == "file" and draw(st.integers(0, 3)):
            filename = draw(st.sampled_from(["a.txt", "ok é.txt"]) | SAFE_TEXT)
        headers = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            headers += f'; filename="{filename}"'
        headers += "\r\n" + draw(st.sampled_from(["", "Content-Type: text/plain\r\n",
                                                   "Content-Type: nope\r\n",
                                                   "Content-Type: \r\n"]))
        value = draw(st.sampled_from([b"{}", b'{"k": "v"}', b"[1]", b"null", b"hello", b""])
                     | st.binary(max_size=40))
        if good and name == "metadata" and draw(st.integers(0, 3)):
            value = b'{"k": "v"}'
        parts.append(f"--{boundary}\r\n{headers}\r\n".encode() + value + b"\r\n")
        shape.append(name if name != "metadata" or _json_object(value) else "bad-metadata")
    close = draw(st.sampled_from([f"--{boundary}--\r\n", f"--{boundary}--", "", "junk"]))
    if good and draw(st.integers(0, 3)):
        close = f"--{boundary}--\r\n"
    closed = close.startswith(f"--{boundary}--")
    return b"".join(parts) + close.encode(), content_type, shape, closed


def _json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw.decode("utf-8")), dict)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False


def test_no_multipart_body_crashes_or_leaves_anything_behind(app: Flask, validate, tenants,
                                                            services):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tenants.ours.secret}"}

    @FUZZ
    @given(multipart_bodies())
    def check(form: tuple[bytes, str, list[str], bool]) -> None:
        body, content_type, shape, closed = form
        objects = stored_keys(services)
        rows = len(services.registry.list_files(tenants.ours.org.id, limit=100)[0])
        response = client.post("/api/v1/files", data=body,
                               headers={**auth, "Content-Type": content_type})
        assert_sound("/api/v1/files", response, validate, tenants)
        after = len(services.registry.list_files(tenants.ours.org.id, limit=100)[0])
        if response.status_code < 300:
            # Only the form of §5: an optional metadata object, then one file, then the end.
            assert shape in (["file"], ["metadata", "file"]) and closed, body
            assert len(stored_keys(services) - objects) == 1 and after == rows + 1
            created = body_of(response)["data"]
            assert valid_filename(created["attributes"]["filename"]), created
            # Clean up, so that the organization never fills a page.
            assert client.delete(f"/api/v1/files/{created['id']}", headers=auth
                                 ).status_code == 204
        else:
            assert stored_keys(services) == objects and after == rows, body

    check()


def test_raw_bytes_that_are_not_utf8_in_the_query_are_read_not_crashed_on(app: Flask, tenants):
    # Found by the test above: request.args raised UnicodeDecodeError, a 500 (gunicorn refuses
    # such a request line itself; other WSGI servers pass it on).
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tenants.ours.secret}"}
    path = f"/api/v1/files/{tenants.ours.file.id}"
    refused = client.get(path, headers=auth, environ_overrides={"QUERY_STRING": "include=\xff"})
    assert refused.status_code == 400
    assert "%FF" in refused.get_json(force=True)["errors"][0]["detail"]
    ignored = client.get(path, headers=auth, environ_overrides={"QUERY_STRING": "\xe9t\xe9=1"})
    assert ignored.status_code == 200  # not one of ours, nor reserved: ignored (§7)
