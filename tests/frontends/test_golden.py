"""Golden reports (issue 5): passing, failing and erroring specs in every format, compared byte
for byte with files under tests/frontends/golden/. Regenerate after an intended change with
`VMSPEC_REGEN_GOLDEN=1 python -m pytest tests/frontends/test_golden.py` and review the diff."""

import os
import pathlib
import subprocess
import sys

import pytest

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"
CASES = ["pass", "fail", "error", "budget"]
FORMATS = ["text", "json", "junit", "github"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_golden_report(case, fmt):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    out = subprocess.run(
        [sys.executable, "-m", "vmspec", "check", f"{case}.vms", "--format", fmt],
        cwd=GOLDEN, capture_output=True, text=True, env=env, timeout=120,
    )
    actual = f"exit: {out.returncode}\n--- stdout\n{out.stdout}--- stderr\n{out.stderr}"
    expected_file = GOLDEN / f"{case}.{fmt}.out"
    if os.environ.get("VMSPEC_REGEN_GOLDEN"):
        expected_file.write_text(actual)
    assert actual == expected_file.read_text()


@pytest.mark.parametrize("case", CASES)
def test_golden_json_matches_the_shipped_schema(case):
    jsonschema = pytest.importorskip("jsonschema")
    import importlib.resources
    import json

    schema = json.loads(importlib.resources.files("vmspec.checker").joinpath("report.schema.json").read_text())
    text = (GOLDEN / f"{case}.json.out").read_text()
    document = json.loads(text.split("--- stdout\n", 1)[1].split("--- stderr\n", 1)[0])
    jsonschema.validate(document, schema)
