"""The front tier for real: ``files-service serve`` (gunicorn, stream mode) on a free loopback
port, and Debian's nginx started from what ``files-service edge-config`` writes for the same
settings, in front of it. The service's parts are built in-process too, on the same database
and storage, so that tests seed files and mint URLs directly.

Every token a stack mints is remembered; when the stack stops, none of them (nor anything
shaped like a token) may be in any of nginx's logs."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from files_service.clock import Clock
from files_service.files import store_file
from files_service.redact import TOKEN_PATTERN
from files_service.registry.models import ApiKey, File, Organization, Principal
from files_service.services import Services
from files_service.storage import S3Storage
from tests import servers
from tests.servers import (
    AWS_ENV,
    JS_MODULE,
    NGINX,
    Edge,
    Server,
    free_port,
    s3_client,
    server_env,
)

TOKEN = re.compile(TOKEN_PATTERN)


def need_nginx() -> None:
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian package nginx; .ci/run installs it)")
    if not JS_MODULE.exists():
        pytest.skip("njs is not installed (Debian package libnginx-mod-http-js; .ci/run "
                    "installs it)")


def start_edge(prefix: Path, env: dict[str, str], *args: str) -> Edge:
    """``tests.servers.start_edge``, skipped where nginx or njs is missing."""
    need_nginx()
    return servers.start_edge(prefix, env, *args)


@dataclass
class Stack:
    """The service, the edge in front of it, and the service's parts in this process."""

    server: Server
    edge: Edge
    services: Services
    org: Organization
    key: ApiKey
    secret: str
    tokens: list[str] = field(default_factory=list)

    def store(self, filename: str, content: bytes = b"x",
              content_type: str = "application/octet-stream") -> File:
        return store_file(
            self.services, self.org.id, iter([content]), filename=filename,
            content_type=content_type,
        )

    def url(self, file: File, *, key: Principal | None = None, **kw: Any) -> str:
        """A URL minted for ``file`` (by the stack's key), pointing at the edge."""
        url = self.services.minter.mint(file, key or self.key, **kw).url
        self.remember(url)
        return url

    def remember(self, url: str) -> None:
        for token in parse_qs(urlsplit(url).query).get("access_token", []):
            self.tokens.append(token)
        self.tokens.extend(TOKEN.findall(urlsplit(url).path))

    def direct(self, url: str) -> str:
        """The same URL on the service itself."""
        return url.replace(self.edge.base, self.server.base, 1)

    def stop(self) -> None:
        self.edge.stop()
        self.server.stop()
        self.services.close()

    def assert_no_token_in_logs(self) -> None:
        logs = self.edge.logs()
        leaked = [token for token in self.tokens if token in logs]
        assert not leaked, f"{len(leaked)} tokens in nginx's logs"
        # ...nor a token's signature, however the rest of it was spelt (encoded, say).
        signatures = [token for token in self.tokens
                      if max(re.split(r"[._-]", token.rsplit(".", 1)[-1]), key=len) in logs]
        assert not signatures, f"{len(signatures)} token signatures in nginx's logs"
        assert not TOKEN.search(logs), "a token-shaped string in nginx's logs"
        assert "access_token=" not in logs
        assert self.secret not in logs


def make_stack(
    root: Path, *, storage: str = "local", moto_endpoint: str | None = None,
    clock: Clock | None = None, workers: int = 1, edge_args: tuple[str, ...] = (),
    **settings: str,
) -> Stack:
    """A service and its edge under ``root``; ``settings`` are ``FILES_*`` overrides."""
    need_nginx()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = server_env(root, port, FILES_TRUSTED_PROXIES="1", **settings)
    in_process = None
    if storage == "s3":
        assert moto_endpoint is not None
        client = s3_client(moto_endpoint)
        bucket = f"edge-{uuid.uuid4().hex}"
        client.create_bucket(Bucket=bucket)
        in_process = S3Storage(bucket, "objects", client=client)
        env.update(AWS_ENV, FILES_STORAGE=f"s3://{bucket}/objects",
                   FILES_S3_ENDPOINT_URL=moto_endpoint)
    server = Server(f"http://127.0.0.1:{port}", env, root / "server.log")
    server.cli("init")
    edge = start_edge(root / "edge", env, "--upstream", server.base, *edge_args)
    # Minted URLs point at the edge, as in production.
    for name in ("FILES_DOWNLOAD_BASE_URL", "FILES_API_BASE_URL"):
        env[name] = edge.base
    services = server.services(clock=clock, storage=in_process)
    org = services.registry.create_organization("Edge")
    key, secret = services.registry.create_api_key(org.id, name="edge", api_version="2025-06-01")
    try:
        server.start(workers=workers)
    except BaseException:
        edge.stop()
        raise
    return Stack(server, edge, services, org, key, secret)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Stack]]:
    """Make stacks that live for the module; each checks its logs when it stops."""
    made: list[Stack] = []

    def make(**kw: Any) -> Stack:
        stack = make_stack(tmp_path_factory.mktemp("edge"), **kw)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()
    for stack in made:
        stack.assert_no_token_in_logs()


def njs_binary() -> str | None:
    return shutil.which("njs")
