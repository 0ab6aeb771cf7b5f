"""``python -m vmspec``: the command line."""

from vmspec.cli import entry

entry()
