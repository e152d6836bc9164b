"""Shared test settings: a bounded Hypothesis profile for CI, a longer one by name.

Run the long profile with ``HYPOTHESIS_PROFILE=long make test``.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

from ioreqlab.profiles import XEN_VERSIONS

settings.register_profile(
    "ci",
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=5000,
    stateful_step_count=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=XEN_VERSIONS)
def xen(request: pytest.FixtureRequest) -> str:
    """Each Xen profile in turn, for tests of behaviour both profiles share."""
    version: str = request.param
    return version
