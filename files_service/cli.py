"""The ``files-service`` command line (§8). It reads the same settings as the server.

Every command runs on a ``CliContext`` (click's ``obj``): the settings, by default read from
the environment, and a clock; tests pass their own, as flaskr's ``runner`` passes an app.
Every command that creates or shows something takes ``--json`` and then prints exactly one
JSON object on stdout, built by the API's own resource builders in the newest version's
shape, so that the two never disagree. Errors are one line on stderr and exit status 1.

Api-keys and webhooks are both principals: one factory (``principal_group``) makes the
``keys`` and ``webhooks`` groups.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .api.resources import file_resource, organization_resource, principal_resource
from .clock import Clock, SystemClock
from .errors import FilesError, NotFound, ValidationError
from .files import guess_content_type, store_file
from .ids import is_id
from .jsonapi import Resource
from .minting import style_for_version
from .registry import Registry
from .registry.models import DEFAULT_FILE_URL_TTL, ApiKey, Principal, Webhook
from .services import Services, build_services
from .settings import Settings
from .timefmt import iso
from .validation import validate_ttl
from .versioning import BUNDLE, UNSTABLE, VERSIONS, MigrationContext, utc_today, versions_payload

UPLOAD_CHUNK = 1024 * 1024


@dataclass
class CliContext:
    """What the commands run on (click's ``obj``): ``settings`` (default: read from the
    environment when first needed) and ``clock`` (default: the system's), and the services
    built from them once per invocation."""

    settings: Settings | None = None
    clock: Clock | None = None
    _services: Services | None = field(default=None, init=False, repr=False)

    def get_settings(self) -> Settings:
        if self.settings is None:
            self.settings = Settings.from_env()
        return self.settings

    def get_clock(self) -> Clock:
        if self.clock is None:
            self.clock = SystemClock()
        return self.clock

    def services(self, *, check: bool = True) -> Services:
        """The services; with ``check`` the registry must be reachable and its schema
        current (``SchemaMissing`` says to run ``init``)."""
        if self._services is None:
            self._services = build_services(self.get_settings(), clock=self.get_clock())
        if check:
            self._services.registry.check()
        return self._services

    def close(self) -> None:
        """Close what ``services`` opened (the database's pooled connections)."""
        if self._services is not None:
            self._services.close()
            self._services = None


class _Command(click.Command):
    """A command whose domain errors end as one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FilesError as exc:
            raise click.ClickException(str(exc)) from None


class _Group(click.Group):
    command_class = _Command
    group_class = type  # subgroups are _Groups too


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout, for scripts."
)
pass_cli = click.make_pass_decorator(CliContext)


def _emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(text)


def shown(resource: Resource) -> dict[str, Any]:
    """A resource as the API's newest version shows it, flattened for the command line: its
    id, its attributes, and the id (or null) of each to-one relationship."""
    obj = BUNDLE.migrate_resource(resource.to_json(), BUNDLE.newest, MigrationContext())
    flat: dict[str, Any] = {"id": obj["id"], **obj["attributes"]}
    for name, relationship in obj.get("relationships", {}).items():
        linkage = relationship["data"]
        flat[name] = None if linkage is None else linkage["id"]
    return flat


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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="files_service")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """files_service: signed, expiring download URLs for files in object storage."""
    ctx.call_on_close(ctx.ensure_object(CliContext).close)


@cli.command()
@json_option
@pass_cli
def init(obj: CliContext, as_json: bool) -> None:
    """Create or migrate the registry schema (safe to run again)."""
    obj.services(check=False).registry.init()
    _emit(as_json, {"status": "ok"}, "registry schema is up to date")


# -- organizations ---------------------------------------------------------------------------


@cli.group()
def orgs() -> None:
    """Organizations."""


@orgs.command("create")
@click.argument("name")
@json_option
@pass_cli
def orgs_create(obj: CliContext, name: str, as_json: bool) -> None:
    """Create an organization."""
    org = obj.services().registry.create_organization(name)
    _emit(as_json, shown(organization_resource(org)), org.id)


# -- principals: api keys and webhooks --------------------------------------------------------


Created = tuple[Principal, dict[str, Any], str]
"""A new principal, what ``--json`` adds to it (a key's secret), and its text."""


@dataclass(frozen=True)
class PrincipalCommands:
    """What the ``keys`` and ``webhooks`` groups do differently; everything else they share.

    ``create`` makes the principal from its own options (``create_options``) and returns it
    with what its ``--json`` adds and its text; ``label`` is the end of its line in ``list``.
    """

    group: str
    help: str
    noun: str
    prefix: str  # of its ids
    metavar: str  # of its id argument
    plural: str  # the key of a list in --json
    kind: type[Principal]
    create_help: str
    create_options: tuple[Callable[[Any], Any], ...]
    create: Callable[..., Created]
    label: Callable[[Any], str]


def principal_group(spec: PrincipalCommands) -> click.Group:
    """The group of commands on one kind of principal: create, list, revoke, set-ttl and
    set-version."""
    group = _Group(spec.group, help=spec.help)
    noun, metavar = spec.noun, spec.metavar

    def principal_id(value: str) -> str:
        return _need_id(value, spec.prefix, metavar)

    def create(
        obj: CliContext, org: str, ttl: str, version: str | None, as_json: bool, **own: Any
    ) -> None:
        made, extra, text = spec.create(
            obj.services().registry, _need_id(org, "org", "--org"),
            file_url_ttl=validate_ttl(ttl, "--ttl"), api_version=_check_version(version),
            **own,
        )
        _emit(as_json, {**shown(principal_resource(made)), **extra}, text)

    options = [
        click.option("--org", required=True, help="Organization id (org_…)."),
        *spec.create_options,
        click.option(
            "--ttl", default=str(DEFAULT_FILE_URL_TTL), show_default=True,
            help="file-url-ttl in seconds (1 to 86400).",
        ),
        click.option("--version", "version", default=None, help="Pin an API version now."),
        json_option,
        pass_cli,
    ]
    for option in reversed(options):
        create = option(create)
    group.command("create", help=spec.create_help)(create)

    @group.command("list", help=f"List an organization's {noun}s.")
    @click.option("--org", required=True, help="Organization id (org_…).")
    @json_option
    @pass_cli
    def list_(obj: CliContext, org: str, as_json: bool) -> None:
        found = obj.services().registry.list_principals(_need_id(org, "org", "--org"), spec.kind)
        lines = [
            f"{p.id}  {p.status:<8} ttl={p.file_url_ttl:<6} version={p.api_version or '-':<10} "
            f"{spec.label(p)}" for p in found
        ]
        payload = {spec.plural: [shown(principal_resource(p)) for p in found]}
        _emit(as_json, payload, "\n".join(lines))

    @group.command(
        "revoke", help=f"Revoke the {noun} {metavar} for good: it stops working and the URLs "
        "minted for it die.",
    )
    @click.argument("ident", metavar=metavar)
    @json_option
    @pass_cli
    def revoke(obj: CliContext, ident: str, as_json: bool) -> None:
        done = obj.services().registry.revoke_principal(principal_id(ident))
        _emit(as_json, shown(principal_resource(done)), f"{done.id} revoked")

    @group.command("set-ttl", help=f"Set the file-url-ttl of {metavar} (1 to 86400 seconds).")
    @click.argument("ident", metavar=metavar)
    @click.argument("seconds")
    @json_option
    @pass_cli
    def set_ttl(obj: CliContext, ident: str, seconds: str, as_json: bool) -> None:
        done = obj.services().registry.set_principal_ttl(
            principal_id(ident), validate_ttl(seconds, "SECONDS")
        )
        text = f"{done.id} file-url-ttl={done.file_url_ttl}"
        _emit(as_json, shown(principal_resource(done)), text)

    @group.command(
        "set-version",
        help=f"Pin {metavar} to an API version: the one a request that names none is served.",
    )
    @click.argument("ident", metavar=metavar)
    @click.argument("version")
    @json_option
    @pass_cli
    def set_version(obj: CliContext, ident: str, version: str, as_json: bool) -> None:
        done = obj.services().registry.set_principal_version(
            principal_id(ident), _check_version(version, "VERSION")
        )
        text = f"{done.id} api-version={done.api_version}"
        _emit(as_json, shown(principal_resource(done)), text)

    return group


def _create_key(registry: Registry, org_id: str, *, name: str, **common: Any) -> Created:
    key, secret = registry.create_api_key(org_id, name=name, **common)
    text = f"{key.id}\nsecret: {secret}\n(shown once: store it now; only its hash is kept)"
    return key, {"secret": secret}, text


def _create_webhook(registry: Registry, org_id: str, *, url: str, **common: Any) -> Created:
    hook = registry.create_webhook(org_id, url=url, **common)
    return hook, {}, hook.id


cli.add_command(principal_group(PrincipalCommands(
    group="keys", help="API keys.", noun="API key", prefix="key", metavar="KEY",
    plural="api-keys", kind=ApiKey, create_help="Create an API key and print its secret, once.",
    create_options=(click.option("--name", default="", help="A name to recognise the key by."),),
    create=_create_key, label=lambda key: key.name,
)))
cli.add_command(principal_group(PrincipalCommands(
    group="webhooks", help="Webhooks.", noun="webhook", prefix="wbh", metavar="WBH",
    plural="webhooks", kind=Webhook, create_help="Create a webhook.",
    create_options=(
        click.option("--url", required=True, help="Where the main API delivers the webhook."),
    ),
    create=_create_webhook, label=lambda hook: hook.url,
)))


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
@json_option
@pass_cli
def upload(
    obj: CliContext, path: str, org: str, filename: str | None, content_type: str | None,
    as_json: bool,
) -> None:
    """Store a file and register it."""
    source = Path(path)
    name = filename if filename is not None else source.name
    kind = content_type or guess_content_type(name)
    services = obj.services()
    org_id = _need_id(org, "org", "--org")
    size = source.stat().st_size
    if sys.stderr.isatty() and not as_json:
        with click.progressbar(length=size, label="uploading", file=sys.stderr) as bar:
            file = store_file(
                services, org_id, _read_chunks(source, bar.update), filename=name,
                content_type=kind,
            )
    else:
        file = store_file(
            services, org_id, _read_chunks(source, lambda n: None), filename=name,
            content_type=kind,
        )
    _emit(as_json, shown(file_resource(file)), file.id)


@cli.command()
@click.argument("file")
@click.option("--key", "key_id", default=None, help="Mint as this API key (key_…).")
@click.option("--webhook", "webhook_id", default=None, help="Mint in a webhook's context.")
@click.option("--ttl", default=None, help="Shorter than the principal's file-url-ttl.")
@click.option("--attachment", is_flag=True, help="Content-Disposition: attachment.")
@click.option("--version", "version", default=None, help="API version (sets the URL style).")
@json_option
@pass_cli
def mint(
    obj: CliContext, file: str, key_id: str | None, webhook_id: str | None, ttl: str | None,
    attachment: bool, version: str | None, as_json: bool,
) -> None:
    """Print a download URL for FILE."""
    if (key_id is None) == (webhook_id is None):
        raise click.UsageError("give exactly one of --key or --webhook")
    services = obj.services()
    registry = services.registry
    principal: Principal
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
@json_option
@pass_cli
def versions(obj: CliContext, as_json: bool) -> None:
    """The API versions and their status."""
    settings = obj.get_settings()
    rows = versions_payload(
        utc_today(obj.get_clock().now()), settings.version_dates,
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
@pass_cli
def serve(obj: CliContext, bind: str, workers: int | None) -> None:
    """Serve the API and downloads with gunicorn on ``wsgi:app``."""
    services = obj.services()  # refuse to start here, in one line, rather than in every worker
    obj.close()
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


DEMO_TEXT = (
    "Hello from files_service!\n\n"
    "This file was served through a signed, expiring URL. Change one character of the\n"
    "access_token and the server refuses it; wait past its expiry and it is gone.\n"
)


@cli.command()
@json_option
@pass_cli
def demo(obj: CliContext, as_json: bool) -> None:
    """Create a demo organization, API key and file, and print a working URL."""
    services = obj.services()
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
