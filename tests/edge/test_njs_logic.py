"""files_edge.js's pure functions against the service's own, differentially: random inputs go
to both (the JavaScript through Debian's ``njs`` command line, the same engine and version as
nginx's module), and the answers must be equal. The edge may instead say "fallback" (hand the
request to the service) only where it is expected to: a date in a format other than
IMF-fixdate that decides the answer, or a number too long for JavaScript's.

- the token check (``tokens.TokenService.verify``): good, tampered, foreign, expired, too far
  ahead, at the leeway's edge;
- ``delivery.evaluate``: Range, If-Range, If-None-Match, If-Modified-Since;
- ``delivery.cache_control``, ``delivery.preflight_headers``;
- the query's ``access_token`` (``download.handler.split_query_token``) and the path's
  percent-decoding (``urllib.parse.unquote_to_bytes``, as gunicorn does).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from files_service.clock import ManualClock
from files_service.delivery import cache_control, evaluate, preflight_headers
from files_service.download.dispatch import split_query_token
from files_service.edge.config import EdgeOptions, render
from files_service.errors import TokenExpired, TokenInvalid
from files_service.settings import Settings, SigningKey
from files_service.tokens import LEGACY, TokenService
from tests.edge.conftest import njs_binary

NJS = njs_binary()
pytestmark = pytest.mark.skipif(
    NJS is None, reason="njs is not installed (Debian package njs; .ci/run installs it)"
)

KEYS = (SigningKey("k1", b"a-secret-of-at-least-32-bytes-long!!"), SigningKey("old", b"o" * 40))
NOW = 1_767_225_600.25  # 2026-01-01, a quarter second past
SIZE = 1000
TAG = "abc"
MODIFIED = 1_700_000_000
DRIVER = """
import edge from 'files_edge.js';
const fs = require('fs');
const path = process.argv[process.argv.length - 1];
const cases = JSON.parse(fs.readFileSync(path));
const out = cases.map(function (c) {
    switch (c.fn) {
    case 'evaluate':
        return edge.evaluate(c.method, c.size, c.tag, c.modified, c.h);
    case 'verify':
        return edge.verify(c.token, Buffer.from(c.name, 'hex'), c.now);
    case 'cacheControl':
        return edge.cacheControl(c.expires, c.now);
    case 'preflight':
        return edge.preflightHeaders(c.value);
    case 'queryToken':
        var t = edge.queryToken(Buffer.from(c.query, 'hex').toString());
        return t === undefined ? null : t;
    case 'unquote':
        return edge.unquoteBytes(Buffer.from(c.value, 'hex')).toString('hex');
    }
});
fs.writeFileSync(path + '.out', JSON.stringify(out));
"""


def edge_dir(tmp_path: Path, cdn_cache: str) -> Path:
    """files_edge.js and the modules edge-config generates for settings in ``cdn_cache``."""
    out = tmp_path / cdn_cache
    if not out.exists():
        out.mkdir()
        settings = Settings(signing_keys=KEYS, cdn_cache=cdn_cache,
                            storage_url=f"local://{tmp_path / 'objects'}")
        for name, (text, _) in render(settings, EdgeOptions(out)).items():
            if name.endswith(".js"):
                (out / name).write_text(text)
        (out / "driver.js").write_text(DRIVER)
    return out


def run_njs(directory: Path, cases: list[dict[str, Any]]) -> list[Any]:
    """Each case through files_edge.js, in one njs process."""
    path = directory / "cases.json"
    path.write_text(json.dumps(cases))
    result = subprocess.run(
        [NJS, "-p", str(directory), str(directory / "driver.js"), str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0 and not result.stderr, result.stderr or result.stdout
    return json.loads((directory / "cases.json.out").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("njs")


# -- evaluate ------------------------------------------------------------------------------

_HTTP_DATE = "Tue, 14 Nov 2023 22:13:20 GMT"  # MODIFIED
RANGE = st.one_of(
    st.none(),
    st.text(alphabet="bytesBYTES=-,0123456789 \t+_xi", max_size=24),
    st.from_regex(r"bytes=[0-9]{1,4}-[0-9]{0,4}", fullmatch=True),
    st.from_regex(r"bytes=-[0-9]{1,5}", fullmatch=True),
    st.from_regex(r"bytes=[0-9]{16,22}-", fullmatch=True),
    st.sampled_from(["bytes=-0", "bytes=0-", "bytes=999-999", "bytes=1000-", "bytes=0-1,5-6",
                     "bytes=10-19,", " bytes = 1-2 ", "bytes=5-3", "items=0-1"]),
)
ETAGS = st.one_of(
    st.none(),
    st.sampled_from(['"abc"', 'W/"abc"', "*", '"x", "abc"', '"abc', "abc", '""', ", ,",
                     'w/"abc"', '"a"b"', '"abc" ', " *"]),
    st.text(alphabet='abcW/"*, \t', max_size=16),
)
DATES = st.one_of(
    st.none(),
    st.sampled_from([
        _HTTP_DATE, "Tue, 14 Nov 2023 22:13:21 GMT", "Tue, 14 Nov 2023 22:13:19 GMT",
        "Tuesday, 14-Nov-23 22:13:20 GMT", "Tue Nov 14 22:13:20 2023", "yesterday", "",
        "Wed, 30 Feb 2022 00:00:00 GMT", "Mon, 01 Jan 0099 00:00:00 GMT",
        "Sat, 01 Jan 2000 24:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 +99999999999999999999",
        "tue, 14 nov 2023 22:13:20 gmt",
    ]),
    st.from_regex(r"(Mon|Tue|Sun), [0-3][0-9] (Jan|Feb|Nov) [0-2][0-9]{3} [0-2][0-9]:[0-5][0-9]:"
                  r"[0-6][0-9] GMT", fullmatch=True),
    st.text(alphabet="SunMonNovGMT, :+-0123456789", max_size=32),
)
IF_RANGE = st.one_of(ETAGS, DATES)
_IMF = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} "
                  r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT")


def _unsure_date(value: str | None) -> bool:
    """A date only Python's email.utils can read (the edge hands these to the service)."""
    return bool(value) and not _IMF.fullmatch(value) and any(c.isdigit() for c in value)


