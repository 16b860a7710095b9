"""The ``files-service`` command line (§8). It reads the same settings as the server.

Every command runs on a ``CliContext`` (click's ``obj``): the settings, by default read from
the environment, and a clock; tests pass their own, as flaskr's ``runner`` passes an app.
Every command that creates or shows something takes ``--json`` and then prints exactly one
JSON object on stdout, built by the API's own resource builders in the newest version's
shape, so that the two never disagree. Errors are one line on stderr and exit status 1.

Api-keys and webhooks are both principals: one factory (``principal_group``) makes the
``keys`` and ``webhooks`` groups.

Each command imports what it uses when it runs: Flask, SQLAlchemy and boto3 take most of a
second to load, which ``files-service --help`` and a mistyped command need not wait for.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from .errors import FilesError, NotFound, ValidationError
from .ids import SECRET_PREFIX, is_id

if TYPE_CHECKING:
    from .clock import Clock
    from .jsonapi import Resource
    from .registry import Registry
    from .registry.models import File, Principal
    from .services import Services
    from .settings import Settings
    from .versioning.resolve import RetiredPolicy

UPLOAD_CHUNK = 1024 * 1024
DEFAULT_TTL_HELP = "file-url-ttl in seconds, 1 to 86400 (default: 21600, six hours)."


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
            from .settings import Settings

            self.settings = Settings.from_env()
        return self.settings

    def get_clock(self) -> Clock:
        if self.clock is None:
            from .clock import SystemClock

            self.clock = SystemClock()
        return self.clock

    def services(self, *, check: bool = True) -> Services:
        """The services; with ``check`` the registry must be reachable and its schema
        current (``SchemaMissing`` says to run ``init``)."""
        if self._services is None:
            from .services import build_services

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
    """A command whose refusals end as one line on stderr and exit status 1: the domain's
    errors, and the system's (a file that cannot be read)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FilesError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(
                f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
            ) from None


class _Group(click.Group):
    command_class = _Command
    group_class = type  # subgroups are _Groups too


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout, for scripts."
)
org_option = click.option("--org", required=True, help="Organization id (org_…).")
file_argument = click.argument("file_id", metavar="FILE")
pass_cli = click.make_pass_decorator(CliContext)


def _emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(text)


def shown(resource: Resource) -> dict[str, Any]:
    """A resource as the API's newest version shows it, flattened for the command line: its
    id, its attributes, and the id (or null) of each to-one relationship."""
    from .versioning import BUNDLE, MigrationContext

    obj = BUNDLE.migrate_resource(resource.to_json(), BUNDLE.newest, MigrationContext())
    flat: dict[str, Any] = {"id": obj["id"], **obj["attributes"]}
    for name, relationship in obj.get("relationships", {}).items():
        linkage = relationship["data"]
        flat[name] = None if linkage is None else linkage["id"]
    return flat


def _shown_file(file: File) -> dict[str, Any]:
    from .api.resources import file_resource

    return shown(file_resource(file))


def _need_id(value: str, prefix: str, what: str) -> str:
    """``value``, where it is an id with ``prefix``; an error naming ``what`` otherwise, which
    never repeats an API key secret given by mistake (stderr may well be a CI log)."""
    if is_id(value, prefix):
        return value
    if value.startswith(SECRET_PREFIX):
        got = "an API key secret, which is not repeated here"
    else:
        got = repr(value if len(value) <= 40 else value[:37] + "...")
    raise ValidationError(what, f"must be an id like {prefix}_… (got {got})")


def _listed_org(obj: CliContext, org: str) -> tuple[Registry, str]:
    """The registry and the id ``--org`` gives, of an organization that exists: a listing of
    an unknown one is an error, not an empty list."""
    org_id = _need_id(org, "org", "--org")
    registry = obj.services().registry
    registry.get_organization(org_id)
    return registry, org_id


def _release(obj: CliContext, value: str, name: str) -> str:
    """The release the API would serve for ``value`` (§6: a date that is not a release means
    the release on or before it); one line naming ``name`` where the API would refuse it."""
    from .jsonapi import ApiError
    from .versioning import release_for, utc_today

    settings = obj.get_settings()
    try:
        return release_for(
            value, name=name, today=utc_today(obj.get_clock().now()),
            version_dates=settings.version_dates,
            retired_policy=cast("RetiredPolicy", settings.retired_versions),
            enable_unstable=settings.enable_unstable,
        )
    except ApiError as error:
        raise click.ClickException(error.detail) from None


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
    from .registry import SCHEMA_VERSION

    done = obj.services(check=False).registry.init()
    text = {
        "created": f"registry schema created (version {done.version})",
        "migrated": f"registry schema migrated from version {done.previous} to {done.version}",
        "current": f"registry schema is current (version {done.version}): nothing to do",
        "newer": f"registry schema is at version {done.version}, newer than this release's "
        f"{SCHEMA_VERSION}: left as it is",
    }[done.outcome]
    payload = {
        "status": done.outcome, "schema-version": done.version,
        "previous-schema-version": done.previous,
    }
    _emit(as_json, payload, text)


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
    from .api.resources import organization_resource

    org = obj.services().registry.create_organization(name)
    _emit(as_json, shown(organization_resource(org)), org.id)


