"""The dependency pins: requirements.lock (hashes, for production images) must pin exactly
what requirements.txt pins, and every pin must be exact."""

from __future__ import annotations

import re

from tests.servers import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)")


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        match = PIN.match(line.strip())
        if match:
            name = re.sub(r"\[.*\]", "", match.group(1)).lower().replace("_", "-")
            found[name] = match.group(2)
    return found


def test_every_requirement_is_pinned_exactly():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (REPO / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r")):
                assert PIN.match(line), f"{name}: {line!r} is not pinned with =="


def test_lock_matches_requirements_and_carries_hashes():
    lock_text = (REPO / "requirements.lock").read_text()
    lock = pins(lock_text)
    for name, version in pins((REPO / "requirements.txt").read_text()).items():
        assert lock.get(name) == version, f"requirements.lock has {name}=={lock.get(name)}"
    blocks = re.split(r"\n(?=\S)", lock_text.strip())
    for block in blocks:
        if PIN.match(block):
            assert "--hash=sha256:" in block, f"no hash for {block.splitlines()[0]}"
