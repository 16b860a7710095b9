"""The production layout of docs/operations.md: two replicas of the service on PostgreSQL and
S3, one front tier in front of both (``--upstream`` once per replica). Downloads, the API and
the lookup keep working when one replica goes away; a revocation made through one replica is
seen at the edge within the cache's life."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from files_service.files import store_file
from files_service.storage import S3Storage
from tests.edge.conftest import TOKEN, start_edge
from tests.edge.test_parity import send
from tests.registry.conftest import PG_ENV, isolated_postgres_url
from tests.servers import AWS_ENV, Server, free_port, s3_client, server_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} is not set"),
]


def test_two_replicas_on_postgresql_and_s3_behind_one_edge(
    tmp_path: Path, moto_endpoint: str
) -> None:
    bucket = f"replicas-{uuid.uuid4().hex}"
    s3_client(moto_endpoint).create_bucket(Bucket=bucket)
    with isolated_postgres_url(os.environ[PG_ENV]) as database:
        replicas = []
        for name in ("one", "two"):
            port = free_port()
            env = server_env(
                tmp_path / name, port, FILES_DATABASE_URL=database,
                FILES_STORAGE=f"s3://{bucket}/prod", FILES_S3_ENDPOINT_URL=moto_endpoint,
                FILES_TRUSTED_PROXIES="1", FILES_REGISTRY_CACHE_SECONDS="2", **AWS_ENV,
            )
            (tmp_path / name).mkdir()
            replicas.append(Server(f"http://127.0.0.1:{port}", env, tmp_path / name / "log"))
        replicas[0].cli("init")
        edge = start_edge(tmp_path / "edge", replicas[0].env,
                          *[arg for r in replicas for arg in ("--upstream", r.base)])
        services = replicas[0].services(storage=S3Storage(
            bucket, "prod", client=s3_client(moto_endpoint)))
        tokens: list[str] = []
        try:
            for replica in replicas:
                replica.start(workers=1)
            org = services.registry.create_organization("Replicated")
            key, secret = services.registry.create_api_key(org.id, name="main",
                                                           api_version="2025-06-01")
            auth = (("Authorization", f"Bearer {secret}"),)

            def mint(name: str) -> str:
                file = store_file(services, org.id, iter([name.encode()]), filename=name,
                                  content_type="text/plain")
                url = services.minter.mint(file, key).url.replace(replicas[0].base, edge.base)
                tokens.extend(TOKEN.findall(url))
                return url.removeprefix(edge.base)

            first = mint("first.txt")
            assert send(edge.base, "GET", first, ())[2] == b"first.txt"
            for _ in range(6):  # both replicas answer the API
                assert send(edge.base, "GET", "/api/v1/files", auth)[0] == 200
            assert all("GET /api/v1/files" in r.log.read_text() for r in replicas)

            replicas[0].stop()
            second = mint("second.txt")  # a lookup the edge has never made
            assert send(edge.base, "GET", second, ())[2] == b"second.txt"
            for _ in range(4):
                assert send(edge.base, "GET", "/api/v1/files", auth)[0] == 200
            assert send(edge.internal, "GET", "/readyz", ())[0] == 200

            # Revoked in the registry the replicas share: the edge sees it within its
            # cache's life.
            services.registry.revoke_principal(key.id)
            deadline = time.monotonic() + 2 + 3
            while send(edge.base, "GET", second, ())[0] == 200:
                assert time.monotonic() < deadline, "still served past the cache's life"
                time.sleep(0.1)  # polling nginx's wall-clock cache
            status, _, body = send(edge.base, "GET", second, ())
            assert status == 403 and b"revoked_token" in body
        finally:
            for replica in replicas:
                replica.stop()
            edge.stop()
            services.close()
        logs = edge.logs()
        assert not [t for t in tokens if t in logs] and secret not in logs
