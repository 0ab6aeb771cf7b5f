"""The HTML report in a real browser: headless Chromium (Debian's system package, no browser
download) opens it with no console error, draws every chart of a scenario and the curve of a
parametrised one, and a screenshot of a chart is not blank. `.ci/run` installs Chromium
(`.ci/install-browser`); without one this test is skipped, saying why."""

import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from chromium import Browser, find_chromium  # noqa: E402

pytest.importorskip("plotly", reason="the HTML report needs plotly (pip install 'vmspec[html]')")
CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine: `bash .ci/install-browser` installs Debian's chromium")

SPEC = """machine m { ram 64MiB; swap 16MiB; replacement fifo }

scenario "fork then write" {
    spawn parent memory_max 2MiB
    parent: buf = mmap 4MiB
    parent: write buf[0..3MiB]
    fork parent as child
    child: write buf[0..64KiB]
    expect swap(parent) == 0
}

scenario "sweep" for frames in 1 to 4 for policy in [fifo, lru] {
    machine extends m { replacement $policy }
    spawn p memory_max $frames pages
    p: r = mmap 64KiB
    p: replay "belady.txt" into r write
}
"""

# Count the screenshot's pixels that are neither white nor near-white, in the page's own canvas.
INK = """(async (data) => {
  const img = new Image(); img.src = "data:image/png;base64," + data; await img.decode();
  const c = document.createElement("canvas"); c.width = img.width; c.height = img.height;
  const g = c.getContext("2d"); g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data; let ink = 0; const colours = new Set();
  for (let i = 0; i < px.length; i += 4) {
    if (px[i] < 235 || px[i + 1] < 235 || px[i + 2] < 235) { ink++; colours.add(px[i] << 16 | px[i + 1] << 8 | px[i + 2]); }
  }
  return [ink, colours.size, c.width * c.height];
})"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    (root / "story.vms").write_text(SPEC)
    (root / "belady.txt").write_text("\n".join("1 2 3 4 1 2 5 1 2 3 4 5".split()) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    out = subprocess.run([sys.executable, "-m", "vmspec", "check", "story.vms", "--html", "report.html"],
                         cwd=root, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 1, out.stderr
    return root / "report.html"


def ink(browser, png: bytes):
    import base64

    return browser.evaluate(f"{INK}({base64.b64encode(png).decode()!r})")


def test_report_draws_its_charts_without_console_errors(report, tmp_path):
    with Browser(CHROMIUM) as browser:
        browser.open(report.as_uri())
        assert browser.evaluate("window.vmspecReady") is True
        assert browser.evaluate("document.querySelectorAll('.chart').length") == 0  # drawn when opened
        browser.evaluate("document.getElementById('s0').open = true; "
                         "new Promise(r => requestAnimationFrame(() => setTimeout(r, 200)))")
        charts = browser.evaluate("document.querySelectorAll('#s0 .chart .main-svg').length")
        assert charts >= 4  # processes, machine, faults, TLB (plotly draws two svg layers each)
        traces = browser.evaluate("[...document.querySelectorAll('#s0 .chart')].map(d => d.data.length)")
        assert traces == [6, 4, 6, 4]  # parent and child: rss anon, swap, page tables; 4 machine lines ...
        assert browser.evaluate("document.querySelectorAll('#s0 table.map tr').length") > 2
        box = browser.evaluate("(() => { const r = document.querySelector('#s0 .chart').getBoundingClientRect(); "
                               "return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; })()")
        drawn, colours, area = ink(browser, browser.screenshot(box))
        assert drawn > 0.01 * area and colours > 5, (drawn, colours, area)  # lines, axes, text: not blank
        browser.evaluate("document.getElementById('c0').open = true; new Promise(r => setTimeout(r, 200))")
        curve = browser.evaluate("document.querySelector('#c0 .plot').data.map(t => [t.name, t.y])")
        assert curve[0][0] == "policy=fifo" and curve[0][1] == [12, 12, 9, 10]  # Belady's anomaly
        assert curve[1] == ["policy=lru", [12, 12, 10, 8]]
        (tmp_path / "page.png").write_bytes(browser.screenshot())
        assert browser.errors() == []


def test_a_blank_page_counts_as_blank(tmp_path):
    # the ink measure can fail: an empty page has (almost) none
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>")
    with Browser(CHROMIUM) as browser:
        browser.open(page.as_uri())
        drawn, _, area = ink(browser, browser.screenshot({"x": 0, "y": 0, "width": 400, "height": 300}))
        assert drawn < 0.001 * area
