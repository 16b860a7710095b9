"""Fixtures for the API's property tests: a fuzz world with two organizations, so that a test
can check nothing of the other one ever leaks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from files_service.files import store_file
from files_service.registry.models import File, Webhook
from files_service.services import Services
from tests.conftest import World, make_world

REGISTRABLE_NAME = "report.csv"
"""An object put in our import folder by someone other than the service (the main API): the
one key registering may name (``Tenants.registrable_key``); everything else in storage is out
of reach."""


@dataclass
class Tenants:
    """The caller's organization (``ours``, pinned to 2025-06-01, with a webhook and a second
    file) and another one (``theirs``), whose files and webhook must stay out of reach."""

    ours: World
    theirs: World
    our_webhook: Webhook
    their_webhook: Webhook
    our_files: list[File]

    @property
    def our_file_ids(self) -> set[str]:
        return {file.id for file in self.our_files}

    @property
    def registrable_key(self) -> str:
        return f"imports/{self.ours.org.id}/{REGISTRABLE_NAME}"


@pytest.fixture
def tenants(services: Services) -> Tenants:
    ours = make_world(services)
    theirs = make_world(services, filename="theirs.txt", content=b"theirs",
                        content_type="text/plain")
    second = store_file(services, ours.org.id, iter([b"second"]), filename="second.txt",
                        content_type="text/plain", created_by=ours.key.id)
    services.storage.write(f"imports/{ours.org.id}/{REGISTRABLE_NAME}", [b"a,b\n1,2\n"])
    services.storage.write(f"imports/{theirs.org.id}/{REGISTRABLE_NAME}", [b"theirs\n"])
    return Tenants(
        ours=ours,
        theirs=theirs,
        our_webhook=services.registry.create_webhook(ours.org.id, url="https://ours.example/h"),
        their_webhook=services.registry.create_webhook(theirs.org.id,
                                                       url="https://theirs.example/h"),
        our_files=[ours.file, second],
    )

