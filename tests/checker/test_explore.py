"""`vmspec explore`: a Hypothesis search for a scenario that breaks a file's invariants."""

import subprocess
import sys

import pytest

from vmspec.checker import CheckOptions, check
from vmspec.checker.explore import explore
from vmspec.errors import UsageError
from vmspec.language import load

SPEC = 'machine m { ram 64MiB; swap 0 }\ninvariant "under 1MiB": used < 1MiB\n'


def _load(tmp_path, text, name="inv.vms"):
    path = tmp_path / name
    path.write_text(text)
    return load(str(path), str(tmp_path))


def test_finds_and_shrinks_a_breaking_scenario_that_replays(tmp_path, monkeypatch):
    outcome = explore(_load(tmp_path, SPEC), max_examples=300, seed=1)
    assert outcome.found and outcome.machine == "m"
    kinds = {v.kind for v in outcome.result.violations}
    assert "invariant" in kinds
    assert outcome.scenario_text.startswith('scenario "found by vmspec explore" on m {\n    spawn p0\n')
    # The found scenario, pasted into a spec that includes the explored file, breaks it again.
    (tmp_path / "replay.vms").write_text('include "inv.vms"\n' + outcome.scenario_text)
    monkeypatch.chdir(tmp_path)
    report = check(["replay.vms"], CheckOptions())
    assert [v.kind for v in report.scenarios[0].violations if v.kind == "invariant"] == ["invariant"]


def test_search_is_deterministic_for_a_seed(tmp_path):
    program = _load(tmp_path, SPEC)
    first = explore(program, max_examples=100, seed=7)
    second = explore(program, max_examples=100, seed=7)
    assert (first.scenario_text, first.examples) == (second.scenario_text, second.examples)


def test_an_invariant_that_holds_is_reported_as_not_broken(tmp_path):
    program = _load(tmp_path, 'machine m { ram 64MiB; swap 0 }\ninvariant "no swap": swap_used == 0\n')
    outcome = explore(program, max_examples=30, seed=0)
    assert not outcome.found and outcome.examples == 30


def test_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="needs at least one `invariant`"):
        explore(_load(tmp_path, "machine m { ram 64MiB }\n"))
    two = 'machine a { ram 64MiB }\nmachine b { ram 64MiB }\ninvariant "x": used < 1MiB\n'
    with pytest.raises(UsageError, match=r"--machine \(a, b\)"):
        explore(_load(tmp_path, two, "two.vms"))
    with pytest.raises(UsageError, match="no machine named 'c'"):
        explore(_load(tmp_path, two, "two.vms"), machine="c")


def test_cli(tmp_path):
    (tmp_path / "inv.vms").write_text(SPEC)
    out = subprocess.run([sys.executable, "-m", "vmspec", "explore", "inv.vms", "--max-examples", "300"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("explore: found a scenario on machine m that breaks an invariant")
    assert 'invariant "under 1MiB" broke at line' in out.stdout and "stated at inv.vms:2" in out.stdout
    (tmp_path / "none.vms").write_text("machine m { ram 64MiB }\n")
    out = subprocess.run([sys.executable, "-m", "vmspec", "explore", "none.vms"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "needs at least one `invariant`" in out.stderr
