"""Options declared once (issue 5): [tool.vmspec] keys and values are checked with the same rules
as the command line and the pytest plugin, and a bad value names the file, the key and the value."""

import pytest

from vmspec.checker.options import make_options
from vmspec.errors import UsageError
from vmspec.options import OPTION_SPECS, OptionError, parse_number, read_pyproject, validate_config


@pytest.mark.parametrize(
    "line, message",
    [
        ("seed = 1.5", "seed must be an integer, got 1.5"),
        ("seed = -1", "seed must be at least 0, got -1"),
        ('jobs = "x"', "jobs must be an integer, got 'x'"),
        ("jobs = 0", "jobs must be at least 1, got 0"),
        ('format = "xml"', "format must be one of text, json, junit, github, got 'xml'"),
        ('paths = "specs"', "paths must be a list of strings, got 'specs'"),
        ("paths = [1]", "paths must be a list of strings, got [1]"),
        ('trace = "yes"', "trace must be true or false, got 'yes'"),
        ("timeout = -1", "timeout must be at least 0, got -1.0"),
        ("timeout = nan", "timeout must be a finite number, got nan"),
        ("timeout = 1e10", "timeout must be at most 31,536,000, got 10000000000.0"),
        ("max_accesses = 0", "max_accesses must be at least 1, got 0"),
        ("bogus = 1", "unknown key 'bogus'"),
    ],
)
def test_bad_pyproject_values_are_refused(tmp_path, line, message):
    (tmp_path / "pyproject.toml").write_text(f"[tool.vmspec]\n{line}\n")
    with pytest.raises(OptionError) as info:
        read_pyproject(str(tmp_path / "sub" / "dir"))
    assert str(info.value).startswith(str(tmp_path / "pyproject.toml") + ": [tool.vmspec]")
    assert message in str(info.value)


def test_good_pyproject_values(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.vmspec]\npaths = ["specs"]\nseed = 3\ntimeout = 10\nformat = "json"\njobs = 2\ntrace = true\n'
    )
    path, table = read_pyproject(str(tmp_path))
    assert path == str(tmp_path / "pyproject.toml")
    assert table == {"paths": ["specs"], "seed": 3, "timeout": 10.0, "format": "json", "jobs": 2, "trace": True}
    options = make_options(table, {"seed": 5})
    assert (options.seed, options.timeout, options.trace) == (5, 10.0, True)


def test_a_pyproject_integer_of_thousands_of_digits_is_a_usage_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.vmspec]\nseed = " + "9" * 5000 + "\n")
    with pytest.raises(OptionError, match=r"pyproject.toml: cannot read \[tool.vmspec\]"):
        read_pyproject(str(tmp_path))


def test_unreadable_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text("x = [")
    with pytest.raises(OptionError, match="cannot read"):
        read_pyproject(str(tmp_path))
    (tmp_path / "pyproject.toml").write_text("[tool]\nvmspec = 3\n")
    with pytest.raises(OptionError, match=r"\[tool.vmspec\] must be a table"):
        read_pyproject(str(tmp_path))


def test_command_line_values_follow_the_same_rules():
    specs = {s.name: s for s in OPTION_SPECS}
    assert parse_number(specs["timeout"], "0") == 0.0
    with pytest.raises(OptionError, match="--timeout must be at least 0"):
        parse_number(specs["timeout"], "-1")
    with pytest.raises(OptionError, match="--seed must be an integer, got 'x'"):
        parse_number(specs["seed"], "x")
    with pytest.raises(OptionError, match="--timeout must be at most 31,536,000, got 10000000000.0"):
        parse_number(specs["timeout"], "1e10")
    with pytest.raises(OptionError, match="--seed must fit in 64 bits"):
        parse_number(specs["seed"], "9" * 5000)
    with pytest.raises(UsageError, match="--max-accesses must be at least 1"):
        make_options({}, {"max_accesses": -5})
    assert make_options(validate_config({"timeout": 0}), {}).timeout is None
