"""Hypothesis profiles for the engine's property tests: default (fast) and "slow" (-m slow)."""

from hypothesis import HealthCheck, settings

settings.register_profile("engine-default", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("slow", deadline=None, max_examples=10_000,
                          suppress_health_check=[HealthCheck.too_slow])
