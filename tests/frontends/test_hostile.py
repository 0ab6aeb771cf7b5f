"""Hostile inputs (issue 12): nothing outside the root is read or written, nothing hangs, and each
refusal names the file. The secret below must never appear in any output."""

import os
import subprocess
import sys

import pytest

SECRET = "SECRET=hunter2"
GOOD = 'machine m { ram 64MiB }\nscenario "ok" { spawn p }\n'


def run(*args, cwd, timeout=60):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    return subprocess.run([sys.executable, "-m", "vmspec", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture
def project(tmp_path):
    """proj/ with a good spec, and a secret outside it that proj/leak.vms points at."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.vms").write_text(SECRET + "\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "good.vms").write_text(GOOD)
    (proj / "leak.vms").symlink_to(outside / "secret.vms")
    return proj


@pytest.mark.parametrize("args", [["--root", "proj", "proj"], ["proj"], ["--collect-only", "proj"],
                                  ["--format", "json", "proj"], ["--format", "github", "proj"]])
def test_a_scanned_symlink_out_of_the_root_is_named_not_read(project, args):
    out = run("check", *args, cwd=project.parent)
    assert out.returncode == 2
    assert SECRET not in out.stdout + out.stderr
    assert "proj/leak.vms" in out.stderr and "is outside the root directory" in out.stderr
    if "--collect-only" not in args and "json" not in args and "github" not in args:
        assert "1 scenario: 1 passed" in out.stdout  # the good file is still checked


def test_a_link_to_the_process_environment_is_not_read(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "env.vms").symlink_to("/proc/self/environ")
    out = subprocess.run([sys.executable, "-m", "vmspec", "check", "--root", "proj", "proj"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, env={**os.environ, "VMSPEC_LEAK": SECRET})
    assert out.returncode == 2 and SECRET not in out.stdout + out.stderr
    assert "proj/env.vms (a symlink to /proc/" in out.stderr


def test_pytest_collection_names_the_link_and_reads_nothing(project):
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(project),
                          str(project)], cwd=project, capture_output=True, text=True, timeout=120)
    assert SECRET not in out.stdout + out.stderr
    assert "leak.vms" in out.stdout and "is outside the root directory" in out.stdout
    assert "ERROR leak.vms" in out.stdout and out.returncode == 2  # a collection error


def test_fmt_never_writes_through_a_link_out_of_the_tree(project):
    (project / "leak.vms").unlink()
    victim = project.parent / "outside" / "victim.vms"
    victim.write_text("machine m {\n  ram 64MiB\n}\n")  # not canonical: fmt would rewrite it
    (project / "leak.vms").symlink_to(victim)
    out = run("fmt", "proj", cwd=project.parent)
    assert out.returncode == 2 and "proj/leak.vms" in out.stderr and "outside the root" in out.stderr
    assert victim.read_text() == "machine m {\n  ram 64MiB\n}\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("command", [["check"], ["check", "--collect-only"], ["fmt"], ["fmt", "--check"],
                                     ["explore", "proj/pipe.vms"]])
def test_a_fifo_named_vms_is_named_and_nothing_hangs(project, command):
    os.mkfifo(project / "pipe.vms")
    args = command if command[0] == "explore" else [*command, "proj"]
    out = run(*args, cwd=project.parent, timeout=60)  # it hung forever
    assert out.returncode == 2, out.stderr
    assert "proj/pipe.vms" in out.stderr and "is a FIFO (named pipe), not a regular file" in out.stderr


@pytest.mark.parametrize("command", [["check"], ["fmt", "--check"]])
def test_a_link_to_dev_zero_is_not_read(tmp_path, command):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "zero.vms").symlink_to("/dev/zero")
    out = run(*command, "zero.vms", cwd=proj, timeout=60)  # it read until memory ran out
    assert out.returncode == 2
    assert "zero.vms" in out.stderr and "is a character device, not a regular file" in out.stderr


def test_a_spec_larger_than_the_cap_is_refused_unread(tmp_path):
    (tmp_path / "big.vms").write_text("# " + "x" * (16 << 20) + "\n")
    out = run("check", "big.vms", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("big.vms:1:1: error: cannot read big.vms: big.vms is larger than 16 MiB")


def test_a_trace_swapped_for_a_link_after_loading_is_not_read(tmp_path, monkeypatch):
    """Replay confinement was checked at load and the file opened later by its unresolved path."""
    from vmspec.checker import CheckOptions
    from vmspec.checker.runner import run_scenario
    from vmspec.language import load

    monkeypatch.chdir(tmp_path)
    (tmp_path / "outside.txt").write_text("0\n1\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "t.txt").write_text("0\n")
    (proj / "spec.vms").write_text('machine m { ram 64MiB }\nscenario "r" {\n spawn p\n p: b = mmap 1MiB\n'
                                   ' p: replay "t.txt" into b\n}\n')
    program = load("proj/spec.vms", "proj")
    (proj / "t.txt").unlink()
    (proj / "t.txt").symlink_to(tmp_path / "outside.txt")
    result = run_scenario(program, program.scenarios[0], CheckOptions())
    assert result.status == "error"
    (violation,) = result.violations
    assert violation.message.startswith("replay: proj/t.txt:0: cannot read trace file: ")
    assert "is outside the root directory proj" in violation.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_an_include_or_replay_of_a_fifo_is_a_spec_error(tmp_path):
    os.mkfifo(tmp_path / "pipe.vms")
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "a.vms").write_text('include "pipe.vms"\n' + GOOD)
    (tmp_path / "b.vms").write_text(GOOD.replace("spawn p", 'spawn p; p: replay "pipe.txt"'))
    out = run("check", "a.vms", "b.vms", cwd=tmp_path)
    assert out.returncode == 2
    assert "a.vms:1:9: error: a.vms includes pipe.vms, which cannot be read: pipe.vms is a FIFO" in out.stderr
    assert "b.vms:2:36: error: b.vms replays pipe.txt, which cannot be read: pipe.txt is a FIFO" in out.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_pytest_collection_does_not_hang_on_a_fifo_or_a_device(project):
    os.mkfifo(project / "pipe.vms")
    (project / "zero.vms").symlink_to("/dev/zero")
    (project / "leak.vms").unlink()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(project),
                          str(project)], cwd=project, capture_output=True, text=True, timeout=120)
    assert "1 passed" in out.stdout, out.stdout + out.stderr
