"""Start-up: `vmspec check` of a small spec loads only what the run needs (bench/bench_cli.py has
the figures): no lark (the parse tables ship as data), no rich for plain output, no
multiprocessing without -j, no importlib.metadata (pydantic's plugin scan runs with its first
validator, and a plain check builds none), no printer or diagnostics when nothing is wrong."""

from __future__ import annotations

import subprocess
import sys

NOT_NEEDED = ("lark", "rich", "multiprocessing", "importlib.metadata", "vmspec.language.printer",
              "vmspec.language.diagnostics", "difflib")

SCRIPT = """
import sys
from vmspec.cli import entry
sys.argv = ["vmspec", "check", "one.vms"]
try:
    entry()
except SystemExit as exc:
    assert exc.code == 0, exc.code
print(sorted(m for m in sys.modules if m.startswith({names!r})))
"""


def test_a_plain_check_loads_only_what_it_runs(tmp_path):
    (tmp_path / "one.vms").write_text('machine m { ram 64MiB }\nscenario "one" on m { spawn p }\n')
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(names=NOT_NEEDED)], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "[]", out.stdout
