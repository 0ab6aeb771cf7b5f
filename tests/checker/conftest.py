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


@pytest.fixture
def spec_dir(tmp_path, monkeypatch):
    """Return a function writing ``{name: text}`` under a temporary current directory."""
    monkeypatch.chdir(tmp_path)

    def write(files: dict[str, str]):
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return tmp_path

    return write
