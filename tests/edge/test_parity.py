"""The front tier answers as the service does (SPEC §9), proven differentially: one corpus of
requests, each sent to the service's own stream mode and through the edge, must get the same
status, headers (all but Date, Server, Connection and hop-by-hop ones) and bytes; local and
S3 storage, ``FILES_CDN_CACHE`` private and public.

Two things may differ, and only by the clock: ``Cache-Control``'s max-age (the two answers
can fall either side of a second) and the ``server-time`` of an expired token's ``meta``.

Each case also says which tier must answer it: the edge itself, or (where the edge cannot be
sure to judge a header as the service would, and for what is no download) the service behind
it, read from the edge's access log. The corpus so also proves the edge answers the common
cases itself rather than passing everything on."""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from files_service.clock import ManualClock
from files_service.files import delete_file
from files_service.registry.models import File
from files_service.tokens import LEGACY, TokenService
from tests.edge.conftest import Stack

pytestmark = pytest.mark.e2e

CONTENT = bytes(range(256)) * 64  # 16 KiB
NAMES = {
    "plain": "report.pdf",
    "unicode": "Résumé \u2013 2026 ✓ 🎉.pdf",
    "awkward": 'naïve "quoted"; name\\with, comma.txt',
    "route": "metrics",
    "empty": "empty.txt",
    "missing": "gone-from-storage.bin",
    "deleted": "deleted.bin",
}
HOP_BY_HOP = {"date", "server", "connection", "keep-alive", "transfer-encoding"}
EDGE, SERVICE = "edge", "service"
# nginx's static module judges a local file's request by the client's own headers: where it
# would judge them otherwise (If-Match, a Range spelt unusually) the service answers. S3 is
# sent exactly the range decided, so the edge answers those itself.
LOCAL_SERVICE = "service for local files"


@dataclass
class World:
    """Files, principals and URLs of one stack, made before any request."""

    stack: Stack
    files: dict[str, File]
    urls: dict[str, str] = field(default_factory=dict)

    def target(self, name: str) -> str:
        parts = urlsplit(self.urls[name])
        return f"{parts.path}?{parts.query}" if parts.query else parts.path


def with_token(path: str, token: str) -> str:
    return f"{path}?access_token={token}"


def build_world(stack: Stack) -> World:
    services = stack.services
    files = {
        key: stack.store(
            name, b"" if key == "empty" else CONTENT,
            "application/pdf" if name.endswith(".pdf") else "application/x-test",
        )
        for key, name in NAMES.items()
    }
    world = World(stack, files)
    urls = world.urls
    for key, file in files.items():
        urls[key] = stack.url(file)
    urls["attachment"] = stack.url(files["unicode"], disposition="attachment")
    # The object gone from storage, the row still there; a file deleted altogether.
    services.storage.delete(files["missing"].storage_key)
    delete_file(services, files["deleted"].id)

    registry = services.registry
    revoked_key, _ = registry.create_api_key(stack.org.id, name="revoked")
    urls["revoked"] = stack.url(files["plain"], key=revoked_key)
    registry.revoke_principal(revoked_key.id)
    hook = registry.create_webhook(stack.org.id, url="https://example.com/hook")
    urls["webhook"] = stack.url(files["plain"], key=hook)
    gone_hook = registry.create_webhook(stack.org.id, url="https://example.com/gone")
    urls["revoked-webhook"] = stack.url(files["plain"], key=gone_hook)
    registry.revoke_principal(gone_hook.id)

    keys = services.settings.resolved_signing_keys()
    now = time.time()
    plain = files["plain"]

    def token(clock_at: float, ttl: int, *, file: File = plain, principal: str | None = None,
              style: str = "current", filename: str | None = None) -> str:
        minted = TokenService(keys, ManualClock(clock_at), bucket_seconds=0).mint(
            file_id=file.id, filename=filename or file.filename,
            principal_id=principal or stack.key.id, style=style, ttl=ttl,
        )
        stack.tokens.append(minted.token)
        return minted.token

    path = "/" + quote(plain.filename, safe="")
    good = urlsplit(urls["plain"]).query.removeprefix("access_token=")
    urls["expired"] = stack.edge.base + with_token(path, token(now - 10_000, 60))
    urls["in-leeway"] = stack.edge.base + with_token(path, token(now - 63, 60))
    urls["far-ahead"] = stack.edge.base + with_token(path, token(now + 2 * 86400, 3600))
    urls["legacy-token"] = stack.edge.base + with_token(path, token(now, 60, style=LEGACY))
    urls["other-name"] = stack.edge.base + with_token("/other.pdf", good)
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    urls["tampered"] = stack.edge.base + with_token(path, flipped)
    urls["unknown-kid"] = stack.edge.base + with_token(path, "zz" + good[good.index("."):])
    urls["malformed"] = stack.edge.base + with_token(path, "not.a.token")
    urls["empty-token"] = stack.edge.base + with_token(path, "")
    urls["repeated"] = stack.edge.base + f"{path}?access_token={good}&access_token={good}"
    urls["encoded"] = stack.edge.base + with_token(path, good.replace(".", "%2E"))
    urls["extra-param"] = stack.edge.base + f"{path}?x=1&access_token={good}&y=%ZZ"
    # A token signed by the service for a file of one organization and a principal of
    # another.
    other_org = services.registry.create_organization("Other")
    foreign = stack.store("foreign.pdf", CONTENT, "application/pdf")
    urls["foreign"] = stack.edge.base + with_token(
        "/foreign.pdf", token(now, 600, file=foreign, principal=_foreign_key(stack, other_org.id))
    )
    return world