@orgs.command("list")
@json_option
@pass_cli
def orgs_list(obj: CliContext, as_json: bool) -> None:
    """List every organization, oldest first."""
    from .api.resources import organization_resource

    found = [shown(organization_resource(org))
             for org in obj.services().registry.list_organizations()]
    lines = [f"{org['id']}  {org['created-at']}  {org['name']}" for org in found]
    _emit(as_json, {"organizations": found}, "\n".join(lines))


@orgs.command("set-quota")
@click.argument("org", metavar="ORG")
@click.argument("quota", metavar="BYTES|none")
@json_option
@pass_cli
def orgs_set_quota(obj: CliContext, org: str, quota: str, as_json: bool) -> None:
    """Set how many bytes an organization's files may take in all (none: no quota).

    Uploads and registrations past it are refused (403 quota_exceeded); a quota below what
    the organization stores already keeps its files and refuses new ones."""
    from .api.resources import organization_resource
    from .validation import validate_quota

    org_id, limit = _need_id(org, "org", "ORG"), validate_quota(quota, "BYTES")
    done = obj.services().registry.set_storage_quota(org_id, limit)
    shown_quota = "none" if done.storage_quota is None else f"{done.storage_quota} bytes"
    _emit(as_json, shown(organization_resource(done)),
          f"{done.id} storage-quota={shown_quota} storage-used={done.storage_used} bytes")


# -- principals: api keys and webhooks --------------------------------------------------------


Created = tuple["Principal", dict[str, Any], str]
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
    prefix: str  # of its ids: "key" or "wbh"
    metavar: str  # of its id argument
    plural: str  # the key of a list in --json
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

    def json_of(principal: Principal) -> dict[str, Any]:
        from .api.resources import principal_resource

        return shown(principal_resource(principal))

    def create(
        obj: CliContext, org: str, ttl: str | None, version: str | None, as_json: bool,
        **own: Any,
    ) -> None:
        from .validation import validate_ttl

        org_id = _need_id(org, "org", "--org")
        common: dict[str, Any] = {}
        if ttl is not None:
            common["file_url_ttl"] = validate_ttl(ttl, "--ttl")
        if version is not None:
            common["api_version"] = _release(obj, version, "--version")
        made, extra, text = spec.create(obj.services().registry, org_id, **common, **own)
        _emit(as_json, {**json_of(made), **extra}, text)

    options = [
        org_option,
        *spec.create_options,
        click.option("--ttl", default=None, help=DEFAULT_TTL_HELP),
        click.option("--version", "version", default=None, help="Pin an API version now."),
        json_option,
        pass_cli,
    ]
    for option in reversed(options):
        create = option(create)
    group.command("create", help=spec.create_help)(create)

    @group.command("list", help=f"List an organization's {noun}s.")
    @org_option
    @json_option
    @pass_cli
    def list_(obj: CliContext, org: str, as_json: bool) -> None:
        from .registry.models import ApiKey, Webhook

        registry, org_id = _listed_org(obj, org)
        found = registry.list_principals(org_id, ApiKey if spec.prefix == "key" else Webhook)
        lines = [
            f"{p.id}  {p.status:<8} ttl={p.file_url_ttl:<6} version={p.api_version or '-':<10} "
            f"{spec.label(p)}" for p in found
        ]
        _emit(as_json, {spec.plural: [json_of(p) for p in found]}, "\n".join(lines))

    @group.command(
        "revoke", help=f"Revoke the {noun} {metavar} for good: it stops working and the URLs "
        "minted for it die.",
    )
    @click.argument("ident", metavar=metavar)
    @json_option
    @pass_cli
    def revoke(obj: CliContext, ident: str, as_json: bool) -> None:
        ident = principal_id(ident)
        done = obj.services().registry.revoke_principal(ident)
        _emit(as_json, json_of(done), f"{done.id} revoked")

    @group.command("set-ttl", help=f"Set the file-url-ttl of {metavar} (1 to 86400 seconds).")
    @click.argument("ident", metavar=metavar)
    @click.argument("seconds")
    @json_option
    @pass_cli
    def set_ttl(obj: CliContext, ident: str, seconds: str, as_json: bool) -> None:
        from .validation import validate_ttl

        ident, ttl = principal_id(ident), validate_ttl(seconds, "SECONDS")
        done = obj.services().registry.set_principal_ttl(ident, ttl)
        _emit(as_json, json_of(done), f"{done.id} file-url-ttl={done.file_url_ttl}")

    @group.command(
        "set-version",
        help=f"Pin {metavar} to an API version: the one a request that names none is served.",
    )
    @click.argument("ident", metavar=metavar)
    @click.argument("version")
    @json_option
    @pass_cli
    def set_version(obj: CliContext, ident: str, version: str, as_json: bool) -> None:
        ident, release = principal_id(ident), _release(obj, version, "VERSION")
        done = obj.services().registry.set_principal_version(ident, release)
        _emit(as_json, json_of(done), f"{done.id} api-version={done.api_version}")

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
    plural="api-keys", create_help="Create an API key and print its secret, once.",
    create_options=(click.option("--name", default="", help="A name to recognise the key by."),),
    create=_create_key, label=lambda key: key.name,
)))
cli.add_command(principal_group(PrincipalCommands(
    group="webhooks", help="Webhooks.", noun="webhook", prefix="wbh", metavar="WBH",
    plural="webhooks", create_help="Create a webhook.",
    create_options=(
        click.option("--url", required=True, help="Where the main API delivers the webhook."),
    ),
    create=_create_webhook, label=lambda hook: hook.url,
)))


