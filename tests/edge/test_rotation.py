"""The two-phase rotation of docs/tokens.md, through the front tier. The edge verifies download
tokens with the ring ``edge-config`` wrote into it, so every step is also done on every edge:
an edge given step 1's ring serves the URLs replicas sign at step 2, and its access log names
their key id (how an operator sees when the old key is idle); an edge left at the ring before
refuses them, the step the docs used to leave out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from files_service.services import build_services
from files_service.settings import Settings
from tests.edge.conftest import TOKEN, Stack, start_edge
from tests.edge.test_parity import send

pytestmark = pytest.mark.e2e

K1 = "k1:" + "1" * 40
K2 = "k2:" + "2" * 40


def test_an_edge_at_step_one_serves_the_urls_of_step_two(
    stacks: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = stacks(FILES_SIGNING_KEYS=f"{K1},{K2}")  # step 1: the service and its edge
    file = stack.store("rotated.txt", b"rotated")
    old_url = stack.url(file)
    # A replica at step 2 signs with k2.
    env = {name: value for name, value in stack.server.env.items() if name.startswith("FILES_")}
    step_two = build_services(Settings.from_env({**env, "FILES_SIGNING_KEYS": f"{K2},{K1}"}))
    try:
        new_url = step_two.minter.mint(file, stack.key).url
    finally:
        step_two.close()
    stack.remember(new_url)
    assert new_url.split("access_token=")[1].startswith("k2.")

    for url in (old_url, new_url):
        status, _, body = send(stack.edge.base, "GET", url.removeprefix(stack.edge.base), ())
        assert (status, body) == (200, b"rotated")
    kids = [line.split(" kid=", 1)[1].split()[0] for line in stack.edge.access_lines()
            if '"GET /rotated.txt ' in line]
    assert kids == ["k1", "k2"]

    # An edge that missed step 1 (the ring before it): every URL of step 2 is refused there.
    stale = start_edge(tmp_path / "stale-edge", {**stack.server.env, "FILES_SIGNING_KEYS": K1},
                       "--upstream", stack.server.base)
    try:
        for url, expected in ((old_url, 200), (new_url, 403)):
            target = urlsplit(url)
            status, _, body = send(stale.base, "GET", f"{target.path}?{target.query}", ())
            assert status == expected, body
        assert b'"invalid_token"' in body
    finally:
        stale.stop()
    logs = stale.logs()
    assert not TOKEN.search(logs) and " kid=k1 " in logs
