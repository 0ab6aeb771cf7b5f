"""Trace readers for `replay` (issue 5): pages and lackey formats, plain and gzip, streamed in
chunks, malformed lines named by file and line."""

import gzip

import pytest

from vmspec.checker.replay import TraceError, read_lackey, read_pages


def _flat(chunks):
    return [x for chunk in chunks for x in chunk]


def test_pages_format_skips_blank_lines_and_comments(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("# OSTEP style\n0\n1\n\n0x10  # hex\n3\n")
    assert _flat(read_pages(str(path), "t.txt")) == [0, 1, 16, 3]


def test_pages_format_gzip(tmp_path):
    path = tmp_path / "t.txt.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(str(i) for i in range(100_000)) + "\n")
    chunks = list(read_pages(str(path), "t.txt.gz"))
    assert len(chunks) == 2  # streamed in chunks of 65536
    assert _flat(chunks) == list(range(100_000))


def test_malformed_page_names_file_and_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("1\n2\nbanana\n")
    with pytest.raises(TraceError) as info:
        _flat(read_pages(str(path), "traces/t.txt"))
    assert str(info.value) == "traces/t.txt:3: expected a page number, got 'banana'"


def test_negative_page(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("-1\n")
    with pytest.raises(TraceError, match=r"t.txt:1: page numbers are not negative"):
        _flat(read_pages(str(path), "t.txt"))


def test_missing_trace_file(tmp_path):
    with pytest.raises(TraceError, match=r"^nope.txt:0: cannot read trace file"):
        _flat(read_pages(str(tmp_path / "nope.txt"), "nope.txt"))


def test_lackey_kinds(tmp_path):
    path = tmp_path / "lk.txt"
    path.write_text(
        "==1234== Lackey, an example Valgrind tool\n"
        "I  0023C790,2\n"
        " S BE80199C,4\n"
        " L BE80199C,4\n"
        " M 0025747C,1\n"
    )
    assert _flat(read_lackey(str(path), "lk.txt")) == [
        (0x23C790, 2, False),
        (0xBE80199C, 4, True),
        (0xBE80199C, 4, False),
        (0x25747C, 1, False),
        (0x25747C, 1, True),
    ]


def test_lackey_malformed(tmp_path):
    path = tmp_path / "lk.txt"
    path.write_text("I  0023C790,2\n X 0023C790,2\n")
    with pytest.raises(TraceError, match=r"lk.txt:2: unknown access kind 'X'"):
        _flat(read_lackey(str(path), "lk.txt"))
    path.write_text("I  zz,2\n")
    with pytest.raises(TraceError, match=r"lk.txt:1: expected `KIND ADDRESS,SIZE`"):
        _flat(read_lackey(str(path), "lk.txt"))


def test_non_utf8_trace(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"1\n\xff\xfe\n")
    with pytest.raises(TraceError, match=r"t.txt:2: trace file is not UTF-8"):
        _flat(read_pages(str(path), "t.txt"))
