"""The naive baseline: what a team would write in an afternoon. A Flask view that checks an
itsdangerous ``URLSafeTimedSerializer`` token and calls ``send_file``; no registry, no
revocation, no ranges beyond Werkzeug's, none of the service's headers. Run under the
service's own gunicorn settings (:mod:`bench.baselines.naive_gunicorn_conf`)::

    BENCH_NAIVE_ROOT=<storage root> BENCH_NAIVE_SECRET=<secret> \\
    gunicorn -c python:bench.baselines.naive_gunicorn_conf --workers 2 \\
        'bench.baselines.naive_flask:from_env()'

URLs are ``/<filename>?token=<token>``, the token carrying the storage key, the filename and the
content type (so the view needs no database: the most favourable case for the baseline)."""

from __future__ import annotations

import os

from flask import Flask, abort, request, send_file
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "naive-download"
MAX_AGE = 6 * 3600


def serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def mint(secret: str, storage_key: str, filename: str, content_type: str) -> str:
    """A token for the naive app (the harness mints these in-process)."""
    return str(serializer(secret).dumps({"k": storage_key, "n": filename, "t": content_type}))


def create_app(root: str, secret: str) -> Flask:
    app = Flask(__name__)
    signer = serializer(secret)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return "ok\n"

    @app.get("/<filename>")
    def download(filename: str) -> ResponseReturnValue:
        try:
            claims = signer.loads(request.args.get("token", ""), max_age=MAX_AGE)
        except BadSignature:  # SignatureExpired is one too
            abort(403)
        if claims.get("n") != filename:
            abort(403)
        return send_file(
            os.path.join(root, claims["k"]), mimetype=claims["t"], download_name=filename
        )

    return app


def from_env() -> Flask:
    """The app gunicorn loads: ``bench.baselines.naive_flask:from_env()``."""
    return create_app(os.environ["BENCH_NAIVE_ROOT"], os.environ["BENCH_NAIVE_SECRET"])
