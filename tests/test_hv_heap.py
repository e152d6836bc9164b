"""The Xen heap: bounded, shared, charged per domain, back to baseline after teardown."""

from __future__ import annotations

import errno

import pytest

from ioreqlab import devicemodel
from ioreqlab.alloc import tlsf_cost
from ioreqlab.errors import XenEINVAL, XenError
from ioreqlab.host import Host
from ioreqlab.hv.heap import XenHeap
from ioreqlab.hv.ioreq import IOREQ_VCPU_BYTES, RANGESET_STRUCT_BYTES, SERVER_STRUCT_BYTES
from tests.hv_helpers import snapshot


def server_cost(vcpus: int, rangesets: int = 3) -> int:
    """4.7's charges: the server struct is 152 bytes (range[3]) or 160 (range[4])."""
    return (
        tlsf_cost(152 if rangesets == 3 else SERVER_STRUCT_BYTES)
        + rangesets * tlsf_cost(RANGESET_STRUCT_BYTES)
        + vcpus * tlsf_cost(IOREQ_VCPU_BYTES)
    )


def test_server_and_nodes_are_charged_to_the_target_domain() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, vcpus=2)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    assert host.domain_heap(g).in_use == server_cost(2)
    dm.map_io_range_to_ioreq_server(g, sid, False, 1, 1)
    dm.map_io_range_to_ioreq_server(g, sid, False, 3, 3)
    assert host.domain_heap(g).in_use == server_cost(2) + 2 * 48
    assert host.domain_heap(0).in_use == 0
    assert host.heap_statistics().in_use == host.domain_heap(g).in_use


def test_rangeset_design_charges_a_fourth_rangeset_and_rbtree_nodes() -> None:
    host = Host(design="rangeset", xen_heap_bytes=1 << 20, node_layout="rbtree")
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_wp_mem_range_to_ioreq_server(g, sid, 10, 10)
    assert host.domain_heap(g).in_use == server_cost(1, rangesets=4) + 64


def test_heap_returns_to_baseline_after_destroy() -> None:
    host = Host(design="rangeset", xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, vcpus=3)
    dm = devicemodel.open(host, 0)
    for _ in range(3):
        sid = dm.create_ioreq_server(g, 1)
        for i in range(20):
            dm.map_io_range_to_ioreq_server(
                g, sid, True, 0xF000_0000 + i * 0x2000, 0xF000_0000 + i * 0x2000 + 0xFFF
            )
            dm.map_wp_mem_range_to_ioreq_server(g, sid, i * 2, i * 2)
    dm.destroy_ioreq_server(g, sid)
    assert host.heap_statistics().in_use > 0
    host.destroy_domain(g)
    assert host.heap_statistics().in_use == 0
    assert g not in host.heap.accounts()


def test_exhaustion_is_enomem_at_the_allocating_call_and_atomic() -> None:
    need = server_cost(1)
    host = Host(xen_heap_bytes=need + 48)  # one server and one node
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, False, 1, 1)
    before = snapshot(host)
    with pytest.raises(XenError) as info:
        dm.map_io_range_to_ioreq_server(g, sid, False, 3, 3)
    assert info.value.errno == errno.ENOMEM
    with pytest.raises(XenError):
        dm.create_ioreq_server(g)
    assert snapshot(host) == before
    dm.map_io_range_to_ioreq_server(g, sid, False, 2, 2)  # merging needs no heap


def test_one_domain_can_starve_another_without_preallocation() -> None:
    host = Host(xen_heap_bytes=server_cost(1) * 2)
    a = host.create_domain(memory_mib=64)
    b = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    dm.create_ioreq_server(a)
    dm.create_ioreq_server(a)
    with pytest.raises(XenError):
        dm.create_ioreq_server(b)


