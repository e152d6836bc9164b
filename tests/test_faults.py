"""Fault injection: every Xen-heap allocation site fails, and each failure is clean.

A seeded fault source (in the style of tools/fuzz's ``maybe_fail``) decides
per allocation whether it fails.  For each site, an operation whose k-th
allocation at that site fails must return -ENOMEM and leave the host exactly
as it was — except ``set_mem_type``, which Xen documents as not atomic: the
pages before the failing one stay changed.
"""

from __future__ import annotations

import errno
import random
from collections.abc import Callable

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import HvmMem
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from tests.hv_helpers import snapshot

SITES = ("ioreq_server", "rangeset", "ioreq_vcpu", "rangeset_node", "p2t_node")


class FaultPlan:
    """Fail the ``nth`` allocation at ``site`` (1-based) once armed; count every site seen."""

    def __init__(self) -> None:
        self.site: str | None = None
        self.nth = 0
        self.seen: dict[str, int] = {}
        self.failed: set[str] = set()

    def arm(self, site: str, nth: int = 1) -> None:
        self.site, self.nth = site, nth

    def __call__(self, site: str, nbytes: int) -> bool:
        self.seen[site] = self.seen.get(site, 0) + 1
        if site == self.site:
            self.nth -= 1
            if self.nth == 0:
                self.site = None
                self.failed.add(site)
                return True
        return False


def setup(design: str) -> tuple[Host, int, devicemodel.DeviceModel, FaultPlan]:
    plan = FaultPlan()
    host = Host(design=design, xen_heap_bytes=8 << 20, fault=plan)
    g = host.create_domain(memory_mib=256, vcpus=2)
    return host, g, devicemodel.open(host, 0), plan


def fails_cleanly(host: Host, plan: FaultPlan, site: str, call: Callable[[], object]) -> None:
    before = snapshot(host)
    plan.arm(site)
    with pytest.raises(XenError) as info:
        call()
    assert info.value.errno == errno.ENOMEM
    assert site in plan.failed
    assert snapshot(host) == before


@pytest.mark.parametrize("site", ["ioreq_server", "rangeset", "ioreq_vcpu"])
@pytest.mark.parametrize("design", ["rangeset", "p2m"])
def test_create_fails_cleanly_at_each_site(design: str, site: str) -> None:
    host, g, dm, plan = setup(design)
    fails_cleanly(host, plan, site, lambda: dm.create_ioreq_server(g, 1))
    dm.create_ioreq_server(g, 1)  # and works afterwards


def test_map_fails_cleanly_when_a_node_is_refused() -> None:
    host, g, dm, plan = setup("rangeset")
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0x10, 0x10)
    fails_cleanly(
        host,
        plan,
        "rangeset_node",
        lambda: dm.map_io_range_to_ioreq_server(g, sid, False, 0x20, 0x20),
    )
    fails_cleanly(
        host, plan, "rangeset_node", lambda: dm.map_wp_mem_range_to_ioreq_server(g, sid, 5, 5)
    )
    dm.map_io_range_to_ioreq_server(g, sid, True, 0xF000_0000, 0xF000_0FFF)
    fails_cleanly(
        host,
        plan,
        "rangeset_node",
        lambda: dm.unmap_io_range_from_ioreq_server(g, sid, True, 0xF000_0100, 0xF000_01FF),
    )


def test_p2t_node_refusal_is_clean_for_one_page_and_partial_for_a_batch() -> None:
    host, g, dm, plan = setup("p2t")
    sid = dm.create_ioreq_server(g)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 2)
    fails_cleanly(host, plan, "p2t_node", lambda: dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x100, 1))
    # A batch across two leaf nodes: the first leaf's pages stay (Xen does not roll back).
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x200, 1)  # builds the path: a leaf now exists
    plan.arm("p2t_node", nth=1)
    with pytest.raises(XenError) as info:
        dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x23E, 4)  # 0x23E,0x23F in that leaf; 0x240 not
    assert info.value.errno == errno.ENOMEM
    types = [dm.get_mem_type(g, p) for p in range(0x23E, 0x242)]
    assert types == [HvmMem.IOREQ_SERVER, HvmMem.IOREQ_SERVER, HvmMem.RAM_RW, HvmMem.RAM_RW]
    d = host.domains[g]
    assert d.p2t is not None
    d.p2t.check_invariants()
    assert d.p2t.count == d.p2m.entry_count


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("design", ["rangeset", "p2m", "p2t"])
def test_random_faults_never_corrupt_state(design: str, seed: int) -> None:
    """A seeded source fails one allocation in eight; accounting stays exact."""
    rng = random.Random(seed)
    host = Host(design=design, xen_heap_bytes=8 << 20, fault=lambda site, n: rng.random() < 0.125)
    g = host.create_domain(memory_mib=256)
    dm = devicemodel.open(host, 0)
    sids: list[int] = []
    for _ in range(60):
        try:
            op = rng.randrange(4)
            if op == 0 or not sids:
                sids.append(dm.create_ioreq_server(g))
            elif op == 1:
                base = rng.randrange(0, 1 << 16, 4)
                dm.map_io_range_to_ioreq_server(g, rng.choice(sids), False, base, base + 1)
            elif op == 2 and design == "rangeset":
                gfn = rng.randrange(0x100, 0x1000)
                dm.map_wp_mem_range_to_ioreq_server(g, rng.choice(sids), gfn, gfn)
            elif op == 3:
                dm.destroy_ioreq_server(g, sids.pop(rng.randrange(len(sids))))
        except XenError as err:
            assert err.errno in (errno.ENOMEM, errno.EEXIST)
        host.check_invariants()
    host.destroy_domain(g)
    assert host.heap.in_use == 0


def test_every_site_fails_somewhere() -> None:
    """Each allocation site the model has is made to fail, and each failure is clean."""
    host, g, dm, plan = setup("p2t")
    for site in ("ioreq_server", "rangeset", "ioreq_vcpu"):
        fails_cleanly(host, plan, site, lambda: dm.create_ioreq_server(g))
    sid = dm.create_ioreq_server(g)
    fails_cleanly(
        host, plan, "rangeset_node", lambda: dm.map_io_range_to_ioreq_server(g, sid, False, 1, 1)
    )
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 2)
    fails_cleanly(host, plan, "p2t_node", lambda: dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x300, 1))
    assert set(plan.seen) == set(SITES)
    assert plan.failed == set(SITES)
