"""Jan Beulich's cross-domain concern: can one guest's tracking exhaust the Xen heap for others?

A hostile guest builds page tables as large and fragmented as it can and its
mediator tries to write-protect all of them.  With preallocation on (the
victim's worst case reserved at creation, the shadow/HAP-pool approach), the
victim's operations never fail for lack of heap, on any design.  With it off,
the rangeset and p2t designs let the hostile guest's tracking take the heap
the victim needed; the p2m design spends no heap on tracking at all.  The
same trials produce the "heap-exhaustion" section of docs/findings.md.
"""

from __future__ import annotations

import pytest

from ioreqlab.analysis.findings import heap_exhaustion_trial
from ioreqlab.host import DESIGNS


@pytest.mark.parametrize("design", DESIGNS)
def test_preallocation_shields_the_victim(design: str) -> None:
    trial = heap_exhaustion_trial(design, preallocate=True)
    assert trial["victim refusals"] == 0
    assert trial["mismatches"] == 0


@pytest.mark.parametrize("design", DESIGNS)
def test_without_preallocation_the_hostile_guest_can_starve_the_victim(design: str) -> None:
    trial = heap_exhaustion_trial(design, preallocate=False)
    if design == "p2m":
        assert trial["victim refusals"] == 0  # tracking costs no heap: nothing to starve
        assert trial["hostile heap bytes"] < 16 << 10
    else:
        assert trial["victim refusals"] > 0
    assert trial["mismatches"] == 0
