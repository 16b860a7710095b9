"""``/metrics`` under ``files-service serve``: two servers on one host (two replicas sharing a
``var/`` folder, on two addresses) keep their own counters when one (re)starts, what an operator
alerts on is there after some traffic, and no token or key reaches a scrape."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_serve import fetch

pytestmark = pytest.mark.e2e


def sample(scrape: str, name: str) -> float:
    """The value of one series (``name`` with its labels, as exposed)."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", scrape, re.MULTILINE)
    assert match, f"{name} is not in the scrape"
    return float(match.group(1))


def test_two_servers_on_one_host_keep_their_own_metrics(make_server):
    first = make_server()
    demo = first.cli_json("demo")
    first.start(workers=2)
    for _ in range(3):
        status, _, body = fetch(demo["url"])
        assert status == 200 and body.startswith(b"Hello")
    bad = demo["url"][:-3] + ("AAA" if not demo["url"].endswith("AAA") else "BBB")
    assert fetch(bad)[0] == 403
    legacy = first.cli_json("mint", demo["file"], "--key", demo["api-key"],
                            "--version", "2022-09-01")["url"]
    assert fetch(legacy, {"Authorization": f"Bearer {demo['secret']}"})[0] == 200

    second = make_server()  # the same var/ and database, another address
    second.start(workers=1)
    assert fetch(second.base + "/healthz")[0] == 200

    scrape = fetch(first.base + "/metrics")[2].decode()
    downloads = 'files_downloads_total{outcome="ok"}'
    assert sample(scrape, downloads) == 4  # the second server's start wiped nothing
    assert sample(fetch(second.base + "/metrics")[2].decode(), downloads) == 0
    # What an operator alerts on.
    assert sample(scrape, "files_download_first_byte_seconds_count") == 4
    assert sample(scrape, "files_download_duration_seconds_count") == 4
    assert sample(scrape, 'files_storage_seconds_count{operation="open"}') == 4
    assert sample(scrape, 'files_storage_errors_total{operation="open"}') == 0
    assert sample(scrape, "files_downloads_in_flight") == 0
    assert sample(scrape, 'files_token_verifications_total{kid="e2e"}') == 4
    assert re.search(r'^files_build_info\{python="[\d.]+",version="[^"]+"\} 1\.0$', scrape,
                     re.MULTILINE)
    # No secret in any label or value.
    token = demo["url"].split("access_token=")[1]
    legacy_token = legacy.split("/api/v1/files/")[1].split("/")[0]
    for secret in (token, legacy_token, demo["secret"], bad.split("access_token=")[1]):
        assert secret not in scrape
        assert secret[-16:] not in scrape
