# files_service: gunicorn on wsgi:app (through `files-service serve`) as a non-root user.
# BASE is any Debian-like image with Python 3.11+ (`python3 -m venv`, `useradd`): the official
# Python image by default; the image test builds one from Debian's own packages (debootstrap).
#   DOCKER_BUILDKIT=1 docker build --build-arg BASE=… -t files-service .
ARG BASE=python:3.11-slim
FROM ${BASE}

RUN useradd --create-home --uid 10001 files && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# requirements.lock: every dependency, and the build backend, pinned with its hashes (make
# lock), installed as wheels only: no compiler needed. Behind a proxy that re-signs TLS, give
# pip its CA bundle as a build secret: --secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt
COPY requirements.lock ./
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
    && pip install --no-cache-dir --only-binary :all: --require-hashes -r requirements.lock
COPY setup.cfg pyproject.toml README.md wsgi.py ./
COPY files_service ./files_service
RUN pip install --no-cache-dir --no-index --no-deps --no-build-isolation . \
    && rm -rf build files_service.egg-info \
    && mkdir -p /app/var && chown files:files /app/var

USER files
# FILES_WORKERS: gunicorn worker processes (8 threads each). docs/operations.md has the rest.
ENV FILES_ENV=production FILES_VAR_DIR=/app/var FILES_WORKERS=2
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["files-service", "serve", "--bind", "0.0.0.0:8000"]