def _may_fall_back(case: dict[str, Any]) -> bool:
    h = case["h"]
    long_number = re.search(r"[0-9]{16,}", h.get("range") or "") is not None
    return (long_number or _unsure_date(h.get("ifModifiedSince"))
            or _unsure_date(h.get("ifRange")))


_LATER, _EARLIER = "Tue, 14 Nov 2023 22:13:21 GMT", "Tue, 14 Nov 2023 22:13:19 GMT"
# The boundaries, whatever the random draws find: each date against Last-Modified as an
# If-Range and as an If-Modified-Since, each tag form as both.
_BOUNDARIES = [
    ("GET", SIZE, rng, if_range, inm, ims)
    for rng in ("bytes=0-9", "bytes=-5", None)
    for if_range in (None, _HTTP_DATE, _LATER, _EARLIER, '"abc"', 'W/"abc"', '"abd"')
    for inm, ims in ((None, None), (None, _HTTP_DATE), (None, _LATER), (None, _EARLIER),
                     ('"abc"', None), ('W/"abc"', _EARLIER), ('"x"', _LATER), ("*", None))
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["GET", "HEAD"]), st.sampled_from([SIZE, 1, 0]),
                          RANGE, IF_RANGE, ETAGS, DATES), min_size=50, max_size=50))
@example(_BOUNDARIES)
def test_evaluate_decides_as_the_service(edge: Path, requests: list[tuple[Any, ...]]) -> None:
    cases = []
    for method, size, range_header, if_range, if_none_match, if_modified_since in requests:
        h = {"range": range_header, "ifRange": if_range, "ifNoneMatch": if_none_match,
             "ifModifiedSince": if_modified_since}
        cases.append({"fn": "evaluate", "method": method, "size": size, "tag": TAG,
                      "modified": MODIFIED, "h": {k: v for k, v in h.items() if v is not None}})
    answers = run_njs(edge_dir(edge, "private"), cases)
    for case, answer in zip(cases, answers, strict=True):
        h = case["h"]
        expected = evaluate(
            method=case["method"], size=case["size"], etag=f'"{TAG}"',
            last_modified=MODIFIED + 0.5, range_header=h.get("range"),
            if_range=h.get("ifRange"), if_none_match=h.get("ifNoneMatch"),
            if_modified_since=h.get("ifModifiedSince"),
        )
        if answer == "fallback":
            assert _may_fall_back(case), case
            continue
        got = (answer["status"], answer["start"], answer["end"], answer["contentRange"])
        assert got == (expected.status, expected.start, expected.end,
                       expected.content_range), case


