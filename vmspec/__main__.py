"""``python -m vmspec``: the command line."""

try:
    from vmspec.cli import entry
except KeyboardInterrupt:  # Ctrl-C while the command line is imported: no traceback
    import sys

    sys.stderr.write("vmspec: interrupted\n")
    sys.exit(130)

entry()