def _foreign_key(stack: Stack, org_id: str) -> str:
    key, _ = stack.services.registry.create_api_key(org_id, name="foreign")
    return key.id


@dataclass(frozen=True)
class Case:
    name: str
    url: str  # a World.urls name, or "raw:" + a request target
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    tier: str = EDGE


def last_modified_of(file: File, delta: int = 0) -> str:
    return format_datetime(datetime.fromtimestamp(int(file.created_at) + delta, UTC),
                           usegmt=True)


CASES = [
    # -- the good ones -------------------------------------------------------------------
    Case("get", "plain"),
    Case("head", "plain", "HEAD"),
    Case("unicode-name", "unicode"),
    Case("awkward-name", "awkward"),
    Case("attachment", "attachment"),
    Case("route-named-file", "route"),
    Case("empty-file", "empty"),
    Case("empty-file-range", "empty", headers=(("Range", "bytes=-5"),)),
    Case("webhook-principal", "webhook"),
    Case("in-leeway-no-store", "in-leeway"),
    Case("encoded-token", "encoded"),
    Case("extra-query-parameters", "extra-param"),
    # -- methods ---------------------------------------------------------------------------
    Case("options", "plain", "OPTIONS"),
    Case("options-request-headers", "plain", "OPTIONS", (
        ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Headers", "range, X-Custom, if-none-match, bad header, x-a"),
    )),
    Case("options-many-headers", "plain", "OPTIONS", (
        ("Access-Control-Request-Headers", ",".join(f"x-h{i}" for i in range(40))),
    )),
    Case("post", "plain", "POST"),
    Case("put", "plain", "PUT"),
    Case("delete", "plain", "DELETE"),
    Case("patch", "plain", "PATCH"),
    # -- refusals (§4) -------------------------------------------------------------------
    Case("no-token", "raw:/report.pdf", tier=SERVICE),
    Case("empty-token", "empty-token"),
    Case("malformed", "malformed"),
    Case("tampered", "tampered"),
    Case("unknown-kid", "unknown-kid"),
    Case("other-filename", "other-name"),
    Case("other-style", "legacy-token"),
    Case("repeated-token", "repeated"),
    Case("expired", "expired"),
    Case("expired-head", "expired", "HEAD"),
    Case("too-far-ahead", "far-ahead"),
    Case("revoked-key", "revoked"),
    Case("revoked-webhook", "revoked-webhook"),
    Case("deleted", "deleted"),
    Case("deleted-head", "deleted", "HEAD"),
    Case("another-organizations-file", "foreign"),
    Case("object-missing", "missing"),
    Case("object-missing-head", "missing", "HEAD"),
    Case("bad-utf8-name", "raw:/%C3%28?access_token=x"),
    Case("invalid-token-on-post", "malformed", "POST"),
    # -- ranges ----------------------------------------------------------------------------
    Case("range-single", "plain", headers=(("Range", "bytes=10-19"),)),
    Case("range-first-byte", "plain", headers=(("Range", "bytes=0-0"),)),
    Case("range-open", "plain", headers=(("Range", "bytes=16000-"),)),
    Case("range-suffix", "plain", headers=(("Range", "bytes=-100"),)),
    Case("range-suffix-longer-than-file", "plain", headers=(("Range", "bytes=-999999"),)),
    Case("range-end-past-file", "plain", headers=(("Range", "bytes=16380-99999"),)),
    Case("range-uppercase-unit", "plain", headers=(("Range", "BYTES=5-9"),)),
    Case("range-leading-zeros", "plain", headers=(("Range", "bytes=007-009"),)),
    Case("range-multiple", "plain", headers=(("Range", "bytes=0-1,5-6"),)),
    Case("range-unsatisfiable", "plain", headers=(("Range", "bytes=999999-"),)),
    Case("range-zero-suffix", "plain", headers=(("Range", "bytes=-0"),)),
    Case("range-malformed", "plain", headers=(("Range", "bytes=abc"),)),
    Case("range-reversed", "plain", headers=(("Range", "bytes=9-5"),)),
    Case("range-other-unit", "plain", headers=(("Range", "items=0-1"),)),
    Case("range-no-equals", "plain", headers=(("Range", "bytes"),)),
    Case("range-huge-number", "plain", headers=(("Range", "bytes=0-99999999999999999999"),),
         tier=SERVICE),
    Case("range-spaced", "plain", headers=(("Range", "bytes= 10 - 19"),), tier=LOCAL_SERVICE),
    Case("range-trailing-comma", "plain", headers=(("Range", "bytes=10-19,"),), tier=LOCAL_SERVICE),
    Case("range-on-head", "plain", "HEAD", (("Range", "bytes=10-19"),)),
    Case("range-unicode-name", "unicode", headers=(("Range", "bytes=-10"),)),
    # -- conditions ------------------------------------------------------------------------
    Case("if-none-match", "plain", headers=(("If-None-Match", "@etag"),)),
    Case("if-none-match-weak", "plain", headers=(("If-None-Match", "W/@etag"),)),
    Case("if-none-match-list", "plain", headers=(("If-None-Match", '"a", @etag, "b"'),)),
    Case("if-none-match-star", "plain", headers=(("If-None-Match", "*"),)),
    Case("if-none-match-other", "plain", headers=(("If-None-Match", '"other"'),)),
    Case("if-none-match-garbage", "plain", headers=(("If-None-Match", ',,, x y'),)),
    Case("if-none-match-head", "plain", "HEAD", (("If-None-Match", "@etag"),)),
    Case("if-modified-since-same", "plain", headers=(("If-Modified-Since", "@lm"),)),
    Case("if-modified-since-later", "plain", headers=(("If-Modified-Since", "@lm+1"),)),
    Case("if-modified-since-earlier", "plain", headers=(("If-Modified-Since", "@lm-1"),)),
    Case("if-modified-since-garbage", "plain", headers=(("If-Modified-Since", "yesterday"),)),
    Case("if-modified-since-asctime", "plain", headers=(("If-Modified-Since", "@asctime"),),
         tier=SERVICE),
    Case("if-modified-since-ignored-by-if-none-match", "plain", headers=(
        ("If-None-Match", '"other"'), ("If-Modified-Since", "@lm+1"))),
    Case("if-range-etag", "plain", headers=(("Range", "bytes=0-9"), ("If-Range", "@etag"))),
    Case("trace", "plain", method="TRACE"),
    Case("if-range-etag-tabs", "plain", headers=(("Range", "bytes=0-9"),
                                                 ("If-Range", "\t@etag\t")),
         tier=LOCAL_SERVICE),
    Case("if-range-weak", "plain", headers=(("Range", "bytes=0-9"), ("If-Range", "W/@etag"))),
    Case("if-range-other", "plain", headers=(("Range", "bytes=0-9"), ("If-Range", '"x"'))),
    Case("if-range-date", "plain", headers=(("Range", "bytes=0-9"), ("If-Range", "@lm"))),
    Case("if-range-later-date", "plain", headers=(("Range", "bytes=0-9"),
                                                  ("If-Range", "@lm+1"))),
    Case("if-range-without-range", "plain", headers=(("If-Range", "@etag"),)),
    Case("if-range-unsatisfiable", "plain", headers=(("Range", "bytes=999999-"),
                                                     ("If-Range", '"x"'))),
    Case("if-range-rfc850", "plain", headers=(("Range", "bytes=0-9"), ("If-Range", "@rfc850")),
         tier=SERVICE),
    Case("if-match", "plain", headers=(("If-Match", '"nope"'),), tier=LOCAL_SERVICE),
    Case("if-unmodified-since", "plain", headers=(("If-Unmodified-Since", "@lm-1"),),
         tier=LOCAL_SERVICE),
    Case("non-ascii-header", "plain", headers=(("If-None-Match", '"\u00e9"'),), tier=SERVICE),
    # -- what is no download --------------------------------------------------------------
    Case("healthz", "raw:/healthz", tier=SERVICE),
    Case("encoded-slash", "raw:/a%2Fb?access_token=x", tier=SERVICE),
    Case("dot-segments", "raw:/x/../report.pdf?access_token=x", tier=SERVICE),
    Case("api-unauthorized", "raw:/api/v1/files", tier=SERVICE),
]


