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