def test_evaluate_answers_browsers_itself(edge: Path) -> None:
    """What browsers send never needs the service: IMF dates, plain ranges, strong tags."""
    h = {"range": "bytes=100-", "ifRange": _HTTP_DATE, "ifNoneMatch": '"other"',
         "ifModifiedSince": _HTTP_DATE}
    cases = [{"fn": "evaluate", "method": "GET", "size": SIZE, "tag": TAG,
              "modified": MODIFIED, "h": h},
             {"fn": "evaluate", "method": "GET", "size": SIZE, "tag": TAG,
              "modified": MODIFIED, "h": {"ifModifiedSince": _HTTP_DATE}}]
    partial, not_modified = run_njs(edge_dir(edge, "private"), cases)
    assert partial["status"] == 206 and partial["contentRange"] == "bytes 100-999/1000"
    assert not_modified["status"] == 304


# -- the token ----------------------------------------------------------------------------


def _tokens(now: float) -> TokenService:
    return TokenService(KEYS, ManualClock(now), bucket_seconds=0)


NAMES = st.one_of(st.sampled_from(["report.pdf", "Résumé ✓ 🎉.pdf", "", "a.b.c"]),
                  st.text(max_size=12))


@st.composite
def token_cases(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(NAMES)
    # A whole-second clock too, so that "now" can fall exactly on the leeway's edge.
    now = draw(st.sampled_from([NOW, float(int(NOW))]))
    minted_at = now + draw(st.sampled_from([0, -3600, -70, -71, -69, -60, 86400 - 60,
                                            86400 + 1, 86400, 2 * 86400, -100_000]))
    ttl = draw(st.sampled_from([60, 3600, 86400]))
    kind = draw(st.sampled_from(["good", "tamper", "kid", "name", "legacy", "expiry", "parts",
                                 "garbage", "disposition"]))
    minted = _tokens(minted_at).mint(
        file_id="file_abc", filename=name, principal_id="key_xyz", ttl=ttl,
        disposition=draw(st.sampled_from(["inline", "attachment"])),
        style=LEGACY if kind == "legacy" else "current",
    ).token
    if kind == "tamper":
        at = draw(st.integers(0, len(minted) - 1))
        minted = minted[:at] + draw(st.sampled_from("Aa0._-é")) + minted[at + 1:]
    elif kind == "kid":
        minted = draw(st.sampled_from(["__proto__", "constructor", "toString", "k2", "old"])) \
            + minted[minted.index("."):]
    elif kind == "name":
        name = name + "x"
    elif kind == "expiry":
        parts = minted.split(".")
        parts[3] = draw(st.sampled_from(["", "-1", "1e3", "99999999999999999999", "0"]))
        minted = ".".join(parts)
    elif kind == "parts":
        minted = minted + draw(st.sampled_from([".", ".x", ""]))
    elif kind == "garbage":
        minted = draw(st.text(max_size=20))
    elif kind == "disposition":
        parts = minted.split(".")
        parts[4] = draw(st.sampled_from(["x", "", "inline", "I"]))
        minted = ".".join(parts)
    return {"fn": "verify", "token": minted, "name": name.encode("utf-8").hex(), "now": now}


def _python_verify(case: dict[str, Any]) -> dict[str, Any]:
    name = bytes.fromhex(case["name"]).decode("utf-8")
    try:
        claims = _tokens(case["now"]).verify(case["token"], filename=name)
    except TokenExpired as exc:
        return {"refusal": "expired_token", "expiresAt": exc.expired_at}
    except TokenInvalid:
        return {"refusal": "invalid_token"}
    return {"kid": claims.kid, "fileId": claims.file_id, "principalId": claims.principal_id,
            "expiresAt": claims.expires_at, "disposition": claims.disposition}


def _boundary_tokens() -> list[dict[str, Any]]:
    """Tokens right at the leeway's edge and at a day ahead, whole and fractional clocks."""
    cases = []
    for now in (NOW, float(int(NOW))):
        for age in (-69, -70, -71, 86400 - 60, 86400 - 59):
            minted = _tokens(now + age).mint(
                file_id="file_abc", filename="a", principal_id="key_xyz", ttl=60).token
            cases.append({"fn": "verify", "token": minted, "name": b"a".hex(), "now": now})
    return cases


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(token_cases(), min_size=40, max_size=40))
@example(_boundary_tokens())
def test_the_token_check_is_the_services(edge: Path, cases: list[dict[str, Any]]) -> None:
    answers = run_njs(edge_dir(edge, "private"), cases)
    for case, answer in zip(cases, answers, strict=True):
        assert answer == _python_verify(case), case


