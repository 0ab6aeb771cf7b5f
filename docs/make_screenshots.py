"""Make the README's pictures: docs/report.png (the HTML report of docs/example/story.vms, one
scenario opened) and docs/belady.png (the curve of specs/belady.vms). Needs plotly and Debian's
chromium; run from the repository: `python docs/make_screenshots.py`."""

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "frontends"))

from chromium import Browser, find_chromium  # noqa: E402


def report(spec: str, out: str) -> str:
    subprocess.run([sys.executable, "-m", "vmspec", "check", spec, "--html", out, "-q"], cwd=ROOT,
                   capture_output=True, check=False)
    return out


def shoot(page: str, section: str, png: str, height_of: str) -> None:
    with Browser(find_chromium(), width=1100, height=900) as browser:
        browser.open("file://" + page)
        browser.evaluate(f"document.getElementById('{section}').open = true; "
                         "new Promise(r => setTimeout(r, 500))")
        box = browser.evaluate(f"(() => {{ const r = document.querySelector('{height_of}').getBoundingClientRect();"
                               " return {x: 0, y: 0, width: 1100, height: r.bottom + scrollY + 10}; })()")
        with open(png, "wb") as fh:
            fh.write(browser.screenshot(box))
        assert browser.errors() == [], browser.errors()


def main() -> None:
    tmp = tempfile.mkdtemp()
    story = report("docs/example/story.vms", os.path.join(tmp, "story.html"))
    shoot(story, "s0", os.path.join(ROOT, "docs", "report.png"), "#s0 .chart:nth-of-type(3)")
    belady = report("specs/belady.vms", os.path.join(tmp, "belady.html"))
    shoot(belady, "c0", os.path.join(ROOT, "docs", "belady.png"), "#c0")


if __name__ == "__main__":
    main()
