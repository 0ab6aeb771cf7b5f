"""The HTML report (``vmspec check --html FILE``, ``pytest --vmspec-html FILE``): one self-contained
file that works offline.

The page holds a summary table (every scenario with its status, steps and times), and one
collapsible section per scenario with its failure text as the CLI prints it (plus the spec lines
around each violation), written here as static HTML; and, drawn in the browser only when a
section is opened, the timelines of the recording (``vmspec.checker.record``): every process's
RSS (anon/file/shmem), swap and page tables, the machine's free, cached, swap used and committed
memory, faults and TLB hits/misses per step, violations marked at their step, and each process's
address-space map. A parametrised scenario's instances also get a curve of any final observable
across a parameter. Charts are drawn by plotly.js, taken from the ``plotly`` Python package (the
optional extra ``vmspec[html]``) and inlined, so the file needs no network; it is inlined as text
and compiled once the page is idle (or when the first chart is drawn, if that comes first), so
that a large report opens at once.
"""

from __future__ import annotations

import html
import json
import re

from vmspec.checker.results import Report, ScenarioResult
from vmspec.reporting.text import printable, scenario_text, summary

MISSING_PLOTLY = ("the HTML report draws its charts with plotly, which is not installed; "
                  "install it with: pip install 'vmspec[html]'")


