"""One test per checking rule of docs/language.md (issue 5): expect, always, invariant, `=> ERR`,
steps of processes that are not running, budgets, seeds and the reports' contents."""

import re

MACHINE = "machine m { ram 64MiB; swap 0 }\n"


def only(report):
    assert report.errors == [], [e.rendered for e in report.errors]
    assert len(report.scenarios) == 1
    return report.scenarios[0]


def test_passing_scenario(run_spec):
    result = only(run_spec(MACHINE + """
scenario "ok" {
    spawn p
    p: buf = mmap 1MiB
    p: write buf
    expect rss(p) == 1MiB and faults(p).minor == 256
}
"""))
    assert result.status == "passed" and result.violations == []


def test_failed_expect_reports_values_and_goes_on(run_spec):
    result = only(run_spec(MACHINE + """
scenario "two failures" {
    spawn p
    p: buf = mmap 1MiB
    p: write buf[0..768KiB]
    expect rss(p) == 1MiB
    p: write buf
    expect faults(p).minor == 100
}
"""))
    assert result.status == "failed"
    first, second = result.violations
    assert (first.kind, first.line, first.column) == ("expect", 7, 5)
    assert first.message == "expect failed: rss(p) == 1MiB"
    assert first.observed == {"rss(p)": "768KiB"}
    assert first.detail == "got 768KiB, expected == 1MiB"
    assert [s.line for s in first.steps] == [4, 5, 6]
    assert first.steps[-1].changes == "p: +192 minor, rss +768KiB"
    assert second.line == 9 and second.observed == {"faults(p).minor": "256"}


def test_always_reported_once_with_later_breaks(run_spec):
    result = only(run_spec(MACHINE + """
scenario "always" {
    spawn p
    p: buf = mmap 1MiB
    always rss(p) <= 256KiB
    p: write buf[0..256KiB]
    p: write buf[256KiB..512KiB]
    p: write buf[512KiB..768KiB]
    p: read buf
}
"""))
    (v,) = result.violations
    assert v.kind == "always" and v.line == 8 and v.stated_at == 6
    assert v.later_breaks == 2
    assert v.observed == {"rss(p)": "512KiB"}
    assert v.message == "always rss(p) <= 256KiB broke at line 8"


def test_invariant_applies_to_including_files(run_spec, tmp_path):
    (tmp_path / "common.vms").write_text(
        MACHINE + 'invariant "no swap": swap_used == 0\ninvariant "small": used <= 512KiB\n'
    )
    result = only(run_spec("""include "common.vms"
scenario "uses memory" {
    spawn p
    p: buf = mmap 1MiB
    p: write buf
}
"""))
    (v,) = result.violations
    assert v.kind == "invariant" and v.line == 5 and v.stated_at == 3 and v.stated_file == "common.vms"
    assert v.message.startswith('invariant "small" broke at line 5')


def test_expected_error_matches(run_spec):
    result = only(run_spec(MACHINE + """
scenario "errors" {
    spawn p
    p: big = mmap 1GiB => ENOMEM
    p: z = mmap 0 => EINVAL
    p: ro = mmap 4KiB r
    p: write ro => SIGSEGV
    expect status(p) == segfault
}
"""))
    assert result.status == "passed", result.violations


def test_wrong_or_missing_error_is_a_violation(run_spec):
    result = only(run_spec(MACHINE + """
scenario "errors" {
    spawn p
    p: ok = mmap 1MiB => ENOMEM
    p: big = mmap 1GiB => EINVAL
    p: big2 = mmap 1GiB
}
"""))
    a, b, c = result.violations
    assert a.kind == b.kind == c.kind == "step"
    assert a.message == "expected `p: ok = mmap 1MiB => ENOMEM` to fail with ENOMEM, but it succeeded"
    assert b.message.startswith("expected `p: big = mmap 1GiB => EINVAL` to fail with EINVAL, but it failed with ENOMEM")
    assert c.message.startswith("`p: big2 = mmap 1GiB` failed with ENOMEM")
    assert c.detail == "add `=> ENOMEM` to the step if this is expected"


