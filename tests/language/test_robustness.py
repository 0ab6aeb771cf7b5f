"""Whatever the input, the language layer raises SpecErrors and nothing else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmspec.errors import SpecErrors
from vmspec.language import format_text, load, parse_text

DATA = Path(__file__).parent / "data"
SAMPLES = [(DATA / n).read_bytes() for n in ("language_example.vms", "all_forms.vms", "lib/common.vms")]


def load_bytes(data: bytes, directory: Path) -> None:
    """Write ``data`` as a spec and load it; only SpecErrors may come out."""
    path = directory / "fuzz.vms"
    path.write_bytes(data)
    try:
        load(str(path), root=str(directory))
    except SpecErrors as errors:
        for err in errors.errors:
            text = err.render()
            assert "Traceback" not in text and "__ANON" not in text
        assert errors.errors


def parse_only(text: str) -> None:
    for fn in (parse_text, format_text):
        try:
            fn(text, "fuzz.vms")
        except SpecErrors as errors:
            assert all("__ANON" not in e.render() for e in errors.errors)


@st.composite
def mutations(draw):
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        at = draw(st.integers(0, len(data)))
        if op == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(
                [b"{", b"}", b'"', b"\n", b";", b"\x00", b"\xff", b"\r\n", b"(", b")", b"=>", b"-",
                 b"0x", b"_", b"99999999999999999999999", b"expect", b" on ", b"..", b"#"]))
        elif op == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        else:
            end = min(len(data), at + draw(st.integers(1, 80)))
            data[end:end] = data[at:end]
    return bytes(data)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_arbitrary_bytes(tmp_path, data):
    load_bytes(data, tmp_path)


@given(st.text(max_size=300))
def test_arbitrary_text(text):
    parse_only(text)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations())
def test_mutated_samples(tmp_path, data):
    load_bytes(data, tmp_path)


@pytest.mark.slow
@settings(max_examples=10_000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations())
def test_mutated_samples_long(tmp_path, data):
    load_bytes(data, tmp_path)


@pytest.mark.parametrize("data", [
    b"\xff\xfe\x00m", b"machine m { ram 64MiB }\r\n" * 3, b"\xef\xbb\xbfmachine m { ram 64MiB }\n",
    b"machine m {\x00}", b"scenario \"\xc3\x28\" {}", b"", b"\n\n\n", b"}", b"{" * 10_000,
    b'"' * 5, b"scenario \"x\" {\r\n  spawn p\r\n}\r\n",
])
def test_edge_inputs(tmp_path, data):
    load_bytes(data, tmp_path)


def test_deep_parentheses_and_nesting(tmp_path):
    depth = 100_000
    body = "machine m { ram 1GiB }\nscenario \"s\" {\n expect " + "(" * depth + "ram" + ")" * depth + " > 0\n}\n"
    path = tmp_path / "deep.vms"
    path.write_text(body)
    assert load(str(path), root=str(tmp_path)).scenarios
    load_bytes(("scenario \"s\" { expect " + "(" * depth + "\n").encode(), tmp_path)
    load_bytes(("scenario \"s\" { " + "repeat 1 { " * 20_000 + "}" * 20_000 + " }").encode(), tmp_path)
    load_bytes(("scenario \"s\" { expect " + "not " * 50_000 + "1 }").encode(), tmp_path)


def test_ten_megabyte_broken_line(tmp_path):
    load_bytes(b'machine m { ram 1GiB }\n"' + b"x" * 10_000_000, tmp_path)
    load_bytes(b"machine m { ram 1GiB }\n" + b"(" * 10_000_000, tmp_path)


@pytest.mark.slow
def test_ten_megabyte_line(tmp_path):
    line = "machine m { ram 1GiB }"
    big = "scenario \"s\" { " + "expect ram > 0; " * 650_000 + "}\n"  # ~20 s of CPU: linear
    assert len(big) > 10_000_000
    path = tmp_path / "big.vms"
    path.write_text(line + "\n" + big)
    program = load(str(path), root=str(tmp_path))
    assert len(program.scenarios[0].scenario.steps) == 650_000


def test_crlf_everywhere(tmp_path):
    text = (DATA / "language_example.vms").read_text().replace("\n", "\r\n")
    path = tmp_path / "crlf.vms"
    path.write_text(text, newline="")
    assert load(str(path), root=str(tmp_path)).scenarios
    assert "\r" not in format_text(text, "crlf.vms")


def test_unreadable_paths(tmp_path):
    for target in (str(tmp_path), str(tmp_path / "missing.vms"), os.devnull + "/x"):
        with pytest.raises(SpecErrors):
            load(target)


def test_many_errors_are_reported_in_linear_time(tmp_path):
    import time

    def cost(n: int) -> float:
        """CPU seconds to load a file with ``n`` errors ("a size needs a unit"), best of two."""
        path = tmp_path / f"many{n}.vms"
        path.write_text("".join(f'file "a{i}" 64\n' for i in range(n)))
        best = float("inf")
        for _ in range(2):
            start = time.process_time()
            with pytest.raises(SpecErrors) as info:
                load(str(path), root=str(tmp_path))
            best = min(best, time.process_time() - start)
        assert len(info.value.errors) == n
        assert info.value.errors[-1].source == f'file "a{n - 1}" 64'
        return best

    # 10 times the errors: linear is x10, the line search per error that this replaced was x100
    assert cost(20_000) < 30 * cost(2_000)


def test_integers_of_thousands_of_digits(load_errors, spec_dir):
    """Python refuses to convert more than 4,300 digits; a literal that long is read without it."""
    padded = "0" * 5000 + "1"
    spec_dir({"ok.vms": f"machine m {{ ram {padded}MiB }}\nscenario \"s\" {{ expect ram == 0x{'0' * 5000}1 MiB }}\n"})
    program = load("ok.vms")
    assert program.scenarios[0].machine.settings[0].size.amount == 1
    assert format_text((Path("ok.vms")).read_text(), "ok.vms").count("0" * 5000) == 2  # kept as written
    rendered = load_errors(f"machine m {{ ram {'9' * 5000}MiB }}\n")
    first = rendered.split("\n")[0]
    assert first == "spec.vms:1:17: error: number too large: every value must fit in 64 bits"
    rendered = load_errors(f"machine m {{ ram 1.{'5' * 5000}GiB; swappiness {'7' * 5000} }}\n")
    assert rendered.startswith("spec.vms:1:17: error: a number cannot have a fraction")


def test_a_long_string_costs_memory_in_proportion(tmp_path):
    """An unterminated 2 MB string took ~700 MB (regex backtracking state per character)."""
    import tracemalloc

    path = tmp_path / "s.vms"
    for text in ('machine m { ram 1GiB }\n"' + "x" * 2_000_000,
                 'machine m { ram 1GiB }\nscenario "' + "x" * 2_000_000 + '" { }\n'):
        path.write_text(text)
        tracemalloc.start()
        try:
            with pytest.raises(SpecErrors) as info:
                load(str(path), root=str(tmp_path))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 40 * 2_000_000, peak
        message = info.value.errors[0].message
        assert message in ("unterminated string", "this string is 2,000,000 characters long; a string holds at most 4,096")
