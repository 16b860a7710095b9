"""Errors outside the API and download paths are JSON:API documents too, and an unexpected
exception is a plain 500 whose log line carries no secret."""

from __future__ import annotations

import json
import logging

import pytest

from files_service.redact import RedactingFilter, redact

TOKEN = "k1.file_AAAAAAAAAAAAAAAAAAAAAA.key_BBBBBBBBBBBBBBBBBBBBBB.1767246000.i.SIGSIGSIG"


def test_unknown_path_is_a_json_404(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    assert json.loads(response.data)["errors"][0]["code"] == "not_found"


def test_wrong_method_is_a_json_405_with_allow(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",  # the app's own route
        "/api/v1/versions",  # the API
        "/report.pdf?access_token=x",  # a download
        "/api/v1/files/k1.x/report.pdf",  # a legacy download
    ],
)
def test_every_edge_answers_a_wrong_method_alike(client, world, path):
    """One renderer for every edge: the same document, headers and Allow, whoever answers."""
    response = client.put(path, headers={"Authorization": f"Bearer {world.secret}"})
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Length"] == str(len(response.data))
    assert response.headers["Allow"].isupper() and "GET" in response.headers["Allow"]
    (error,) = json.loads(response.data)["errors"]
    assert (error["status"], error["code"], error["title"]) == (
        "405", "method_not_allowed", "Method not allowed"
    )
    assert error["detail"].startswith(("This method is not allowed here.", "Downloads answer"))


def test_unexpected_exception_is_a_plain_500(app, caplog):
    @app.get("/x/boom")
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError(f"failed near access_token={TOKEN}")

    client = app.test_client()
    response = client.get("/x/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "RuntimeError" not in body and TOKEN not in body
    assert json.loads(body)["errors"][0]["code"] == "internal_error"


def test_redaction_of_urls_paths_and_keys():
    line = (
        f"GET /report.pdf?access_token={TOKEN}&x=1 /api/v1/files/{TOKEN}/report.pdf "
        "Authorization: Bearer fsk_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    )
    clean = redact(line)
    assert TOKEN not in clean and "SIGSIG" not in clean
    assert "fsk_abcdef" not in clean
    assert "/report.pdf" in clean and "x=1" in clean


def test_the_log_filter_redacts_messages_and_tracebacks():
    try:
        raise ValueError(f"bad token {TOKEN} in /api/v1/files/{TOKEN}/a.txt")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "files_service", logging.ERROR, __file__, 1, "serving %s", (f"?access_token={TOKEN}",),
            sys.exc_info(),
        )
    RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "SIGSIG" not in text
    assert "ValueError" in text


def test_status_lines_carry_the_standard_reason_phrases(client):
    """Werkzeug would say ``404 NOT FOUND``; RFC 9110 §15 says ``404 Not Found``."""
    assert client.get("/no/such/thing").status == "404 Not Found"
    assert client.post("/healthz").status == "405 Method Not Allowed"
    assert client.get("/healthz").status == "200 OK"
    assert client.get("/api/v1/files").status == "401 Unauthorized"