def test_steps_of_processes_that_are_not_running(run_spec):
    result = only(run_spec(MACHINE + """
scenario "dead" {
    spawn p
    spawn q
    p: buf = mmap 4KiB r
    p: write buf => SIGSEGV
    p: read buf
    exit q
    q: x = mmap 4KiB
}
"""))
    a, b = result.violations
    assert a.kind == "not_running" and a.line == 8
    assert a.message == "p is not running: killed by SIGSEGV at line 7"
    assert b.message == "q is not running: exited at line 9"


def test_budget_stops_a_runaway_scenario(run_spec):
    result = only(run_spec(MACHINE + """
scenario "runaway" {
    spawn p
    p: buf = mmap 1MiB
    p: access buf random 1000000000000
}
"""))
    assert result.status == "error"
    (v,) = result.violations
    assert v.kind == "budget" and v.line == 6
    assert "beyond the budget of 50,000,000" in v.message


def test_budget_counts_repeats(run_spec):
    result = only(run_spec(MACHINE + """
scenario "runaway" {
    spawn p
    p: buf = mmap 1MiB
    repeat 1000000000 { p: read buf }
}
""", max_accesses=10_000))
    assert result.status == "error" and result.violations[0].kind == "budget"


def test_a_huge_repeat_is_refused_at_once(run_spec):
    result = only(run_spec(MACHINE + """
scenario "runaway" {
    spawn p
    repeat 1000 { repeat 1000000 { expect rss(p) == 0 } }
}
"""))
    assert result.status == "error"
    (v,) = result.violations
    assert v.kind == "budget" and v.line == 5
    assert v.message.startswith("repeat 1,000 would execute 1,000,000,000 steps, beyond the budget")


def test_timeout(run_spec):
    result = only(run_spec(MACHINE + """
scenario "slow" {
    spawn p
    p: buf = mmap 4KiB
    repeat 40000000 { expect rss(p) == 0 }
}
""", timeout=0.2))
    assert result.status == "error" and result.violations[0].kind == "budget"
    assert "--timeout" in result.violations[0].message


def test_seed_override_is_in_the_reproduce_command(run_spec):
    report = run_spec(MACHINE + 'scenario "s" seed 7 {\n spawn p\n}\n', seed=3)
    result = only(report)
    assert result.seed == 3
    assert result.reproduce == "vmspec check spec.vms::s --seed 3"


def test_random_access_is_deterministic(run_spec):
    text = MACHINE + """
scenario "random" seed 11 {
    spawn p
    p: buf = mmap 4MiB
    p: access buf random 2000 write
    expect faults(p).minor == 0
}
"""
    first = only(run_spec(text)).violations[0].observed
    second = only(run_spec(text)).violations[0].observed
    assert first == second
    different = only(run_spec(text, seed=12)).violations[0].observed
    assert first != different


def test_hit_rate_with_no_accesses_is_zero(run_spec):
    result = only(run_spec(MACHINE + """
scenario "rate" {
    spawn p
    expect tlb(p).hit_rate == 0%
    p: buf = mmap 64KiB
    p: read buf
    p: read buf
    expect tlb(p).hit_rate == 50%
}
"""))
    assert result.status == "passed", result.violations


def test_process_observables_before_spawn_and_after_exit(run_spec):
    result = only(run_spec(MACHINE + """
scenario "lifetime" {
    expect rss(p) == 0 and faults(p).minor == 0 and not alive(p)
    spawn p
    p: buf = mmap 64KiB
    p: write buf
    exit p
    expect rss(p) == 0 and faults(p).minor == 16 and status(p) == exited
    expect free == ram
}
"""))
    assert result.status == "passed", result.violations


