"""The HTML report (issue 14): valid HTML, every scenario present, numbers equal to the JSON
report's, offline (no external resource), the pytest plugin's --vmspec-html, parametrised names."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

html5lib = pytest.importorskip("html5lib", reason="the HTML tests parse with html5lib (the test extra)")
pytest.importorskip("plotly", reason="the HTML report needs plotly (pip install 'vmspec[html]')")

SPEC = """machine m { ram 64MiB; swap 16MiB; replacement fifo }
file "data.bin" 1MiB

scenario "fork then write" {
    spawn parent memory_max 2MiB
    parent: buf = mmap 4MiB
    parent: lib = mmap 1MiB file "data.bin" r
    parent: write buf[0..3MiB]
    parent: read lib
    fork parent as child
    child: write buf[0..64KiB]
    expect swap(parent) == 0
    expect faults(child).cow == 16
}

scenario "<script>alert(1)</script> & friends" {
    spawn p
    p: r = mmap 1MiB
    p: write r
    expect rss(p) == 1MiB
}

scenario "sweep" for frames in 2 to 4 for policy in [fifo, lru] {
    machine extends m { replacement $policy }
    spawn p memory_max $frames pages
    p: r = mmap 64KiB
    p: write r[0..8 pages]
    p: write r[0..8 pages]
    expect faults(p).minor == 8
}
"""


def vmspec(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    return subprocess.run([sys.executable, "-m", "vmspec", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("html")
    (root / "story.vms").write_text(SPEC)
    out = vmspec("check", "story.vms", "--html", "report.html", "--format", "json", cwd=root)
    assert out.returncode == 1, out.stderr
    page = (root / "report.html").read_text(encoding="utf-8")
    # html5lib is pure Python and slow on plotly.js's 4.8 MB; the whole page is parsed once, below
    return root, page, json.loads(out.stdout), parse(without_plotly(page))


def test_the_inlined_plotly_cannot_end_or_break_its_script_element(reports):
    # what the HTML tokenizer looks for inside a <script> (the rest of the page is parsed strictly
    # by every other test; the whole page by the slow test below)
    _, page, _, _ = reports
    start = page.index('id="plotly-js">') + len('id="plotly-js">')
    script = page[start:page.index("</script>", start)]
    assert len(script) > 1_000_000
    assert "</script" not in script.lower() and "<!--" not in script
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]", script)


@pytest.mark.slow  # ~15 s on a quiet machine (html5lib reads plotly.js character by character)
def test_the_whole_page_parses_strictly(reports):
    _, page, _, _ = reports
    doc = parse(page)  # strict: any parse error (a stray tag, a control character) raises
    scripts = doc.findall(".//script")
    assert len(scripts) == 3 and len(scripts[0].text) > 1_000_000  # plotly.js, the data, the app
    assert scripts[0].get("type") == "text/plain" and scripts[1].get("type") == "application/json"


def without_plotly(page: str) -> str:
    """Return the page with the (long, third-party) plotly.js script emptied."""
    start = page.index('<script type="text/plain" id="plotly-js">') + len('<script type="text/plain" id="plotly-js">')
    return page[:start] + page[page.index("</script>", start):]


def parse(page: str):
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(page)  # strict: any parse error raises


def text_of(node) -> str:
    return "".join(node.itertext())


def test_the_report_is_valid_html_with_every_scenario(reports):
    _, page, data, doc = reports
    rows = doc.findall(".//table[@id='scenarios']/tbody/tr")
    assert [text_of(r.find("td/a")) for r in rows] == [s["title"] for s in data["scenarios"]]
    sections = doc.findall(".//details[@class]")
    titles = [s["title"] for s in data["scenarios"]]
    scenario_sections = [d for d in sections if "scenario" in d.get("class")]
    assert len(scenario_sections) == len(titles) == 8
    for section, title in zip(scenario_sections, titles):
        assert title in text_of(section.find("summary"))
    # a title is text, never markup
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in page


def test_numbers_equal_the_json_report(reports):
    _, page, data, doc = reports
    rows = doc.findall(".//table[@id='scenarios']/tbody/tr")
    for row, scenario in zip(rows, data["scenarios"]):
        cells = [text_of(td) for td in row.findall("td")]
        assert cells[1] == f"{scenario['file']}:{scenario['line']}"
        assert cells[2] == scenario["status"]
        assert int(cells[4]) == len(scenario["violations"])
    summary = text_of(doc.find(".//p[@id='summary']"))
    s = data["summary"]
    assert summary == f"8 scenarios: {s['passed']} passed, {s['failed']} failed, {s['errors']} errors"
    failure = text_of(doc.find(".//pre[@class='failure']"))
    (failed,) = [x for x in data["scenarios"] if x["status"] == "failed"]
    for v in failed["violations"]:
        assert f"{v['file']}:{v['line']}:{v['column']}: {v['message']}" in failure
        for name, value in v["observed"].items():
            assert f"{name} = {value}" in failure
    assert failed["reproduce"] in failure
    # the source excerpt marks the failing line
    hit = doc.find(".//div[@class='excerpt']//span[@class='hit']")
    assert "expect swap(parent) == 0" in text_of(hit)


def test_embedded_timelines_match_what_the_engine_reports(reports):
    _, page, data, _ = reports
    blob = re.search(r'<script type="application/json" id="vmspec-data">(.*?)</script>', page, re.S).group(1)
    embedded = json.loads(blob)
    first = embedded["scenarios"][0]
    assert first["x"] == list(range(1, 10)) and first["stride"] == 1
    parent, child = first["procs"]["parent"], first["procs"]["child"]
    # after `write buf[0..3MiB]` under a 2MiB limit: 2MiB resident, 1MiB swapped, 768 zero-fill faults
    write = first["text"].index("parent: write buf[0..3MiB]")
    assert parent["rss_anon"][write] == 2 << 20 and parent["swap"][write] == 1 << 20
    assert parent["minor"][write] == 768
    assert child["cow"][-1] == 16 and child["minor"][-1] + child["major"][-1] == 16
    read = first["text"].index("parent: read lib")
    assert parent["rss_file"][read] == 1 << 20 and first["system"]["cached"][read] == 1 << 20
    # the violation is marked at its expect, and the map is the state at that step
    (mark,) = first["marks"]
    assert first["text"][mark["step"] - 1] == "expect swap(parent) == 0" and mark["line"] == 12
    assert first["maps"]["when"] == "at the first failing step" and first["maps"]["step"] == mark["step"]
    buf = [m for m in first["maps"]["procs"]["parent"]["mappings"] if m[5] == "buf"][0]
    assert buf[2] == 4 << 20 and buf[3] == "rw" and buf[4] == "anon"
    swapped = parent["swap"][mark["step"] - 1]
    assert buf[7] == swapped > 1 << 20  # the child's copy-on-write pushed more of the group out
    (failed,) = [x for x in data["scenarios"] if x["status"] == "failed"]
    assert failed["violations"][0]["observed"] == {"swap(parent)": f"{swapped >> 10}KiB"}


def test_offline_no_external_resource(reports):
    _, page, _, doc = reports
    for el in doc.iter():
        for attr in ("src", "href"):
            value = el.get(attr)
            assert value is None or value.startswith("#"), (el.tag, value)
    assert "cdn." not in page.split('<script type="application/json"')[0].split("</style>")[0]


def test_parametrised_instances_are_named_everywhere_and_get_a_curve(reports, tmp_path):
    root, page, data, _ = reports
    names = [s["title"] for s in data["scenarios"] if s["title"].startswith("sweep")]
    assert names == [f"sweep[frames={f}, policy={p}]" for f in (2, 3, 4) for p in ("fifo", "lru")]
    params = [s["params"] for s in data["scenarios"] if s["title"].startswith("sweep")]
    assert params[0] == {"frames": "2", "policy": "fifo"}
    assert all("params" not in s for s in data["scenarios"][:2])  # only instances carry it
    import importlib.resources

    import jsonschema

    schema = json.loads(importlib.resources.files("vmspec.checker").joinpath("report.schema.json").read_text())
    jsonschema.validate(data, schema)
    bad = dict(data, scenarios=[dict(data["scenarios"][2], params={"frames": 2})])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    blob = re.search(r'id="vmspec-data">(.*?)</script>', page, re.S).group(1)
    (curve,) = json.loads(blob)["curves"]
    assert curve["title"] == "sweep" and curve["params"] == ["frames", "policy"]
    faults = {(i["params"]["frames"], i["params"]["policy"]): i["final"]["faults(p).minor + faults(p).major"]
              for i in curve["instances"]}
    assert faults[("2", "fifo")] == 16 and faults[("4", "lru")] == 16  # 8 pages, twice, no reuse
    junit = vmspec("check", "story.vms", "--format", "junit", cwd=root)
    names_junit = [c.get("name") for c in ET.fromstring(junit.stdout).iter("testcase")]
    assert "sweep[frames=3, policy=lru]" in names_junit
    one = vmspec("check", "story.vms::sweep[frames=3, policy=lru]", "-v", cwd=root)
    assert one.returncode == 0 and "1 scenario: 1 passed" in one.stdout
    every = vmspec("check", "story.vms::sweep", cwd=root)
    assert every.returncode == 0 and "6 scenarios: 6 passed" in every.stdout


def test_html_without_plotly_is_a_usage_error(tmp_path):
    (tmp_path / "s.vms").write_text(SPEC)
    (tmp_path / "plotly").mkdir()  # a package that cannot be imported shadows the real one
    (tmp_path / "plotly" / "__init__.py").write_text("raise ImportError('no plotly here')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "vmspec", "check", "s.vms", "--html", "r.html"], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2 and "pip install 'vmspec[html]'" in out.stderr
    assert not (tmp_path / "r.html").exists()


def test_pytest_plugin_writes_the_same_report_under_xdist(tmp_path):
    (tmp_path / "story.vms").write_text(SPEC)
    (tmp_path / "pyproject.toml").write_text("")
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "-n", "2",
                          "story.vms", "--vmspec-html", "py.html", "--junitxml", "j.xml"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "1 failed, 7 passed" in out.stdout, out.stdout + out.stderr
    assert "PASSED story.vms::sweep[frames=2, policy=fifo]" in out.stdout  # node ids name the values
    page = (tmp_path / "py.html").read_text(encoding="utf-8")
    assert page.index('id="plotly-js"') < page.index("</head>")  # plotly.js: the CLI's, parsed there
    doc = parse(without_plotly(page))
    rows = doc.findall(".//table[@id='scenarios']/tbody/tr")
    titles = [text_of(r.find("td/a")) for r in rows]
    assert titles[0] == "fork then write" and titles[2:] == [
        f"sweep[frames={f}, policy={p}]" for f in (2, 3, 4) for p in ("fifo", "lru")]  # file order, not finish order
    assert [text_of(r.findall("td")[2]) for r in rows].count("failed") == 1
    assert "vmspec_html_result" not in (tmp_path / "j.xml").read_text()
