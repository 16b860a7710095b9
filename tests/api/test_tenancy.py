"""Tenancy (§5): an API key registers objects of its organization's import folder,
``imports/{organization id}/``, and nothing else in storage. A key outside it is one ``403
forbidden`` whatever lies there, decided before storage is asked anything, and counted as a
failed attempt; no spelling of a key gets out of the folder; and deleting a file deletes its
object only where the service owns it. On local files and S3, SQLite and PostgreSQL.

(The attack as it was reproduced: register ``exports/orgB-report.csv``, another tenant's
object, read it through the minted URL, then delete it from storage for good.)"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from files_service.files import register_file
from files_service.ratelimit import RateLimit
from tests.api.conftest import Stack, error_of
from tests.conftest import make_world


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def register(stack: Stack, key: str, filename: str = "report.csv") -> Any:
    return stack.api.register({"filename": filename, "storage-key": key})


def test_an_object_of_the_import_folder_is_registered_served_and_deleted(stack: Stack):
    org = stack.world.org.id
    content = b"id,total\n1,42\n"
    stack.put(f"imports/{org}/2026/report.csv", content)
    stack.put(f"imports/{org}/2026/other.csv", b"stays")
    response = register(stack, f"imports/{org}/2026/report.csv")
    assert response.status_code == 201, response.data
    data = response.get_json(force=True)["data"]
    assert data["attributes"]["byte-size"] == len(content)
    assert data["attributes"]["checksum"]["value"] == hashlib.sha256(content).hexdigest()
    download = stack.api.as_caller(None).get(path_of(data["attributes"]["url"]))
    assert download.status_code == 200 and download.data == content

    before = stack.objects()
    assert stack.api.delete(f"/api/v1/files/{data['id']}").status_code == 204
    after = stack.objects()
    # That object, and nothing else.
    assert set(before) - set(after) == {f"imports/{org}/2026/report.csv"}
    assert after[f"imports/{org}/2026/other.csv"] == b"stays"


def outside_keys(org: str, theirs: str) -> list[str]:
    """Keys outside ``imports/{org}/``, each one way a key could try to get out of it or
    into another tenant's folder."""
    fullwidth = unicodedata.normalize("NFC", "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in org))
    return [
        "exports/orgB-report.csv",                 # anywhere else in storage
        f"imports/{theirs}/report.csv",            # another tenant's import folder
        f"{theirs}/report.csv",                    # the service's uploads for another tenant
        f"{org}/report.csv",                       # ... and for this one: not registrable
        f"imports/{org}/../{theirs}/report.csv",   # a dot-dot walk out of the folder
        f"imports/{org}/./report.csv",
        f"imports/{org}//report.csv",
        f"imports/{org}",                          # the folder itself, without a slash
        f"imports/{org}/",
        f"imports/{org}x/report.csv",              # a folder whose name starts like ours
        f"imports/{org[:-1]}/report.csv",
        f"imports%2F{theirs}%2Freport.csv",        # percent-encoded separators
        f"imports/{org.upper()}/report.csv",       # another case
        f"IMPORTS/{org}/report.csv",
        f"imports/{fullwidth}/report.csv",         # NFKC-equal, not equal
        f"/imports/{org}/report.csv",              # absolute
        f"imports\\{org}\\report.csv",             # backslashes
        ".tmp/report.csv",                         # local storage's temporary area
        "imports",
        "",
    ]


def test_a_key_outside_the_import_folder_is_forbidden_whatever_exists(stack: Stack):
    org = stack.world.org.id
    theirs = make_world(stack.services, filename="b.txt", content=b"b").org.id
    keys = outside_keys(org, theirs)
    secret = b"another tenant's figures"
    for key in keys:
        if "\\" not in key and key.strip("/") and key != "imports":
            try:
                stack.put(key.replace("//", "/").lstrip("/"), secret)
            except Exception:  # a spelling this storage cannot hold: refused all the same
                pass
    stored = stack.objects()
    rows = stack.rows()
    stack.s3_calls.clear()
    answers = []
    for key in keys:
        response = register(stack, key)
        error = error_of(response)
        assert (response.status_code, error["code"]) == (403, "forbidden"), (key, error)
        assert error["source"] == {"pointer": "/data/attributes/storage-key"}
        answers.append((response.status_code, response.get_data(), sorted(
            (name, value) for name, value in response.headers.items() if name != "Date")))
    # One answer for every key, present or not: nothing to learn from it.
    assert all(answer == answers[0] for answer in answers)
    assert stack.s3_calls == []  # decided before storage was asked anything
    assert stack.objects() == stored
    assert stack.rows() == rows


def test_keys_spelled_to_escape_stay_inside_the_folder(stack: Stack):
    """Inside the folder, a key is taken literally: an escape spelled with percent-encoding
    or look-alike characters names an object of the folder (here none), never the object it
    imitates."""
    org = stack.world.org.id
    theirs = make_world(stack.services, filename="b.txt", content=b"b").org.id
    stack.put(f"imports/{theirs}/report.csv", b"another tenant's figures")
    for key in (f"imports/{org}/%2e%2e/{theirs}/report.csv",
                f"imports/{org}/..%2f{theirs}%2freport.csv",
                f"imports/{org}/\u2025/{theirs}/report.csv",     # two-dot leader
                f"imports/{org}/\uff0e\uff0e/{theirs}/report.csv",  # fullwidth dots
                f"imports/{org}/..\u2215{theirs}\u2215report.csv"):  # division slash
        response = register(stack, key)
        assert response.status_code == 400, (key, response.data)
        assert error_of(response)["detail"] == "no object is stored at this storage-key"
    # Keys inside that storage cannot hold are bad values, not places out of reach.
    for key in (f"imports/{org}/report.csv\x00.txt", f"imports/{org}/" + "k" * 1100):
        response = register(stack, key)
        assert response.status_code == 400, (key, response.data)
        assert error_of(response)["source"] == {"pointer": "/data/attributes/storage-key"}
    # Where such an object does exist in the folder, it is that object that is registered.
    stack.put(f"imports/{org}/%2e%2e/{theirs}/report.csv", b"ours, oddly named")
    response = register(stack, f"imports/{org}/%2e%2e/{theirs}/report.csv")
    assert response.status_code == 201
    url = response.get_json(force=True)["data"]["attributes"]["url"]
    assert stack.api.as_caller(None).get(path_of(url)).data == b"ours, oddly named"


def test_the_s3_calls_of_a_registration_stay_in_the_folder(make_stack: Callable[..., Stack]):
    stack = make_stack("s3", "sqlite")
    org = stack.world.org.id
    stack.put(f"imports/{org}/a.csv", b"a")
    stack.s3_calls.clear()
    assert register(stack, f"imports/{org}/a.csv").status_code == 201
    assert register(stack, f"imports/{org}/missing.csv").status_code == 400
    assert "ListObjects" not in stack.s3_calls and "ListObjectsV2" not in stack.s3_calls
    assert set(stack.s3_calls) <= {"GetObject", "HeadObject"}


def test_deleting_a_file_registered_outside_the_folders_keeps_the_object(stack: Stack):
    """A row an older release let register from anywhere: deleting the file voids its URLs
    but leaves the object, which the service does not own."""
    stack.put("exports/orgB-report.csv", b"not ours")
    legacy = register_file(stack.services, stack.world.org.id, "exports/orgB-report.csv",
                           filename="report.csv", content_type="text/csv")
    assert stack.api.delete(f"/api/v1/files/{legacy.id}").status_code == 204
    assert stack.api.get(f"/api/v1/files/{legacy.id}").status_code == 404
    assert stack.objects()["exports/orgB-report.csv"] == b"not ours"
    # The service's own uploads still go with their file.
    upload = stack.api.upload(b"mine", "mine.txt").get_json(force=True)["data"]["id"]
    assert any(key.endswith(upload) for key in stack.objects())
    assert stack.api.delete(f"/api/v1/files/{upload}").status_code == 204
    assert not any(key.endswith(upload) for key in stack.objects())


def test_forbidden_keys_count_as_failed_attempts(make_stack: Callable[..., Stack]):
    stack = make_stack("local", "sqlite", rate_limit=RateLimit(3, 60))
    org = stack.world.org.id
    stack.put(f"imports/{org}/a.csv", b"a")
    for n in range(3):
        assert register(stack, f"exports/{n}.csv").status_code == 403
    response = register(stack, f"imports/{org}/a.csv")
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert stack.rows() == [stack.world.file.id]


def test_registrations_in_the_folder_do_not_count_as_failed_attempts(
    make_stack: Callable[..., Stack],
):
    stack = make_stack("local", "sqlite", rate_limit=RateLimit(3, 60))
    org = stack.world.org.id
    for n in range(4):
        assert register(stack, f"imports/{org}/missing-{n}.csv").status_code == 400
    stack.put(f"imports/{org}/a.csv", b"a")
    assert register(stack, f"imports/{org}/a.csv").status_code == 201


@pytest.mark.parametrize("key", [7, None, ["imports"], {"key": "x"}])
def test_a_storage_key_that_is_no_string_is_a_400(make_stack: Callable[..., Stack],
                                                  key: object):
    stack = make_stack("local", "sqlite")
    response = stack.api.register({"filename": "a.csv", "storage-key": key})
    assert response.status_code == 400
    assert error_of(response)["source"] == {"pointer": "/data/attributes/storage-key"}
