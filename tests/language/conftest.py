"""Helpers for language tests: write spec files into a temporary root and load them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vmspec.errors import SpecErrors
from vmspec.language import load

DATA = Path(__file__).parent / "data"

# data/ holds sample specs for parser tests, not scenarios for the vmspec pytest plugin to run
collect_ignore = ["data"]


@pytest.fixture
def spec_dir(tmp_path, monkeypatch):
    """Return a function writing ``{name: text}`` under a temporary current directory."""
    monkeypatch.chdir(tmp_path)

    def write(files: dict[str, str | bytes]) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text, encoding="utf-8")
        return tmp_path

    return write


@pytest.fixture
def load_errors(spec_dir):
    """Load ``spec.vms`` (plus extra files) and return the rendered SpecErrors text."""

    def run(text: str | bytes, **extra: str | bytes) -> str:
        spec_dir({"spec.vms": text, **{k.replace("__", "/").replace("_dot_", "."): v for k, v in extra.items()}})
        with pytest.raises(SpecErrors) as info:
            load("spec.vms")
        return info.value.render()

    return run


def rel(path: str) -> str:
    """Return ``path`` relative to the current directory (for messages)."""
    return os.path.relpath(path)
