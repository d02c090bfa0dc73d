"""Shared fixtures: a seeded generator, and hypothesis profiles (CI is derandomised)."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed, so every test is reproducible."""
    return np.random.default_rng(0)