def plotly_js() -> str:
    """Return plotly.js from the installed ``plotly`` package; raise ImportError with the fix."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise ImportError(MISSING_PLOTLY) from None
    # HTML forbids control characters in a page; plotly.js has two, inside string literals, where
    # a \u escape means the same character
    return _CONTROL_IN_JS.sub(lambda m: f"\\u{ord(m.group()):04x}", get_plotlyjs())


_CONTROL_IN_JS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")


def _e(text: str) -> str:
    """Escape ``text`` for HTML, control characters shown as escapes (newlines kept)."""
    return "\n".join(html.escape(printable(line), quote=True) for line in text.split("\n"))


def _sim(ns: int) -> str:
    """Format simulated nanoseconds for the summary table (1.25 ms, 3.2 s)."""
    for unit, scale in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns >= scale:
            return f"{ns / scale:.4g} {unit}"
    return f"{ns} ns"


def _json_script(data) -> str:
    """Serialise ``data`` for a ``<script type="application/json">`` element (no ``</`` inside)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _wall(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _scenario_data(result: ScenarioResult) -> dict:
    rec = result.recording or {}
    return {k: rec[k] for k in ("steps", "stride", "x", "where", "text", "system", "procs", "marks", "maps")
            if k in rec}


def _curves(report: Report) -> list[dict]:
    """Group the instances of each parametrised scenario: (file, template) -> instances."""
    groups: dict[tuple[str, str], dict] = {}
    for i, s in enumerate(report.scenarios):
        if not s.params:
            continue
        key = (s.file, s.template or s.title)
        group = groups.setdefault(key, {"file": s.file, "title": key[1], "params": list(s.params),
                                        "instances": []})
        group["instances"].append({"index": i, "params": dict(s.params),
                                   "final": (s.recording or {}).get("final", {})})
    return list(groups.values())


def _row(i: int, s: ScenarioResult) -> str:
    rec = s.recording or {}
    final = rec.get("final", {})
    sim = _sim(final["time"]) if "time" in final else ""
    return (f'<tr class="{s.status}"><td><a href="#s{i}" data-open="{i}">{_e(s.title)}</a></td>'
            f'<td>{_e(s.file)}:{s.line}</td><td class="status">{s.status}</td>'
            f'<td class="num">{rec.get("steps", "")}</td><td class="num">{len(s.violations)}</td>'
            f'<td class="num">{sim}</td><td class="num">{_wall(rec.get("seconds"))}</td></tr>')


def _failure(s: ScenarioResult) -> str:
    if s.status == "passed":
        return ""
    excerpts = (s.recording or {}).get("excerpts", {})
    parts = [f'<pre class="failure">{_e(scenario_text(s))}</pre>']
    shown = set()
    for v in s.violations:
        key = f"{v.file}:{v.line}"
        if key in shown or key not in excerpts:
            continue
        shown.add(key)
        lines = "".join(
            f'<span class="{"hit" if n == v.line else ""}">{n:>5} | {_e(text)}</span>\n'
            for n, text in excerpts[key])
        parts.append(f'<div class="excerpt"><div class="where">{_e(key)}</div><pre>{lines}</pre></div>')
    return "".join(parts)


def _section(i: int, s: ScenarioResult) -> str:
    rec = s.recording or {}
    sampled = ""
    if rec.get("stride", 1) > 1:
        sampled = (f' <span class="note">(timeline sampled every {rec["stride"]:,} steps of '
                   f'{rec["steps"]:,}; violations are marked at their own step)</span>')
    marks = "".join(
        f'<li>step {m["step"]:,}, {_e(m["file"])}:{m["line"]}: {_e(m["message"])}</li>'
        for m in rec.get("marks", []))
    return (
        f'<details class="scenario {s.status}" id="s{i}" data-index="{i}">'
        f'<summary><span class="badge">{s.status}</span> {_e(s.title)} '
        f'<span class="where">{_e(s.file)}:{s.line}</span></summary>'
        f'<div class="body">{_failure(s)}'
        + (f'<ul class="marks">{marks}</ul>' if marks else "")
        + f'<div class="charts" data-index="{i}">{sampled}</div></div></details>'
    )


def render(report: Report) -> str:
    """Return the whole report page. Needs plotly (ImportError with the fix otherwise)."""
    js = plotly_js()
    data = {"scenarios": [{"title": s.title, "status": s.status, **_scenario_data(s)} for s in report.scenarios],
            "curves": _curves(report)}
    rows = "\n".join(_row(i, s) for i, s in enumerate(report.scenarios))
    sections = "\n".join(_section(i, s) for i, s in enumerate(report.scenarios))
    errors = "".join(f'<pre class="failure">{_e(e.rendered or e.message)}</pre>' for e in report.errors)
    curves = "".join(
        f'<details class="curve" id="c{n}" data-curve="{n}"><summary>{_e(c["title"])} '
        f'<span class="where">{_e(c["file"])}, over {_e(", ".join(c["params"]))}</span></summary>'
        f'<div class="controls"></div><div class="plot"></div></details>'
        for n, c in enumerate(data["curves"]))
    return _PAGE.format(
        title=_e(summary(report)),
        css=_CSS,
        plotly=js,
        data=_json_script(data),
        app=_APP,
        summary=_e(summary(report)),
        exit_class="failed" if report.exit_code() else "passed",
        rows=rows,
        errors=(f"<h2>Spec errors</h2>{errors}" if errors else ""),
        curves=(f'<h2>Curves across parameters</h2>{curves}' if curves else ""),
        sections=sections,
    )


def result_text(result: ScenarioResult, order: tuple[str, int]) -> str:
    """Serialise one result with its recording (for the pytest plugin's xdist workers); ``order``
    (file, index of the scenario in its file) puts it back in place."""
    data = result.model_dump(mode="json")
    data["recording"] = result.recording
    data["order"] = list(order)
    return json.dumps(data)


def report_from_texts(texts: list[str]) -> Report:
    """Rebuild a Report from :func:`result_text` strings, in file order then scenario order."""
    items = []
    for text in texts:
        data = json.loads(text)
        recording, order = data.pop("recording", None), data.pop("order")
        result = ScenarioResult.model_validate(data)
        result.recording = recording
        items.append((tuple(order), result))
    items.sort(key=lambda item: item[0])
    return Report(scenarios=[result for _, result in items])


def write(report: Report, path: str) -> None:
    """Write the report page to ``path``."""
    page = render(report)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(page)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vmspec report: {title}</title>
<style>{css}</style>
<script type="text/plain" id="plotly-js">{plotly}</script>
</head>
<body>
<header><h1>vmspec report</h1><p id="summary" class="{exit_class}">{summary}</p></header>
<main>
<table id="scenarios">
<thead><tr><th>scenario</th><th>where</th><th>status</th><th>steps</th><th>violations</th>
<th>simulated time</th><th>run time</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
{errors}
{curves}
<h2>Scenarios</h2>
<p class="note">Open a scenario to draw its timelines (sizes in MiB; hover a point for the step and its
spec line) and its address-space map.</p>
{sections}
</main>
<script type="application/json" id="vmspec-data">{data}</script>
<script>{app}</script>
</body>
</html>
"""

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 2em 3em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.5em; }
#summary.failed { color: #b00020; font-weight: bold; } #summary.passed { color: #137333; font-weight: bold; }
table { border-collapse: collapse; } th, td { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td.status, tr.error td.status { color: #b00020; font-weight: bold; } tr.passed td.status { color: #137333; }
details.scenario, details.curve { border: 1px solid #ccc; border-radius: 4px; margin: 6px 0; padding: 4px 8px; }
details.failed, details.error { border-left: 4px solid #b00020; } details.passed { border-left: 4px solid #137333; }
summary { cursor: pointer; } .badge { font-weight: bold; } .where, .note { color: #666; font-size: 90%; }
pre.failure { background: #fff5f5; padding: 8px; overflow-x: auto; }
.excerpt pre { background: #f6f8fa; padding: 6px; } .excerpt .hit { background: #ffe08a; display: inline-block; width: 100%; }
.chart { width: 100%; height: 320px; } .map { margin: 8px 0 16px; font-size: 90%; }
.map td { font-family: ui-monospace, monospace; } ul.marks { color: #b00020; }
.controls select { margin: 0 1em 0 0.3em; } .plot { width: 100%; height: 380px; }
"""

_APP = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("vmspec-data").textContent);
  var MIB = 1048576;
  function size(b) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], i = 0, v = b;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (Math.round(v * 100) / 100) + " " + units[i];
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e;
  }
  function hovertext(s) {
    return s.x.map(function (x, i) { return "step " + x + " " + s.where[i] + "<br>" + escapeHtml(s.text[i]); });
  }
  function escapeHtml(t) {
    return String(t).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; });
  }
  function marks(s) {
    return (s.marks || []).map(function (m) {
      return {type: "line", xref: "x", yref: "paper", x0: m.step, x1: m.step, y0: 0, y1: 1,
              line: {color: "#b00020", width: 1.5, dash: "dot"}};
    });
  }
  function markNotes(s) {
    return (s.marks || []).slice(0, 20).map(function (m) {
      return {x: m.step, y: 1, xref: "x", yref: "paper", text: "\u2717 line " + m.line, showarrow: false,
              yanchor: "bottom", font: {color: "#b00020", size: 11}, hovertext: escapeHtml(m.message)};
    });
  }
  function layout(s, title, ytitle, extra) {
    var l = {title: {text: title, font: {size: 14}}, margin: {l: 60, r: 20, t: 40, b: 40},
             xaxis: {title: {text: "step"}}, yaxis: {title: {text: ytitle}, rangemode: "tozero"},
             shapes: marks(s), annotations: markNotes(s), hovermode: "closest", legend: {orientation: "h", y: -0.28}};
    for (var k in extra) l[k] = extra[k];
    return l;
  }
  function line(s, name, values, scale, hov, group) {
    return {type: "scatter", mode: "lines", name: name, x: s.x, legendgroup: group,
            y: values.map(function (v) { return v / scale; }),
            customdata: values.map(size), text: hov,
            hovertemplate: "<b>" + escapeHtml(name) + "</b> %{customdata}<br>%{text}<extra></extra>"};
  }
  function deltas(values) {
    var out = new Array(values.length), prev = 0;
    for (var i = 0; i < values.length; i++) { out[i] = values[i] - prev; prev = values[i]; }
    return out;
  }
  function loadPlotly() {
    // plotly.js (4.8 MB) is compiled on the first chart, not while the page opens
    if (!window.Plotly) {
      var script = document.createElement("script");
      script.textContent = document.getElementById("plotly-js").textContent;
      document.head.appendChild(script);
    }
  }
  function plot(box, traces, lay) {
    loadPlotly();
    var div = el("div", "chart"); box.appendChild(div);
    Plotly.newPlot(div, traces, lay, {displaylogo: false, responsive: true});
  }
  function drawScenario(index, box) {
    var s = DATA.scenarios[index];
    if (!s.x || !s.x.length) { box.appendChild(el("p", "note", "nothing was recorded for this scenario")); return; }
    var hov = hovertext(s), names = Object.keys(s.procs), traces = [];
    names.forEach(function (p) {
      var d = s.procs[p];
      [["rss_anon", "RSS anon"], ["rss_file", "RSS file"], ["rss_shmem", "RSS shmem"], ["swap", "swap"],
       ["pagetables", "page tables"]].forEach(function (k) {
        if (d[k[0]].some(function (v) { return v !== 0; }) || k[0] === "rss_anon")
          traces.push(line(s, p + " " + k[1], d[k[0]], MIB, hov, p));
      });
    });
    plot(box, traces, layout(s, "Processes: RSS, swap, page tables", "MiB", {}));
    var sys = s.system, mtr = [];
    [["free", "free"], ["cached", "cached"], ["swap_used", "swap used"], ["committed", "committed"]].forEach(function (k) {
      mtr.push(line(s, k[1], sys[k[0]], MIB, hov, "machine"));
    });
    plot(box, mtr, layout(s, "Machine: free, cached, swap used, committed", "MiB", {}));
    var ftr = [], ttr = [];
    function counts(name, values) {
      // bars while they stay readable; past that a stacked step area (SVG bars by the thousand are slow)
      var t = {name: name, x: s.x, y: deltas(values), hovertext: hov,
               hovertemplate: "<b>" + escapeHtml(name) + "</b> %{y}<br>%{hovertext}<extra></extra>"};
      if (s.x.length <= 150) { t.type = "bar"; t.textposition = "none"; }
      else { t.type = "scatter"; t.mode = "lines"; t.stackgroup = "counts"; t.line = {shape: "hv", width: 1}; }
      return t;
    }
    names.forEach(function (p) {
      var d = s.procs[p];
      [["minor", "minor"], ["major", "major"], ["cow", "cow"]].forEach(function (k) {
        ftr.push(counts(p + " " + k[1], d[k[0]]));
      });
      [["tlb_hits", "TLB hits"], ["tlb_misses", "TLB misses"]].forEach(function (k) {
        ttr.push(counts(p + " " + k[1], d[k[0]]));
      });
    });
    var per = s.stride > 1 ? "per sampled interval" : "per step";
    plot(box, ftr, layout(s, "Faults " + per, "faults", {barmode: "stack"}));
    plot(box, ttr, layout(s, "TLB hits and misses " + per, "accesses", {barmode: "stack"}));
    drawMaps(s, box);
  }
  function drawMaps(s, box) {
    var maps = s.maps || {procs: {}};
    box.appendChild(el("h3", "", "Address-space map " + maps.when + " (step " + maps.step + ")"));
    Object.keys(maps.procs).forEach(function (p) {
      var info = maps.procs[p];
      box.appendChild(el("h4", "", p + " (" + info.status + ")"));
      if (!info.mappings.length) { box.appendChild(el("p", "note", "no mappings (not running)")); return; }
      var t = el("table", "map"), head = el("tr");
      ["start", "end", "size", "prot", "backing", "region", "resident", "swapped", "huge"].forEach(function (h) {
        head.appendChild(el("th", "", h));
      });
      t.appendChild(head);
      info.mappings.forEach(function (m) {
        var tr = el("tr");
        [m[0], m[1], size(m[2]), m[3], m[4], m[5], size(m[6]), size(m[7]), size(m[8])].forEach(function (v) {
          tr.appendChild(el("td", "", String(v)));
        });
        t.appendChild(tr);
      });
      box.appendChild(t);
    });
  }
  function drawCurve(n, details) {
    var c = DATA.curves[n], controls = details.querySelector(".controls"), box = details.querySelector(".plot");
    var keys = Object.keys(c.instances[0].final).filter(function (k) {
      return c.instances.every(function (i) { return k in i.final; });
    });
    var ysel = el("select"), xsel = el("select");
    keys.forEach(function (k) { var o = el("option", "", k); o.value = k; ysel.appendChild(o); });
    c.params.forEach(function (p) { var o = el("option", "", p); o.value = p; xsel.appendChild(o); });
    var pref = keys.filter(function (k) { return k.indexOf(").minor + faults(") >= 0; })[0] ||
               keys.filter(function (k) { return k.indexOf("faults(") === 0; })[0] || keys[0];
    ysel.value = pref;
    controls.appendChild(document.createTextNode("observable")); controls.appendChild(ysel);
    controls.appendChild(document.createTextNode("across")); controls.appendChild(xsel);
    function redraw() {
      loadPlotly();
      var x = xsel.value, y = ysel.value, series = {}, order = [];
      var xs = [];
      c.instances.forEach(function (i) { if (xs.indexOf(i.params[x]) < 0) xs.push(i.params[x]); });
      c.instances.forEach(function (i) {
        var rest = c.params.filter(function (p) { return p !== x; }).map(function (p) { return p + "=" + i.params[p]; }).join(", ");
        if (!(rest in series)) { series[rest] = {x: [], y: []}; order.push(rest); }
        series[rest].x.push(i.params[x]); series[rest].y.push(i.final[y]);
      });
      var dashes = ["solid", "dash", "dot", "dashdot"], symbols = ["circle", "square", "diamond", "triangle-up"];
      var traces = order.map(function (r, k) {  // dashes and symbols keep equal series visible
        return {type: "scatter", mode: "lines+markers", name: r || y, x: series[r].x, y: series[r].y,
                line: {dash: dashes[k % 4], width: 2.5 - (k % 3) * 0.5}, marker: {symbol: symbols[k % 4], size: 9 - (k % 3) * 2}};
      });
      Plotly.react(box, traces, {title: {text: y + " across " + x, font: {size: 14}}, margin: {l: 60, r: 20, t: 40, b: 50},
                                 xaxis: {title: {text: x}, type: "category", categoryorder: "array", categoryarray: xs},
                                 yaxis: {title: {text: y}, rangemode: "tozero"}, legend: {orientation: "h", y: -0.25}},
                   {displaylogo: false, responsive: true});
    }
    xsel.addEventListener("change", redraw); ysel.addEventListener("change", redraw);
    redraw();
  }
  function lazy(details, draw) {
    details.addEventListener("toggle", function () {
      if (details.open && !details.dataset.drawn) { details.dataset.drawn = "1"; draw(); }
    });
    if (details.open && !details.dataset.drawn) { details.dataset.drawn = "1"; draw(); }
  }
  document.querySelectorAll("details.scenario").forEach(function (d) {
    lazy(d, function () { drawScenario(+d.dataset.index, d.querySelector(".charts")); });
  });
  document.querySelectorAll("details.curve").forEach(function (d) {
    lazy(d, function () { drawCurve(+d.dataset.curve, d); });
  });
  document.querySelectorAll("a[data-open]").forEach(function (a) {
    a.addEventListener("click", function () { document.getElementById("s" + a.dataset.open).open = true; });
  });
  function openHash() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") target.open = true;
  }
  window.addEventListener("hashchange", openHash); openHash();
  // compile plotly.js once the page is idle, so the first chart a reader opens draws at once
  window.addEventListener("load", function () {
    if (window.requestIdleCallback) requestIdleCallback(loadPlotly, {timeout: 2000}); else setTimeout(loadPlotly, 200);
  });
  window.vmspecReady = true;
})();
"""
