"""vmspec: state, check and explore how Linux memory management behaves.

The public API is re-exported lazily so that ``import vmspec`` (and ``vmspec --version``) stays
cheap: ``load`` (parse and resolve a .vms file), ``check`` (run specs, returning a Report),
``Report``, ``Violation``, ``VmspecError``, ``SpecError``.
"""

__version__ = "0.1.0"

__all__ = ["load", "check", "Report", "Violation", "VmspecError", "SpecError", "__version__"]


def __getattr__(name: str):
    if name == "load":
        from vmspec.language import load

        return load
    if name in ("check", "Report", "Violation"):
        import vmspec.checker as checker

        return getattr(checker, name)
    if name in ("VmspecError", "SpecError"):
        import vmspec.errors as errors

        return getattr(errors, name)
    raise AttributeError(f"module 'vmspec' has no attribute {name!r}")