def test_replay_pages(run_spec, tmp_path):
    (tmp_path / "trace.txt").write_text("0\n1\n2\n1\n0\n")
    result = only(run_spec(MACHINE + """
scenario "replay" {
    spawn p
    p: buf = mmap 64KiB
    p: replay "trace.txt" into buf write
    expect faults(p).minor == 3 and rss(p) == 3 pages
}
"""))
    assert result.status == "passed", result.violations


def test_malformed_replay_names_the_trace_line(run_spec, tmp_path):
    (tmp_path / "trace.txt").write_text("0\nnope\n")
    result = only(run_spec(MACHINE + """
scenario "replay" {
    spawn p
    p: buf = mmap 64KiB
    p: replay "trace.txt" into buf
}
"""))
    assert result.status == "error"
    assert result.violations[0].message == "replay: trace.txt:2: expected a page number (decimal, or hex after 0x), got 'nope'"


def test_arithmetic_is_exact_and_kinds_mix_as_allowed(run_spec):
    result = only(run_spec(MACHINE + """
scenario "arith" {
    spawn p
    p: buf = mmap 1MiB
    p: write buf[0..3 pages]
    expect rss(p) / 3 == 1 page
    expect rss(p) / 1MiB == 3 * 1% * 100 / 256
    expect 2 * rss(p) == 6 pages and rss(p) * 2 == 24KiB
    expect -rss(p) < 0
    expect time(p) > 0 and time == time(p)
}
"""))
    assert result.status == "passed", result.violations


def test_a_region_whose_mmap_failed(run_spec):
    result = only(run_spec(MACHINE + """
scenario "failed mmap" {
    spawn p
    p: big = mmap 1GiB => ENOMEM
    p: write big
}
"""))
    (v,) = result.violations
    assert v.kind == "step" and v.line == 6
    assert v.message == "p has no region big: the mmap at line 5 failed with ENOMEM"


def test_oom_kill_of_the_stepping_process_and_of_another(run_spec):
    result = only(run_spec("""machine tiny { ram 16MiB; swap 0 }
scenario "oom" {
    spawn small
    spawn big
    small: a = mmap 2MiB
    small: write a
    big: b = mmap 15MiB
    big: write b => OOM
    expect killed == [big] and big in killed and oom_kills == 1
    expect status(big) == oom_killed and rss(big) == 0
    big: read b
    spawn hog oom_score_adj 1000
    hog: h = mmap 1MiB
    small: c = mmap 15MiB
    small: write c
    expect killed == [big, hog]
}
"""))
    a, b, c = result.violations
    assert a.kind == "not_running" and a.line == 11
    assert a.message == "big is not running: killed by the OOM killer at line 8"
    # small's write: the first OOM comes with the min watermark's 195 pages still free, when
    # small's ~3,890 pages of badness are below hog's 1000 * (4096 // 1000) = 4,000, so hog goes
    # first; at the next OOM only small is left to kill, and its step fails with OOM
    assert b.kind == "step" and b.line == 15
    assert b.message == "`small: write c` failed with OOM: small was killed by the OOM killer (no free memory)"
    assert c.kind == "expect" and c.observed == {"killed": "[big, hog, small]"}


def test_a_violation_inside_a_repeat_is_reported_once_with_a_count(run_spec):
    result = only(run_spec(MACHINE + """
scenario "repeats" {
    spawn p
    p: big = mmap 1GiB => ENOMEM
    p: buf = mmap 1MiB
    repeat 100 { repeat 100 { p: write big } }
    repeat 3 {
        p: write buf[0..4KiB]
        expect rss(p) == 0
    }
}
"""))
    a, b = result.violations
    assert (a.kind, a.line, a.repeats) == ("step", 7, 9_999)
    assert a.message == "p has no region big: the mmap at line 5 failed with ENOMEM"
    assert (b.kind, b.line, b.repeats) == ("expect", 10, 2)
    assert b.steps[-1].iteration == "1/3"  # the first iteration that broke it
    from vmspec.reporting.text import scenario_text

    text = scenario_text(result)
    assert "      failed again in 9,999 later iterations of its repeat\n" in text
    assert re.search(r"spec.vms:9  p: write buf\[0..4KiB\]  \(repeat 1/3\) +p: \+1 minor, rss \+4KiB\n", text)


