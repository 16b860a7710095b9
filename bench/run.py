"""The benchmark harness's one entry point (``make bench``)::

    python bench/run.py                  # everything, in under 10 minutes on 2 cores
    python bench/run.py --quick          # a smoke run: tiny sizes, 1 s wrk runs (~40 s)
    python bench/run.py --only downloads # one family, merged into the last results
    python bench/run.py --profile        # also py-spy and pyinstrument of the 4 KiB path

It starts and stops its own servers (loopback only; every load bounded in count and time) and
writes ``bench/results.json``, the generated section of ``docs/benchmarks.md`` and
``bench/downloads.png`` (a ``--quick`` run writes to ``bench/out/quick/`` instead, so a smoke
run never overwrites real figures). Needs nginx and wrk (Debian packages) and
``bench/requirements.txt``. The families: :mod:`bench.minting`, :mod:`bench.downloads`,
:mod:`bench.slow_clients`, :mod:`bench.streams`, :mod:`bench.edge` (the front tier),
:mod:`bench.uploads` (signed upload URLs) and,
with ``--profile``, :mod:`bench.profiling`; each measures the service against baselines
(:mod:`bench.baselines`) on servers :mod:`bench.lab` starts, and :mod:`bench.report` writes
what they found.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

if __package__ in (None, ""):  # run as a script: import bench and tests as packages
    _root = str(Path(__file__).resolve().parent.parent)
    sys.path[0:1] = [_root]  # not bench/ itself: its modules would shadow others

from bench import downloads, edge, minting, profiling, report, slow_clients, streams, uploads
from bench.common import BENCH_DIR, ROOT, SMOKE, FamilyResult, RunConfig, log, machine_info
from bench.lab import Lab
from tests.servers import NGINX
from tests.wrk import WRK

FAMILIES = {
    "minting": minting.run,
    "downloads": downloads.run,
    "slow_clients": slow_clients.run,
    "streams": streams.run,
    "edge": edge.run,
    "uploads": uploads.run,
}
LIMIT_SECONDS = 600.0
# Planned seconds per phase on 2 cores, full run and quick. "streams" is mostly the 1 GiB
# uploads into moto (three of about 20 s each).
PLAN = {"setup": (45, 8), "minting": (20, 3), "downloads": (140, 12),
        "slow_clients": (85, 10), "streams": (160, 4), "edge": (150, 15), "uploads": (45, 6),
        "profile": (85, 15)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmarks of files_service against baselines it builds and runs itself, "
        "on loopback (docs/benchmarks.md says what each figure is and how to reproduce it).",
    )
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: tiny sizes, 1 s wrk runs, one run each")
    parser.add_argument("--only", action="append", choices=[*FAMILIES, "profile"],
                        metavar="NAME", help=f"run only this family (repeatable): "
                        f"{', '.join(FAMILIES)}; profile (the --profile part alone)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the workers under the 4 KiB stream load; "
                             "pyinstrument the handler")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="write results.json, benchmarks.md and downloads.png here "
                             "(default: bench/ and docs/; bench/out/quick/ with --quick)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (data, server logs) for inspection")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally that stops the servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [name for name, found in (("wrk", WRK), ("nginx", NGINX)) if found is None]
    if missing:
        print(f"bench: {', '.join(missing)} not found: apt-get install {' '.join(missing)}",
              file=sys.stderr)
        return 2
    names = args.only or list(FAMILIES)
    selected = [name for name in names if name in FAMILIES]
    profiling_wanted = args.profile or "profile" in names
    config = RunConfig(**(SMOKE if args.quick else {}), profile=profiling_wanted)
    out = args.output_dir or (BENCH_DIR / "out" / "quick" if args.quick else None)
    results_path, page_path, chart_path = (
        (out / "results.json", out / "benchmarks.md", out / "downloads.png") if out else
        (BENCH_DIR / "results.json", ROOT / "docs" / "benchmarks.md", BENCH_DIR / "downloads.png")
    )
    profile_dir = (args.output_dir or BENCH_DIR / "out") / ("profile-quick" if args.quick
                                                            else "profile")
    phases = ["setup", *selected, *(["profile"] if profiling_wanted else [])]
    planned = {name: PLAN[name][args.quick] for name in phases}
    log(f"time budget: {sum(planned.values()):.0f} s planned (limit {LIMIT_SECONDS:.0f} s)")
    for name, seconds in planned.items():
        log(f"  {name:<14} {seconds:6.0f} s")
    # prometheus-client picks its value class when first imported: make the in-process
    # figures pay for multiprocess counters as gunicorn's workers do (files-service serve).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="files-bench-prom-")
    signal.signal(signal.SIGTERM, _terminate)
    began, spent = time.monotonic(), {}
    lab = Lab(config, keep=args.keep)
    results: dict[str, dict[str, object]] = {}
    profile = None
    failed = False
    try:
        for name in phases:
            log(f"== {name} (planned {planned[name]:.0f} s, "
                f"{time.monotonic() - began:.0f} s elapsed)")
            result, phase_began = FamilyResult(name), time.monotonic()
            try:
                if name == "setup":  # the files most families need, before any is timed
                    lab.local_file("small")
                    lab.local_file("medium")
                    if {"slow_clients", "streams", "edge"} & set(selected):
                        lab.local_file("big")
                    if {"streams", "edge"} & set(selected):
                        lab.s3_file("big")
                elif name == "profile":
                    profile = profiling.run(lab, config, result, profile_dir)
                else:
                    FAMILIES[name](lab, config, result)
                if name != "setup":
                    results[name] = result.to_json()
            except Exception as exc:
                if name == "setup":
                    raise
                failed = True
                log(f"{name} failed:\n{traceback.format_exc()}")
                results[name] = {**result.to_json(), "error": f"{type(exc).__name__}: {exc}"}
            spent[name] = round(time.monotonic() - phase_began, 1)
            log(f"== {name} took {spent[name]:.1f} s")
    finally:
        lab.close()
        shutil.rmtree(os.environ.pop("PROMETHEUS_MULTIPROC_DIR"), ignore_errors=True)
    total = time.monotonic() - began
    budget = {"limit_s": LIMIT_SECONDS, "planned_s": planned, "spent_s": spent,
              "total_s": round(total, 1)}
    assembled = report.assemble(
        report.load(results_path) if args.only else {}, results, [*FAMILIES, "profile"],
        machine=machine_info(), config=vars(config), budget=budget, profile=profile)
    report.write_json(results_path, assembled)
    drew = report.chart(assembled, chart_path)
    if not drew:
        log("matplotlib is missing: no chart (pip install -r bench/requirements.txt)")
        failed = failed or not args.quick
    page = report.render(assembled, os.path.relpath(chart_path, page_path.parent) if drew
                         else None)
    report.update_page(page_path, page)
    log(f"wrote {results_path}, {page_path}" + (f", {chart_path}" if drew else ""))
    for row in assembled["targets"]:
        log(f"  {row['status']:<12} {row['id']:<22} {row['margin']}")
    log(f"total {total:.0f} s (limit {LIMIT_SECONDS:.0f} s)"
        + (": over the time limit!" if total > LIMIT_SECONDS else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
