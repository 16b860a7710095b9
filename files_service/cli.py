"""The ``files-service`` command line (§8). It reads the same settings as the server. Every
command that creates or shows something takes ``--json`` and then prints exactly one JSON
object on stdout; errors are one line on stderr and a non-zero exit status."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from .clock import SystemClock
from .errors import FilesError, NotFound, ValidationError
from .files import guess_content_type, store_file
from .ids import is_id
from .minting import style_for_version
from .registry.models import ApiKey, File, Organization, Principal, Webhook
from .services import Services, build_services
from .settings import Settings
from .timefmt import iso
from .validation import validate_ttl
from .versioning import BUNDLE, UNSTABLE, VERSIONS, utc_today, versions_payload

F = TypeVar("F", bound=Callable[..., Any])
UPLOAD_CHUNK = 1024 * 1024


def _fail_cleanly(func: F) -> F:
    """Turn the domain's errors into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FilesError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _services(*, check: bool = True) -> Services:
    services = build_services(Settings.from_env())
    if check:
        services.registry.check()
    return services


def _emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(text)


def _need_id(value: str, prefix: str, what: str) -> str:
    if not is_id(value, prefix):
        raise ValidationError(what, f"must be an id like {prefix}_… (got {value!r})")
    return value


def _check_version(value: str | None, option: str = "--version") -> str | None:
    if value is None:
        return None
    if value not in VERSIONS and value != UNSTABLE:
        supported = ", ".join(VERSIONS)
        raise ValidationError(option, f"unknown API version {value!r}; released: {supported}")
    return value


def org_json(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "created-at": iso(org.created_at)}


def key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id, "organization": key.organization_id, "name": key.name,
        "status": key.status, "file-url-ttl": key.file_url_ttl,
        "api-version": key.api_version, "created-at": iso(key.created_at),
    }


def webhook_json(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id, "organization": hook.organization_id, "url": hook.url,
        "status": hook.status, "file-url-ttl": hook.file_url_ttl,
        "api-version": hook.api_version, "created-at": iso(hook.created_at),
    }


def principal_json(principal: Principal) -> dict[str, Any]:
    """An api-key or webhook the registry's principal operations returned."""
    return key_json(principal) if isinstance(principal, ApiKey) else webhook_json(principal)


def file_json(file: File) -> dict[str, Any]:
    return {
        "id": file.id, "organization": file.organization_id, "filename": file.filename,
        "content-type": file.content_type, "byte-size": file.byte_size,
        "checksum": file.checksum, "metadata": file.metadata,
        "created-at": iso(file.created_at),
    }


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="files_service")
def cli() -> None:
    """files_service: signed, expiring download URLs for files in object storage."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def init(as_json: bool) -> None:
    """Create or migrate the registry schema (safe to run again)."""
    services = _services(check=False)
    services.registry.init()
    services.close()
    _emit(as_json, {"status": "ok"}, "registry schema is up to date")


# -- organizations ---------------------------------------------------------------------------


@cli.group()
def orgs() -> None:
    """Organizations."""


@orgs.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def orgs_create(name: str, as_json: bool) -> None:
    """Create an organization."""
    org = _services().registry.create_organization(name)
    _emit(as_json, org_json(org), org.id)


# -- api keys ---------------------------------------------------------------------------------


@cli.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--org", required=True, help="Organization id (org_…).")
@click.option("--name", default="", help="A name to recognise the key by.")
@click.option("--ttl", default="21600", show_default=True, help="file-url-ttl in seconds.")
@click.option("--version", "version", default=None, help="Pin an API version now.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def keys_create(org: str, name: str, ttl: str, version: str | None, as_json: bool) -> None:
    """Create an API key and print its secret, once."""
    key, secret = _services().registry.create_api_key(
        _need_id(org, "org", "--org"), name=name, file_url_ttl=validate_ttl(ttl, "--ttl"),
        api_version=_check_version(version),
    )
    _emit(
        as_json, {**key_json(key), "secret": secret},
        f"{key.id}\nsecret: {secret}\n(shown once: store it now; only its hash is kept)",
    )


@keys.command("list")
@click.option("--org", required=True, help="Organization id (org_…).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def keys_list(org: str, as_json: bool) -> None:
    """List an organization's API keys (never their secrets)."""
    found = _services().registry.list_principals(_need_id(org, "org", "--org"), ApiKey)
    lines = [
        f"{k.id}  {k.status:<8} ttl={k.file_url_ttl:<6} version={k.api_version or '-':<10} "
        f"{k.name}" for k in found
    ]
    _emit(as_json, {"api-keys": [key_json(k) for k in found]}, "\n".join(lines))