def test_preallocation_protects_a_domain() -> None:
    host = Host(xen_heap_bytes=server_cost(1) * 2)
    a = host.create_domain(memory_mib=64)
    b = host.create_domain(memory_mib=64, preallocate_bytes=server_cost(1))
    dm = devicemodel.open(host, 0)
    dm.create_ioreq_server(a)
    with pytest.raises(XenError):
        dm.create_ioreq_server(a)  # a may not take b's reservation
    dm.create_ioreq_server(b)
    with pytest.raises(XenError) as info:
        host.create_domain(memory_mib=64, preallocate_bytes=1)
    assert info.value.errno == errno.ENOMEM


def test_fault_hook_fails_named_sites() -> None:
    sites: list[str] = []

    def fault(site: str, nbytes: int) -> bool:
        sites.append(site)
        return site == "ioreq_vcpu"

    host = Host(xen_heap_bytes=1 << 20, fault=fault)
    g = host.create_domain(memory_mib=64)
    before = snapshot(host)
    with pytest.raises(XenError) as info:
        devicemodel.open(host, 0).create_ioreq_server(g)
    assert info.value.errno == errno.ENOMEM
    assert snapshot(host) == before
    assert sites == ["ioreq_server", "rangeset", "rangeset", "rangeset", "ioreq_vcpu"]
    assert host.heap_statistics().failures == 1


def test_heap_refuses_freeing_more_than_held() -> None:
    heap = XenHeap(100)
    acct = heap.account(1)
    assert acct.allocate(10)
    with pytest.raises(RuntimeError):
        acct.free(11)
    with pytest.raises(RuntimeError):
        heap.drop_account(1)


def test_statistics_snapshot_is_frozen_and_complete() -> None:
    host = Host(design="p2m", xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, name="vm1")
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_mem_type_to_ioreq_server(g, sid, 4, 2)
    dm.set_mem_type(g, 4, 0x10, 3)
    stats = host.statistics()
    vm = next(ds for ds in stats.domains if ds.domid == g)
    assert (vm.name, vm.servers, vm.tracked_pages) == ("vm1", 1, 3)
    assert vm.counter("set_mem_type_pages") == 3
    assert vm.counter("never") == 0
    assert stats.heap.in_use == vm.heap.in_use
    dm.set_mem_type(g, 0, 0x10, 3)
    assert vm.tracked_pages == 3  # a snapshot does not move
    with pytest.raises(AttributeError):
        vm.tracked_pages = 0  # type: ignore[misc]


def test_check_invariants_catches_a_charge_no_structure_holds() -> None:
    host = Host(design="p2t", xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, vcpus=1)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0x3F8, 0x3FF)
    host.check_invariants()  # consistent after real work
    assert host.heap.account(g).allocate(48)  # a block nothing in the model owns
    with pytest.raises(AssertionError, match=f"dom{g}: heap account"):
        host.check_invariants()
    host.heap.account(g).free(48)
    host.check_invariants()


def test_a_domain_refused_for_its_size_leaves_no_heap_account() -> None:
    # The p2t table cannot cover a guest past 2**40 frames: the creation is refused,
    # and the heap account opened for it goes too (it once stayed behind).
    host = Host(design="p2t", xen_heap_bytes=1 << 20, memory_mib=1 << 51)
    before = host.heap.accounts()
    with pytest.raises(XenEINVAL):
        host.create_domain(memory_mib=1 << 50)
    assert host.heap.accounts() == before
    assert list(host.domains) == [0]


def test_a_rolled_back_allocation_gives_shared_heap_back_to_everyone() -> None:
    # A domain with a reservation allocates past it, and the part past it is freed
    # (a failed creation's rollback): those bytes return to the shared heap, not to
    # the domain's reserve, so the free heap others see is what it was before.
    heap = XenHeap(10_000)
    assert heap.reserve(1, 1_000)
    acct = heap.account(1)
    shared_free = heap.capacity - heap.in_use - heap.reserved
    assert acct.allocate(1_000)  # all from the reserve
    assert acct.allocate(500)  # from the shared heap
    acct.free(500)
    assert heap.capacity - heap.in_use - heap.reserved == shared_free
    acct.free(1_000)
    assert (acct.in_use, acct.reserved_used) == (0, 0)
