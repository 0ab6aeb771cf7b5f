"""`vmspec explore` (issue 11): the spec's own names and scenarios, honest counts, minimal
scenarios, and a written spec that `vmspec check` replays."""

import json
import os
import re
import subprocess
import sys

import pytest

from vmspec.checker import CheckOptions, check
from vmspec.checker.explore import explore
from vmspec.checker.shrink import Shrinker, knobs
from vmspec.checker.trial import Trier
from vmspec.checker.vocabulary import build_vocabulary, draw_steps
from vmspec.errors import UsageError
from vmspec.language import ast, load, parse_text

SMALL = "machine m { ram 16MiB; swap 0 }\n"
APP = SMALL + 'invariant "nobody holds more than 1MiB": rss(app) <= 1MiB\n'


@pytest.fixture
def spec(tmp_path, monkeypatch):
    """Write ``text`` as ``name`` in a temporary current directory and load it."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "inv.vms"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return load(name)

    return write


def _steps(text: str) -> tuple:
    return parse_text('scenario "s" on m {\n' + text + "}\n", "s.vms").items[0].steps


# ----------------------------------------------------------------------------- the two failures
def test_the_invariants_process_names_are_used_and_the_break_replays(spec, tmp_path):
    result = explore(spec(APP), max_examples=50)
    (finding,) = result.findings
    assert finding.invariant == "nobody holds more than 1MiB" and "spawn app" in finding.scenario
    assert result.exit_code() == 1 and result.counts.broken == 1
    # the written spec includes the explored file and replays with exit 1, breaking that invariant
    (tmp_path / "found.vms").write_text(result.spec)
    report = check(["found.vms"], CheckOptions())
    assert report.exit_code() == 1
    (broken,) = [v for v in report.scenarios[0].violations if v.kind == "invariant"]
    assert broken.message.startswith('invariant "nobody holds more than 1MiB" broke at line')
    assert result.spec.startswith("# Found by: vmspec explore inv.vms --seed 0 --max-examples 50\n")
    assert 'include "inv.vms"\n' in result.spec
    assert '# breaks invariant "nobody holds more than 1MiB" (inv.vms:2): rss(app) <= 1MiB\n' in result.spec


def test_oom_kills_on_a_small_machine_with_swap_is_found(spec):
    # The second case: on a machine with swap under Linux's two-list reclaim
    result = explore(spec("machine m { ram 16MiB; swap 16MiB }\n"
                          'invariant "no OOM kill": oom_kills == 0\n'), max_examples=100)
    assert result.exit_code() == 1 and result.findings[0].expression == "oom_kills == 0"
    assert {v.kind for v in result.findings[0].violations} == {"invariant"}


@pytest.mark.slow
def test_the_same_invariant_is_broken_on_a_machine_with_swap_and_a_textbook_policy(spec):
    result = explore(spec("machine m { ram 8MiB; swap 8MiB; replacement lru }\n"
                          'invariant "no OOM kill": oom_kills == 0\n'), max_examples=200)
    assert result.counts.broken == 1
    # the step that got its process killed says so, so the replay reports only the break
    assert {v.kind for v in result.findings[0].violations} == {"invariant"}


# ----------------------------------------------------------------------------- names that cannot be reached
def test_an_invariant_whose_names_no_example_created_is_an_error(spec):
    result = explore(spec(SMALL + 'invariant "both small": rss(a) + rss(b) <= 1MiB\n'), max_examples=20, max_steps=1)
    assert result.exit_code() == 2 and not result.findings
    (unreached,) = result.unreached
    assert unreached.invariant == "both small" and unreached.stated_line == 2
    assert "no example had process a and process b in existence at once" in unreached.reason
    assert "--max-steps (now 1)" in unreached.reason


def test_a_region_named_by_an_invariant_is_mapped_under_that_name(spec):
    result = explore(spec(SMALL + 'invariant "buf stays out": resident(app.buf) == 0\n'), max_examples=100)
    assert result.counts.broken == 1 and "app: buf = " in result.findings[0].scenario


def test_an_invariant_no_example_could_run_for_is_an_error_naming_the_gap(spec, monkeypatch):
    from vmspec.checker import steps
    from vmspec.engine.errors import Unsupported

    def refused(ctx, step):
        raise Unsupported("spawning is not modelled here")

    monkeypatch.setitem(steps.HANDLERS, ast.Spawn, refused)
    result = explore(spec(SMALL + 'invariant "x": used < 1GiB\n'), max_examples=10)
    assert result.counts.unsupported == result.counts.examples == 10
    (reason, count), = result.unsupported  # the reasons, with how many examples each ended
    assert (reason, count) == ("not modelled yet: spawning is not modelled here", 10)
    (unreached,) = result.unreached
    assert "no example got past its first step" in unreached.reason and "spawning is not modelled here" in unreached.reason
    assert result.exit_code() == 2


# ----------------------------------------------------------------------------- counts, determinism, options
def test_an_invariant_that_holds_is_reported_with_how_close_the_search_came(spec):
    result = explore(spec(SMALL + 'invariant "within ram": used <= ram\n'), max_examples=30, max_steps=4)
    assert not result.findings and result.exit_code() == 0 and result.spec == ""
    assert result.counts.examples == 30 and result.counts.broken == 0
    (closest,) = result.closest
    assert closest.invariant == "within ram" and closest.detail.startswith("used <= ram: got ")


def test_the_search_is_deterministic_for_a_seed(spec):
    program = spec(SMALL + 'invariant "no cow": faults(child).cow == 0\ninvariant "small": rss(app) <= 2MiB\n')
    first = explore(program, max_examples=100, seed=3)
    second = explore(program, max_examples=100, seed=3)
    assert first.model_dump_json() == second.model_dump_json()
    assert first.counts.broken == 2


def test_only_the_invariant_asked_for_is_explored(spec):
    program = spec(SMALL + 'invariant "a": rss(app) <= 1MiB\ninvariant "b": swap_used == 0\n')
    result = explore(program, invariant="a", max_examples=50)
    assert result.invariants == ["a"] and [f.invariant for f in result.findings] == ["a"]
    with pytest.raises(UsageError, match=r"no invariant labelled 'c' \(there are: \"a\", \"b\"\)"):
        explore(program, invariant="c")


def test_usage_errors(spec):
    with pytest.raises(UsageError, match="needs at least one `invariant`"):
        explore(spec("machine m { ram 64MiB }\n"))
    two = spec('machine a { ram 64MiB }\nmachine b { ram 64MiB }\ninvariant "x": used < 1MiB\n', "two.vms")
    with pytest.raises(UsageError, match=r"--machine \(a, b\)"):
        explore(two)
    with pytest.raises(UsageError, match="no machine named 'c'"):
        explore(two, machine="c")
    with pytest.raises(UsageError, match="need at least 1"):
        explore(two, machine="a", max_steps=0)


def test_the_timeout_cuts_the_search_and_says_so(spec):
    result = explore(spec(SMALL + 'invariant "within ram": used <= ram\n'), max_examples=100_000, timeout=0.5)
    assert result.timed_out and 0 < result.counts.examples < 100_000


def test_progress_is_reported_per_example(spec):
    seen = []
    explore(spec(SMALL + 'invariant "within ram": used <= ram\n'), max_examples=5, max_steps=2,
            on_progress=lambda examples, broken: seen.append((examples, broken)))
    assert seen == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0)]


def test_jobs_run_searches_with_the_next_seeds_and_keep_the_smallest(spec):
    program = spec(APP)
    both = explore(program, max_examples=50, jobs=2)
    alone = [explore(program, max_examples=50, seed=s) for s in (0, 1)]
    assert both.counts.examples == sum(r.counts.examples for r in alone)
    smallest = min(alone, key=lambda r: (r.findings[0].steps, len(r.findings[0].scenario), r.seed))
    assert both.findings[0].scenario == smallest.findings[0].scenario
    assert both.findings[0].seed == smallest.seed and both.jobs == 2


def test_a_bug_in_vmspec_is_counted_and_its_scenario_shrunk(spec, monkeypatch):
    from vmspec.checker import steps

    def broken_fork(ctx, step):
        raise RuntimeError("boom")

    monkeypatch.setitem(steps.HANDLERS, ast.Fork, broken_fork)
    result = explore(spec(SMALL + 'invariant "within ram": used <= ram\n'), max_examples=60)
    assert result.counts.internal_errors > 0 and result.exit_code() == 2
    message, _, scenario = result.internal_error.partition("\n")
    assert "RuntimeError: boom" in message
    assert re.fullmatch(r'scenario "crashes vmspec" on m \{\n    spawn p0\n    fork p0 as p\d\n\}\n', scenario)


# ----------------------------------------------------------------------------- the file's scenarios as prefixes
def test_the_files_scenarios_are_extended_without_their_checks(spec):
    program = spec(SMALL + 'invariant "x": used <= ram\n'
                   'scenario "setup" on m {\n    spawn server\n    server: cache = mmap 4MiB\n'
                   '    expect rss(server) == 0\n    repeat 2 {\n        server: read cache\n        always free > 0\n    }\n}\n')
    vocab = build_vocabulary(program, "m", program.invariants)
    (prefix,) = vocab.prefixes
    assert [type(s).__name__ for s in prefix] == ["Spawn", "Mmap", "Repeat"]
    assert [type(s).__name__ for s in prefix[2].body] == ["Access"]
    assert vocab.processes == ("server",) and vocab.region_names == ("cache",)
    drawn = [draw_steps(vocab, [seed, seed + 1, seed + 2], seed) for seed in range(40)]
    extended = [steps for steps in drawn if steps[:3] == prefix]
    assert extended and any(getattr(s, "process", None) == "server" for steps in extended for s in steps[3:])


# ----------------------------------------------------------------------------- shrinking
def _trier(program):
    return Trier(program, "m", program.invariants, CheckOptions(max_accesses=1_000_000, timeout=10))


def test_shrinking_removes_unused_steps_and_idle_processes(spec):
    trier = _trier(spec(APP))
    steps = _steps("spawn idle\n spawn app\n app: spare = mmap 4KiB\n app: buf = mmap 8MiB populate\n"
                   " idle: x = mmap 1MiB\n app: write buf\n exit idle\n app: read spare\n")
    shrinker = Shrinker(lambda s: trier.run(s).broken.get(0), trier.render, 4096)
    small = shrinker.shrink(steps)
    assert trier.render(small) == 'scenario "explore" on m {\n    spawn app\n    app: buf = mmap 1028KiB populate\n}\n'
    assert shrinker.complete and shrinker.runs > 0


def _assert_minimal(trier, steps, page=4096):
    """No step can be removed and no number made one grain smaller without losing the break."""
    def breaks(candidate):
        return 0 in trier.run(candidate).broken

    assert breaks(steps)
    for i in range(len(steps)):
        assert not breaks(steps[:i] + steps[i + 1:]), f"step {i} can be removed"
        for knob in knobs(steps[i], page):
            value = knob.get(steps[i])
            if value - knob.grain >= knob.least:
                smaller = steps[:i] + (knob.put(steps[i], value - knob.grain),) + steps[i + 1:]
                assert not breaks(smaller), f"a number of step {i} can be smaller"


@pytest.mark.parametrize("machine, invariant", [
    (SMALL, 'invariant "x": rss(app) <= 1MiB'),
    (SMALL, 'invariant "x": faults(child).cow == 0'),
    ("machine m { ram 64MiB; swap 0 }\n", 'invariant "x": pagetables(server) <= 64KiB'),
])
def test_found_scenarios_are_minimal(spec, machine, invariant):
    program = spec(machine + invariant + "\n")
    result = explore(program, max_examples=200)
    (finding,) = result.findings
    assert finding.minimal
    steps = parse_text(finding.scenario, "f.vms").items[0].steps
    _assert_minimal(_trier(program), steps)


# ----------------------------------------------------------------------------- the command line
@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run ``vmspec ARGS`` in this process, in the temporary directory; return (code, stdout, stderr)."""
    from vmspec.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args):
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_cli_writes_the_spec_to_stdout_and_the_report_to_stderr(tmp_path, cli):
    (tmp_path / "inv.vms").write_text(APP)
    code, out, err = cli("explore", "inv.vms", "--max-examples", "50")
    assert code == 1, err
    assert out.startswith("# Found by: vmspec explore inv.vms --seed 0 --max-examples 50\n")
    parse_text(out, "stdout.vms")  # stdout is a spec and nothing else
    assert err.startswith("explore inv.vms on machine m (seed 0): 1 of 1 invariant broken\n")
    assert '<stdout>:10:5: invariant "nobody holds more than 1MiB" broke at line 10' in err
    (tmp_path / "found.vms").write_text(out)
    assert cli("check", "found.vms")[0] == 1