@keys.command("revoke")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def keys_revoke(key: str, as_json: bool) -> None:
    """Revoke an API key: it stops working and the URLs it minted die."""
    done = _services().registry.revoke_principal(_need_id(key, "key", "KEY"))
    _emit(as_json, principal_json(done), f"{done.id} revoked")


@keys.command("set-ttl")
@click.argument("key")
@click.argument("seconds")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def keys_set_ttl(key: str, seconds: str, as_json: bool) -> None:
    """Set an API key's file-url-ttl (1 to 86400 seconds)."""
    done = _services().registry.set_principal_ttl(
        _need_id(key, "key", "KEY"), validate_ttl(seconds, "SECONDS")
    )
    _emit(as_json, principal_json(done), f"{done.id} file-url-ttl={done.file_url_ttl}")


@keys.command("set-version")
@click.argument("key")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def keys_set_version(key: str, version: str, as_json: bool) -> None:
    """Pin an API key to an API version."""
    done = _services().registry.set_principal_version(
        _need_id(key, "key", "KEY"), _check_version(version, "VERSION")
    )
    _emit(as_json, principal_json(done), f"{done.id} api-version={done.api_version}")


# -- webhooks ---------------------------------------------------------------------------------


@cli.group()
def webhooks() -> None:
    """Webhooks."""


