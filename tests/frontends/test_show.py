"""`vmspec show FILE::TITLE [--step N]`: the state after every step, or one, as tables."""

import os
import subprocess
import sys

SPEC = """machine m { ram 64MiB; swap 8MiB }

scenario "fork" {
    spawn parent
    parent: buf = mmap 1MiB
    parent: write buf
    fork parent as child
    child: write buf[0..64KiB]
    expect faults(child).cow == 1
}

scenario "sizes" for n in [1, 2] {
    spawn p
    p: b = mmap $n MiB
}
"""


def show(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-m", "vmspec", "show", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=120)


def test_one_step_shows_machine_processes_and_regions(tmp_path):
    (tmp_path / "s.vms").write_text(SPEC)
    out = show("s.vms::fork", "--step", "5", cwd=tmp_path)
    assert out.returncode == 1, out.stderr  # the scenario fails (at its expect)
    text = out.stdout
    assert "step 5  s.vms:8  child: write buf[0..64KiB]" in text and "child: +16 minor, +16 cow" in text
    assert "step 4" not in text and "\x1b[" not in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.strip().startswith(("parent ", "child "))}
    assert rows["parent"][1:4] == ["│", "running", "│"] and "1MiB" in rows["parent"] and "16" in rows["child"]
    assert "regions of parent" in text and "regions of child" in text
    buf_rows = [line for line in text.splitlines() if " buf " in line]
    assert len(buf_rows) == 2 and all("1MiB" in r and " rw " in r and " anon " in r for r in buf_rows)


def test_every_step_and_the_violation(tmp_path):
    (tmp_path / "s.vms").write_text(SPEC)
    text = show("s.vms::fork", cwd=tmp_path).stdout
    assert [line.split()[1] for line in text.splitlines() if line.startswith("step ")] == ["1", "2", "3", "4", "5", "6"]
    assert "s.vms:9: expect failed: faults(child).cow == 1" in text


def test_instances_and_usage_errors(tmp_path):
    (tmp_path / "s.vms").write_text(SPEC)
    ok = show("s.vms::sizes[n=2]", cwd=tmp_path)
    assert ok.returncode == 0 and "2MiB" in ok.stdout
    template = show("s.vms::sizes", cwd=tmp_path)
    assert template.returncode == 2 and "show one instance, e.g. s.vms::sizes[n=1]" in template.stderr
    past = show("s.vms::fork", "--step", "99", cwd=tmp_path)
    assert past.returncode == 2 and "has 6 steps" in past.stderr
    assert show("s.vms", cwd=tmp_path).returncode == 2
    assert "no scenario titled" in show("s.vms::nope", cwd=tmp_path).stderr
