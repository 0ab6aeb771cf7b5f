"""Every example in the README is real: each fenced block is run (or checked against the command
line it documents) and the output it shows compared. A block nobody tests fails the last test."""

import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _blocks() -> list[tuple[str, str]]:
    """Return the README's fenced blocks as (info string, body), in order."""
    text = README.read_text(encoding="utf-8")
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, flags=re.S | re.M)


BLOCKS = _blocks()
KINDS = {  # every block of the README is one of these, and each kind has its test below
    "install and check": lambda info, body: info == "sh" and "vmspec check specs/" in body
    and "--html" not in body,
    "html report": lambda info, body: info == "sh" and "--html" in body,
    "install and test": lambda info, body: info == "sh" and "pytest" in body,
    "first spec": lambda info, body: body.startswith("machine small") and "invariant" not in body,
    # the three blocks of "Exploring", run by test_the_explore_example_finds_what_the_readme_shows
    "explore spec": lambda info, body: body.startswith("machine small") and "invariant" in body,
    "explore run": lambda info, body: body.startswith("$ vmspec explore cow.vms > found.vms"),
    "explore seed": lambda info, body: body.startswith("$ vmspec explore cow.vms --seed"),
    "passing run": lambda info, body: body.startswith("$ vmspec check fork.vms\n1 scenario: 1 passed"),
    "failing run": lambda info, body: body.startswith("$ vmspec check fork.vms\nFAILED"),
    "command line": lambda info, body: body.startswith("vmspec check [PATH...]"),
    "spec error": lambda info, body: body.startswith("$ vmspec check fork.vms\nfork.vms:"),
    "pyproject": lambda info, body: info == "toml",
    "python": lambda info, body: info == "python",
}


def _block(kind: str) -> str:
    """Return the body of the README's one block of ``kind``."""
    (body,) = [body for info, body in BLOCKS if KINDS[kind](info, body)]
    return body


def _vmspec(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    return subprocess.run([sys.executable, "-m", "vmspec", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


def _first_spec() -> str:
    return _block("first spec")


def test_first_spec_passes_and_the_failure_report_is_what_the_readme_shows(tmp_path):
    spec = _first_spec()
    passing = _block("passing run")
    failing = _block("failing run")
    (tmp_path / "fork.vms").write_text(spec)
    out = _vmspec("check", "fork.vms", cwd=tmp_path)
    assert f"$ vmspec check fork.vms\n{out.stdout}" == passing
    (tmp_path / "fork.vms").write_text(spec.replace("== 1MiB - 64KiB", "== 1MiB"))
    out = _vmspec("check", "fork.vms", cwd=tmp_path)
    assert out.returncode == 1
    assert f"$ vmspec check fork.vms\n{out.stdout}" == failing


def test_the_spec_error_example_is_what_vmspec_prints(tmp_path):
    """The README's error example was stale: the message it showed is not vmspec's."""
    spec = _first_spec()
    shown = _block("spec error")
    (tmp_path / "fork.vms").write_text(spec.replace("    parent: write buf\n",
                                                    "    parent: write buf\n    parent: big = mmap 1TiB => ENOMEN\n"))
    out = _vmspec("check", "fork.vms", cwd=tmp_path)
    assert out.returncode == 2
    assert f"$ vmspec check fork.vms\n{out.stderr}{out.stdout}" == shown


def test_the_quick_start_commands(tmp_path):
    """The spec library passes as the quick start says; the test command is the one CI runs."""
    check = _block("install and check")
    command = check.strip().split("&&")[-1].strip()
    assert command == ".venv/bin/vmspec check specs/"
    out = _vmspec("check", "specs/", "-j", "2", cwd=ROOT)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    assert re.fullmatch(r"(\d+) scenarios: \1 passed, 0 failed, 0 errors\n", out.stdout)
    tests = _block("install and test")
    assert tests.strip().split("&&")[-1].strip() == ".venv/bin/python -m pytest -n 2 -q"
    assert "python -m pytest -n 2 -q" in (ROOT / ".ci" / "run").read_text()


def test_the_command_line_reference_lists_real_options():
    reference = _block("command line")
    helps = {command: _vmspec(command, "--help", cwd=ROOT).stdout for command in ("check", "explore", "fmt")}
    command = None
    for line in reference.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "vmspec" and words[1] in helps:
            command = words[1]
            continue
        if line.startswith("    -") and command is not None:
            for word in words:
                flag = re.match(r"--?[a-z][a-z-]*", word)
                if flag and word.startswith("-"):
                    assert flag.group() in helps[command], (command, flag.group())
    assert "--diff" in helps["fmt"] and "--root" in helps["check"]
    assert _vmspec("--version", cwd=ROOT).stdout.startswith("vmspec ")


def test_the_pyproject_example_is_accepted(tmp_path):
    config = _block("pyproject")
    (tmp_path / "pyproject.toml").write_text(config)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "fork.vms").write_text(_first_spec())
    out = _vmspec("check", cwd=tmp_path)
    assert (out.returncode, out.stdout, out.stderr) == (0, "1 scenario: 1 passed, 0 failed, 0 errors\n", "")


def test_the_html_report_commands_work(tmp_path):
    """The extra the block installs exists, and the check it shows writes a report."""
    pip, check = _block("html report").splitlines()
    extra = re.search(r"vmspec\[(\w+)\]", pip).group(1)
    assert f"\n{extra} = [" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "fork.vms").write_text(_first_spec())
    args = check.split("#")[0].split()[1:]
    assert args == ["check", "specs/", "--html", "report.html"]
    out = _vmspec(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_the_python_example_runs():
    code = _block("python")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_every_readme_block_is_tested():
    """A new block must get a kind above (and so a test), or this fails."""
    unknown = [body.splitlines()[0] for info, body in BLOCKS if not any(kind(info, body) for kind in KINDS.values())]
    assert unknown == []
    assert all(sum(kind(info, body) for info, body in BLOCKS) == 1 for kind in KINDS.values())


def test_the_explore_example_finds_what_the_readme_shows(tmp_path, monkeypatch, capsys):
    from vmspec.cli import main

    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Exploring"):text.index("## The command line")]
    spec, first, second = re.findall(r"```\n(.*?)```", section, flags=re.S)
    (tmp_path / "cow.vms").write_text(spec)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["explore", "cow.vms"]) == 1
    out = capsys.readouterr()
    assert f"$ vmspec explore cow.vms > found.vms\n{out.err}" == first
    (tmp_path / "found.vms").write_text(out.out)
    assert main(["check", "found.vms"]) == 1
    capsys.readouterr()
    assert main(["explore", "cow.vms", "--seed", "9"]) == 1
    last = "".join(line + "\n" for line in capsys.readouterr().out.splitlines()[-7:])
    assert f"$ vmspec explore cow.vms --seed 9 2>/dev/null | tail -7\n{last}" == second
