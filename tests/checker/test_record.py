"""The recorders behind the HTML report and `vmspec show`: nothing recorded unless asked, bounded
samples whatever the number of steps, violations at their exact step, maps at the failing step."""

from vmspec.checker import CheckOptions
from vmspec.checker.record import StepStates
from vmspec.checker.runner import ScenarioRun
from vmspec.language import load

MACHINE = "machine m { ram 64MiB; swap 8MiB; replacement fifo }\n"

LONG = MACHINE + """
scenario "long" {
    spawn p
    p: buf = mmap 1MiB
    repeat 3000 {
        p: write buf[0..8KiB]
        expect faults(p).minor == 0
    }
    p: write buf
    expect rss(p) == 2MiB
}
"""


def test_nothing_is_recorded_unless_a_report_asks(run_spec):
    report = run_spec(LONG)
    assert report.scenarios[0].recording is None
    assert "recording" not in report.scenarios[0].model_dump()  # never in the JSON either


def test_long_scenarios_are_sampled_with_exact_marks(run_spec):
    (result,) = run_spec(LONG, record=True).scenarios
    rec = result.recording
    assert rec["steps"] == 2 + 3000 * 2 + 2
    assert 1000 <= len(rec["x"]) < 2000 and rec["stride"] == 4
    assert list(rec["x"]) == sorted(set(rec["x"])) and rec["x"][-1] == rec["steps"]  # the final state is drawn
    assert all(x % rec["stride"] == 0 for x in rec["x"][:-1])
    # columns line up with the samples; counters are cumulative
    minor = rec["procs"]["p"]["minor"]
    assert len(minor) == len(rec["x"]) == len(rec["text"]) == len(rec["system"]["free"])
    assert list(minor) == sorted(minor) and minor[-1] == 256
    # the failing expect of the first iteration (reported once) and the last one, at their own steps
    first, last = rec["marks"]
    assert (first["step"], first["line"]) == (4, 8) and (last["step"], last["line"]) == (rec["steps"], 11)
    assert rec["maps"]["step"] == 4 and rec["maps"]["when"] == "at the first failing step"
    (buf,) = [m for m in rec["maps"]["procs"]["p"]["mappings"] if m[5] == "buf"]
    assert buf[6] == 8 << 10  # resident at step 4: the two pages written so far


def test_a_passing_scenario_maps_its_last_step(run_spec):
    (result,) = run_spec(MACHINE + 'scenario "ok" {\n spawn p\n p: b = mmap 64KiB\n p: write b\n'
                         ' exit p\n spawn q\n q: c = mmap 8KiB shared\n q: write c\n}\n', record=True).scenarios
    maps = result.recording["maps"]
    assert maps["when"] == "after the last step" and maps["step"] == 7
    assert maps["procs"]["p"] == {"status": "exited", "mappings": ()}
    (c,) = [m for m in maps["procs"]["q"]["mappings"] if m[5] == "c"]
    assert c[4] == "shmem" and c[6] == 8 << 10
    assert result.recording["procs"]["q"]["rss_shmem"][-1] == 8 << 10
    assert result.recording["procs"]["p"]["rss_anon"][:4] == (0, 0, 64 << 10, 0)


def test_step_states_one_step_with_its_violation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.vms").write_text(MACHINE + 'scenario "s" {\n spawn p\n p: b = mmap 64KiB\n p: write b\n'
                                    ' expect rss(p) == 0\n p: read b\n}\n')
    program = load("s.vms")
    for only, text, violations in ((3, "p: write b", []), (4, "expect rss(p) == 0", 1)):
        run = ScenarioRun(program, program.scenarios[0], CheckOptions())
        run.recorder = StepStates(only=only)
        states = run.run().recording
        (state,) = states["states"]
        assert states["steps"] == 5 and state["step"] == only and state["text"] == text
        assert state["procs"]["p"]["rss"] == 64 << 10 and state["procs"]["p"]["minor"] == 16
        assert len(state["violations"]) == (violations or 0)
    run = ScenarioRun(program, program.scenarios[0], CheckOptions())
    run.recorder = StepStates()
    assert [s["step"] for s in run.run().recording["states"]] == [1, 2, 3, 4, 5]
