"""The command line (issues 3 and 5): exit codes, streams, formats, selection, determinism."""

import json
import os
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

GOOD = """machine m { ram 64MiB; swap 0 }

scenario "fork shares pages until one side writes" {
    spawn parent
    parent: buf = mmap 1MiB
    parent: write buf
    fork parent as child
    child: write buf[0..64KiB]
    expect shared(parent, child) == 1MiB - 64KiB
}
"""

BAD = GOOD.replace("== 1MiB - 64KiB", "== 1MiB") + """
scenario "random pages" seed 5 {
    spawn p
    p: buf = mmap 4MiB
    p: access buf random 500 write
    expect faults(p).minor == 1
}
"""


def vmspec(*args, cwd, env=None):
    full_env = dict(os.environ)
    full_env.pop("FORCE_COLOR", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "vmspec", *args], cwd=cwd, capture_output=True, text=True, env=full_env, timeout=120,
    )


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "good.vms").write_text(GOOD)
    (tmp_path / "specs" / "sub").mkdir()
    (tmp_path / "specs" / "sub" / "bad.vms").write_text(BAD)
    return tmp_path


def test_version(tmp_path):
    out = vmspec("--version", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("vmspec ")


def test_check_passing_file(tree):
    out = vmspec("check", "specs/good.vms", cwd=tree)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "1 scenario: 1 passed, 0 failed, 0 errors\n"
    assert out.stderr == ""


def test_check_failing_directory_text_report(tree):
    out = vmspec("check", "specs", cwd=tree)
    assert out.returncode == 1
    assert "FAILED specs/sub/bad.vms::fork shares pages until one side writes (line 3)" in out.stdout
    assert "  specs/sub/bad.vms:9:5: expect failed: shared(parent, child) == 1MiB" in out.stdout
    assert "      got 960KiB, expected == 1MiB" in out.stdout
    assert "      shared(parent, child) = 960KiB" in out.stdout
    assert "reproduce: vmspec check 'specs/sub/bad.vms::fork shares pages until one side writes'" in out.stdout
    assert out.stdout.rstrip().endswith("3 scenarios: 1 passed, 2 failed, 0 errors")
    assert "\x1b[" not in out.stdout  # no colour when not a terminal


def test_force_color(tree):
    out = vmspec("check", "specs", cwd=tree, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert "\x1b[" in out.stdout


def test_select_by_k_and_by_title(tree):
    out = vmspec("check", "specs", "-k", "random and not fork", cwd=tree)
    assert out.stdout.rstrip().endswith("1 scenario: 0 passed, 1 failed, 0 errors, 2 deselected")
    out = vmspec("check", "specs/sub/bad.vms::random pages", cwd=tree)
    assert out.returncode == 1 and "1 scenario:" in out.stdout
    out = vmspec("check", "specs/sub/bad.vms::no such title", cwd=tree)
    assert out.returncode == 2 and "no scenario titled 'no such title'" in out.stderr


def test_exitfirst(tree):
    out = vmspec("check", "specs/sub/bad.vms", "-x", cwd=tree)
    assert out.stdout.rstrip().endswith("1 scenario: 0 passed, 1 failed, 0 errors")


def test_json_report_validates_against_schema(tree):
    jsonschema = pytest.importorskip("jsonschema")
    import importlib.resources

    schema = json.loads(importlib.resources.files("vmspec.checker").joinpath("report.schema.json").read_text())
    out = vmspec("check", "specs", "--format", "json", cwd=tree)
    data = json.loads(out.stdout)
    jsonschema.validate(data, schema)
    assert data["summary"] == {"passed": 1, "failed": 2, "errors": 0, "skipped": 0, "interrupted": False, "deselected": 0}
    failed = [s for s in data["scenarios"] if s["status"] == "failed"]
    assert failed[0]["file"] == "specs/sub/bad.vms"
    assert failed[0]["violations"][0]["observed"] == {"shared(parent, child)": "960KiB"}
    assert failed[0]["violations"][0]["kind"] == "expect"


def test_junit_report(tree):
    out = vmspec("check", "specs", "--format", "junit", cwd=tree)
    root = ET.fromstring(out.stdout)
    assert root.get("tests") == "3" and root.get("failures") == "2"
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases][0] == "fork shares pages until one side writes"
    assert root.findall(".//failure")[0].text.startswith("FAILED specs/sub/bad.vms::")


def test_github_annotations(tree):
    out = vmspec("check", "specs", "--format", "github", cwd=tree)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("::error file=specs/sub/bad.vms,line=9,col=5,title=fork shares pages until one side writes::")
    assert "%0Ashared(parent%2C child) = 960KiB" not in lines[0]  # data is not property-escaped
    assert "%0Ashared(parent, child) = 960KiB" in lines[0]


def test_nothing_collected_or_selected_exits_5(tree):
    """pytest's convention: 5 when nothing was collected or selected (it was 0 for `-k nomatch`
    and for a file of invariants only, and 2 for a directory without specs)."""
    (tree / "empty").mkdir()
    out = vmspec("check", cwd=tree / "empty")
    assert (out.returncode, out.stdout) == (5, "0 scenarios: 0 passed, 0 failed, 0 errors\n")
    assert out.stderr == "vmspec: nothing was checked: no scenario was found in .\n"
    out = vmspec("check", "specs", "-k", "nomatch", cwd=tree)
    assert (out.returncode, out.stdout) == (5, "0 scenarios: 0 passed, 0 failed, 0 errors, 3 deselected\n")
    assert out.stderr == "vmspec: nothing was checked: -k 'nomatch' selected none of 3\n"
    out = vmspec("check", "specs", "-k", "random", cwd=tree)
    assert (out.returncode, out.stdout.splitlines()[-1]) == (1, "1 scenario: 0 passed, 1 failed, 0 errors, 2 deselected")
    (tree / "inv.vms").write_text('machine m { ram 64MiB }\ninvariant "x": free <= ram\n')
    for fmt in ("text", "json"):  # (the exit code does not depend on the format)
        assert vmspec("check", "inv.vms", "--format", fmt, cwd=tree).returncode == 5
    out = vmspec("check", "--collect-only", "inv.vms", cwd=tree)
    assert (out.returncode, out.stdout, out.stderr) == (5, "", "vmspec: no scenario was collected or selected\n")
    assert vmspec("check", "--collect-only", "specs", "-k", "nomatch", cwd=tree).returncode == 5
    out = vmspec("check", "missing.vms", cwd=tree)
    assert out.returncode == 2 and "missing.vms: no such file or directory" in out.stderr


def test_a_root_that_is_no_directory_is_a_usage_error(tree, monkeypatch, capsys):
    from vmspec import cli

    monkeypatch.chdir(tree)
    (tree / "file.txt").write_text("x")
    for command in (["check"], ["check", "--collect-only"], ["explore"]):
        assert cli.main([*command, "specs/good.vms", "--root", "nowhere"]) == 2
        assert capsys.readouterr().err == ("vmspec: error: --root nowhere does not exist; give the directory "
                                           "that includes and replays may not leave\n")
        assert cli.main([*command, "specs/good.vms", "--root", "file.txt"]) == 2
        assert "--root file.txt is not a directory" in capsys.readouterr().err


def test_spec_errors_go_to_stderr_and_good_files_are_still_checked(tree):
    (tree / "specs" / "broken.vms").write_text('machine m { ram 64MiB }\nscenario "x" {\n  spawn p\n  p: b = mmap 1MiB => ENOMEN\n}\n')
    out = vmspec("check", "specs", cwd=tree)
    assert out.returncode == 2
    assert out.stderr.startswith("specs/broken.vms:4:")
    assert "ENOMEM" in out.stderr and "Traceback" not in out.stderr
    assert "3 scenarios: 1 passed, 2 failed, 1 error" in out.stdout


def test_collect_only(tree):
    out = vmspec("check", "--collect-only", "specs", cwd=tree)
    assert out.returncode == 0
    assert out.stdout.splitlines() == [
        "specs/good.vms:3: specs/good.vms::fork shares pages until one side writes",
        "specs/sub/bad.vms:3: specs/sub/bad.vms::fork shares pages until one side writes",
        "specs/sub/bad.vms:12: specs/sub/bad.vms::random pages",
    ]


def test_jobs_and_hash_seed_do_not_change_output(tree):
    for i in range(3):
        (tree / "specs" / f"copy{i}.vms").write_text(BAD)
    outputs = set()
    for jobs in ("1", "2"):
        for hashseed in ("0", "12345"):
            for fmt in ("text", "json"):
                out = vmspec("check", "specs", "-j", jobs, "--format", fmt, cwd=tree, env={"PYTHONHASHSEED": hashseed})
                outputs.add((fmt, out.returncode, out.stdout))
    assert len(outputs) == 2  # one text, one json: byte-identical across -j and hash seeds


def test_pyproject_config(tree):
    (tree / "pyproject.toml").write_text('[tool.vmspec]\npaths = ["specs/good.vms"]\nformat = "json"\n')
    out = vmspec("check", cwd=tree)
    assert out.returncode == 0 and json.loads(out.stdout)["summary"]["passed"] == 1
    (tree / "pyproject.toml").write_text('[tool.vmspec]\nbogus = 1\n')
    out = vmspec("check", cwd=tree)
    assert out.returncode == 2 and "unknown key 'bogus'" in out.stderr


def test_trace_prints_every_step(tree):
    out = vmspec("check", "specs/good.vms", "--trace", cwd=tree)
    assert out.returncode == 0
    assert "trace of specs/good.vms::fork shares pages until one side writes" in out.stdout
    assert "child: +16 minor, +16 cow\n" in out.stdout  # a COW copy replaces a shared page: rss unchanged


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_reports_what_finished_and_exits_130(tree, jobs):
    import signal
    import time

    (tree / "specs" / "zz_slow.vms").write_text(
        'machine m { ram 64MiB }\nscenario "slow" {\n spawn p\n p: b = mmap 4KiB\n'
        ' repeat 1000000000 { expect rss(p) == 0 }\n}\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    proc = subprocess.Popen([sys.executable, "-m", "vmspec", "check", "specs", "-j", jobs, "--timeout", "0",
                             "--max-accesses", "100000000000"],
                            cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(4)  # the three quick scenarios finish well within this
    proc.send_signal(signal.SIGINT)  # to vmspec alone: with -j 2 it must stop its workers itself
    try:
        stdout, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("vmspec did not stop after Ctrl-C") from None
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stdout.rstrip().endswith("3 scenarios: 1 passed, 2 failed, 0 errors (interrupted)")


def test_fmt_rewrites_and_check_reports(tmp_path):
    messy = 'machine m {ram 64MiB;swap 0}\nscenario "x" {\n      spawn p   # keep me\n  p: b = mmap 1MiB\n}\n'
    (tmp_path / "a.vms").write_text(messy)
    out = vmspec("fmt", "--check", "a.vms", cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == "would reformat a.vms\n"
    assert (tmp_path / "a.vms").read_text() == messy  # --check writes nothing
    out = vmspec("fmt", "a.vms", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout == "reformatted a.vms\n"
    formatted = (tmp_path / "a.vms").read_text()
    assert "# keep me" in formatted
    assert vmspec("fmt", "--check", "a.vms", cwd=tmp_path).returncode == 0
    assert vmspec("check", "a.vms", cwd=tmp_path).returncode == 0


def test_fmt_bad_input_is_a_spec_error(tmp_path):
    (tmp_path / "bad.vms").write_bytes(b"machine m { ram 64MiB \xff }\n")
    out = vmspec("fmt", "bad.vms", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith(
        "bad.vms:1:23: error: this file is not UTF-8 text (byte 0xff cannot start or continue a UTF-8 character)")
    assert "Traceback" not in out.stderr


def test_fmt_accepts_a_bom_as_check_does_and_keeps_it(tmp_path):
    (tmp_path / "bom.vms").write_bytes(b"\xef\xbb\xbfmachine m {\n  ram 64MiB\n}\n")
    assert vmspec("check", "--collect-only", "bom.vms", cwd=tmp_path).returncode == 5  # accepted, no scenario
    out = vmspec("fmt", "bom.vms", cwd=tmp_path)
    assert (out.returncode, out.stdout, out.stderr) == (0, "reformatted bom.vms\n", "")
    assert (tmp_path / "bom.vms").read_bytes() == b"\xef\xbb\xbfmachine m {\n    ram 64MiB\n}\n"
    assert vmspec("fmt", "--check", "bom.vms", cwd=tmp_path).returncode == 0


def test_fmt_diff_prints_a_unified_diff_and_writes_nothing(tmp_path):
    text = "machine m {\n  ram 64MiB\n}\n"
    (tmp_path / "a.vms").write_text(text)
    (tmp_path / "b.vms").write_text("machine m {\n    ram 64MiB\n}\n")
    out = vmspec("fmt", "--diff", ".", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr == ""
    assert out.stdout == ("--- ./a.vms\n+++ ./a.vms\n@@ -1,3 +1,3 @@\n machine m {\n-  ram 64MiB\n"
                          "+    ram 64MiB\n }\n")
    assert (tmp_path / "a.vms").read_text() == text
    assert vmspec("fmt", "--diff", "b.vms", cwd=tmp_path).returncode == 0


def test_spec_library_is_formatted():
    root = pathlib.Path(__file__).resolve().parents[2]
    out = vmspec("fmt", "--check", "specs", cwd=root)  # also run by .ci/run
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")


def test_bad_pyproject_values_are_usage_errors(tree):
    for line, message in [
        ('format = "xml"', "[tool.vmspec] format must be one of text, json, junit, github, got 'xml'"),
        ('jobs = "x"', "[tool.vmspec] jobs must be an integer, got 'x'"),
        ("seed = 1.5", "[tool.vmspec] seed must be an integer, got 1.5"),
        ('paths = "specs"', "[tool.vmspec] paths must be a list of strings, got 'specs'"),
    ]:
        (tree / "pyproject.toml").write_text(f"[tool.vmspec]\n{line}\n")
        out = vmspec("check", "specs/good.vms", cwd=tree)
        assert out.returncode == 2 and out.stdout == ""
        assert out.stderr == f"vmspec: error: {tree / 'pyproject.toml'}: {message}\n"


def test_bad_option_values_are_usage_errors(tree):
    for args, message in [
        (["--timeout", "-1"], "argument --timeout: must be at least 0, got -1.0"),
        (["--timeout", "1e10"], "argument --timeout: must be at most 31,536,000, got 10000000000.0"),
        (["--max-accesses", "0"], "argument --max-accesses: must be at least 1, got 0"),
        (["--seed", "-3"], "argument --seed: must be at least 0, got -3"),
        (["-j", "0"], "argument -j/--jobs: must be at least 1, got 0"),
    ]:
        out = vmspec("check", "specs/good.vms", *args, cwd=tree)
        assert out.returncode == 2 and out.stderr.endswith(message + "\n"), out.stderr


def test_pyproject_paths_are_relative_to_the_pyproject(tree):
    (tree / "pyproject.toml").write_text('[tool.vmspec]\npaths = ["specs/good.vms"]\nformat = "github"\n')
    (tree / "docs").mkdir()
    out = vmspec("check", cwd=tree / "docs")
    assert out.returncode == 0 and out.stdout == "1 scenario: 1 passed, 0 failed, 0 errors\n"


def test_junit_is_valid_xml_whatever_the_title(tree):
    (tree / "specs" / "odd.vms").write_text(
        'machine m { ram 64MiB }\n'
        'scenario "esc \x1b[31m bell \x07 & <tag> ]]> \\"q\\"" { spawn p; expect rss(p) == 1MiB }\n'
    )
    out = vmspec("check", "specs/odd.vms", "--format", "junit", cwd=tree)
    root = ET.fromstring(out.stdout)
    (case,) = root.iter("testcase")
    assert case.get("name") == 'esc \\x1b[31m bell \\x07 & <tag> ]]> "q"'
    assert case.find("failure").text.startswith("FAILED specs/odd.vms::esc \\x1b[31m bell")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "1", "0")
    text = vmspec("check", "specs/odd.vms", cwd=tree)
    assert "\x1b" not in text.stdout and "FAILED specs/odd.vms::esc \\x1b[31m bell \\x07" in text.stdout


ODD_TITLE = 'esc \x1b[31m bell \x07 cr \r sep \u2028 quote \\"q\\" apostrophe \' end'
ODD = 'machine m { ram 64MiB }\nscenario "' + ODD_TITLE + '" { spawn p; expect rss(p) == 1MiB }\n'
SHOWN = "esc \\x1b[31m bell \\x07 cr \\x0d sep \\u2028 quote \"q\" apostrophe ' end"


def test_control_characters_never_reach_the_terminal(tree):
    """Every output escapes control characters: the text report, --collect-only, --format github."""
    (tree / "specs" / "odd.vms").write_text(ODD)
    for args in ([], ["--collect-only"], ["--format", "github"], ["-q"], ["-v"]):
        out = vmspec("check", "specs/odd.vms", *args, cwd=tree)
        for char in "\x1b\x07\r\u2028":
            assert char not in out.stdout + out.stderr, (args, char)
        assert "esc \\x1b[31m bell \\x07" in out.stdout, args
    out = vmspec("check", "specs/odd.vms", "--collect-only", cwd=tree)
    assert out.stdout == f"specs/odd.vms:2: specs/odd.vms::{SHOWN}\n"


def test_the_reproduce_command_of_an_odd_title_can_be_pasted(tree):
    """Escaped for display, the title would no longer match; $'...' quoting pastes exactly."""
    import shutil

    (tree / "specs" / "odd.vms").write_text(ODD)
    out = vmspec("check", "specs/odd.vms", cwd=tree)
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("  reproduce: ")]
    command = line.removeprefix("  reproduce: ")
    assert command == ("vmspec check $'specs/odd.vms::esc \\x1b[31m bell \\x07 cr \\x0d sep \\u2028 quote "
                       "\"q\" apostrophe \\' end'")
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to paste into")
    again = subprocess.run([bash, "-c", command.replace("vmspec", f"'{sys.executable}' -m vmspec", 1)],
                           cwd=tree, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and again.stdout.endswith("1 scenario: 0 passed, 1 failed, 0 errors\n")


def test_a_file_name_that_is_not_utf8_in_every_format(tree):
    """The bytes of such a name are shown as \\xNN; every format stays valid UTF-8 (JSON wrote raw
    bytes, and with PYTHONIOENCODING=utf-8 every format ended in an internal error)."""
    name = os.fsdecode(b"caf\xe9.vms")
    (tree / "specs" / name).write_text(GOOD.replace("== 1MiB - 64KiB", "== 1MiB"))
    for env in ({"PYTHONIOENCODING": "utf-8"},):  # (the strict encoding: without it the same bytes come out)
        for fmt in ("text", "json", "junit", "github"):
            out = subprocess.run([sys.executable, "-m", "vmspec", "check", "specs", "--format", fmt, "-k", "fork"],
                                 cwd=tree, capture_output=True, env={**os.environ, **env}, timeout=120)
            assert out.returncode == 1, (fmt, out.stderr)
            text = out.stdout.decode("utf-8")  # valid UTF-8
            assert "specs/caf\\xe9.vms" in text.replace("\\\\", "\\"), (fmt, text[:300])
            if fmt == "json":
                assert json.loads(text)["scenarios"][0]["file"] == "specs/caf\\xe9.vms"
            if fmt == "junit":
                ET.fromstring(text)
        out = subprocess.run([sys.executable, "-m", "vmspec", "check", "specs", "--collect-only"],
                             cwd=tree, capture_output=True, env={**os.environ, **env}, timeout=120)
        assert out.returncode == 0 and b"specs/caf\\xe9.vms:3:" in out.stdout


def test_ctrl_c_before_anything_ran_is_130_without_a_traceback(monkeypatch, capsys):
    """The argument parser was built (and modules imported) before the `try`."""
    from vmspec import cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_parser", interrupted)
    assert cli.main(["check"]) == 130
    assert capsys.readouterr().err == "vmspec: interrupted\n"


def test_k_with_a_phrase_and_path_title_with_colons(tree):
    (tree / "specs" / "colons.vms").write_text(
        'machine m { ram 64MiB }\nscenario "a::b c" { spawn p }\nscenario "a b" { spawn p }\n'
    )
    out = vmspec("check", "specs", "-k", "fork shares", "-v", cwd=tree)
    assert out.stdout.endswith("\n2 scenarios: 1 passed, 1 failed, 0 errors, 3 deselected\n")  # "random pages" and colons.vms left out
    out = vmspec("check", "specs/colons.vms::a::b c", "-v", cwd=tree)
    assert out.stdout == "passed specs/colons.vms::a::b c\n1 scenario: 1 passed, 0 failed, 0 errors\n"


def test_good_and_broken_specs_with_two_jobs(tree):
    (tree / "specs" / "broken.vms").write_text('machine m { ram 64MiB }\nscenario "x" {\n  spawn p\n  p: b = mmap 1MiB => ENOMEN\n}\n')
    one = vmspec("check", "specs", "-j", "1", "--format", "json", cwd=tree)
    two = vmspec("check", "specs", "-j", "2", "--format", "json", cwd=tree)
    assert (one.returncode, one.stdout, one.stderr) == (two.returncode, two.stdout, two.stderr)
    assert one.returncode == 2
    assert json.loads(one.stdout)["summary"] == {"passed": 1, "failed": 2, "errors": 1, "skipped": 0, "interrupted": False,
                                                  "deselected": 0}


def test_no_color_wins_over_force_color(tree):
    out = vmspec("check", "specs", cwd=tree, env={"FORCE_COLOR": "1", "NO_COLOR": "1", "TERM": "xterm-256color"})
    assert "\x1b[" not in out.stdout
    assert out.stdout == vmspec("check", "specs", cwd=tree).stdout


def test_quiet_gives_one_line_per_failure(tree):
    out = vmspec("check", "specs/sub/bad.vms", "-q", cwd=tree)
    assert out.stdout.splitlines() == [
        "FAILED specs/sub/bad.vms::fork shares pages until one side writes - "
        "specs/sub/bad.vms:9:5: expect failed: shared(parent, child) == 1MiB",
        "FAILED specs/sub/bad.vms::random pages - specs/sub/bad.vms:16:5: expect failed: faults(p).minor == 1",
        "2 scenarios: 0 passed, 2 failed, 0 errors",
    ]


def test_paths_may_follow_options(tree):
    out = vmspec("check", "specs/good.vms", "-j", "2", "specs/sub/bad.vms", "-q", cwd=tree)
    assert out.returncode == 1 and out.stdout.endswith("3 scenarios: 1 passed, 2 failed, 0 errors\n")
    out = vmspec("check", "specs/good.vms", "--bogus", cwd=tree)
    assert out.returncode == 2 and "unrecognized arguments: --bogus" in out.stderr


def test_collect_only_uses_pyproject_paths(tree):
    (tree / "pyproject.toml").write_text('[tool.vmspec]\npaths = ["specs/sub"]\n')
    out = vmspec("check", "--collect-only", cwd=tree)
    assert out.returncode == 0 and out.stdout.splitlines() == [
        "specs/sub/bad.vms:3: specs/sub/bad.vms::fork shares pages until one side writes",
        "specs/sub/bad.vms:12: specs/sub/bad.vms::random pages",
    ]


TIMED = """machine m { ram 64MiB }
scenario "timed" {
    spawn p
    p: b = mmap 1MiB
    p: write b
    expect time(p) < 1us
}
"""


def test_durations_are_for_people_in_text_and_exact_in_json(tmp_path):
    (tmp_path / "t.vms").write_text(TIMED)
    text = vmspec("check", "t.vms", cwd=tmp_path).stdout
    exact = json.loads(vmspec("check", "t.vms", "--format", "json", cwd=tmp_path).stdout)
    observed = exact["scenarios"][0]["violations"][0]["observed"]["time(p)"]
    assert observed.endswith("ns") and "," in observed  # e.g. 297,400ns: exact
    from vmspec.units import format_duration_human

    ns = int(observed.removesuffix("ns").replace(",", ""))
    assert f"      time(p) = {format_duration_human(ns)}\n" in text
    assert f"      got {format_duration_human(ns)}, expected < 1us\n" in text
    github = vmspec("check", "t.vms", "--format", "github", cwd=tmp_path).stdout
    assert f"time(p) = {format_duration_human(ns)}" in github


def test_trace_shows_each_expect_with_its_values(tmp_path):
    (tmp_path / "t.vms").write_text(TIMED.replace("< 1us", "< 1s\n    expect rss(p) == 1MiB and faults(p).minor == 3"))
    out = vmspec("check", "t.vms", "--trace", cwd=tmp_path)
    lines = out.stdout.splitlines()
    assert any(line.startswith("  t.vms:6  expect time(p) < 1s") and "holds; time(p) = " in line for line in lines)
    assert ("  t.vms:7  expect rss(p) == 1MiB and faults(p).minor == 3  fails: got 256, expected == 3; "
            "rss(p) = 1MiB, faults(p).minor = 256") in lines


def test_junit_names_each_spec_error_after_its_file(tree):
    (tree / "specs" / "broken.vms").write_text('machine m { ram 64MiB }\nscenario "x" {\n  spawn p\n  p: b = mmap 1MiB => ENOMEN\n}\n')
    out = vmspec("check", "specs", "--format", "junit", cwd=tree)
    root = ET.fromstring(out.stdout)
    (case,) = [c for c in root.iter("testcase") if c.find("error") is not None]
    assert (case.get("classname"), case.get("name")) == ("specs/broken.vms", "specs/broken.vms:4:23")
