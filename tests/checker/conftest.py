"""Helpers for checker tests: write a spec into a temporary directory and check it."""

import os

import pytest

from vmspec.checker import CheckOptions, check


@pytest.fixture
def run_spec(tmp_path, monkeypatch):
    """Write ``text`` as ``spec.vms`` in a temporary directory, check it there, return the Report."""
    monkeypatch.chdir(tmp_path)

    def run(text: str, name: str = "spec.vms", **options):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return check([os.path.relpath(path, tmp_path)], CheckOptions(**options))

    return run