def test_cli_nothing_found_leaves_stdout_empty(tmp_path, cli):
    (tmp_path / "inv.vms").write_text(SMALL + 'invariant "within ram": used <= ram\n')
    code, out, err = cli("explore", "inv.vms", "--max-examples", "20", "--max-steps", "3")
    assert code == 0 and out == ""
    assert err.startswith("explore inv.vms on machine m (seed 0): no scenario broke the invariant\n")
    assert "  20 examples tried: " in err


def test_cli_output_file_in_another_directory_replays(tmp_path, cli):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "inv.vms").write_text(APP)
    code, _, err = cli("explore", "specs/inv.vms", "--max-examples", "50", "-o", "found/app.vms")
    assert code == 2 and "cannot write found/app.vms: no such directory" in err
    (tmp_path / "found").mkdir()
    code, out, err = cli("explore", "specs/inv.vms", "--max-examples", "50", "-o", "found/app.vms")
    assert code == 1 and out == ""
    written = (tmp_path / "found" / "app.vms").read_text()
    assert 'include "../specs/inv.vms"\n' in written and "# Replay: vmspec check found/app.vms\n" in written
    assert "wrote found/app.vms; replay it with: vmspec check found/app.vms" in err and "warning" not in err
    assert cli("check", "found/app.vms")[0] == 1


