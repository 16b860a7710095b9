"""Storage failing after the first byte (§4): the response ends short of its Content-Length,
never a body that looks complete, and the storage stream is released; in-process on a storage
told to fail, and on a real socket under gunicorn, where the connection is closed."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from files_service.errors import StorageUnavailable
from tests.conftest import path_of
from tests.faults.conftest import BIG, Faulty, InProcess
from tests.faults.faultapp import FAIL_AFTER
from tests.faults.served import MIB, open_streams, wait_until


def test_a_failure_after_the_first_byte_ends_the_body_short(in_process: InProcess):
    in_process.storage.fail_after_bytes = 300_000
    response = in_process.client.get(in_process.url, buffered=False)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(BIG))  # promised, then not kept
    received = bytearray()
    with pytest.raises(StorageUnavailable):
        for chunk in response.response:
            received += chunk
    assert 0 < len(received) == 300_000 < len(BIG)
    response.close()
    assert in_process.storage.open_streams == 0
    assert in_process.downloads("aborted") == 1


@pytest.mark.e2e
def test_a_failure_after_the_first_byte_closes_the_connection_short(faulty: Faulty):
    url = faulty.urls["fail-after"]
    conn = http.client.HTTPConnection("127.0.0.1", faulty.server.port, timeout=15)
    try:
        conn.request("GET", path_of(url))
        response = conn.getresponse()
        assert response.status == 200
        assert response.headers["Content-Length"] == str(2 * MIB)
        with pytest.raises(http.client.IncompleteRead) as short:
            response.read()
    finally:
        conn.close()
    assert len(short.value.partial) == FAIL_AFTER  # every byte storage gave, and no more
    wait_until(lambda: open_streams(faulty.server) == 0, "the stream to be closed")
    log = faulty.server.log.read_text(errors="replace")
    assert "injected failure after the first byte" in log
    assert urlsplit(url).query.removeprefix("access_token=") not in log