# -- files ------------------------------------------------------------------------------------


@cli.group("files")
def files_group() -> None:
    """Files, for an operator: no API key needed."""


@files_group.command("list")
@org_option
@json_option
@pass_cli
def files_list(obj: CliContext, org: str, as_json: bool) -> None:
    """List an organization's files, newest first."""
    registry, org_id = _listed_org(obj, org)
    found: list[File] = []
    cursor: str | None = None
    while True:
        page, cursor = registry.list_files(org_id, limit=100, after=cursor)
        found += page
        if cursor is None:
            break
    payload = [_shown_file(file) for file in found]
    lines = [
        f"{file['id']}  {file['byte-size']:>12}  {file['created-at']}  {file['filename']}"
        for file in payload
    ]
    _emit(as_json, {"files": payload}, "\n".join(lines))


@files_group.command("show")
@file_argument
@json_option
@pass_cli
def files_show(obj: CliContext, file_id: str, as_json: bool) -> None:
    """Show a file (its URLs are minted with `mint`)."""
    file_id = _need_id(file_id, "file", "FILE")  # before the registry is asked anything
    payload = _shown_file(obj.services().registry.get_file(file_id))
    lines = [
        f"{name + ':':<14} {'-' if value is None else value}" if not isinstance(value, dict)
        else f"{name + ':':<14} {json.dumps(value, ensure_ascii=False)}"
        for name, value in payload.items()
    ]
    _emit(as_json, payload, "\n".join(lines))


@files_group.command("delete")
@file_argument
@json_option
@pass_cli
def files_delete(obj: CliContext, file_id: str, as_json: bool) -> None:
    """Delete a file and its object, as the API's DELETE does: every URL to it dies."""
    from .files import delete_file

    file_id = _need_id(file_id, "file", "FILE")
    file = delete_file(obj.services(), file_id)
    _emit(as_json, _shown_file(file), f"{file.id} deleted")


def _read_chunks(path: Path, progress: Callable[[int], None]) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(UPLOAD_CHUNK):
            progress(len(chunk))
            yield chunk


@cli.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@org_option
@click.option("--filename", default=None, help="Name to store (default: the file's name).")
@click.option("--content-type", default=None, help="Media type (default: guessed).")
@json_option
@pass_cli
def upload(
    obj: CliContext, path: str, org: str, filename: str | None, content_type: str | None,
    as_json: bool,
) -> None:
    """Store a file and register it."""
    from .files import guess_content_type, store_file

    source = Path(path)
    name = filename if filename is not None else source.name
    kind = content_type or guess_content_type(name)
    org_id = _need_id(org, "org", "--org")
    services = obj.services()
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
    _emit(as_json, _shown_file(file), file.id)