@webhooks.command("create")
@click.option("--org", required=True, help="Organization id (org_…).")
@click.option("--url", required=True, help="Where the main API delivers the webhook.")
@click.option("--ttl", default="21600", show_default=True, help="file-url-ttl in seconds.")
@click.option("--version", "version", default=None, help="Pin an API version now.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def webhooks_create(org: str, url: str, ttl: str, version: str | None, as_json: bool) -> None:
    """Create a webhook."""
    hook = _services().registry.create_webhook(
        _need_id(org, "org", "--org"), url=url, file_url_ttl=validate_ttl(ttl, "--ttl"),
        api_version=_check_version(version),
    )
    _emit(as_json, webhook_json(hook), hook.id)


@webhooks.command("list")
@click.option("--org", required=True, help="Organization id (org_…).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def webhooks_list(org: str, as_json: bool) -> None:
    """List an organization's webhooks."""
    found = _services().registry.list_principals(_need_id(org, "org", "--org"), Webhook)
    lines = [f"{h.id}  {h.status:<8} ttl={h.file_url_ttl:<6} {h.url}" for h in found]
    _emit(as_json, {"webhooks": [webhook_json(h) for h in found]}, "\n".join(lines))


@webhooks.command("revoke")
@click.argument("webhook")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def webhooks_revoke(webhook: str, as_json: bool) -> None:
    """Revoke a webhook: the URLs minted in its context die."""
    done = _services().registry.revoke_principal(_need_id(webhook, "wbh", "WBH"))
    _emit(as_json, principal_json(done), f"{done.id} revoked")


@webhooks.command("set-ttl")
@click.argument("webhook")
@click.argument("seconds")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def webhooks_set_ttl(webhook: str, seconds: str, as_json: bool) -> None:
    """Set a webhook's file-url-ttl (1 to 86400 seconds)."""
    done = _services().registry.set_principal_ttl(
        _need_id(webhook, "wbh", "WBH"), validate_ttl(seconds, "SECONDS")
    )
    _emit(as_json, principal_json(done), f"{done.id} file-url-ttl={done.file_url_ttl}")


# -- files ------------------------------------------------------------------------------------


def _read_chunks(path: Path, progress: Callable[[int], None]) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(UPLOAD_CHUNK):
            progress(len(chunk))
            yield chunk


@cli.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--org", required=True, help="Organization id (org_…).")
@click.option("--filename", default=None, help="Name to store (default: the file's name).")
@click.option("--content-type", default=None, help="Media type (default: guessed).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def upload(
    path: str, org: str, filename: str | None, content_type: str | None, as_json: bool
) -> None:
    """Store a file and register it."""
    source = Path(path)
    name = filename if filename is not None else source.name
    kind = content_type or guess_content_type(name)
    services = _services()
    size = source.stat().st_size
    if sys.stderr.isatty() and not as_json:
        with click.progressbar(length=size, label="uploading", file=sys.stderr) as bar:
            file = store_file(
                services, _need_id(org, "org", "--org"), _read_chunks(source, bar.update),
                filename=name, content_type=kind,
            )
    else:
        file = store_file(
            services, _need_id(org, "org", "--org"), _read_chunks(source, lambda n: None),
            filename=name, content_type=kind,
        )
    _emit(as_json, file_json(file), file.id)


@cli.command()
@click.argument("file")
@click.option("--key", "key_id", default=None, help="Mint as this API key (key_…).")
@click.option("--webhook", "webhook_id", default=None, help="Mint in a webhook's context.")
@click.option("--ttl", default=None, help="Shorter than the principal's file-url-ttl.")
@click.option("--attachment", is_flag=True, help="Content-Disposition: attachment.")
@click.option("--version", "version", default=None, help="API version (sets the URL style).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def mint(
    file: str, key_id: str | None, webhook_id: str | None, ttl: str | None, attachment: bool,
    version: str | None, as_json: bool,
) -> None:
    """Print a download URL for FILE."""
    if (key_id is None) == (webhook_id is None):
        raise click.UsageError("give exactly one of --key or --webhook")
    services = _services()
    registry = services.registry
    principal: ApiKey | Webhook
    if key_id is not None:
        principal = registry.get_principal(_need_id(key_id, "key", "--key"), ApiKey)
    else:
        hook_id = _need_id(webhook_id or "", "wbh", "--webhook")
        principal = registry.get_principal(hook_id, Webhook)
    if principal.status != "active":
        raise ValidationError(principal.id, "is revoked; it cannot mint URLs")
    record = registry.get_file(_need_id(file, "file", "FILE"))
    if record.organization_id != principal.organization_id:
        raise NotFound("file", file)
    chosen = _check_version(version) or principal.api_version or BUNDLE.newest
    minted = services.minter.mint(
        record, principal, style=style_for_version(chosen),
        disposition="attachment" if attachment else "inline",
        ttl=None if ttl is None else validate_ttl(ttl, "--ttl"),
    )
    services.metrics.urls_minted.labels(minted.style).inc()
    _emit(
        as_json,
        {"url": minted.url, "expires-at": iso(minted.expires_at), "style": minted.style},
        minted.url,
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def versions(as_json: bool) -> None:
    """The API versions and their status."""
    settings = Settings.from_env()
    rows = versions_payload(
        utc_today(SystemClock().now()), settings.version_dates,
        enable_unstable=settings.enable_unstable,
    )
    lines = [
        f"{r['identifier']:<11} {r['status']:<11} "
        f"{'deprecated ' + r['deprecation-date'] if r.get('deprecation-date') else ''}"
        f"{' sunset ' + r['sunset-date'] if r.get('sunset-date') else ''}".rstrip()
        for r in rows
    ]
    _emit(as_json, {"versions": rows}, "\n".join(lines))


@cli.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT")
@click.option("--workers", type=click.IntRange(1, 64), help="[default: FILES_WORKERS, 2]")
@_fail_cleanly
def serve(bind: str, workers: int | None) -> None:
    """Serve the API and downloads with gunicorn on ``wsgi:app``."""
    services = _services()  # refuse to start here, in one line, rather than in every worker
    services.close()
    workers = workers or services.settings.workers
    metrics_dir = metrics_dir_for(services.settings.var_dir, bind)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    # This server's own files only, left by its last run: another server on this host (a
    # replica on another address) keeps its counters.
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir.resolve())}
    argv = [
        sys.executable, "-m", "gunicorn", "-c", "python:files_service.gunicorn_conf",
        "--bind", bind, "--workers", str(workers), "wsgi:app",
    ]
    os.execve(sys.executable, argv, env)  # noqa: S606 - become gunicorn, signals and all


def metrics_dir_for(var_dir: str, bind: str) -> Path:
    """prometheus-client's multiprocess folder of the server bound to ``bind``: one per
    address, since two servers on one host never share one (``var/prometheus/127.0.0.1_8000``)."""
    return Path(var_dir) / "prometheus" / re.sub(r"[^A-Za-z0-9.-]", "_", bind)


@cli.command("edge-config")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The directory to write (nginx's prefix: nginx -p DIR -c DIR/nginx.conf).")
@click.option("--listen", default="127.0.0.1:8080", show_default=True,
              help="HOST:PORT of the public listener.")
@click.option("--upstream", "upstreams", multiple=True, default=["http://127.0.0.1:8000"],
              show_default=True,
              help="The service: http://HOST:PORT or unix:PATH; once per replica.")
@click.option("--internal", default=None,
              help="The internal listener (/metrics, /readyz, the lookup): unix:PATH or a "
                   "loopback HOST:PORT.  [default: unix:DIR/internal.sock]")
@click.option("--conns-per-address", default=256, show_default=True,
              type=click.IntRange(0, 100000), help="Requests one address may hold; 0: any.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def edge_config(
    out: Path, listen: str, upstreams: tuple[str, ...], internal: str | None,
    conns_per_address: int,
    as_json: bool,
) -> None:
    """Write the front tier's nginx configuration for the current settings (SPEC §9)."""
    from .edge.config import EdgeOptions, write

    settings = Settings.from_env()
    written = write(
        settings, EdgeOptions(out, listen, tuple(upstreams), internal, conns_per_address)
    )
    if settings.trusted_proxies != 1:
        click.echo(
            f"warning: FILES_TRUSTED_PROXIES is {settings.trusted_proxies}; the service behind "
            "this nginx needs 1 to see its clients' addresses", err=True,
        )
    _emit(
        as_json,
        {"out": str(written.out), "files": list(written.files), "listen": written.listen,
         "internal": written.internal},
        f"wrote {', '.join(written.files)} to {written.out}\n"
        f"run it: nginx -p {written.out} -c {written.out}/nginx.conf",
    )


DEMO_TEXT = (
    "Hello from files_service!\n\n"
    "This file was served through a signed, expiring URL. Change one character of the\n"
    "access_token and the server refuses it; wait past its expiry and it is gone.\n"
)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_fail_cleanly
def demo(as_json: bool) -> None:
    """Create a demo organization, API key and file, and print a working URL."""
    services = _services()
    registry = services.registry
    org = registry.create_organization("Demo")
    key, secret = registry.create_api_key(org.id, name="demo", api_version=BUNDLE.newest)
    file = store_file(
        services, org.id, iter([DEMO_TEXT.encode()]), filename="welcome.txt",
        content_type="text/plain; charset=utf-8",
    )
    minted = services.minter.mint(file, key)
    payload = {
        "organization": org.id, "api-key": key.id, "secret": secret, "file": file.id,
        "url": minted.url, "expires-at": iso(minted.expires_at),
    }
    text = (
        f"demo organization {org.id}, API key {key.id}\n"
        f"API key secret (shown once): {secret}\n"
        f"download URL (valid until {iso(minted.expires_at)}):\n\n  {minted.url}\n"
    )
    _emit(as_json, payload, text)


def main() -> None:
    """The ``files-service`` entry point."""
    cli(prog_name="files-service")
