"""The baselines every figure is a ratio to, built and run by the harness itself (the table in
docs/benchmarks.md says what each stands for): raw HMAC-SHA256, a bare itsdangerous
``URLSafeTimedSerializer``, boto3's presigned URLs and ``GetObject``, the naive Flask app, and
nginx ``secure_link`` with ``sendfile``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Flask, abort, request, send_file
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer

MIB = 1024 * 1024
NAIVE_SALT = "naive-download"
SECURE_PREFIX = "/files/"


def raw_hmac(key: bytes, *, oneshot: bool = False) -> Callable[[bytes], bytes]:
    """``hmac.new(key, message, sha256).digest()``: the least any HMAC-SHA256 token costs;
    with ``oneshot``, ``hmac.digest`` (the C one-shot, no HMAC object), for context."""
    if oneshot:
        return lambda message: hmac.digest(key, message, "sha256")
    return lambda message: hmac.new(key, message, hashlib.sha256).digest()


def bare_serializer(secret: bytes, salt: str, *, sha256: bool = True) -> URLSafeTimedSerializer:
    """A ``URLSafeTimedSerializer`` as the itsdangerous docs set one up; with ``sha256`` its
    signer uses HMAC-SHA256 like the service (itsdangerous's own default is SHA-1)."""
    kwargs: dict[str, Any] = {"digest_method": hashlib.sha256} if sha256 else {}
    return URLSafeTimedSerializer(secret, salt=salt, signer_kwargs=kwargs)


def presign(client: Any, bucket: str, key: str, expires_in: int) -> str:
    """A presigned ``GetObject`` URL, as S3 users mint download links (local computation)."""
    url: str = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )
    return url


def read_object(client: Any, bucket: str, key: str) -> tuple[int, float]:
    """``GetObject`` and read the body to the end in 1 MiB chunks: (bytes, seconds)."""
    began = time.perf_counter()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        total = sum(len(chunk) for chunk in body.iter_chunks(MIB))
    finally:
        body.close()
    return total, time.perf_counter() - began


def naive_mint(secret: str, storage_key: str, filename: str, content_type: str) -> str:
    """A token of the naive app. It carries the storage key, the filename and the content type,
    so that its view needs no database: the most favourable case for the baseline."""
    claims = {"k": storage_key, "n": filename, "t": content_type}
    return str(URLSafeTimedSerializer(secret, salt=NAIVE_SALT).dumps(claims))


def naive_app(root: str | None = None, secret: str | None = None) -> Flask:
    """The naive app on the storage root ``root``: ``/<filename>?token=<token>``. Gunicorn's
    target is ``bench.baselines:naive_app()``, which reads ``BENCH_NAIVE_ROOT`` and
    ``BENCH_NAIVE_SECRET``."""
    root = root or os.environ["BENCH_NAIVE_ROOT"]
    signer = URLSafeTimedSerializer(secret or os.environ["BENCH_NAIVE_SECRET"], salt=NAIVE_SALT)
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return "ok\n"

    @app.get("/<filename>")
    def download(filename: str) -> ResponseReturnValue:
        try:
            claims = signer.loads(request.args.get("token", ""), max_age=6 * 3600)
        except BadSignature:  # SignatureExpired is one too
            abort(403)
        if claims.get("n") != filename:
            abort(403)
        return send_file(os.path.join(root, claims["k"]), mimetype=claims["t"],
                         download_name=filename)

    return app


def secure_link_server(port: int, root: str, secret: str) -> str:
    """An nginx server on ``port`` sending the files under ``root`` to ``secure_link`` URLs."""
    return f"""
    server {{
        listen 127.0.0.1:{port};
        location = /healthz {{ return 200 "ok\\n"; }}
        location {SECURE_PREFIX} {{
            secure_link $arg_md5,$arg_expires;
            secure_link_md5 "$secure_link_expires$uri {secret}";
            if ($secure_link = "") {{ return 403; }}
            if ($secure_link = "0") {{ return 410; }}
            alias {root}/;
        }}
    }}"""


def secure_link_path(storage_key: str, secret: str, expires: int) -> str:
    """The path and query of a secure_link URL to ``storage_key``: ``md5`` is the URL-safe
    base64 (unpadded) of MD5(expires + URI + " " + secret), as the nginx docs build it."""
    # nginx hashes $uri, the decoded path; the URL carries it percent-encoded.
    uri = SECURE_PREFIX + storage_key
    digest = hashlib.md5(f"{expires}{uri} {secret}".encode(), usedforsecurity=False).digest()
    md5 = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return f"{SECURE_PREFIX}{quote(storage_key)}?md5={md5}&expires={expires}"