@cli.command()
@click.argument("file")
@click.option("--key", "key_id", default=None, help="Mint as this API key (key_…).")
@click.option("--webhook", "webhook_id", default=None, help="Mint in a webhook's context.")
@click.option("--ttl", default=None, help="Shorter than the principal's file-url-ttl.")
@click.option("--attachment", is_flag=True, help="Content-Disposition: attachment.")
@click.option(
    "--version", "version", default=None,
    help="API version (sets the URL style); a date means the release on or before it.",
)
@json_option
@pass_cli
def mint(
    obj: CliContext, file: str, key_id: str | None, webhook_id: str | None, ttl: str | None,
    attachment: bool, version: str | None, as_json: bool,
) -> None:
    """Print a download URL for FILE."""
    from .minting import effective_ttl, style_for_version
    from .registry.models import ACTIVE, ApiKey, Webhook
    from .timefmt import iso
    from .validation import validate_ttl
    from .versioning import BUNDLE

    if (key_id is None) == (webhook_id is None):
        raise click.UsageError("give exactly one of --key or --webhook")
    # The arguments first: a bad one is refused before the registry is asked anything.
    file = _need_id(file, "file", "FILE")
    kind: type[Principal]
    if key_id is not None:
        kind, principal_id = ApiKey, _need_id(key_id, "key", "--key")
    else:
        kind, principal_id = Webhook, _need_id(webhook_id or "", "wbh", "--webhook")
    chosen = None if version is None else _release(obj, version, "--version")
    requested = None if ttl is None else validate_ttl(ttl, "--ttl")
    services = obj.services()
    registry = services.registry
    principal = registry.get_principal(principal_id, kind)
    if principal.status != ACTIVE:
        raise ValidationError(principal.id, "is revoked; it cannot mint URLs")
    record = registry.get_file(file)
    if record.organization_id != principal.organization_id:
        raise NotFound("file", file)
    minted = services.minter.mint(
        record, principal,
        style=style_for_version(chosen or principal.api_version or BUNDLE.newest),
        disposition="attachment" if attachment else "inline",
        ttl=effective_ttl(principal, requested, "--ttl"),
    )
    services.metrics.urls_minted.labels(minted.style).inc()
    _emit(
        as_json,
        {"url": minted.url, "expires-at": iso(minted.expires_at), "style": minted.style},
        minted.url,
    )


@cli.command("upload-url")
@click.option("--key", "key_id", default=None, help="Mint as this API key (key_…).")
@click.option("--webhook", "webhook_id", default=None, help="Mint in a webhook's context.")
@click.option("--filename", required=True, help="The name the uploaded file will have.")
@click.option(
    "--content-type", default=None,
    help="The types the upload may have: an exact type, or a pattern like image/*.",
)
@click.option("--max-bytes", default=None, help="The largest file the URL takes (bytes).")
@click.option("--ttl", default=None, help="Seconds the URL lives (default 3600).")
@json_option
@pass_cli
def upload_url(
    obj: CliContext, key_id: str | None, webhook_id: str | None, filename: str,
    content_type: str | None, max_bytes: str | None, ttl: str | None, as_json: bool,
) -> None:
    """Print a signed upload URL: a browser PUTs (or POSTs a form) to it, once."""
    from .registry.models import ACTIVE, ApiKey, Webhook
    from .timefmt import iso
    from .upload_urls import mint_upload_url
    from .validation import validate_ttl, whole_number

    if (key_id is None) == (webhook_id is None):
        raise click.UsageError("give exactly one of --key or --webhook")
    kind: type[Principal]
    if key_id is not None:
        kind, principal_id = ApiKey, _need_id(key_id, "key", "--key")
    else:
        kind, principal_id = Webhook, _need_id(webhook_id or "", "wbh", "--webhook")
    requested = None if ttl is None else validate_ttl(ttl, "--ttl")
    size: int | None = None
    if max_bytes is not None:
        size = whole_number(max_bytes)
        if size is None:
            raise ValidationError("--max-bytes", "must be a whole number of bytes")
    services = obj.services()
    principal = services.registry.get_principal(principal_id, kind)
    if principal.status != ACTIVE:
        raise ValidationError(principal.id, "is revoked; it cannot mint URLs")
    try:
        minted = mint_upload_url(
            services, principal, principal if isinstance(principal, ApiKey) else None,
            filename=filename, content_type=content_type, max_bytes=size, ttl=requested,
        )
    except ValidationError as exc:
        option = {"url-ttl": "--ttl"}.get(exc.field, f"--{exc.field}")
        raise ValidationError(option, exc.message) from None
    _emit(as_json, {
        "url": minted.url, "expires-at": iso(minted.expires_at), "file-id": minted.file_id,
        "filename": minted.filename, "content-type": minted.content_type,
        "max-bytes": minted.max_bytes,
    }, minted.url)


@cli.command()
@json_option
@pass_cli
def versions(obj: CliContext, as_json: bool) -> None:
    """The API versions and their status."""
    from .versioning import utc_today, versions_payload

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
@json_option
@pass_cli
def edge_config(
    obj: CliContext, out: Path, listen: str, upstreams: tuple[str, ...], internal: str | None,
    conns_per_address: int,
    as_json: bool,
) -> None:
    """Write the front tier's nginx configuration for the current settings (SPEC §9)."""
    from .edge.config import EdgeOptions, write

    settings = obj.get_settings()
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
@json_option
@pass_cli
def demo(obj: CliContext, as_json: bool) -> None:
    """Create a demo organization, API key and file, and print a working URL."""
    from .files import store_file
    from .timefmt import iso
    from .versioning import BUNDLE

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