def test_always_inside_a_repeat_is_one_watch_and_checks_are_not_steps(run_spec):
    result = only(run_spec(MACHINE + """
scenario "always in repeat" {
    spawn p
    p: buf = mmap 1MiB
    repeat 3 {
        p: write buf[0..4KiB]
        always rss(p) == 0
        expect rss(p) == 4KiB
        p: read buf[0..8KiB]
    }
}
"""))
    (v,) = result.violations
    assert v.kind == "always" and v.line == 8 and v.stated_at == 8
    # broken again by the read, then write and read twice more; the expects change nothing
    assert v.later_breaks == 5


def test_an_internal_error_ends_only_its_scenario(run_spec, monkeypatch):
    from vmspec.checker import steps
    from vmspec.language import ast

    def broken(ctx, step):
        raise TypeError("boom")

    monkeypatch.setitem(steps.HANDLERS, ast.DropCaches, broken)
    report = run_spec(MACHINE + 'scenario "a" {\n spawn p\n drop_caches\n}\nscenario "b" {\n spawn p\n}\n')
    a, b = report.scenarios
    assert a.status == "error" and b.status == "passed"
    assert a.violations[0].message.startswith("internal error in vmspec (TypeError: boom)")


def test_reproduce_names_the_seed_root_and_budgets(run_spec):
    text = MACHINE + 'scenario "seeded" seed 7 {\n spawn p\n}\nscenario "plain" {\n spawn p\n}\n'
    seeded, plain = run_spec(text).scenarios
    assert seeded.reproduce == "vmspec check spec.vms::seeded --seed 7"
    assert plain.reproduce == "vmspec check spec.vms::plain"
    seeded, plain = run_spec(text, seed=3, root=".", max_accesses=1000, timeout=None).scenarios
    assert plain.reproduce == "vmspec check spec.vms::plain --root . --seed 3 --max-accesses 1000 --timeout 0"


def test_replay_pages_without_a_region_uses_virtual_page_numbers(run_spec, tmp_path):
    (tmp_path / "trace.txt").write_text("0x7f0000000\n0x7f0000001\n0x7f0000000\n")
    result = only(run_spec(MACHINE + """
scenario "replay" {
    spawn p
    p: replay "trace.txt" write
    expect faults(p).minor == 2 and rss(p) == 2 pages
}
"""))
    assert result.status == "passed", result.violations


def test_malformed_lackey_line_is_an_error_naming_the_line(run_spec, tmp_path):
    (tmp_path / "trace.lk").write_text("I  0023C790,2\n L -10,4\n")
    result = only(run_spec(MACHINE + """
scenario "replay" {
    spawn p
    p: replay "trace.lk" format lackey
}
"""))
    assert result.status == "error"
    assert result.violations[0].message == "replay: trace.lk:2: expected `KIND ADDRESS,SIZE`, got 'L -10,4'"


def test_timeout_interrupts_a_long_step(run_spec):
    import time

    start = time.monotonic()
    result = only(run_spec(MACHINE + """
scenario "one long step" {
    spawn p
    p: buf = mmap 32MiB
    p: access buf random 5000000
}
""", timeout=0.3))
    assert time.monotonic() - start < 3  # the step alone takes several seconds
    assert result.status == "error"
    (v,) = result.violations
    assert (v.kind, v.line) == ("budget", 6)
    assert v.message == "the scenario ran past its --timeout of 0.3 s; raise it with --timeout (0: none)"
    import signal

    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0  # the alarm is cleared
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL


def test_steps_of_a_process_that_was_never_created(run_spec):
    result = only(run_spec(MACHINE + """
scenario "never created" {
    spawn p
    exit p
    fork p as c
    c: b = mmap 1MiB
    spawn q oom_adj 100 => EINVAL
    q: b = mmap 1MiB
}
"""))
    a, b, c = result.violations
    assert a.message == "p is not running: exited at line 5"
    assert (b.kind, b.line) == ("not_running", 7)
    assert b.message == "c is not running: it was never created (the fork at line 6 did not run: p is not running)"
    assert (c.kind, c.line) == ("not_running", 9)
    assert c.message == "q is not running: it was never created (the spawn at line 8 failed with EINVAL)"


def test_an_invariant_is_checked_even_when_the_scenario_only_has_checks(run_spec):
    result = only(run_spec(MACHINE + 'invariant "something used": used > 0\nscenario "checks only" {\n'
                           '    expect ram == 64MiB\n    expect free == ram\n}\n'))
    (v,) = result.violations
    assert v.kind == "invariant" and v.line == 4 and v.later_breaks == 0




def test_the_alarm_is_restored_when_it_fires_on_the_way_out(run_spec, monkeypatch):
    """The timer can fire while the scenario is leaving the alarm's `with` (the body ended right
    at the deadline), even before __exit__'s first statement: the scenario ends as a timeout and
    the previous SIGALRM handler is back (it once stayed vmspec's)."""
    import signal

    from vmspec.checker import runner

    original_exit = runner._Alarm.__exit__

    def exit_fired(self, *exc):  # as if SIGALRM's handler ran at __exit__'s entry
        if self.armed:
            self.armed = False
            raise runner._Timeout()
        return original_exit(self, *exc)

    monkeypatch.setattr(runner._Alarm, "__exit__", exit_fired)
    before = signal.getsignal(signal.SIGALRM)
    result = only(run_spec(MACHINE + 'scenario "s" {\n    spawn p\n}\n', timeout=60))
    assert result.status == "error" and result.violations[0].kind == "budget"
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    assert signal.getsignal(signal.SIGALRM) == before


def test_line_ends_agree_with_the_parser(run_spec):
    """Only a newline ends a line: a form feed, vertical tab, lone CR, U+0085, U+2028 or U+2029 in
    a comment or a title must not shift the source text a report quotes."""
    for odd in ("\f", "\v", "\r", "\x85", "\u2028", "\u2029"):
        result = only(run_spec(MACHINE + f"""# a comment with {odd} inside
scenario "odd {odd} title" {{
    spawn p  # trailing {odd} comment
    p: buf = mmap 1MiB
    expect rss(p) == 1MiB
}}
"""))
        (v,) = result.violations
        assert (v.line, v.column) == (6, 5), repr(odd)
        assert v.message == "expect failed: rss(p) == 1MiB", repr(odd)
        assert [s.text for s in v.steps] == ["spawn p", "p: buf = mmap 1MiB"], repr(odd)


def test_a_timeout_past_the_os_timer_is_no_internal_error(run_spec):
    """CheckOptions built by hand are not checked against the option's maximum; the alarm then
    falls back to the deadline checks instead of failing every scenario with OverflowError."""
    result = only(run_spec(MACHINE + 'scenario "s" {\n    spawn p\n}\n', timeout=1e10))
    assert result.status == "passed", result.violations


def test_lackey_into_a_region_replays_offsets_from_its_start(run_spec, tmp_path):
    """`into R` with `format lackey` means what it means for a pages trace: the trace is placed
    into R, its addresses counting from R's start (it was silently ignored)."""
    (tmp_path / "trace.lk").write_text(" S 1000,4\n L 0,1\n M 3ffe,4\n")
    result = only(run_spec(MACHINE + """
scenario "replay into" {
    spawn p
    p: buf = mmap 1MiB
    p: replay "trace.lk" into buf format lackey
    # pages 1 (written), 0 (read: the zero page), 3 and 4 (M: a read, then a write, fault each)
    expect resident(p.buf) == 3 pages and faults(p).minor == 6 and rss(p) == 3 pages
    p: replay "trace.lk" into buf format lackey read
    expect faults(p).minor == 6
}
"""))
    assert result.status == "passed", result.violations