def test_cli_warns_when_the_written_spec_would_not_replay(tmp_path, tmp_path_factory, cli):
    (tmp_path / "inv.vms").write_text(APP)
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "app.vms"  # outside the current directory
    code, _, err = cli("explore", "inv.vms", "--max-examples", "50", "-o", str(elsewhere))
    assert code == 1 and elsewhere.exists()
    assert f"warning: vmspec check {elsewhere} could not load it" in err and "pass --root" in err


def test_cli_json(tmp_path, cli):
    (tmp_path / "inv.vms").write_text(APP)
    code, out, _ = cli("explore", "inv.vms", "--max-examples", "50", "--format", "json")
    document = json.loads(out)
    assert code == document["exit_code"] == 1 and document["version"] == 1
    assert document["counts"]["examples"] >= 1 and document["counts"]["broken"] == 1
    assert document["findings"][0]["invariant"] == "nobody holds more than 1MiB"
    assert document["spec"].startswith("# Found by: vmspec explore inv.vms")


def test_cli_errors(tmp_path, cli):
    (tmp_path / "none.vms").write_text("machine m { ram 64MiB }\n")
    code, out, err = cli("explore", "none.vms")
    assert code == 2 and "needs at least one `invariant`" in err and out == ""
    (tmp_path / "inv.vms").write_text(APP)
    code, _, err = cli("explore", "inv.vms", "--invariant", "nope")
    assert code == 2 and "no invariant labelled 'nope'" in err
    code, _, err = cli("explore", "inv.vms", "-j", "0")
    assert code == 2 and "need at least 1" in err


