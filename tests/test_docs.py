"""The repository's docs and messages stand on their own: no file names a document that is not in
the repository (the working notes the project was specified from), and docs/architecture.md
names every module."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Built from pieces, so that this file does not name them itself.
NOT_HERE = ("ENGINE" + "-FACTS", "LANGUAGE" + ".md", "/work/" + "shared")
SUFFIXES = {".py", ".md", ".vms", ".lark", ".toml", ".txt", ".json", ".out", ".c", ".yml", ".yaml", ""}


SKIPPED = (".git/", ".venv/", ".hypothesis/", ".pytest_cache/")


def _files():
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_file() and path.suffix in SUFFIXES and not rel.startswith(SKIPPED) \
                and "/.venv/" not in rel and "__pycache__" not in rel and ".egg-info" not in rel:
            yield rel, path


def _offenders(files) -> list[str]:
    offenders = []
    for rel, path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(name in line for name in NOT_HERE):
                offenders.append(f"{rel}:{number}: {line.strip()[:80]}")
    return offenders


def test_no_file_mentions_a_document_outside_the_repository():
    files = list(_files())
    scanned = {rel.split("/")[0] for rel, _ in files}
    # The check covers the code, the tests and the benchmarks too, the engine included.
    assert {"vmspec", "tests", "bench", "docs", "specs"} <= scanned
    assert any(rel.startswith("vmspec/engine/") for rel, _ in files)
    assert "tests/test_docs.py" in {rel for rel, _ in files}
    assert _offenders(files) == []


def test_the_check_for_outside_documents_can_fail(tmp_path):
    for name in NOT_HERE:
        bad = tmp_path / "bad.py"
        bad.write_text(f'"""As {name} 10.2 says."""\n', encoding="utf-8")
        assert _offenders([("vmspec/engine/bad.py", bad)]) == [f'vmspec/engine/bad.py:1: """As {name} 10.2 says."""']


def _modules() -> list[str]:
    """Every module of the package but the ``__init__.py`` files, as paths relative to vmspec/."""
    package = ROOT / "vmspec"
    return sorted(path.relative_to(package).as_posix() for path in package.rglob("*.py")
                  if path.name != "__init__.py" and "__pycache__" not in path.parts)


def _named_in_architecture() -> set[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    return {name.removeprefix("vmspec/") for name in re.findall(r"`((?:vmspec/)?[\w/]+\.py)`", text)}


def test_the_architecture_names_every_module():
    modules = _modules()
    assert "engine/system.py" in modules and "cli.py" in modules and "checker/host/agent.py" in modules
    missing = [m for m in modules if m not in _named_in_architecture()]
    assert missing == [], "give each a line in docs/architecture.md, in its layer"


def test_the_architecture_names_no_module_that_is_gone():
    package = ROOT / "vmspec"
    layers = ("engine/", "language/", "checker/", "reporting/")
    named = {n for n in _named_in_architecture() if n.startswith(layers) or "/" not in n}
    gone = sorted(n for n in named if not (package / n).is_file())
    assert gone == []


def _defaults_table() -> dict[str, str]:
    import re

    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    section = text[text.index("## Machine settings"):text.index("## Images")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == 3 and not set(cells[0]) <= {"-"} and cells[0] != "setting":
            rows[cells[0].strip("`").split()[0]] = cells[2]
    return rows


def test_the_language_reference_gives_every_default_the_engine_uses():
    from vmspec.engine import MachineConfig, System
    from vmspec.engine.malloc import DEFAULT_MMAP_THRESHOLD
    from vmspec.units import format_duration, format_size

    rows = _defaults_table()
    grammar = (ROOT / "grammar" / "vms.lark").read_text(encoding="utf-8")
    settings = {"ram", "page_size", "paging", "swap", "hugepages", "thp", "tlb", "replacement", "overcommit",
                "watermarks", "swappiness", "page_cluster", "mmap_threshold", "kernel", "latency"}
    assert settings | {"readahead"} == set(rows)
    assert all(f'"{name}"' in grammar for name in settings)
    m = MachineConfig(ram=1 << 30)
    tlb = ", ".join(f"{lv.name} {lv.entries} entries " + ("fully" if lv.ways == lv.entries else f"{lv.ways}-way")
                    for lv in m.tlb)
    assert rows["tlb"].startswith(f"`{tlb}`")
    latency = ", ".join(f"{name} {format_duration(getattr(m.latency, name))}"
                        for name in ("tlb_hit", "walk_step", "minor_fault", "major_fault", "memory"))
    assert rows["latency"] == f"`{latency}`"
    assert rows["page_size"] == f"`{format_size(m.page_size)}`"
    assert rows["paging"] == f"`{m.paging_levels}-level`"
    assert rows["swap"] == rows["kernel"] == "`0`" and m.swap == m.kernel == 0
    assert rows["thp"] == f"`{m.thp}`" and rows["replacement"] == f"`{m.replacement}`"
    assert rows["overcommit"] == f"`{m.overcommit}`, ratio `{m.overcommit_ratio}`"
    assert rows["swappiness"] == f"`{m.swappiness}`"
    assert rows["page_cluster"].startswith(f"`{m.page_cluster}` ({2 ** m.page_cluster} pages)")
    assert m.mmap_threshold is None and rows["mmap_threshold"].startswith(f"`{format_size(DEFAULT_MMAP_THRESHOLD)}`, dynamic")
    assert rows["readahead"].startswith("`128KiB`")
    prose = " ".join((ROOT / "docs" / "language.md").read_text(encoding="utf-8").split())
    for ram, thp, words in ((64 << 20, "madvise", "64 MiB gives min {} KiB, low {} KiB, high {} KiB"),
                            (1 << 30, "never", "or {} MiB, {:,} KiB, {:,} KiB (`thp never`)")):
        wm = System(MachineConfig(ram=ram, thp=thp)).watermarks
        kib = [wm.min * 4, wm.low * 4, wm.high * 4]
        if words.startswith("or"):
            kib[0] //= 1024
        assert words.format(*kib) in prose
