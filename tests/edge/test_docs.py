"""docs/delivery.md shows what ``files-service edge-config`` writes, never a hand-copied
configuration: the block between its ``edge-config`` marker and the end of the code fence must be
exactly the command's output for the documented command line, with the machine's paths replaced
by the documented ones.

``FILES_TEST_WRITE_DOCS=1 pytest tests/edge/test_docs.py`` writes the block instead (after a
change to the template), for the diff to be read and committed."""

from __future__ import annotations

import os
from pathlib import Path

from tests.servers import REPO, edge_config, server_env

DOC = REPO / "docs" / "delivery.md"
MARKER = "<!-- edge-config: nginx.conf -->\n```nginx\n"
# The command line docs/delivery.md shows, and the paths it names.
ARGS = ("--listen", "0.0.0.0:80", "--upstream", "http://10.0.0.11:8000",
        "--upstream", "http://10.0.0.12:8000", "--internal", "127.0.0.1:9100")
DOC_OUT = "/etc/files-edge"
DOC_STORAGE = "/srv/files/objects"


def documented(tmp_path: Path) -> str:
    """nginx.conf as edge-config writes it for the documented command line."""
    objects = tmp_path / "objects"
    env = server_env(tmp_path, 8000, FILES_STORAGE=f"local://{objects}",
                     FILES_TRUSTED_PROXIES="1")
    out = tmp_path / "out"
    result = edge_config(env, out, *ARGS)
    assert result.returncode == 0, result.stderr
    text = (out / "nginx.conf").read_text()
    return (text.replace(str(out.resolve()), DOC_OUT)
            .replace(os.path.realpath(objects), DOC_STORAGE))


def test_the_docs_show_what_edge_config_writes(tmp_path: Path) -> None:
    expected = documented(tmp_path)
    assert str(tmp_path) not in expected
    page = DOC.read_text()
    assert MARKER in page, f"the edge-config marker is missing from {DOC}"
    head, rest = page.split(MARKER, 1)
    shown, tail = rest.split("```\n", 1)
    if os.environ.get("FILES_TEST_WRITE_DOCS") == "1":
        DOC.write_text(head + MARKER + expected + "```\n" + tail)
        shown = expected
    assert shown == expected, (
        "docs/delivery.md no longer shows what edge-config writes; run "
        "FILES_TEST_WRITE_DOCS=1 pytest tests/edge/test_docs.py and commit the diff"
    )
    # The command line the page shows is the one checked here.
    assert "--listen 0.0.0.0:80" in head and "--internal 127.0.0.1:9100" in head