def test_a_machine_the_engine_refuses_is_blamed_on_its_setting(run_spec, tmp_path, monkeypatch):
    """An engine refusal while building the machine was reported at the scenario header (`thp
    always`, before THP was modelled), an EINVAL there as an internal error."""
    from vmspec.checker import runner
    from vmspec.engine.errors import Unsupported

    (tmp_path / "machines.vms").write_text("machine tight {\n    ram 64MiB\n    kernel 60MiB\n"
                                           "    hugepages 2MiB x 2\n}\n"
                                           "machine odd {\n    ram 64MiB\n    swappiness 10\n}\n")
    report = run_spec('include "machines.vms"\nscenario "tight" on tight {\n    spawn p\n}\n'
                      'scenario "odd" on odd {\n    spawn p\n}\n')
    tight, _ = report.scenarios
    assert tight.status == "error"
    (v,) = tight.violations
    assert (v.file, v.line, v.column) == ("machines.vms", 3, 5)
    assert v.message == ("the machine cannot be built: EINVAL: kernel and the hugepages pools must leave "
                         "some of ram free")

    class Refusing(runner.System):
        def __init__(self, machine, **kwargs):
            if machine.swappiness == 10:
                raise Unsupported("swappiness 10 is not modelled yet")
            super().__init__(machine, **kwargs)

    monkeypatch.setattr(runner, "System", Refusing)
    report = run_spec('include "machines.vms"\nscenario "odd" on odd {\n    spawn p\n}\n')
    (v,) = report.scenarios[0].violations
    assert (v.file, v.line, v.column, v.message) == ("machines.vms", 8, 5,
                                                     "not modelled yet: swappiness 10 is not modelled yet")


def test_every_page_touched_counts_against_the_budget(run_spec, tmp_path):
    """A lackey line spanning 16M pages counted as one access; populate and mlock counted
    nothing (`mmap 256GiB populate` under --max-accesses 10 used 2.7 GB)."""
    import tracemalloc

    (tmp_path / "wide.lk").write_text(" S 100000000,68719476736\n")
    cases = {
        'p: replay "wide.lk" format lackey': "this step would make 16,777,216 more simulated accesses",
        "p: b = mmap 256GiB populate": "populate would touch 262,144 pages",  # bounded by RAM
        "p: b = mmap 256MiB\n    p: mlock b": "mlock would fault in 65,536 pages",
        'p: b = mmap 256MiB file "f"\n    p: madvise b willneed': "willneed would read 65,536 pages",
    }
    for step, message in cases.items():
        tracemalloc.start()
        try:
            result = only(run_spec('machine m { ram 1GiB; overcommit always }\nfile "f" 1GiB\n'
                                   f'scenario "s" {{\n    spawn p\n    {step}\n}}\n', max_accesses=1000))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.status == "error", step
        (v,) = result.violations
        assert v.kind == "budget" and v.message.startswith(message), v.message
        assert peak < 50_000_000, (step, peak)


def test_building_the_machine_runs_under_the_timeout(run_spec, monkeypatch):
    import time

    from vmspec.checker import runner

    class SlowSystem(runner.System):
        def __init__(self, *args, **kwargs):
            time.sleep(3)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(runner, "System", SlowSystem)
    start = time.monotonic()
    result = only(run_spec(MACHINE + 'scenario "s" {\n    spawn p\n}\n', timeout=0.3))
    assert time.monotonic() - start < 2.5
    assert result.status == "error"
    assert result.violations[0].kind == "budget" and result.violations[0].line == 1


