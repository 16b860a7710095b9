"""The benchmark harness's one entry point (``make bench``)::

    python bench/run.py                  # everything, in under 10 minutes on 2 cores
    python bench/run.py --quick          # a smoke run: tiny sizes, 1 s wrk runs (~40 s)
    python bench/run.py --only downloads # one family, merged into the last results
    python bench/run.py --profile        # also py-spy and pyinstrument of the 4 KiB path

It starts and stops its own servers (loopback only; every load bounded in count and time) and
writes ``bench/results.json``, the generated section of ``docs/benchmarks.md`` and
``bench/downloads.png`` (a ``--quick`` run writes to ``bench/out/quick/`` instead, so a smoke
run never overwrites real figures). Needs nginx and wrk (Debian packages) and
``bench/requirements.txt``.
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

if __package__ in (None, ""):  # run as a script: import the harness as the ``bench`` package
    _here = Path(__file__).resolve().parent
    if sys.path and Path(sys.path[0]).resolve() == _here:
        sys.path[0] = str(_here.parent)  # not bench/ itself: its modules would shadow others
    else:
        sys.path.insert(0, str(_here.parent))

from bench import downloads, minting, profiling, report, slow_clients, streams, whatif, wrk
from bench.common import BENCH_DIR, ROOT, Budget, FamilyResult, RunConfig, log, machine_info
from bench.lab import Lab

FAMILIES = {
    "minting": minting.run,
    "downloads": downloads.run,
    "slow_clients": slow_clients.run,
    "streams": streams.run,
}
# Run only when named with --only: not part of make bench.
OPT_IN = {"whatif": whatif.run}
LIMIT_SECONDS = 600.0
# Planned seconds per phase on 2 cores (full run; quick: about a tenth). "streams" is mostly
# the 1 GiB uploads into moto (three of about 20 s each).
PLAN_FULL = {
    "setup": 45, "minting": 20, "downloads": 140, "slow_clients": 85, "streams": 160,
    "profile": 85, "whatif": 180,
}
PLAN_QUICK = {
    "setup": 8, "minting": 3, "downloads": 12, "slow_clients": 10, "streams": 4, "profile": 15,
    "whatif": 15,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmarks of files_service against baselines it builds and runs itself, "
        "on loopback (docs/benchmarks.md says what each figure is and how to reproduce it).",
    )
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: tiny sizes, 1 s wrk runs, one run each")
    parser.add_argument("--only", action="append", choices=[*FAMILIES, *OPT_IN, "profile"],
                        metavar="NAME",
                        help=f"run only this family (repeatable): {', '.join(FAMILIES)}; "
                             "profile (the --profile part alone); whatif (gunicorn variants, "
                             "not part of a full run)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the workers under the 4 KiB stream load; "
                             "pyinstrument the handler")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="write results.json, benchmarks.md and downloads.png here "
                             "(default: bench/ and docs/; bench/out/quick/ with --quick)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (data, server logs) for inspection")
    return parser.parse_args(argv)


def missing_tools() -> list[str]:
    missing = [] if wrk.available() else ["wrk"]
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        missing.append("nginx")
    return missing


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally that stops the servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runners = {**FAMILIES, **OPT_IN}
    names = args.only or list(FAMILIES)
    selected = [name for name in names if name in runners]
    profiling_wanted = args.profile or "profile" in names
    missing = missing_tools()
    if missing:
        print(f"bench: {', '.join(missing)} not found: apt-get install {' '.join(missing)}",
              file=sys.stderr)
        return 2
    config = (RunConfig.smoke if args.quick else RunConfig.full)(profile=profiling_wanted)
    if args.output_dir is not None:
        out = args.output_dir
        paths = (out / "results.json", out / "benchmarks.md", out / "downloads.png")
    elif args.quick:
        out = BENCH_DIR / "out" / "quick"
        paths = (out / "results.json", out / "benchmarks.md", out / "downloads.png")
    else:
        paths = (BENCH_DIR / "results.json", ROOT / "docs" / "benchmarks.md",
                 BENCH_DIR / "downloads.png")
    results_path, page_path, chart_path = paths
    profile_dir = (args.output_dir or BENCH_DIR / "out") / ("profile-quick" if args.quick
                                                            else "profile")
    plan = PLAN_QUICK if args.quick else PLAN_FULL
    budget = Budget(
        {k: v for k, v in plan.items()
         if k in selected or k == "setup" or (k == "profile" and profiling_wanted)},
        LIMIT_SECONDS,
    )
    budget.announce()
    # prometheus-client picks its value class when first imported: make the in-process
    # figures pay for multiprocess counters as gunicorn's workers do (files-service serve).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="files-bench-prom-")
    signal.signal(signal.SIGTERM, _terminate)
    lab = Lab(config, keep=args.keep)
    results: dict[str, dict[str, object]] = {}
    profile: dict[str, object] | None = None
    failed = False
    try:
        with budget.phase("setup"):
            lab.local_file("small")
            lab.local_file("medium")
            if {"slow_clients", "streams"} & set(selected):
                lab.local_file("big")
            if "streams" in selected:
                lab.s3_file("big")
        for name in selected:
            result = FamilyResult(name)
            began = time.monotonic()
            with budget.phase(name):
                try:
                    runners[name](lab, config, result)
                except Exception as exc:
                    failed = True
                    log(f"{name} failed:\n{traceback.format_exc()}")
                    results[name] = {**result.to_json(), "error": f"{type(exc).__name__}: {exc}"}
                    continue
            result.elapsed_s = time.monotonic() - began
            results[name] = result.to_json()
        if profiling_wanted:
            result = FamilyResult("profile")
            with budget.phase("profile"):
                try:
                    profile = profiling.run(lab, config, result, profile_dir)
                except Exception as exc:
                    failed = True
                    log(f"profile failed:\n{traceback.format_exc()}")
                    profile = {"error": f"{type(exc).__name__}: {exc}"}
            results["profile"] = result.to_json()
    finally:
        lab.close()
        shutil.rmtree(os.environ.pop("PROMETHEUS_MULTIPROC_DIR"), ignore_errors=True)
    previous = report.load(results_path) if args.only else {}
    assembled = report.assemble(
        previous, results, machine=machine_info(),
        config={k: v for k, v in vars(config).items()}, budget=budget.summary(), profile=profile,
    )
    report.write_json(results_path, assembled)
    drew = report.chart(assembled, chart_path)
    if not drew:
        log("matplotlib is missing: no chart (pip install -r bench/requirements.txt)")
        if not args.quick:
            failed = True
    page = report.render(assembled, report.relative(chart_path, page_path) if drew else None)
    report.update_page(page_path, page)
    log(f"wrote {results_path}, {page_path}" + (f", {chart_path}" if drew else ""))
    for row in assembled["targets"]:
        log(f"  {row['status']:<12} {row['id']:<22} {row['margin']}")
    log(f"total {budget.elapsed():.0f} s (limit {LIMIT_SECONDS:.0f} s)")
    if budget.elapsed() > LIMIT_SECONDS:
        log("over the time limit!")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