def test_the_installed_command_runs_explore(tmp_path):
    (tmp_path / "inv.vms").write_text(APP)
    out = subprocess.run([sys.executable, "-m", "vmspec", "explore", "inv.vms", "--max-examples", "10"],
                         cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert out.returncode == 1 and out.stdout.startswith("# Found by: vmspec explore inv.vms")


def test_the_written_spec_does_not_depend_on_hash_randomisation(tmp_path):
    (tmp_path / "inv.vms").write_text(APP)
    outs = [subprocess.run([sys.executable, "-m", "vmspec", "explore", "inv.vms", "--format", "json",
                            "--max-examples", "50"], cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert outs[0] == outs[1] and json.loads(outs[0])["counts"]["broken"] == 1


def test_a_drawn_scenario_the_language_refuses_is_counted_as_a_bug(spec, monkeypatch):
    from vmspec.checker import vocabulary

    real = vocabulary.draw_steps

    def with_a_stranger(vocab, seeds, shape):
        return real(vocab, seeds, shape) + (ast.Exit(span=vocabulary.SPAN, process="stranger"),)

    monkeypatch.setattr(vocabulary, "draw_steps", with_a_stranger)
    result = explore(spec(SMALL + 'invariant "within ram": used <= ram\n'), max_examples=5)
    assert result.counts.spec_errors == 5 and result.exit_code() == 2
    assert "unknown process `stranger`" in result.spec_error
