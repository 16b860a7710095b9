"""The curl examples of docs/api.md and docs/versions.md work.

Each ``curl`` line of the docs' ``sh`` blocks is run against the app through the test client
(translated from curl's options), with the variables the docs' "Try it" section sets (``API``,
``KEY``, ``FILE``, ``ORG``, ``WEBHOOK``). A line ending in ``# -> NNN`` must answer that status;
every other line a 2xx. ``NAME=$(curl … | python3 -c '…')`` lines are run too, their output kept
in ``NAME`` for the lines after them, as a shell would. ``tests/e2e/test_readme.py`` runs the
same blocks word for word in bash against ``make run``, with the README's.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

import pytest

from files_service.services import Services
from tests.api.conftest import ApiClient, Part, multipart
from tests.conftest import World

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "docs" / "api.md", REPO / "docs" / "versions.md"]
_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
_CAPTURE = re.compile(r"^([A-Z_]+)=\$\((curl .*?) \| (python3 -c '.*')\)$")
_EXPECT = re.compile(r"#\s*->\s*(\d{3})\s*$")


def examples(path: Path) -> list[str]:
    lines = []
    for block in _BLOCK.findall(path.read_text(encoding="utf-8")):
        lines += [line.strip() for line in block.splitlines()
                  if line.strip().startswith("curl ") or _CAPTURE.match(line.strip())]
    return lines


def run_curl(api: ApiClient, command: str, variables: dict[str, str]) -> tuple[int, bytes]:
    """Run one curl command line against the app: (status, body)."""
    words = [Template(word).safe_substitute(variables)
             for word in shlex.split(command, comments=True)]
    assert words[0] == "curl"
    method, headers, data, parts, url = None, {}, None, [], None
    it = iter(words[1:])
    for word in it:
        if word in ("-s", "-S", "-sS", "-i", "-g", "--globoff"):
            continue
        if word in ("-o", "-w"):
            next(it)
        elif word == "-X":
            method = next(it)
        elif word == "-H":
            name, _, value = next(it).partition(":")
            headers[name.strip()] = value.strip()
        elif word in ("-d", "--data", "--data-binary"):
            value = next(it)
            data = (REPO / value[1:]).read_bytes() if value.startswith("@") else value.encode()
        elif word == "-F":
            parts.append(form_part(next(it)))
        elif word.startswith("-"):
            raise AssertionError(f"the docs use a curl option this test does not know: {word}")
        else:
            url = word
    assert url is not None and "$" not in url, f"unset variable in {command}"
    if parts:
        data, headers["Content-Type"] = multipart(parts)
    method = method or ("POST" if data is not None else "GET")
    split = urlsplit(url)
    path = split.path + (f"?{split.query}" if split.query else "")
    client = ApiClient(api.app, api.validate)  # the docs send their own Authorization
    response = client.request(method, path, headers=headers, data=data)
    return response.status_code, response.data


def form_part(spec: str) -> Part:
    """One curl ``-F`` argument: ``name=value`` or ``name=@file``, with ``;type=``."""
    name, _, rest = spec.partition("=")
    value, *options = rest.split(";")
    content_type = None
    for option in options:
        key, _, option_value = option.partition("=")
        if key.strip() == "type":
            content_type = option_value.strip()
    if value.startswith("@"):
        file = REPO / value[1:]
        return Part(name, file.read_bytes(), file.name, content_type)
    return Part(name, value.encode(), None, content_type)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_curl_examples_work(doc: Path, api: ApiClient, world: World, services: Services):
    hook = services.registry.create_webhook(world.org.id, url="https://example.com/hook",
                                            file_url_ttl=600)
    services.storage.write(f"imports/{world.org.id}/report.txt", [b"made by the main API\n"])
    variables = {"API": "http://127.0.0.1:8000/api/v1", "KEY": world.secret,
                 "FILE": world.file.id, "ORG": world.org.id, "WEBHOOK": hook.id}
    lines = examples(doc)
    assert len(lines) >= 4
    for line in lines:
        capture = _CAPTURE.match(line)
        command = capture.group(2) if capture else line
        status, body = run_curl(api, command, variables)
        expected = _EXPECT.search(line)
        if expected:
            assert status == int(expected.group(1)), (line, body)
        else:
            assert 200 <= status < 300, (line, status, body)
        if capture:
            code = shlex.split(capture.group(3))[2]
            out = subprocess.run([sys.executable, "-c", code], input=body, capture_output=True,
                                 check=True)
            value = out.stdout.decode().strip()
            variables[capture.group(1)] = urlsplit(value).path if "://" in value else value
            if capture.group(1) == "URL":  # the legacy download the docs then make
                assert value.startswith("https://api.example.com/api/v1/files/")

