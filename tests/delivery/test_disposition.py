"""Content-Disposition (SPEC §4): the exact name survives, nothing can split the header."""

from __future__ import annotations

import email.message
import email.utils
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from werkzeug.http import parse_options_header

from files_service.delivery.disposition import ascii_fallback, content_disposition

# -- an independent reading of the header (RFC 6266 §4.1, RFC 8187 §3.2) -----------------------

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = re.compile(rf";[ \t]*({_TOKEN})[ \t]*=[ \t]*({_TOKEN}|{_QUOTED})[ \t]*")
_EXT_VALUE = re.compile(r"UTF-8''((?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-Fa-f]{2})*)")


def parse_disposition(header: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a Content-Disposition into its type and its raw ``(name, value)`` params,
    insisting that the whole header is consumed by well-formed parameters."""
    match = re.match(rf"({_TOKEN})[ \t]*", header)
    assert match, header
    params, pos = [], match.end()
    while pos < len(header):
        param = _PARAM.match(header, pos)
        assert param, f"junk at {pos}: {header[pos:]!r}"
        params.append((param.group(1).lower(), param.group(2)))
        pos = param.end()
    return match.group(1), params


def decode_ext_value(value: str) -> str:
    """RFC 8187 ext-value with the UTF-8 charset to text; strict about every byte."""
    match = _EXT_VALUE.fullmatch(value)
    assert match, value
    raw = bytearray()
    text = match.group(1)
    i = 0
    while i < len(text):
        if text[i] == "%":
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.append(ord(text[i]))
            i += 1
    return raw.decode("utf-8")  # strict: a wrong encoding fails the test


def utf8_prefix(text: str, limit: int = 255) -> str:
    """The longest prefix of ``text`` that is at most ``limit`` bytes of UTF-8."""
    return text.encode()[:limit].decode("utf-8", "ignore")


# Names to try: anything at all, text heavy in the characters that break headers, and names
# at the 255-byte limit of SPEC §2 in multi-byte scripts. No lone surrogates: a stored name is
# valid UTF-8 (test_lone_surrogate_does_not_raise covers them).
# Bidi controls, the BOM, a zero-width space, and characters that decompose to ";" or "*".
_NASTY = st.sampled_from(
    "\"\\;,=%'*/ \t\r\n\x00\x7f\x85\u2028\u00a0()<>@:?{}[]"
    "\u202e\u202d\u2066\u200f\ufeff\u200b\u037e\uff1b\uff0a"
)
filenames = st.one_of(
    st.text(min_size=1, max_size=255),
    st.text(alphabet=st.one_of(_NASTY, st.characters(codec="utf-8")), min_size=1, max_size=255),
    st.text(alphabet=st.characters(min_codepoint=0x80, codec="utf-8"), min_size=64, max_size=255)
    .map(utf8_prefix)
    .filter(bool),
)


@settings(max_examples=400, deadline=None)
@given(name=filenames, disposition=st.sampled_from(["inline", "attachment"]))
@example(name="\"; filename*=UTF-8''evil.exe", disposition="attachment")
@example(name="a; filename*=UTF-8''evil.exe; x=.pdf", disposition="attachment")
@example(name="\u202eexe.pdf", disposition="attachment")
@example(name="a\r\nSet-Cookie: x=1", disposition="inline")
@example(name="\\", disposition="inline")
@example(name="%22", disposition="inline")
@example(name="日" * 85, disposition="inline")  # exactly 255 bytes
def test_no_name_can_split_the_header_or_lose_itself(name: str, disposition: str) -> None:
    header = content_disposition(name, disposition)

    # (a) one header line a WSGI server can send: latin-1, no control character at all.
    header.encode("latin-1")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in header)

    # Exactly two parameters, in this order, and nothing else.
    kind, params = parse_disposition(header)
    assert kind == disposition
    assert [key for key, _ in params] == ["filename", "filename*"]

    # (b) filename* gives back the exact name.
    assert decode_ext_value(params[1][1]) == name

    # (c) filename is one quoted-string of printable ASCII with nothing to unescape, nor
    # anything a naive reader takes for a parameter: no ";", "=" or "*" (and no bidi control,
    # BOM or other invisible character, which are not ASCII).
    plain = params[0][1]
    assert re.fullmatch(r'"[ !#$&-)+-.0-:<>-\[\]-~]+"', plain), plain
    assert plain[1:-1] == ascii_fallback(name)

    # (d) A naive client that splits on ";" and "=" sees the same two parameters.
    naive = [part.strip().split("=", 1) for part in header.split(";")]
    assert naive[0] == [disposition]
    assert [pair[0] for pair in naive[1:]] == ["filename", "filename*"]
    assert naive[1][1] == plain

    # Other parsers read it the same way: Werkzeug merges filename* over filename (RFC 6266
    # §4.3) and sees no other parameter ...
    assert parse_options_header(header) == (disposition, {"filename": name})
    # ... and the standard library's RFC 2231 reader finds the same two.
    message = email.message.Message()
    message["Content-Disposition"] = header
    got = message.get_params(header="content-disposition")
    assert got is not None and len(got) == 3
    assert got[1] == ("filename", plain[1:-1])
    assert got[2][0] == "filename"
    assert email.utils.collapse_rfc2231_value(got[2][1]) == name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "inline; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"),
        (
            "naïve résumé.pdf",
            'inline; filename="naive resume.pdf"; '
            "filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.pdf",
        ),
        (
            "日本語.txt",
            "inline; filename=\"___.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt",
        ),
        (
            'a"b;c\\d.txt',
            "inline; filename=\"a_b_c_d.txt\"; filename*=UTF-8''a%22b%3Bc%5Cd.txt",
        ),
        (
            "x; filename*=UTF-8''evil.exe",
            "inline; filename=\"x_ filename__UTF-8''evil.exe\"; "
            "filename*=UTF-8''x%3B%20filename%2A%3DUTF-8%27%27evil.exe",
        ),
        # Bidi controls, the BOM and zero-width characters never reach the stand-in.
        (
            "\ufeffin\u200bvoice\u202efdp.exe",
            "inline; filename=\"_in_voice_fdp.exe\"; "
            "filename*=UTF-8''%EF%BB%BFin%E2%80%8Bvoice%E2%80%AEfdp.exe",
        ),
        # RFC 8187 attr-char punctuation stays as it is; everything else is encoded.
        ("a!#$&+^`|~-._b", "inline; filename=\"a!#$&+^`|~-._b\"; filename*=UTF-8''a!#$&+^`|~-._b"),
        ("x'*(=)", "inline; filename=\"x'_(_)\"; filename*=UTF-8''x%27%2A%28%3D%29"),
    ],
)
def test_examples(name: str, expected: str) -> None:
    assert content_disposition(name) == expected


def test_attachment() -> None:
    assert content_disposition("a.csv", "attachment") == (
        "attachment; filename=\"a.csv\"; filename*=UTF-8''a.csv"
    )


@pytest.mark.parametrize("disposition", ["", "Inline", "ATTACHMENT", "form-data", "inline; x=1"])
def test_unknown_disposition_is_refused(disposition: str) -> None:
    with pytest.raises(ValueError, match="disposition"):
        content_disposition("a.txt", disposition)


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("Crème Brûlée.txt", "Creme Brulee.txt"),
        ("ﬁle™.txt", "fileTM.txt"),  # compatibility decompositions
        ("\uff21\uff22\uff23.txt", "ABC.txt"),  # fullwidth forms
        ("\uff02q\uff02.txt", "_q_.txt"),  # a decomposition to '"' is still replaced
        ("a\uff0fb.txt", "a_b.txt"),  # and one to '/'
        ("100%.txt", "100_.txt"),  # '%' invites percent-decoding by some clients
        ("tab\there\x7f.txt", "tab_here_.txt"),
        ("Ωμέγα.bin", "_____.bin"),  # Greek has no ASCII decomposition, accents or not
        ("", "download"),
    ],
)
def test_ascii_fallback(name: str, fallback: str) -> None:
    assert ascii_fallback(name) == fallback


def test_lone_surrogate_does_not_raise() -> None:
    header = content_disposition("a\udcff.txt")
    assert header == "inline; filename=\"a_.txt\"; filename*=UTF-8''a%3F.txt"