def test_the_token_check_knows_every_key_of_the_ring(edge: Path) -> None:
    """A URL signed by an older key of the ring is good; one signed by a key not in the
    ring is not (it was dropped, or never ours)."""
    old = TokenService(KEYS[1:], ManualClock(NOW), bucket_seconds=0).mint(
        file_id="file_a", filename="a.txt", principal_id="key_b", ttl=60).token
    stranger = TokenService((SigningKey("k1", b"s" * 40),), ManualClock(NOW),
                            bucket_seconds=0).mint(
        file_id="file_a", filename="a.txt", principal_id="key_b", ttl=60).token
    cases = [{"fn": "verify", "token": token, "name": b"a.txt".hex(), "now": NOW}
             for token in (old, stranger)]
    good, bad = run_njs(edge_dir(edge, "private"), cases)
    assert good["fileId"] == "file_a"
    assert bad == {"refusal": "invalid_token"}


# -- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["private", "public"])
@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2_000_000_000),
                          st.floats(0, 2_000_000_000, allow_nan=False)),
                min_size=30, max_size=30))
@example([(1000, 999.0), (1000, 999.5), (1000, 1000.0), (1000, 1001.0), (1000, 1009.9)])
def test_cache_control_is_the_services(edge: Path, mode: str,
                                       pairs: list[tuple[int, float]]) -> None:
    cases = [{"fn": "cacheControl", "expires": e, "now": n} for e, n in pairs]
    answers = run_njs(edge_dir(edge, mode), cases)
    assert answers == [cache_control(e, n, mode=mode) for e, n in pairs]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(
    alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=200)),
    min_size=20, max_size=20))
@example([", ".join(f"x-{i}" for i in range(50)), "Range, RANGE, x-a,,x-a", "a" * 65, "",
          "0\n"])  # "$" of njs's regular expressions matched before the newline
def test_preflight_is_the_services(edge: Path, values: list[str | None]) -> None:
    cases = [{"fn": "preflight", "value": v} for v in values]
    answers = run_njs(edge_dir(edge, "private"), cases)
    assert answers == [[list(h) for h in preflight_headers(v)] for v in values]


# -- the request target -------------------------------------------------------------------

QUERY = st.text(alphabet="access_tokn=&%0123456789abcdefABCDEF.+é/?", max_size=60)


@settings(max_examples=20, deadline=None)
@given(st.lists(QUERY, min_size=30, max_size=30))
@example(["access_token=a&access_token=b", "access_token=", "x=1&access_token=%41%2e",
          "access_token=%C3%A9", "access_token=é", "access_tokenX=1", "&&access_token=z&"])
def test_the_query_token_is_the_services(edge: Path, queries: list[str]) -> None:
    raw = [q.encode("utf-8") for q in queries]
    cases = [{"fn": "queryToken", "query": r.hex()} for r in raw]
    answers = run_njs(edge_dir(edge, "private"), cases)
    for query, answer in zip(raw, answers, strict=True):
        # gunicorn hands the service the raw query as latin-1
        expected = split_query_token(query.decode("latin-1"))
        # A token with anything but ASCII in it is never good, on either side.
        if expected is not None and not expected.isascii():
            expected = "\u00ff"
        if answer is not None and not answer.isascii():
            answer = "\u00ff"
        assert answer == expected, query


@settings(max_examples=20, deadline=None)
@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\x00", b"%")),
                min_size=30, max_size=30))
@example([b"%", b"%4", b"%41%zz%4g%%41", b"%C3%A9%2F", b"a%2fb"])
def test_the_path_decodes_as_the_services(edge: Path, values: list[bytes]) -> None:
    cases = [{"fn": "unquote", "value": v.hex()} for v in values]
    answers = run_njs(edge_dir(edge, "private"), cases)
    assert answers == [unquote_to_bytes(v).hex() for v in values]