def fill(value: str, file: File) -> str:
    """A header value of the corpus with the file's validators put in."""
    etag = f'"{file.checksum}"'
    modified = datetime.fromtimestamp(int(file.created_at), UTC)
    return (value.replace("@etag", etag)
            .replace("@lm+1", last_modified_of(file, 1))
            .replace("@lm-1", last_modified_of(file, -1))
            .replace("@lm", last_modified_of(file))
            .replace("@asctime", modified.strftime("%a %b %d %H:%M:%S %Y"))
            .replace("@rfc850", modified.strftime("%A, %d-%b-%y %H:%M:%S GMT")))


def send(base: str, method: str, target: str,
         headers: tuple[tuple[str, str], ...]) -> tuple[int, list[tuple[str, str]], bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value.encode("utf-8"))
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        return response.status, list(response.getheaders()), body
    finally:
        conn.close()


_MAX_AGE = re.compile(r"(max-age|s-maxage)=([0-9]+)")
_SERVER_TIME = re.compile(r'"server-time": "[^"]+"')


def comparable(answer: tuple[int, list[tuple[str, str]], bytes]) -> dict[str, Any]:
    """The answer with what only the clock may change set aside (and checked separately)."""
    status, headers, body = answer
    kept = sorted(
        (name.lower(), _MAX_AGE.sub(r"\1=N", value)) for name, value in headers
        if name.lower() not in HOP_BY_HOP
    )
    ages = [int(n) for name, value in headers if name.lower() == "cache-control"
            for _, n in _MAX_AGE.findall(value)]
    times = _SERVER_TIME.findall(body.decode("latin-1"))
    return {
        "status": status,
        "headers": kept,
        "body": _SERVER_TIME.sub('"server-time": "T"', body.decode("latin-1")),
        "ages": ages,
        "times": times,
    }


