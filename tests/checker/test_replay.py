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
    assert str(info.value) == "traces/t.txt:3: expected a page number (decimal, or hex after 0x), got 'banana'"


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


def test_lackey_addresses_and_sizes_are_checked(tmp_path):
    path = tmp_path / "lk.txt"
    for text, message in [
        ("I  -10,4\n", r"lk.txt:1: expected `KIND ADDRESS,SIZE`"),
        ("I  ffffffffffffffffffff,4\n", r"lk.txt:1: address ffffffffffffffffffff is beyond a 64-bit"),
        (" L 1000,0\n", r"lk.txt:1: an access has a size of at least 1 byte, got 0"),
        (" L 1_000,4\n", r"lk.txt:1: expected `KIND ADDRESS,SIZE`"),
    ]:
        path.write_text(text)
        with pytest.raises(TraceError, match=message):
            _flat(read_lackey(str(path), "lk.txt"))
    path.write_text(" L 0x1000\n")  # the size may be left out
    assert _flat(read_lackey(str(path), "lk.txt")) == [(0x1000, 1, False)]


def test_page_number_beyond_the_address_space(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(f"{1 << 52}\n")
    with pytest.raises(TraceError, match=r"t.txt:1: page number \d+ is beyond a 64-bit address space"):
        _flat(read_pages(str(path), "t.txt"))


def test_a_long_run_of_comments_still_yields_chunks(tmp_path):
    # the caller checks its deadline once per chunk, so comments alone must not starve it
    path = tmp_path / "t.txt"
    path.write_text("# nothing\n" * 140_000 + "5\n")
    chunks = list(read_pages(str(path), "t.txt"))
    assert chunks == [[], [], [5]]


@pytest.mark.parametrize("text", ["1_000", "0o17", "0b101", "\u0661\u0662", "1e3", "0x", "+5", "٣"])
def test_page_numbers_are_decimal_or_hex_only(tmp_path, text):
    """The docs say decimal or 0x: Python's other integer spellings are not page numbers."""
    path = tmp_path / "t.txt"
    path.write_text(f"1\n{text}\n", encoding="utf-8")
    with pytest.raises(TraceError, match=r"^t.txt:2: expected a page number \(decimal, or hex after 0x\)"):
        _flat(read_pages(str(path), "t.txt"))


def test_thousands_of_digits_are_named_not_an_internal_error(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("0" * 4000 + "7\n" + "9" * 4000 + "\n")
    with pytest.raises(TraceError, match=r"^t.txt:2: page number 9{40} is beyond a 64-bit address space"):
        assert _flat(read_pages(str(path), "t.txt"))[:1] == [7]
    path.write_text(" S 1000," + "9" * 4000 + "\n")
    with pytest.raises(TraceError, match=r"^t.txt:1: size 9{40} is beyond a 64-bit address space"):
        _flat(read_lackey(str(path), "t.txt"))


def test_one_huge_line_in_a_small_gzip_is_refused_early(tmp_path):
    """A 1 MB gzip can hold a 1 GiB line; readline() without a limit would hold all of it."""
    import tracemalloc

    path = tmp_path / "t.txt.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"1\n" + b"7" * 50_000_000)
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(TraceError, match=r"^t.txt.gz:2: line 2 is longer than 4,096 bytes"):
            _flat(read_pages(str(path), "t.txt.gz"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, peak
