"""Shared test settings: a bounded Hypothesis profile for CI, a longer one by name.

Run the long profile with ``HYPOTHESIS_PROFILE=long make test``.
"""

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.internal.conjecture import providers as _providers

from ioreqlab.host import Host
from ioreqlab.hv.boundary import PROTOTYPES, check_prototypes
from ioreqlab.profiles import XEN_VERSIONS
from ioreqlab.toolstack.xlu_grammar import tables

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

# Hypothesis (6.131 on, pinned here) seeds generation with constants it collects
# from every loaded local module, so a literal added anywhere in src/ changes what
# every property test draws and can turn CI red for no reason.  Generation here is
# to depend on the strategies alone: the collected set stays empty.  (Internal API:
# re-check on a Hypothesis upgrade; tests/test_layers.py asserts it still applies.)
_NO_LOCAL_CONSTANTS = _providers._local_constants
_providers._get_local_constants = lambda: _NO_LOCAL_CONSTANTS


@pytest.fixture(params=XEN_VERSIONS)
def xen(request: pytest.FixtureRequest) -> str:
    """Each Xen profile in turn, for tests of behaviour both profiles share."""
    version: str = request.param
    return version


@pytest.fixture(autouse=True, scope="session")
def _built_in_this_session() -> None:
    """What the model builds once per process is built again for each test session.

    libxlu's LALR tables are made on first use and cached, and ``Host``'s
    argument checks are generated when ``host.py`` is imported.  Mutation
    testing (``tests/mutation.py``) runs each mutant's session in a child
    forked from a process that already did both, so without this the
    children would test what the parent built, not the mutant's code.  In a
    normal run it builds the same again.  A method may already be unwrapped:
    mutmut's forced-failure session stops ``check_prototypes`` (a mutated
    function) after this fixture took the wrappers off, and the children fork
    from that process.
    """
    tables.cache_clear()
    for method in PROTOTYPES:
        checked = getattr(Host, method)
        setattr(Host, method, getattr(checked, "__wrapped__", checked))
    check_prototypes(Host)
