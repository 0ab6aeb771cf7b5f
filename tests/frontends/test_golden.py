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
