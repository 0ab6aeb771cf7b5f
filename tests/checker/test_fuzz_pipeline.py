"""Random mutations of the spec library through the whole pipeline (load, static checks, runs):
nothing but SpecErrors comes out of loading, and no scenario ends in an internal error (issues
3 and 5: a crash inside vmspec is a bug)."""

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmspec.checker import CheckOptions, check

SPECS = Path(__file__).resolve().parents[2] / "specs"
FILES = sorted(p for p in SPECS.glob("*.vms"))
OPTIONS = CheckOptions(max_accesses=200_000, timeout=10)
TOKENS = [b"{", b"}", b'"', b"\n", b";", b"\x00", b"\xff", b"\r\n", b"(", b")", b"=> ENOMEM", b"-",
          b"0x", b"_", b"99999999999999999999999", b"expect", b" on ", b"..", b"#", b"1TiB", b"0",
          b"exit p", b"fork p as q", b" r", b" none", b" populate", b"[4KiB]", b" stride 1B",
          b"munmap buf", b"madvise buf dontneed", b"mprotect buf r", b"repeat 3 {", b"1 page"]


@st.composite
def mutated_spec(draw):
    path = draw(st.sampled_from(FILES))
    data = bytearray(path.read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        at = draw(st.integers(0, len(data)))
        if op == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        else:
            end = min(len(data), at + draw(st.integers(1, 120)))
            data[end:end] = data[at:end]
    return path.name, bytes(data)


def _check_mutation(tmp_path, name, data):
    shutil.copytree(SPECS / "machines", tmp_path / "machines", dirs_exist_ok=True)
    target = tmp_path / name
    target.write_bytes(data)
    report = check([str(target)], OPTIONS, root=str(tmp_path))
    for scenario in report.scenarios:
        for v in scenario.violations:
            assert "internal error" not in v.message, v.message
    for error in report.errors:
        assert "Traceback" not in error.rendered and error.line >= 0


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None)
@given(mutated_spec())
def test_mutated_spec_library(tmp_path, spec):
    _check_mutation(tmp_path, *spec)


@pytest.mark.slow
@settings(max_examples=2_000, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None)
@given(mutated_spec())
def test_mutated_spec_library_long(tmp_path, spec):
    _check_mutation(tmp_path, *spec)
