"""The platform DMOPs, each with Xen's checks, errno order and readable effect.

Sources: xen/arch/x86/hvm/dm.c (RELEASE-4.17.0, RELEASE-4.9.0 where noted),
irq.c:hvm_set_pci_link_route and hvm_inject_msi, vmsi.c:vmsi_deliver,
mtrr.c:hvm_set_mem_pinned_cacheattr, common/memory.c:xenmem_add_to_physmap.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import DmOp, InjectEvent, ModifiedMemory, P2mType, dm_op_buffer
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.hv.platform_ops import CACHEATTR_RANGE_BYTES
from tests.hv_helpers import snapshot


def setup(xen: str = "4.17") -> tuple[Host, int, devicemodel.DeviceModel]:
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, vcpus=2)
    return host, g, devicemodel.open(host, 0)


def fails(code: int, call: Callable[[], object]) -> None:
    with pytest.raises(XenError) as info:
        call()
    assert info.value.errno == code


def test_isa_irq_lines(xen: str) -> None:
    host, g, dm = setup(xen)
    dm.set_isa_irq_level(g, 4, 1)
    dm.set_isa_irq_level(g, 8, 1)
    dm.set_isa_irq_level(g, 8, 0)
    assert host.statistics().domains[1].platform.isa_irq_levels[4] == 1
    assert host.domains[g].platform.isa_irq_levels[8] == 0
    before = snapshot(host)
    fails(errno.EINVAL, lambda: dm.set_isa_irq_level(g, 16, 1))  # isa_irq > 15
    fails(errno.EINVAL, lambda: dm.set_isa_irq_level(g, 3, 2))  # level not 0/1
    assert snapshot(host) == before


def test_pci_intx_lines_only_on_segment_0_bus_0(xen: str) -> None:
    host, g, dm = setup(xen)
    dm.set_pci_intx_level(g, 0, 0, 3, 1, 1)
    assert host.domains[g].platform.pci_intx == {(3, 1)}
    dm.set_pci_intx_level(g, 0, 0, 3, 1, 0)
    assert not host.domains[g].platform.pci_intx
    for bad in (
        (1, 0, 3, 0, 1),
        (0, 1, 3, 0, 1),
        (0, 0, 32, 0, 1),
        (0, 0, 3, 4, 1),
        (0, 0, 3, 0, 7),
    ):
        fails(errno.EINVAL, lambda b=bad: dm.set_pci_intx_level(g, *b))  # type: ignore[misc]


def test_pci_link_route(xen: str) -> None:
    host, g, dm = setup(xen)
    dm.set_pci_link_route(g, 2, 11)
    assert host.domains[g].platform.pci_link_routes == [0, 0, 11, 0]
    fails(errno.EINVAL, lambda: dm.set_pci_link_route(g, 4, 5))
    fails(errno.EINVAL, lambda: dm.set_pci_link_route(g, 1, 16))


def test_inject_msi_vector_pirq_and_bad_modes(xen: str) -> None:
    host, g, dm = setup(xen)
    dm.inject_msi(g, 0xFEE0_1000, 0x4031)  # dest 1, fixed, vector 0x31
    msi = host.domains[g].platform.msis[-1]
    assert (msi.vector, msi.dest, msi.delivery_mode) == (0x31, 1, 0)
    dm.inject_msi(g, (0x100 << 32) | 0xFEE0_5000, 0)  # vector 0: pirq 0x105
    assert host.domains[g].platform.msi_pirqs == {0x105}
    fails(errno.ERANGE, lambda: dm.inject_msi(g, 0xFEE0_0000, 0))  # vector 0, no pirq
    fails(errno.EINVAL, lambda: dm.inject_msi(g, 0xFEE0_0000, 0x731))  # ExtINT mode
    raw = dm_op_buffer(DmOp.INJECT_MSI, ModifiedMemory(0x31, 1))  # the same bytes, pad 1
    assert host.dm_op(0, g, [raw]) == -errno.EINVAL


def test_inject_event_one_pending_per_vcpu(xen: str) -> None:
    host, g, dm = setup(xen)
    dm.inject_event(g, 1, 14, 3, 0, 0, 0xDEAD000)  # #PF with %cr2
    assert host.domains[g].platform.events[1].cr2 == 0xDEAD000
    fails(errno.EBUSY, lambda: dm.inject_event(g, 1, 13, 3, 0, 0, 0))
    fails(errno.EINVAL, lambda: dm.inject_event(g, 2, 13, 3, 0, 0, 0))  # no vcpu 2
    raw = dm_op_buffer(DmOp.INJECT_EVENT, InjectEvent(0, 13, 3, 0, pad0=1))
    assert host.dm_op(0, g, [raw]) == -errno.EINVAL


def test_remote_shutdown_stops_the_vcpus_and_keeps_the_first_reason() -> None:
    host, g, dm = setup("4.17")
    dm.shutdown(g, 4)  # SHUTDOWN_watchdog
    dm.shutdown(g, 0)
    assert host.statistics().domains[1].platform.shutdown_reason == 4
    fails(errno.ESRCH, lambda: host.guest_access(g, 0, "pio", 0x80, 1, write=True))
    dm.set_isa_irq_level(g, 1, 1)  # shut down, not dying: the device model still reaches it


def test_ops_after_49_are_eopnotsupp_in_the_47_profile() -> None:
    _, g, dm = setup("4.7")
    for call in (
        lambda: dm.shutdown(g, 0),
        lambda: dm.relocate_memory(g, 1, 0x10, 0x20),
        lambda: dm.pin_memory_cacheattr(g, 0, 1, 6),
        lambda: dm.nr_vcpus(g),
    ):
        fails(errno.EOPNOTSUPP, call)


def test_nr_vcpus() -> None:
    _, g, dm = setup("4.17")
    assert dm.nr_vcpus(g) == 2


def test_relocate_memory_moves_pages_and_leaves_a_hole() -> None:
    host, g, dm = setup("4.17")
    d = host.domains[g]
    d.write_ram(0x10 << 12, 8, 0x1122334455667788)
    dm.relocate_memory(g, 20, 0x10, 0x2000)  # more than one 16-frame batch
    assert d.p2m.get(0x10) == P2mType.INVALID
    assert d.read_ram(0x2000 << 12, 8) == 0x1122334455667788
    assert d.counters["dmop_continuations"] == 1
    fails(errno.EINVAL, lambda: dm.relocate_memory(g, 1, 0x10, 0x3000))  # a hole now
    fails(errno.EOVERFLOW, lambda: dm.relocate_memory(g, 2, 0x20, 2**64 - 2))
    fails(errno.EINVAL, lambda: dm.relocate_memory(g, 1, 0x20, 2**64 - 1))
    host.check_invariants()


def test_pin_memory_cacheattr_rules_and_heap() -> None:
    host, g, dm = setup("4.17")
    before = host.domain_heap(g).in_use
    dm.pin_memory_cacheattr(g, 0x100, 0x1FF, 6)  # WB
    assert host.domain_heap(g).in_use - before == 80  # tlsf_cost(56)
    assert CACHEATTR_RANGE_BYTES == 56
    dm.pin_memory_cacheattr(g, 0x100, 0x1FF, 1)  # the same range re-typed: no new node
    assert host.domains[g].platform.pinned == [[0x100, 0x1FF, 1]]
    fails(errno.EBUSY, lambda: dm.pin_memory_cacheattr(g, 0x180, 0x280, 6))
    fails(errno.EINVAL, lambda: dm.pin_memory_cacheattr(g, 0x300, 0x2FF, 6))
    fails(errno.EINVAL, lambda: dm.pin_memory_cacheattr(g, 0x300, 0x3FF, 2))  # not a PAT type
    fails(errno.EINVAL, lambda: dm.pin_memory_cacheattr(g, 0, 1 << 46, 6))  # past paddr_bits
    fails(errno.ENOENT, lambda: dm.pin_memory_cacheattr(g, 0x100, 0x17F, 0xFFFF_FFFF))
    host.check_invariants()
    dm.pin_memory_cacheattr(g, 0x100, 0x1FF, 0xFFFF_FFFF)  # delete
    assert host.domain_heap(g).in_use == before
    dm.pin_memory_cacheattr(g, 0x500, 0x5FF, 0)
    host.destroy_domain(g)
    assert host.heap_statistics().in_use == 0


def test_track_dirty_vram_bitmap() -> None:
    host, g, dm = setup("4.17")
    assert dm.track_dirty_vram(g, 0x100, 12) == b"\xff\x0f"  # a new range starts all dirty
    assert dm.track_dirty_vram(g, 0x100, 12) == b"\0\0"
    host.guest_access(g, 0, "mmio", (0x100 + 9) << 12, 4, write=True, data=1)
    assert dm.track_dirty_vram(g, 0x100, 12) == b"\0\x02"
    fails(errno.EINVAL, lambda: dm.track_dirty_vram(g, 0, (1 << 18) + 1))  # > 1 GiB
    raw = dm_op_buffer(DmOp.TRACK_DIRTY_VRAM, ModifiedMemory(8, 0))
    assert host.dm_op(0, g, [raw]) == -errno.EINVAL  # no buf[1]
    assert host.dm_op(0, g, [raw, b"\0"]) == -errno.EFAULT  # read-only bitmap


def test_modified_memory_marks_dirty_only_in_log_dirty_mode() -> None:
    host, g, dm = setup("4.17")
    dm.modified_memory(g, 0x10, 4)
    assert not host.domains[g].platform.dirty  # paging_mode_log_dirty off: nothing
    host.set_log_dirty(g, True)
    dm.modified_memory_bulk(g, [(0x10, 4), (0x1000, 300)])  # > 256 frames: continues
    assert len(host.domains[g].platform.dirty) == 304
    d = host.domains[g]
    fails(errno.EINVAL, lambda: dm.modified_memory(g, d.max_mapped_pfn, 1))  # end > max
    fails(errno.EINVAL, lambda: dm.modified_memory(g, 0x10, 0))  # end <= first
    raw = dm_op_buffer(DmOp.MODIFIED_MEMORY, ModifiedMemory(2))
    assert host.dm_op(0, g, [raw, bytearray(16)]) == -errno.EINVAL  # buf[1] holds one extent


def test_modified_memory_is_efault_in_49() -> None:
    # 4.9 dm.c: "rc = COPY_FROM_GUEST_BUF_OFFSET(...); if ( rc ) return -EFAULT;"
    # inverts the copy's bool; fixed by 1c2ea5ee05 (4.10).
    host, g, dm = setup("4.7")
    host.set_log_dirty(g, True)
    fails(errno.EFAULT, lambda: dm.modified_memory(g, 0x10, 4))
    assert not host.domains[g].platform.dirty


def test_set_mem_type_reaches_the_special_pages(xen: str) -> None:
    # set_mem_type's bound is domain_get_maximum_gpfn (p2m->max_mapped_pfn): libxc's
    # special pages at 0xfeff8-0xfefff are RAM, far above a 64 MiB guest's last frame.
    host, g, dm = setup(xen)
    d = host.domains[g]
    assert d.max_gpfn == 0x3FFF
    assert d.max_mapped_pfn == 0xFEFFF
    dm.set_mem_type(g, 1, 0xFEFFF, 1)  # ram_ro on the last special page
    assert d.p2m.get(0xFEFFF) == P2mType.RAM_RO
    dm.set_mem_type(g, 2, 0x8000, 1)  # a hole may become mmio_dm
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, 1, 0xFF000, 1))


def test_populate_physmap_for_video_ram_and_roms(xen: str) -> None:
    # common/memory.c:populate_physmap: extents counted, never an errno; max_pages
    # bounds it; XSM_TARGET decides who may; the frames become ram_rw.
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    stub = host.create_domain(memory_mib=16, hvm=False)
    g = host.create_domain(memory_mib=64, dm_domid=stub)
    other = host.create_domain(memory_mib=16, hvm=False)
    d = host.domains[g]
    vram = 0xF0000  # a gfn in the MMIO hole, as QEMU's VRAM is
    assert d.p2m.get(vram) == P2mType.INVALID
    assert host.populate_physmap(stub, g, [vram, vram + 1]) == 2
    assert d.p2m.get(vram) == P2mType.RAM_RW
    assert devicemodel.open(host, stub).map_foreign(g, vram)[0] == 0  # mappable now
    assert host.populate_physmap(other, g, [vram + 2]) == 0  # not its device model
    assert host.populate_physmap(stub, g, [vram + 512], order=10) == 0  # > DOMU max_order
    assert host.populate_physmap(0, g, [0x100000], order=12) == 1  # dom0 may: order 12
    room = d.max_pages - d.tot_pages
    assert host.populate_physmap(stub, g, list(range(0x200000, 0x200000 + room + 5))) == room
    assert d.max_mapped_pfn == 0x200000 + room - 1


def test_ioreq_gfns_are_guest_frames_mappable_while_the_server_is_disabled() -> None:
    # The legacy path (QEMU without map_resource, varstored): get_ioreq_server_info
    # gives gfns whose pages *are* the server's pages (prepare_ring_for_helper); an
    # enabled server's frames are out of the p2m (hvm_remove_ioreq_gfn).
    host = Host(xen="4.17", xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g, 1)
    ioreq_pfn, buf_pfn, _ = dm.get_ioreq_server_info(g, sid)
    page = dm.map_foreign(g, ioreq_pfn)
    s = host.domains[g].find_server(sid)
    assert s is not None
    page[0] = 0x5A
    assert s.shared_page[0] == 0x5A
    dm.set_ioreq_server_state(g, sid, True)
    assert host.domains[g].p2m.get(ioreq_pfn) == P2mType.INVALID
    fails(errno.EINVAL, lambda: dm.map_foreign(g, buf_pfn))
    assert s.shared_page[0] == 0  # cleared on enable
    dm.set_ioreq_server_state(g, sid, False)
    assert dm.map_foreign(g, ioreq_pfn).obj is s.shared_page
    fails(errno.EPERM, lambda: host.acquire_ioreq_server_frames(0, g, sid, 0, 1))  # gfn mode