def test_the_heuristic_overcommit_refusal_says_what_it_checks(run_spec):
    """It spoke of a commit limit, which heuristic mode does not use, in raw bytes."""
    result = only(run_spec('machine m { ram 1GiB; swap 512MiB }\nscenario "s" {\n    spawn p\n'
                           '    p: b = mmap 2GiB\n}\n'))
    (v,) = result.violations
    assert v.message == ("`p: b = mmap 2GiB` failed with ENOMEM: overcommit heuristic refuses a mapping "
                         "of 2GiB: it allows one request of at most RAM + swap, 1536MiB")
    result = only(run_spec('machine m { ram 1GiB; overcommit never }\nscenario "s" {\n    spawn p\n'
                           '    p: b = mmap 2GiB\n}\n'))
    assert result.violations[0].message.endswith("overcommit (never) refuses 2GiB: committed 0B of limit 512MiB")


def test_ranges_in_region_observables(run_spec):
    result = only(run_spec(MACHINE + """
scenario "ranges" {
    spawn p
    p: buf = mmap 1MiB
    p: write buf[0..64KiB]
    expect resident(p.buf[0..1MiB]) == 64KiB and resident(p.buf) == 64KiB
    expect resident(p.buf[64KiB..]) == 0 and resident(p.buf[..4KiB]) == 4KiB
    expect resident(p.buf[4095]) == 4KiB and resident(p.buf[60KiB..68KiB]) == 4KiB
    expect resident(p.buf[4095..4097]) == 8KiB and resident(p.buf[61441..65537]) == 4KiB
    expect swapped(p.buf[0..64KiB]) == 0 and huge(p.buf[0..4KiB]) == 0
    expect resident(p.buf[0..2MiB]) == 64KiB
}
"""))
    (v,) = result.violations
    assert (v.line, v.detail) == (12, "p.buf is 1MiB; the range ends at 2MiB")


def test_ranges_in_region_observables_of_swap_and_hugetlb(run_spec):
    result = only(run_spec("""machine m { ram 64MiB; swap 64MiB; replacement fifo; hugepages 2MiB x 4 }
scenario "swap and huge" {
    spawn p memory_max 1MiB
    p: buf = mmap 2MiB
    p: write buf
    expect swapped(p.buf[0..1MiB]) == 1MiB and swapped(p.buf[1MiB..]) == 0
    expect resident(p.buf[1MiB..]) == 1MiB and resident(p.buf[..1MiB]) == 0
    p: h = mmap 4MiB hugetlb 2MiB
    p: write h[0..1]
    expect huge(p.h[0..1]) == 2MiB and huge(p.h[2MiB..]) == 0 and huge(p.h) == 2MiB
}
"""))
    assert result.status == "passed", result.violations


def test_a_computed_machine_setting_reaches_the_engine(run_spec):
    result = only(run_spec('machine m { ram 64MiB - 2 * 8MiB; kernel 1MiB - 6 pages }\n'
                           'scenario "s" {\n    expect ram == 48MiB and free == 47MiB + 6 pages\n}\n'))
    assert result.status == "passed", result.violations


def _run_text(tmp_path, monkeypatch, text, **options):
    from vmspec.checker import CheckOptions
    from vmspec.checker.runner import ScenarioRun
    from vmspec.language import load

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.vms").write_text(text)
    program = load("s.vms")
    run = ScenarioRun(program, program.scenarios[0], CheckOptions(**options))
    return run, run.run()


def test_stopped_by_says_why_a_scenario_ended_early(tmp_path, monkeypatch):
    run, result = _run_text(tmp_path, monkeypatch, MACHINE + """
scenario "s" {
    spawn p
    p: buf = mmap 1MiB
    p: access buf random 1000
}
""", max_accesses=100)
    assert run.stopped_by == "budget" and result.status == "error"
    run, result = _run_text(tmp_path, monkeypatch, "machine m { ram 64MiB; hugepages 2MiB x 2 }\n"
                            'scenario "s" {\n    spawn p\n    p: h = mmap 2MiB hugetlb 2MiB\n    p: mprotect h r\n}\n')
    assert run.stopped_by == "unsupported" and "not modelled yet" in result.violations[-1].message
