"""The golden inputs under golden/ fail on purpose: the project's own pytest plugin must not
collect them as specs."""

collect_ignore = ["golden"]
