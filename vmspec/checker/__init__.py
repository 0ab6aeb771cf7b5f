"""The checker: runs scenarios on the engine, evaluates expectations, returns data (never prints).

Names are re-exported lazily so that importing one submodule (``vmspec.checker.options``) does
not load the engine and the language.
"""

_EXPORTS = {
    "CheckOptions": "vmspec.checker.options",
    "FileError": "vmspec.checker.results",
    "Report": "vmspec.checker.results",
    "ScenarioResult": "vmspec.checker.results",
    "StepRecord": "vmspec.checker.results",
    "Violation": "vmspec.checker.results",
    "check": "vmspec.checker.session",
    "check_file": "vmspec.checker.session",
    "find_specs": "vmspec.checker.session",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vmspec.checker' has no attribute {name!r}")
