"""The README's first spec and the failure report it shows are real: run them and compare."""

import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def _blocks():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## A first spec"):]
    return re.findall(r"```\n(.*?)```", section, flags=re.S)


def test_first_spec_passes_and_the_failure_report_is_what_the_readme_shows(tmp_path):
    spec, passing, failing = _blocks()[:3]
    (tmp_path / "fork.vms").write_text(spec)
    out = subprocess.run([sys.executable, "-m", "vmspec", "check", "fork.vms"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert f"$ vmspec check fork.vms\n{out.stdout}" == passing
    (tmp_path / "fork.vms").write_text(spec.replace("== 1MiB - 64KiB", "== 1MiB"))
    out = subprocess.run([sys.executable, "-m", "vmspec", "check", "fork.vms"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert f"$ vmspec check fork.vms\n{out.stdout}" == failing
