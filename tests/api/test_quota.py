"""An organization's storage quota through the API (§5 "Tenancy and limits"), on local files
and S3, SQLite and PostgreSQL: ``storage-quota`` and ``storage-used`` on the organization;
an upload or a registration that would take it past the quota is ``403 quota_exceeded`` with
nothing left behind, found before the body is read where its length says so, part-way
otherwise; and of two uploads racing for the quota's last bytes, only one gets in."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.api.conftest import Stack, error_of
from tests.api.test_upload import GeneratedBody, post_stream
from tests.api.test_upload_limits import form

MiB = 1024 * 1024


def organization(stack: Stack) -> dict[str, Any]:
    response = stack.api.get(f"/api/v1/organizations/{stack.world.org.id}")
    assert response.status_code == 200
    return response.get_json(force=True)["data"]["attributes"]  # type: ignore[no-any-return]


def set_quota(stack: Stack, spare: int) -> int:
    """Give the world's organization a quota ``spare`` bytes over what it stores."""
    used = stack.services.registry.get_organization(stack.world.org.id).storage_used
    stack.services.registry.set_storage_quota(stack.world.org.id, used + spare)
    return used + spare


def test_the_organization_shows_its_quota_and_what_it_uses(stack: Stack):
    assert organization(stack) | {"created-at": None} == {
        "name": "Acme", "created-at": None, "storage-quota": None,
        "storage-used": len(stack.world.content)}
    quota = set_quota(stack, 10 * MiB)
    uploaded = stack.api.upload(b"x" * 1000, "a.txt").get_json(force=True)["data"]["id"]
    org = organization(stack)
    assert (org["storage-quota"], org["storage-used"]) == (quota, len(stack.world.content) + 1000)
    assert stack.api.delete(f"/api/v1/files/{uploaded}").status_code == 204
    assert organization(stack)["storage-used"] == len(stack.world.content)


def test_an_upload_whose_length_is_past_the_quota_is_refused_before_reading(stack: Stack):
    quota = set_quota(stack, 2 * MiB)
    objects, rows = stack.objects(), stack.rows()
    body = form(3 * MiB, "before")
    response = post_stream(stack.api, body)
    assert response.status_code == 403, response.data
    error = error_of(response)
    assert error["code"] == "quota_exceeded"
    assert error["meta"] == {"storage-quota": quota, "storage-used": len(stack.world.content)}
    assert body.position == 0
    assert (stack.objects(), stack.rows(), stack.leftovers()) == (objects, rows, [])


def test_an_upload_passing_the_quota_is_refused_part_way_leaving_nothing(stack: Stack):
    """A chunked body, past S3's first part: the multipart upload begun is aborted."""
    set_quota(stack, 7 * MiB)
    objects, rows = stack.objects(), stack.rows()
    body = form(20 * MiB, "after")
    response = post_stream(stack.api, body, chunked=True)
    assert response.status_code == 403, response.data
    assert error_of(response)["code"] == "quota_exceeded"
    assert body.position < 8 * MiB
    assert (stack.objects(), stack.rows(), stack.leftovers()) == (objects, rows, [])
    # What is left of the quota is still there to use, to the byte.
    assert post_stream(stack.api, form(7 * MiB, "after"), chunked=True).status_code == 201
    assert post_stream(stack.api, form(0, None), chunked=True).status_code == 201
    assert post_stream(stack.api, form(1, None), chunked=True).status_code == 403


def test_registering_counts_against_the_quota(stack: Stack):
    org = stack.world.org.id
    set_quota(stack, 1000)
    stack.put(f"imports/{org}/big.csv", b"b" * 1001)
    stack.put(f"imports/{org}/fits.csv", b"f" * 1000)
    rows = stack.rows()
    response = stack.api.register({"filename": "big.csv", "storage-key": f"imports/{org}/big.csv"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "quota_exceeded"
    assert stack.rows() == rows
    assert stack.objects()[f"imports/{org}/big.csv"] == b"b" * 1001  # not the service's to drop
    fits = {"filename": "fits.csv", "storage-key": f"imports/{org}/fits.csv"}
    assert stack.api.register(fits).status_code == 201
    assert organization(stack)["storage-used"] == organization(stack)["storage-quota"]


class HeldBody(GeneratedBody):
    """A form that, its file read to the end, waits for the other racer to get as far: both
    uploads then have their files in storage, and commit together."""

    def __init__(self, size: int, barrier: threading.Barrier) -> None:
        template = form(size, "after")
        super().__init__(template.head, template.size, template.tail)
        self.barrier = barrier
        self.held = False

    def readinto(self, buffer: Any) -> int:
        if not self.held and self.position == len(self.head) + self.size:
            self.held = True
            self.barrier.wait(timeout=60)
        return super().readinto(buffer)


def test_two_uploads_racing_for_the_last_bytes_store_one_file(stack: Stack):
    """Each fits in what the quota leaves, both do not: both stream to storage at once, then
    commit together; one gets in, the other is refused and its object removed."""
    set_quota(stack, 6 * MiB)
    objects, rows = stack.objects(), stack.rows()
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda body: post_stream(stack.api, body, chunked=True),
                                  [HeldBody(4 * MiB, barrier), HeldBody(4 * MiB, barrier)]))
    assert sorted(r.status_code for r in responses) == [201, 403], [r.data for r in responses]
    refused = next(r for r in responses if r.status_code == 403)
    assert error_of(refused)["code"] == "quota_exceeded"
    (stored,) = set(stack.rows()) - set(rows)
    assert len(stack.objects()) == len(objects) + 1
    assert any(key.endswith(stored) for key in stack.objects())
    assert stack.leftovers() == []
    assert organization(stack)["storage-used"] == len(stack.world.content) + 4 * MiB
