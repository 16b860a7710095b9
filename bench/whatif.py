"""What was tried (opt-in: ``python bench/run.py --only whatif``, about 3 minutes): the 4 KiB
stream download and the naive baseline, each under variants of the gunicorn settings, to see
what the ``stream-4k-vs-naive`` ratio and the absolute rate would gain from each.

Every variant is ``files_service.gunicorn_conf`` (the naive app: its own settings module, which
imports the service's) with a few settings changed, written to a module in the run's work
directory. The naive app always runs under the same variant as the service: a change of
gunicorn settings would reach both, so only then is their ratio fair. Only the redacting
logger is the service's own (the naive app never has it).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench import wrk
from bench.common import VENV_BIN, FamilyResult, Process, RunConfig, free_port, log
from bench.lab import Lab
from bench.servers import SIGNING_SECRET, Gunicorn, base_env

# name -> (what it changes, overrides of the service's settings, overrides of the naive app's)
VARIANTS: dict[str, tuple[str, str, str]] = {
    "service": ("files_service.gunicorn_conf as it is", "", ""),
    "plain_logger": (
        "gunicorn's own access logger instead of the redacting one",
        "from gunicorn.glogging import Logger\nlogger_class = Logger\n", "",
    ),
    "no_access_log": ("no access log", "accesslog = None\n", "accesslog = None\n"),
    "threads_4": ("threads = 4 (instead of 8)", "threads = 4\n", "threads = 4\n"),
    "no_log_threads_2": (
        "no access log, threads = 2", "accesslog = None\nthreads = 2\n",
        "accesslog = None\nthreads = 2\n",
    ),
}


def _module(directory: Path, name: str, base: str, overrides: str) -> str:
    module = f"bench_whatif_{name}"
    (directory / f"{module}.py").write_text(
        f'"""A what-if variant of {base} (bench/whatif.py)."""\n'
        f"from {base} import *  # noqa: F403\n{overrides}"
    )
    return module


def _start(
    lab: Lab, name: str, module: str, directory: Path, app: str, env: dict[str, str]
) -> Gunicorn:
    port = free_port()
    env = {**env, "PYTHONPATH": os.pathsep.join([str(directory), env.get("PYTHONPATH", "")])}
    argv = [
        str(VENV_BIN / "python"), "-m", "gunicorn", "-c", f"python:{module}",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", app,
    ]
    server = Gunicorn(Process(f"whatif-{name}", argv, env, lab.logs / f"whatif-{name}.log"), port)
    server.start()
    lab.adopt(server)
    return server


def run(lab: Lab, config: RunConfig, result: FamilyResult) -> None:
    directory = lab.workdir / "whatif"
    directory.mkdir(exist_ok=True)
    stored = lab.local_file("small")
    local_root = lab.local.local_root
    assert local_root is not None
    naive_path = lab.url("naive", "small").split("/", 3)[3]
    urls: dict[str, str] = {}
    naive_seen: dict[str, str] = {}  # naive overrides -> the variant whose naive server has them
    for name, (_, service_overrides, naive_overrides) in VARIANTS.items():
        # The service, stream mode, on the local data set, as ``files-service serve`` runs it
        # (with its prometheus directory), but under the variant's settings.
        prom = lab.workdir / f"prom-whatif-{name}"
        prom.mkdir()
        env = lab.local.env
        env.update(FILES_DELIVERY="stream", FILES_VAR_DIR=str(lab.workdir / f"var-whatif-{name}"),
                   PROMETHEUS_MULTIPROC_DIR=str(prom))
        module = _module(directory, name, "files_service.gunicorn_conf", service_overrides)
        service = _start(lab, name, module, directory, "wsgi:app", env)
        urls[f"{name}.service"] = service.base + stored.url_path
        if naive_overrides in naive_seen:
            urls[f"{name}.naive"] = urls[f"{naive_seen[naive_overrides]}.naive"]
            continue
        naive_seen[naive_overrides] = name
        naive_env = base_env()
        naive_env.update(BENCH_NAIVE_ROOT=str(local_root), BENCH_NAIVE_SECRET=SIGNING_SECRET)
        module = _module(directory, f"naive_{name}", "bench.baselines.naive_gunicorn_conf",
                         naive_overrides)
        naive = _start(lab, f"naive-{name}", module, directory,
                       "bench.baselines.naive_flask:from_env()", naive_env)
        urls[f"{name}.naive"] = f"{naive.base}/{naive_path}"
    distinct = dict.fromkeys(urls.values())
    for number in range(config.load_runs):
        rates: dict[str, float] = {}
        for url in distinct:
            rates[url] = wrk.run(url, seconds=config.wrk_seconds, threads=config.wrk_threads,
                                 connections=config.wrk_connections).rps
        for name, (label, _, _) in VARIANTS.items():
            for app, what in (("service", "service, stream"), ("naive", "naive Flask")):
                result.measurement(f"{name}.{app}", f"{label}: {what}, 4 KiB", "req/s").add(
                    {"rps": rates[urls[f"{name}.{app}"]]}
                )
            log(f"  run {number + 1}: {name:<17} service {rates[urls[f'{name}.service']]:7.0f} "
                f"naive {rates[urls[f'{name}.naive']]:7.0f} req/s")
