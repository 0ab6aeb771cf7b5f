"""The layering of docs/architecture.md, enforced: nothing imports upward, the engine and the
language never import each other, the engine imports no front-end library, the checker never
prints, and the front-ends hold no logic beyond argument handling."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "vmspec"

FORBIDDEN = {
    "engine": {"vmspec.language", "vmspec.checker", "vmspec.reporting", "vmspec.cli",
               "vmspec.pytest_plugin", "lark", "pydantic", "rich", "pytest", "hypothesis"},
    "language": {"vmspec.engine", "vmspec.checker", "vmspec.reporting", "vmspec.cli",
                 "vmspec.pytest_plugin", "rich", "pytest", "hypothesis"},
    "checker": {"vmspec.reporting", "vmspec.cli", "vmspec.pytest_plugin", "rich", "pytest"},
    "reporting": {"vmspec.cli", "vmspec.pytest_plugin", "pytest"},
}
BASE = ("units.py", "source.py", "errors.py", "options.py", "confine.py")


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations(modules: set[str], forbidden: set[str]) -> set[str]:
    return {m for m in modules for f in forbidden if m == f or m.startswith(f + ".")}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer):
    bad = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        found = _violations(_imports(path), FORBIDDEN[layer])
        if found:
            bad[str(path.relative_to(PACKAGE))] = sorted(found)
    assert bad == {}


@pytest.mark.parametrize("name", BASE)
def test_base_layer_imports_nothing_above_it(name):
    found = _violations(_imports(PACKAGE / name), {"vmspec.language", "vmspec.engine", "vmspec.checker",
                                                    "vmspec.reporting", "lark", "rich"})
    assert found == set()


def test_checker_never_prints():
    offenders = []
    for path in sorted((PACKAGE / "checker").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr"):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_no_eval_exec_or_pickle():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
        if {"pickle", "marshal", "shelve"} & _imports(path):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _own_names(tree: ast.AST) -> set[str]:
    """Return the names a module defines itself: functions, classes, their attributes (slots,
    assignments to ``self.x`` or ``obj.x`` inside it) and module-level assignments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _private(node.value):
            names.add(node.value)  # __slots__ entries
    return names


def private_reach_ins(path: pathlib.Path) -> list[str]:
    """Return the places where ``path`` uses another module's private name: an import of a
    ``_name`` from another module, or ``obj._name`` where ``obj`` is not ``self``/``cls`` and the
    module does not define ``_name`` itself (a class reading another instance of itself)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _own_names(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            out += [f"{node.lineno}: from {node.module} import {a.name}"
                    for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                continue
            if node.attr not in own:
                out.append(f"{node.lineno}: {ast.unparse(node)}")
    return out


def test_no_module_reaches_into_another_modules_private_names():
    # lark's parse tables are read in the one module allowed to know lark's internals
    allowed = {"language/tables.py": {"scanner._mres"}}
    bad = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        found = [f for f in private_reach_ins(path)
                 if f.split(": ", 1)[1] not in allowed.get(rel, set())]
        if found:
            bad[rel] = found
    assert bad == {}


def test_the_private_name_check_can_fail(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("from vmspec.engine.mmu import _segv\n"
                      "def f(sysm):\n    return sysm._alloc, self._ok\n")
    assert private_reach_ins(sample) == ["1: from vmspec.engine.mmu import _segv",
                                         "3: sysm._alloc"]
