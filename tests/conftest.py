"""Shared pytest configuration: hypothesis profiles.

``default`` keeps the whole suite quick; ``slow`` (``--hypothesis-profile=slow``, used with
``-m slow``) runs the long property searches with at least 10,000 examples.
"""

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("slow", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("default")
