"""``files-service edge-config`` (SPEC §8, §9): what it writes, that Debian's nginx takes it,
that the signing secrets stay out of everything but one 0600 file (and even there only the
keys derived for current-style URLs), and that every bad option is one clear line."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from files_service.clock import SystemClock
from files_service.settings import parse_signing_keys
from files_service.tokens import CURRENT, TokenService
from tests.edge.conftest import need_nginx
from tests.servers import AWS_ENV, NGINX, edge_config, server_env

SECRETS = "k1:" + "s" * 40 + ",old:" + "o" * 40


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path, 8000, FILES_SIGNING_KEYS=SECRETS, FILES_TRUSTED_PROXIES="1")


def written(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in out.iterdir() if p.is_file()}


def test_it_writes_a_configuration_nginx_takes(env: dict[str, str], tmp_path: Path) -> None:
    need_nginx()
    out = tmp_path / "edge"
    result = edge_config(env, out, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["out"] == str(out)
    assert sorted(report["files"]) == sorted(
        ["nginx.conf", "files_edge.js", "files_edge_settings.js", "files_edge_keys.js"])
    assert report["internal"] == f"unix:{out}/internal.sock"
    for sub in ("logs", "temp", "cache"):
        assert (out / sub).is_dir()
    check = subprocess.run([NGINX, "-t", "-p", str(out), "-c", str(out / "nginx.conf")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    conf = (out / "nginx.conf").read_text()
    # Its own modules, pid, logs and temporary files: nothing of the machine's nginx.
    assert "load_module /usr/lib/nginx/modules/ngx_http_js_module.so;" in conf
    assert "/var/" not in conf and "/etc/nginx" not in conf and "include" not in conf


def test_the_secrets_are_only_in_the_key_file_and_only_derived(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "edge"
    assert edge_config(env, out).returncode == 0
    keys = out / "files_edge_keys.js"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    for name, text in written(out).items():
        for secret in ("s" * 40, "o" * 40):
            assert secret not in text, name
            assert base64.b64encode(secret.encode()).decode() not in text, name
    ring = TokenService(parse_signing_keys("x", SECRETS), SystemClock())
    derived = [[kid, base64.b64encode(key).decode()]
               for kid, key in ring.verification_keys(CURRENT).items()]
    text = keys.read_text()
    assert json.loads(text[text.index("["):text.rindex("]") + 1]) == derived
    for name, text in written(out).items():
        if name != keys.name:
            assert not any(value in text for _, value in derived), name


def test_writing_again_replaces_every_file_whole(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "edge"
    assert edge_config(env, out).returncode == 0
    first = written(out)
    env = {**env, "FILES_CDN_CACHE": "public", "FILES_REGISTRY_CACHE_SECONDS": "7"}
    assert edge_config(env, out).returncode == 0
    second = written(out)
    assert set(first) == set(second)
    public = ('"live": "public, max-age={seconds}, s-maxage={seconds}, '
              'stale-while-revalidate=0, stale-if-error=0"')
    assert public in second["files_edge_settings.js"]
    assert "proxy_cache_valid 200 7s;" in second["nginx.conf"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert stat.S_IMODE((out / "files_edge_keys.js").stat().st_mode) == 0o600


def test_every_replica_is_an_upstream_server(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "edge"
    result = edge_config(env, out, "--upstream", "http://10.0.0.11:8000",
                         "--upstream", "http://replica-2.internal:8000", "--upstream",
                         "unix:/run/files/gunicorn.sock")
    assert result.returncode == 0, result.stderr
    conf = (out / "nginx.conf").read_text()
    block = conf.split("upstream files_service {", 1)[1].split("}", 1)[0]
    assert [line.strip() for line in block.splitlines() if line.strip().startswith("server")] \
        == ["server 10.0.0.11:8000;", "server replica-2.internal:8000;",
            "server unix:/run/files/gunicorn.sock;"]


def test_no_cache_when_the_service_keeps_none(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "edge"
    assert edge_config({**env, "FILES_REGISTRY_CACHE_SECONDS": "0"}, out).returncode == 0
    assert "proxy_cache files_lookup;" not in (out / "nginx.conf").read_text()


def test_s3_storage_is_proxied_to_the_endpoint_the_service_signs_for(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "edge"
    env = {**env, **AWS_ENV, "FILES_STORAGE": "s3://bucket/prefix",
           "FILES_S3_ENDPOINT_URL": "http://127.0.0.1:9999"}
    assert edge_config(env, out).returncode == 0, "signing needs no reachable endpoint"
    conf = (out / "nginx.conf").read_text()
    assert "server 127.0.0.1:9999;" in conf
    assert 'proxy_set_header Host "127.0.0.1:9999";' in conf
    assert "alias" not in conf
    assert "testing" not in "".join(written(out).values())  # no AWS credentials


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--listen", "nowhere"), "--listen"),
        (("--listen", "127.0.0.1:70000"), "--listen"),
        (("--internal", "0.0.0.0:9000"), "--internal"),
        (("--internal", "10.1.2.3:9000"), "--internal"),
        (("--internal", "unix:relative.sock"), "--internal"),
        (("--upstream", "https://127.0.0.1:8000"), "--upstream"),
        (("--upstream", "http://127.0.0.1:8000/prefix"), "--upstream"),
        (("--conns-per-address", "-1"), "--conns-per-address"),
    ],
)
def test_a_bad_option_is_one_clear_line(env: dict[str, str], tmp_path: Path,
                                        args: tuple[str, ...], named: str) -> None:
    out = tmp_path / "edge"
    result = edge_config(env, out, *args)
    assert result.returncode != 0
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or not any(out.iterdir()), "nothing is half-written"


def test_storage_the_edge_cannot_serve_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    result = edge_config({**env, "FILES_STORAGE": "memory://"}, tmp_path / "edge")
    assert result.returncode == 1
    assert "FILES_STORAGE" in result.stderr and "Traceback" not in result.stderr


def test_it_warns_when_the_service_would_not_believe_this_nginx(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = edge_config({**env, "FILES_TRUSTED_PROXIES": "0"}, tmp_path / "edge")
    assert result.returncode == 0
    assert "FILES_TRUSTED_PROXIES" in result.stderr


def test_a_bad_setting_is_refused_like_every_command(env: dict[str, str],
                                                    tmp_path: Path) -> None:
    result = edge_config({**env, "FILES_CDN_CACHE": "sometimes"}, tmp_path / "edge")
    assert result.returncode == 1
    assert "FILES_CDN_CACHE" in result.stderr and "Traceback" not in result.stderr


def test_any_user_can_run_it(env: dict[str, str], tmp_path: Path) -> None:
    """Nothing in it needs root: every path nginx writes is under the directory."""
    out = tmp_path / "edge"
    assert edge_config(env, out).returncode == 0
    conf = (out / "nginx.conf").read_text()
    for line in conf.splitlines():
        line = line.strip()
        if line.startswith(("pid ", "error_log ", "access_log ", "client_body_temp_path",
                            "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path",
                            "scgi_temp_path", "proxy_cache_path")):
            path = line.split()[1].rstrip(";")
            assert path == "/dev/null" or path.startswith(str(out)), line
    assert "\nuser " not in conf
    assert os.access(out, os.W_OK)
