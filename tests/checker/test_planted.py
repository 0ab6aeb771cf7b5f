"""The planted suite: explore breaks each false invariant within its stated budget (seed 0) with
a minimal scenario that replays, and breaks none of the true ones."""

import pytest

from planted import FALSE, TRUE, spec
from vmspec.checker.explore import explore
from vmspec.language import load


def _load(tmp_path, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "planted.vms").write_text(text)
    return load("planted.vms")


@pytest.mark.parametrize("name", sorted(FALSE))
def test_a_false_invariant_is_broken_within_its_budget(name, tmp_path, monkeypatch):
    machine, invariant, budget = FALSE[name]
    result = explore(_load(tmp_path, monkeypatch, spec(machine, invariant)), max_examples=budget, seed=0)
    (finding,) = result.findings
    assert finding.found_at <= budget and finding.minimal
    label = result.invariants[0]
    # replaying the written spec breaks that invariant, at the scenario's last step, and nothing
    # else: the steps that fail in it say so (`=> OOM`, `=> ENOMEM`...)
    assert [v.message.split(" broke")[0] for v in finding.violations] == [f'invariant "{label}"']
    broken = finding.violations
    assert broken[0].line == result.spec.count("\n") - 1
    assert result.exit_code() == 1 and result.counts.internal_errors == 0


@pytest.mark.parametrize("name", sorted(TRUE))
def test_a_true_invariant_is_not_broken(name, tmp_path, monkeypatch):
    machine, invariant = TRUE[name]
    result = explore(_load(tmp_path, monkeypatch, spec(machine, invariant)), max_examples=25, max_steps=6, seed=0)
    assert not result.findings and not result.unreached and result.counts.examples == 25


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRUE))
def test_a_true_invariant_is_not_broken_in_a_long_search(name, tmp_path, monkeypatch):
    machine, invariant = TRUE[name]
    result = explore(_load(tmp_path, monkeypatch, spec(machine, invariant)), max_examples=1000, seed=1, jobs=2)
    assert not result.findings and not result.unreached and result.counts.examples == 2000
