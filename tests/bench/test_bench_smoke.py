"""The benchmark harness end to end, as ``make bench`` runs it but small: ``bench/run.py
--quick`` (tiny files, 1 s wrk runs) into a temporary directory. It must start every server it
needs, measure every family, judge every target, write its three outputs and stop what it
started. The figures themselves are not checked: a smoke run's numbers mean nothing."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import NGINX, REPO
from tests.wrk import WRK

pytestmark = pytest.mark.e2e

FAMILIES = {"minting", "downloads", "slow_clients", "streams", "edge", "uploads"}


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


@pytest.mark.timeout(190)
def test_quick_run_measures_every_family_and_cleans_up(tmp_path: Path) -> None:
    missing = [name for name, found in (("wrk", WRK), ("nginx", NGINX)) if found is None]
    if missing:
        pytest.skip(f"the benchmarks need {' and '.join(missing)} (Debian packages; "
                    "apt-get install nginx wrk)")
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--output-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-4000:]

    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["families"]) == FAMILIES
    for name, family in results["families"].items():
        assert not family.get("error"), f"{name}: {family['error']}"
        assert family["measurements"], name
    assert results["config"]["quick"] is True
    assert results["machine"]["nproc"] >= 1
    for row in results["targets"]:
        assert row["status"] in ("met", "missed"), row  # every target measured
    downloads = results["families"]["downloads"]["measurements"]
    for key in ("stream.small", "accel.small", "naive.small", "nginx.small"):
        run = downloads[key]["runs"][0]
        assert run["rps"] > 0 and run["non_2xx"] == 0, key
    edge = results["families"]["edge"]["measurements"]
    for key in ("edge.small", "edge_cold.small", "edge.medium", "edge.loaded"):
        run = edge[key]["runs"][0]
        assert run["rps"] > 0 and run["non_2xx"] == 0, key

    page = (tmp_path / "benchmarks.md").read_text()
    assert "<!-- BEGIN GENERATED" in page and "<!-- END GENERATED -->" in page
    assert "### Targets" in page
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "downloads.png").read_bytes().startswith(b"\x89PNG")

    # Every server it started is gone, and so is its work directory.
    workdir = re.search(r"work directory (\S+)", done.stderr)
    assert workdir is not None, done.stderr[-2000:]
    assert not Path(workdir.group(1)).exists()
    assert _processes_mentioning(workdir.group(1)) == []
