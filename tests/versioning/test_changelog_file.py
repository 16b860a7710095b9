"""``CHANGELOG.md`` is generated from the change objects and must never go stale:
regenerate it with ``.venv/bin/python -m files_service.versioning CHANGELOG.md``."""

from __future__ import annotations

from pathlib import Path

import pytest

from files_service.versioning.changelog import main, render_changelog

CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"


def test_changelog_md_is_what_the_change_objects_say() -> None:
    assert CHANGELOG.read_text(encoding="utf-8") == render_changelog(), (
        "CHANGELOG.md is stale: run `.venv/bin/python -m files_service.versioning CHANGELOG.md`"
    )


def test_main_writes_the_changelog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "CHANGELOG.md"
    assert main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_changelog()
    assert main([]) == 0
    assert capsys.readouterr().out == render_changelog()