def tier_of(stack: Stack, before: int) -> str:
    """The tier that answered the request logged after line ``before`` of the access log."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = stack.edge.access_lines()
        if len(lines) > before:
            match = re.search(r" tier=(\S+)", lines[before])
            assert match, lines[before]
            return match.group(1)
        time.sleep(0.01)  # nginx writes the line just after the answer
    raise AssertionError("the edge logged no line for the request")


CONFIGS = {
    "local-private": {"storage": "local"},
    "local-public": {"storage": "local", "FILES_CDN_CACHE": "public"},
    "s3-private": {"storage": "s3"},
    "s3-public": {"storage": "s3", "FILES_CDN_CACHE": "public"},
}


@pytest.fixture(scope="module")
def worlds(stacks: Callable[..., Stack], request: pytest.FixtureRequest) -> Callable[[str], World]:
    made: dict[str, World | BaseException] = {}

    def get(config: str) -> World:
        if config not in made:
            options = dict(CONFIGS[config])
            if options["storage"] == "s3":
                options["moto_endpoint"] = request.getfixturevalue("moto_endpoint")
            try:
                made[config] = build_world(stacks(**options))
            except Exception as exc:  # one failure to report, not one per case
                made[config] = exc
                raise
        world = made[config]
        if isinstance(world, BaseException):
            pytest.fail(f"the {config} stack did not start: {world}")
        return world

    return get


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_the_edge_answers_as_the_service(worlds: Callable[[str], World], config: str,
                                         case: Case) -> None:
    world = worlds(config)
    stack = world.stack
    if case.url.startswith("raw:"):
        target = case.url[4:]
    else:
        target = world.target(case.url)
    file = world.files["plain"]
    headers = tuple((name, fill(value, file)) for name, value in case.headers)

    service = send(stack.server.base, case.method, target, headers)
    before = len(stack.edge.access_lines())
    edge = send(stack.edge.base, case.method, target, headers)
    tier = tier_of(stack, before)

    ours, theirs = comparable(edge), comparable(service)
    assert (ours["status"], ours["headers"], ours["body"]) == (
        theirs["status"], theirs["headers"], theirs["body"]), "edge (left) != service (right)"
    assert len(ours["ages"]) == len(theirs["ages"])
    assert all(abs(a - b) <= 1 for a, b in zip(ours["ages"], theirs["ages"], strict=True))
    assert len(ours["times"]) == len(theirs["times"])
    for a, b in zip(ours["times"], theirs["times"], strict=True):
        assert abs(_iso(a) - _iso(b)) < 5
    expected = case.tier
    if expected == LOCAL_SERVICE:
        expected = SERVICE if CONFIGS[config]["storage"] == "local" else EDGE
    assert tier == expected, f"answered by the {tier}, not the {expected}"


def _iso(fragment: str) -> float:
    value = fragment.split('": "', 1)[1].rstrip('"')
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
