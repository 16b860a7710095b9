"""Property tests of the download paths at the byte level, where test_download_fuzz.py works
with text: any bytes a WSGI server may pass in the path (``PATH_INFO``, latin-1 decoded) and
the query string (raw or percent-encoded, ``access_token`` repeated or not), with any method,
get a clean answer, never a 5xx; and nothing but the genuine URL is served."""

from __future__ import annotations

import json
import os
from urllib.parse import quote_from_bytes, unquote, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from files_service import get_services
from tests.conftest import make_world

FUZZ = settings(
    max_examples=int(os.environ.get("FILES_TEST_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def test_no_path_or_query_bytes_crash_a_download(app):
    services = get_services(app)
    world = make_world(services, filename="naïve report.pdf")
    current = urlsplit(services.minter.mint(world.file, world.key).url)
    legacy = urlsplit(services.minter.mint(world.file, world.key, style="legacy").url)
    token = current.query.removeprefix("access_token=")
    legacy_token = legacy.path.split("/")[4]
    name = world.file.filename
    client = app.test_client()
    auth = {"Authorization": f"Bearer {world.secret}"}

    def wire(text: str) -> str:
        """``text`` as a WSGI server hands it over: its UTF-8 bytes as latin-1 code points."""
        return text.encode("utf-8").decode("latin-1")

    paths = st.one_of(
        st.binary(max_size=40).map(lambda b: "/" + b.decode("latin-1")),
        st.sampled_from([f"/{name}", f"/api/v1/files/{legacy_token}/{name}",
                         f"/api/v1/files/{legacy_token}/x", "/api/v1/files//", "/", "//",
                         f"/{name}/", f"//{name}"]).map(wire),
        st.builds(lambda b: f"/api/v1/files/{legacy_token}/" + b.decode("latin-1"),
                  st.binary(min_size=1, max_size=20).filter(lambda b: b"/" not in b)),
    )
    queries = st.one_of(
        st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
        st.binary(max_size=60).map(lambda b: "access_token=" + quote_from_bytes(b)),
        st.sampled_from([f"access_token={token}", f"access_token={token}&access_token={token}",
                         f"x=1&access_token={token}", f"access_token={token}&x=%ff",
                         f"ACCESS_TOKEN={token}", f"access_token={token}%00", ""]),
    )

    @FUZZ
    @given(paths, queries, st.sampled_from(["GET", "HEAD", "POST", "OPTIONS", "DELETE"]))
    def check(path: str, query: str, method: str) -> None:
        response = client.open(
            "/", method=method, headers=auth,
            environ_overrides={"PATH_INFO": path, "QUERY_STRING": query},
        )
        assert response.status_code < 500, (path, query, response.data[:300])
        if response.status_code >= 400:
            assert response.headers["Content-Type"] == "application/vnd.api+json"
            if method != "HEAD":
                assert json.loads(response.data)["errors"]
        if response.headers.get("ETag") == f'"{world.file.checksum}"':
            # Served: only the file's own name, with its own token (once) or on the legacy
            # path with the key.
            decoded = path.encode("latin-1").decode("utf-8", "replace")
            tokens = [unquote(part[13:]) for part in query.split("&")
                      if part.startswith("access_token=")]
            assert (decoded == f"/{name}" and tokens == [token]) or (
                decoded == f"/api/v1/files/{legacy_token}/{name}"
            ), (path, query, response.status_code)

    check()
