FROM python:3.11-slim

RUN useradd --create-home --uid 10001 files
WORKDIR /app
# requirements.lock: every transitive dependency pinned with its hashes (make lock).
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY setup.cfg pyproject.toml README.md wsgi.py ./
COPY files_service ./files_service
RUN pip install --no-cache-dir --no-deps . && mkdir -p /app/var && chown files:files /app/var

USER files
ENV FILES_ENV=production
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["gunicorn", "-c", "python:files_service.gunicorn_conf", "--bind", "0.0.0.0:8000", "wsgi:app"]
