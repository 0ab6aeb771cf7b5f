"""The pytest plugin (issue 5): one item per scenario, failure text identical to `vmspec check`,
spec errors as collection errors, xdist gives the same results."""

import subprocess
import sys

import pytest

# Load numpy (through the engine) and the language before pytester snapshots sys.modules: an
# in-process pytester run drops modules first imported inside it, and numpy cannot be imported
# twice in one process.
import vmspec.checker.runner  # noqa: F401,E402
import vmspec.language  # noqa: F401,E402
import vmspec.reporting.text  # noqa: F401,E402

# ... and every module the language loads lazily on its first parse (its parse driver, say)
vmspec.language.format_text('machine m { ram 1MiB }\nscenario "s" { spawn p }\n', "warm-up.vms")

pytest_plugins = ["pytester"]

SPEC = """machine m { ram 64MiB; swap 0 }

scenario "passes" {
    spawn p
    p: buf = mmap 1MiB
    p: write buf
    expect rss(p) == 1MiB
}

scenario "fails" {
    spawn p
    p: buf = mmap 1MiB
    p: write buf[0..768KiB]
    expect rss(p) == 1MiB
}
"""


def test_items_and_failure_text(pytester):
    pytester.makefile(".vms", fork=SPEC)
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["fork.vms::passes PASSED*", "fork.vms::fails FAILED*"])
    check = subprocess.run([sys.executable, "-m", "vmspec", "check", "fork.vms::fails"],
                           cwd=pytester.path, capture_output=True, text=True)
    block = check.stdout.split("\n\n")[0]
    header, *body = block.split("\n")
    assert header == "FAILED fork.vms::fails (line 10)"
    assert "\n".join(line[2:] for line in body) in result.stdout.str()
    # the short summary shows the first violation, not the header again
    result.stdout.fnmatch_lines(["FAILED fork.vms::fails - fork.vms:14:5: expect failed: rss(p) == 1MiB"])
    assert "FAILED fork.vms::fails - FAILED" not in result.stdout.str()


def test_k_selects_titles(pytester):
    pytester.makefile(".vms", fork=SPEC)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "passes")
    result.assert_outcomes(passed=1, deselected=1)


def test_spec_error_is_a_collection_error(pytester):
    pytester.makefile(".vms", broken='machine m { ram 64MiB }\nscenario "x" {\n  spawn p\n  expect rss(p) == 256\n}\n')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    assert "broken.vms:4:" in text and "Traceback" not in text


def _junit_reports(path) -> dict:
    """Return each test case's outcome and report text from a JUnit XML file (times left out)."""
    import xml.etree.ElementTree as ET

    return {(case.get("classname"), case.get("name")):
            [(child.tag, child.get("message"), child.text) for child in case]
            for case in ET.parse(path).getroot().iter("testcase")}


def test_xdist_gives_the_same_results(pytester):
    pytest.importorskip("xdist")
    pytester.makefile(".vms", fork=SPEC, other=SPEC.replace('"passes"', '"passes too"'))
    serial = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "0", "--junitxml=serial.xml")
    parallel = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--junitxml=parallel.xml")
    serial.assert_outcomes(passed=2, failed=2)
    parallel.assert_outcomes(passed=2, failed=2)
    reports = _junit_reports(pytester.path / "serial.xml")
    assert _junit_reports(pytester.path / "parallel.xml") == reports  # the same failure texts
    failures = [text for results in reports.values() for tag, _, text in results if tag == "failure"]
    assert len(failures) == 2 and all("expect failed: rss(p) == 1MiB" in text for text in failures)


def test_plugin_import_is_cheap():
    code = (
        "import sys, vmspec.pytest_plugin, vmspec.cli\n"
        "heavy = [m for m in ('lark', 'pydantic', 'numpy', 'rich', 'hypothesis', 'vmspec.engine', 'vmspec.language')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_bad_tool_vmspec_is_one_usage_error(pytester):
    pytester.makefile(".vms", fork=SPEC)
    pytester.makepyprojecttoml('[tool.vmspec]\nseed = "abc"\n')
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    expected = f"ERROR: {pytester.path / 'pyproject.toml'}: [tool.vmspec] seed must be an integer, got 'abc'"
    assert expected in result.stderr.lines
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_vmspec_options_are_checked_and_used(pytester):
    pytester.makefile(".vms", fork=SPEC)
    result = pytester.runpytest("-p", "no:cacheprovider", "--vmspec-timeout", "-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --vmspec-timeout: must be at least 0, got -1.0"])
    result = pytester.runpytest("-p", "no:cacheprovider", "--vmspec-seed", "9", "-k", "fails")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["reproduce: vmspec check fork.vms::fails --seed 9"])


def test_vmspec_trace_adds_a_report_section(pytester):
    pytester.makefile(".vms", fork=SPEC)
    result = pytester.runpytest("-p", "no:cacheprovider", "--vmspec-trace", "-rA", "-k", "passes")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*vmspec trace*", "trace of fork.vms::passes", "  fork.vms:6  p: write buf*  p: +256 minor, rss +1MiB"])


def test_plugin_state_lives_in_the_config_stash(pytester):
    """pytest's way (config.stash), not attributes set on the Config object."""
    pytester.makefile(".vms", fork=SPEC)
    pytester.makeconftest(
        "def pytest_sessionfinish(session):\n"
        "    leftovers = [a for a in vars(session.config) if a.startswith('_vmspec')]\n"
        "    print('vmspec attributes on config:', leftovers)\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*vmspec attributes on config: []*"])
