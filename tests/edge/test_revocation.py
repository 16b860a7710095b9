"""Through the edge, revocation and deletion still bite within FILES_REGISTRY_CACHE_SECONDS
(SPEC §3, §9), while the service is asked about a file and principal at most once per that
time. nginx's cache runs on the wall clock, which no test can move: these poll, with a short
cache, and bound the wait by the setting."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from files_service.files import delete_file
from tests.edge.conftest import Stack
from tests.edge.test_parity import send

pytestmark = pytest.mark.e2e

CACHE_SECONDS = 2
# Scheduling on a loaded machine: what a refusal may take beyond the setting.
SLACK_SECONDS = 3


def get(stack: Stack, url: str) -> tuple[int, bytes]:
    target = url.removeprefix(stack.edge.base)
    status, _, body = send(stack.edge.base, "GET", target, ())
    return status, body


def refused_within(stack: Stack, url: str, status: int, code: str) -> float:
    """Seconds until the edge refuses ``url`` with ``status`` and ``code``; fails past the
    setting and the slack."""
    started = time.monotonic()
    while True:
        got, body = get(stack, url)
        waited = time.monotonic() - started
        if got == status:
            assert f'"code": "{code}"' in body.decode()
            return waited
        assert got == 200, body
        assert waited < CACHE_SECONDS + SLACK_SECONDS, "still served past the cache's life"
        time.sleep(0.1)  # polling nginx's wall-clock cache


def lookups_logged(stack: Stack) -> list[str]:
    return [line.split(" lookup=", 1)[1].split()[0] for line in stack.edge.access_lines()
            if " lookup=" in line and " lookup=- " not in line]


@pytest.fixture(scope="module")
def stack(stacks: Callable[..., Stack]) -> Stack:
    return stacks(FILES_REGISTRY_CACHE_SECONDS=str(CACHE_SECONDS))


def test_a_revoked_key_is_refused_within_the_cache_time(stack: Stack) -> None:
    registry = stack.services.registry
    key, _ = registry.create_api_key(stack.org.id, name="to-revoke")
    file = stack.store("revoked.txt", b"soon gone")
    url = stack.url(file, key=key)
    assert get(stack, url) == (200, b"soon gone")
    registry.revoke_principal(key.id)
    refused_within(stack, url, 403, "revoked_token")


def test_a_revoked_webhook_is_refused_within_the_cache_time(stack: Stack) -> None:
    registry = stack.services.registry
    hook = registry.create_webhook(stack.org.id, url="https://example.com/hook")
    file = stack.store("hooked.txt", b"via a webhook")
    url = stack.url(file, key=hook)
    assert get(stack, url)[0] == 200
    registry.revoke_principal(hook.id)
    refused_within(stack, url, 403, "revoked_token")


def test_a_deleted_file_is_gone_within_the_cache_time(stack: Stack) -> None:
    file = stack.store("deleted.txt", b"to be deleted")
    url = stack.url(file)
    assert get(stack, url)[0] == 200
    delete_file(stack.services, file.id)
    refused_within(stack, url, 404, "not_found")


def test_the_service_is_asked_once_per_file_and_principal(
    stacks: Callable[..., Stack],
) -> None:
    """With the default 30 s, twenty downloads of one URL ask the service once, and a
    second URL (another disposition: same file, same principal) not at all."""
    stack = stacks()
    file = stack.store("cached.txt", b"cached")
    url = stack.url(file)
    other = stack.url(file, disposition="attachment")
    for each in [url] * 20 + [other] * 5:
        assert get(stack, each)[0] == 200
    assert lookups_logged(stack) == ["200/MISS"] + ["200/HIT"] * 24
    served = stack.server.log.read_text()
    assert served.count("/_edge/lookup/") == 1
