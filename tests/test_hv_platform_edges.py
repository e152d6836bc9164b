"""The platform DMOPs at their edges: the last valid value of every bound, each field
of what they record, and the batches of the continuing ops (issue 17's mutants).

Sources: xen/arch/x86/hvm/dm.c (RELEASE-4.17.0): set_pci_intx_level, set_isa_irq_level,
set_pci_link_route, inject_event, modified_memory, track_dirty_vram (with
hap_track_dirty_vram), XEN_DMOP_relocate_memory (16 frames per batch, then a
continuation); irq.c:hvm_inject_msi with asm/msi.h's address and data fields;
mtrr.c:hvm_set_mem_pinned_cacheattr (new ranges go to the list's head).
"""

from __future__ import annotations

import errno

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import (
    PAGE_SIZE,
    CreateIoreqServer,
    DmOp,
    HvmGetMemType,
    HvmMem,
    HvmOp,
    ModifiedMemory,
    ModifiedMemoryExtent,
    P2mType,
    TrackDirtyVram,
    dm_op_buffer,
)
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.hv.platform import Event, Msi
from tests.test_hv_platform import fails, setup


def test_the_last_valid_line_of_every_interrupt_op(xen: str) -> None:
    host, g, dm = setup(xen)
    p = host.domains[g].platform
    dm.set_pci_intx_level(g, 0, 0, 0x1F, 3, 1)  # device 31, INTD
    assert p.pci_intx == {(0x1F, 3)}
    dm.set_isa_irq_level(g, 15, 1)
    assert p.isa_irq_levels[15] == 1
    dm.set_pci_link_route(g, 3, 15)
    assert p.pci_link_routes == [0, 0, 0, 15]
    fails(errno.EINVAL, lambda: dm.set_pci_intx_level(g, 0, 0, 0x20, 3, 1))
    fails(errno.EINVAL, lambda: dm.set_pci_intx_level(g, 0, 0, 0x1F, 4, 1))


def test_an_msi_records_every_field_of_its_address_and_data(xen: str) -> None:
    host, g, dm = setup(xen)
    p = host.domains[g].platform
    # dest 0x5A, logical mode, lowest priority, level triggered, vector 0x41
    dm.inject_msi(g, 0xFEE0_0000 | 0x5A << 12 | 0x4, 0x8000 | 0x100 | 0x41)
    assert p.msis[-1] == Msi(0x41, 0x5A, 1, 1, 1)
    dm.inject_msi(g, 0xFEE0_0000 | 0x03 << 12, 0x41)  # physical mode, fixed, edge
    assert p.msis[-1] == Msi(0x41, 3, 0, 0, 0)
    # Vector 0 names a pirq: its high bits from address bits 40-63 (bits 32-39 dropped),
    # its low byte the dest.
    dm.inject_msi(g, (0xABCD_EF13 << 32) | 0xFEE0_0000 | 0x34 << 12 | 0x4, 0x8000 | 0x100)
    assert p.msis[-1] == Msi(0, 0x34, 1, 1, 1, 0xABCD_EF34)
    assert p.msi_pirqs == {0xABCD_EF34}
    dm.inject_msi(g, 0xFEE0_0000 | 0x01 << 12, 0)  # pirq 1, the smallest there is
    assert p.msis[-1].pirq == 1


def test_an_event_records_every_field() -> None:
    host, g, dm = setup("4.17")
    dm.inject_event(g, 0, 14, 3, 0x6, 2, 0xCAFE000)  # error code 6, a 2-byte insn
    assert host.domains[g].platform.events[0] == Event(14, 3, 2, 0x6, 0xCAFE000)


def test_track_dirty_vram_at_its_bounds() -> None:
    host, g, dm = setup("4.17")
    limit = (1 << 30) >> 12  # exactly 1 GiB of frames is allowed
    bitmap = dm.track_dirty_vram(g, 0x100, limit)
    assert len(bitmap) == limit // 8
    assert bitmap == b"\xff" * (limit // 8)
    assert dm.track_dirty_vram(g, 0x100, 9) == b"\xff\x01"  # 9 frames need 2 bytes
    assert dm.track_dirty_vram(g, 0, 0) == b""  # nr 0 stops tracking
    p = host.domains[g].platform
    assert (p.vram, p.vram_dirty) == (None, set())
    host.guest_access(g, 0, "mmio", 0x101 << 12, 4, write=True, data=1)
    assert p.vram_dirty == set()  # no range is tracked: nothing is noted
    assert dm.track_dirty_vram(g, 0x100, 9) == b"\xff\x01"  # a new range: all dirty again


def test_modified_memory_batches_and_bounds() -> None:
    host, g, dm = setup("4.17")
    host.set_log_dirty(g, True)
    d = host.domains[g]
    # One extent of 600 frames: batches of 256, 256, 88 (two continuations).
    dm.modified_memory(g, 0x1000, 600)
    assert d.platform.dirty == set(range(0x1000, 0x1000 + 600))
    assert d.counters["dmop_continuations"] == 2
    # Exactly 256 frames in all: one batch, no continuation.
    d.platform.dirty.clear()
    dm.modified_memory_bulk(g, [(0x100, 200), (0x400, 56)])
    assert len(d.platform.dirty) == 256
    assert d.counters["dmop_continuations"] == 2
    # The last frame below the bound is allowed: end == max_mapped_pfn.
    dm.modified_memory(g, d.max_mapped_pfn - 1, 1)
    assert d.max_mapped_pfn - 1 in d.platform.dirty
    fails(errno.EINVAL, lambda: dm.modified_memory(g, d.max_mapped_pfn, 1))


def test_a_relocation_moves_every_frame_in_batches_of_16() -> None:
    host, g, dm = setup("4.17")
    d = host.domains[g]
    for i in range(40):
        d.write_ram((0x100 + i) << 12, 8, 0x1000 + i)
    d.write_ram(0x3000 << 12, 8, 0xDEAD)  # what the destination held is dropped
    dm.relocate_memory(g, 40, 0x100, 0x3000)
    assert [d.read_ram((0x3000 + i) << 12, 8) for i in range(40)] == [0x1000 + i for i in range(40)]
    assert all(d.p2m.get(0x100 + i) == P2mType.INVALID for i in range(40))
    assert d.p2m.get(0x3000 + 39) == P2mType.RAM_RW
    assert d.max_mapped_pfn >= 0x3000 + 39
    assert d.counters["dmop_continuations"] == 2  # after frames 16 and 32
    dm.relocate_memory(g, 16, 0x200, 0x1_0000_0000)  # exactly one batch, far above RAM
    assert d.counters["dmop_continuations"] == 2
    assert d.max_mapped_pfn == 0x1_0000_0000 + 15
    assert d.p2m.get(0x1_0000_0000) == P2mType.RAM_RW
    dm.relocate_memory(g, 33, 0x400, 0x3100)  # 16 + 16 + 1: two more continuations
    assert d.counters["dmop_continuations"] == 4
    d.write_ram(0x3200 << 12, 8, 0xBEEF)
    dm.relocate_memory(g, 1, 0x500, 0x3200)  # a frame never written onto one that was
    assert d.read_ram(0x3200 << 12, 8) == 0
    fails(errno.EOVERFLOW, lambda: dm.relocate_memory(g, 2, 2**64 - 2, 0x3300))
    fails(errno.EINVAL, lambda: dm.relocate_memory(g, 1, 2**64 - 2, 0x3300))  # fits: no RAM
    dm.relocate_memory(g, 1, 0x300, 2**64 - 2)  # the highest gfn a frame may reach
    fails(errno.EOVERFLOW, lambda: dm.relocate_memory(g, 2, 0x301, 2**64 - 2))
    host.check_invariants()


def test_pinned_ranges_overlap_at_one_frame_and_go_to_the_head() -> None:
    host, g, dm = setup("4.17")
    p = host.domains[g].platform
    dm.pin_memory_cacheattr(g, 0x10, 0x10, 6)  # one frame: start == end is a range
    dm.pin_memory_cacheattr(g, 0x20, 0x2F, 1)
    assert p.pinned == [[0x20, 0x2F, 1], [0x10, 0x10, 6]]  # the newest first
    for start, end in ((0x2F, 0x40), (0x0, 0x20), (0x10, 0x11), (0x8, 0x10), (0x18, 0x25)):
        with pytest.raises(XenError) as info:
            dm.pin_memory_cacheattr(g, start, end, 6)
        assert info.value.errno == errno.EBUSY
    dm.pin_memory_cacheattr(g, 0x11, 0x1F, 0)  # touching both, overlapping neither
    assert len(p.pinned) == 3
    assert p.pinned_bytes == 3 * 80


def test_a_pinned_range_is_charged_at_its_own_heap_site() -> None:
    host = Host(xen="4.17", xen_heap_bytes=1 << 20, fault=lambda site, n: site == "cacheattr_range")
    g = host.create_domain(memory_mib=64, vcpus=2)
    dm = devicemodel.open(host, 0)
    fails(errno.ENOMEM, lambda: dm.pin_memory_cacheattr(g, 0x10, 0x1F, 6))
    assert host.domains[g].platform.pinned == []


@pytest.mark.parametrize("end", [0x10, 0x11])
def test_a_range_may_end_where_it_starts(end: int) -> None:
    host, g, dm = setup("4.17")
    dm.pin_memory_cacheattr(g, 0x10, end, 6)
    assert host.domains[g].platform.pinned == [[0x10, end, 6]]


def test_populate_physmap_fills_whole_extents_up_to_the_last_gfn() -> None:
    # common/memory.c:populate_physmap: an extent of 2**order frames; a gfn past
    # what a xen_pfn_t of a 64-bit address holds ends the op, the extents before it
    # done (the count is the result, never an errno).
    host = Host(xen="4.17", xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    d = host.domains[g]
    before = d.tot_pages
    assert host.populate_physmap(0, g, [0x100000], order=12) == 1
    assert d.tot_pages - before == 4096
    assert d.p2m.get(0x100000 + 4095) == P2mType.RAM_RW
    assert d.p2m.get(0x100000 + 4096) == P2mType.INVALID
    top = (1 << 52) - 1  # the last frame of a 64-bit physical address
    assert host.populate_physmap(0, g, [0, top]) == 2
    assert d.p2m.get(top) == P2mType.RAM_RW
    assert host.populate_physmap(0, g, [top + 1, 0x5000]) == 0  # stops at the first
    assert host.populate_physmap(0, g, [top - 3], order=2) == 1
    assert host.populate_physmap(0, g, [top - 2], order=2) == 0
    host.check_invariants()


@pytest.mark.parametrize("design", ["rangeset", "p2m", "p2t"])
def test_populating_a_write_protected_frame_gives_fresh_ram(design: str) -> None:
    # A populated frame is a new page: zeroed ram_rw, and a p2m_ioreq_server
    # frame stops being one (entry_count, and the design's own record with it).
    host = Host(design=design, xen="4.17", xen_heap_bytes=16 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    d = host.domains[g]
    d.write_ram(0x321 << 12, 8, 0xFEED)
    if design == "rangeset":
        dm.map_wp_mem_range_to_ioreq_server(g, sid, 0x321, 0x321)
        dm.set_mem_type(g, HvmMem.MMIO_WRITE_DM, 0x321, 1)
    else:
        dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 2)
    heap = host.domain_heap(g).in_use
    if design != "rangeset":
        dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x321, 1)
    assert d.p2m.entry_count == 1
    assert host.populate_physmap(0, g, [0x321]) == 1
    assert d.p2m.get(0x321) == P2mType.RAM_RW
    assert d.p2m.entry_count == 0
    assert d.read_ram(0x321 << 12, 8) == 0
    assert dm.get_mem_type(g, 0x321) == HvmMem.RAM_RW
    assert host.domain_heap(g).in_use == heap  # the p2t's node for the frame is freed
    if d.p2t is not None:
        assert d.p2t.count == 0
    host.check_invariants()


def test_the_dirty_vram_bitmap_is_copied_for_its_frames_only() -> None:
    # track_dirty_vram copies (nr + 7) / 8 bytes; a smaller buffer is -EINVAL.
    host, g, _ = setup("4.17")
    bitmap = bytearray(b"\xee" * 8)
    raw = dm_op_buffer(DmOp.TRACK_DIRTY_VRAM, TrackDirtyVram(12, 0, 0x100))
    assert host.dm_op(0, g, [raw, bitmap]) == 0
    assert bitmap == b"\xff\x0f" + b"\xee" * 6
    assert host.dm_op(0, g, [raw, bytearray(1)]) == -errno.EINVAL


def test_vram_writes_are_noted_inside_the_range_only() -> None:
    host, g, dm = setup("4.17")
    dm.track_dirty_vram(g, 0x100, 4)
    for gfn in (0xFF, 0x100, 0x103, 0x104):
        host.guest_access(g, 0, "mmio", gfn << 12, 4, write=True, data=1)
    assert dm.track_dirty_vram(g, 0x100, 4) == b"\x09"  # frames 0 and 3 of the range


def test_modified_memory_progress_equal_to_the_extent_is_einval() -> None:
    host, g, _ = setup("4.17")
    host.set_log_dirty(g, True)
    ext = bytearray(ModifiedMemoryExtent(4, 0, 0x200).pack())
    raw = dm_op_buffer(DmOp.MODIFIED_MEMORY, ModifiedMemory(1, 4))  # opaque 4 of 4 done
    assert host.dm_op(0, g, [raw, ext]) == -errno.EINVAL
    raw = dm_op_buffer(DmOp.MODIFIED_MEMORY, ModifiedMemory(1, 3))
    assert host.dm_op(0, g, [raw, ext]) == 0
    assert host.domains[g].platform.dirty == {0x203}


def test_platform_statistics_report_every_field() -> None:
    host, g, dm = setup("4.17")
    dm.set_pci_intx_level(g, 0, 0, 3, 1, 1)
    dm.set_pci_link_route(g, 1, 10)
    dm.inject_msi(g, 0xFEE0_1000, 0x31)
    dm.inject_event(g, 0, 14, 3, 0, 0, 0)
    host.set_log_dirty(g, True)
    dm.modified_memory(g, 0x200, 2)
    dm.pin_memory_cacheattr(g, 0x10, 0x1F, 6)
    p = host.statistics().domains[g].platform
    assert (p.pci_intx_asserted, p.pci_link_routes) == (((3, 1),), (0, 10, 0, 0))
    assert (p.msis, p.events_pending, p.dirty_pages, p.pinned_ranges) == (1, 1, 2, 1)


def test_the_boundary_takes_any_integer_as_a_bool_and_uint64_to_its_top() -> None:
    host, g, _ = setup("4.17")
    sid = devicemodel.open(host, 0).create_ioreq_server(g)
    host.set_ioreq_server_state(0, g, sid, 2)  # type: ignore[arg-type]  # uint8_t: non-zero
    assert host.domains[g].find_server(sid).enabled  # type: ignore[union-attr]
    host.map_io_range(0, g, sid, 1, 2**64 - 0x1000, 2**64 - 1)  # MMIO up to the last byte
    with pytest.raises(XenError) as info:
        host.map_io_range(0, g, sid, 1, 0, 2**64)
    assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
def test_the_copy_back_writes_what_the_release_writes(xen: str) -> None:
    # 4.17 copies back the op's own struct; 4.9's dm.c the whole xen_dm_op (32 bytes).
    # Either way a longer buffer keeps its length and what lies past the copy.
    host, g, _ = setup(xen)
    raw = dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(1))
    buf = bytearray(raw) + b"\xee" * 40
    assert host.dm_op(0, g, [buf]) == 0
    assert len(buf) == len(raw) + 40
    assert buf[len(raw) :] == b"\xee" * 40
    header = bytes(raw[:8])
    assert bytes(buf[:8]) == header  # op and pad as they were
    sid = CreateIoreqServer.unpack(bytes(buf[8 : 8 + CreateIoreqServer.size()])).id
    assert host.domains[g].find_server(sid) is not None


def test_set_mem_type_past_the_last_mapped_frame_changes_nothing() -> None:
    # dm.c set_mem_type: "if ( first_pfn > last_pfn || last_pfn >
    # domain_get_maximum_gpfn(d) ) return -EINVAL;" before any page changes.
    host, g, dm = setup("4.17")
    d = host.domains[g]
    top = d.max_mapped_pfn
    for first, nr in ((top - 1, 3), (top, 2)):
        with pytest.raises(XenError) as info:
            dm.set_mem_type(g, HvmMem.RAM_RO, first, nr)
        assert info.value.errno == errno.EINVAL
        assert (d.p2m.get(top - 1), d.p2m.get(top)) == (P2mType.RAM_RW, P2mType.RAM_RW)
    dm.set_mem_type(g, HvmMem.RAM_RO, top - 1, 2)  # up to the last frame is allowed
    assert d.p2m.get(top) == P2mType.RAM_RO


def test_get_mem_type_copies_back_the_whole_struct() -> None:
    host, g, _ = setup("4.17")
    buf = bytearray(HvmGetMemType(g, 0, 0x123).pack())
    assert host.hvm_op(0, HvmOp.GET_MEM_TYPE, buf) == 0
    assert HvmGetMemType.unpack(bytes(buf)) == HvmGetMemType(g, int(HvmMem.RAM_RW), 0x123)


@pytest.mark.parametrize("pad", [1, 0x100, 0x1_0000, 0x100_0000])
def test_a_modified_memory_extent_with_any_pad_bit_set_is_einval(pad: int) -> None:
    # dm.c (4.17) modified_memory: "if ( extent.pad ) return -EINVAL;", each of its bytes.
    host, g, _ = setup("4.17")
    host.set_log_dirty(g, True)
    ext = bytearray(ModifiedMemoryExtent(4, pad, 0x200).pack())
    raw = dm_op_buffer(DmOp.MODIFIED_MEMORY, ModifiedMemory(1))
    assert host.dm_op(0, g, [raw, ext]) == -errno.EINVAL
    assert host.domains[g].platform.dirty == set()


def test_each_bitmap_clean_returns_what_was_written_since_and_re_arms_logging() -> None:
    # hap_clean_dirty_bitmap (4.17): the bitmap is handed over and emptied, and
    # p2m_change_entry_type_global(ram_rw, ram_logdirty) makes the next write fault again.
    host, g, _ = setup("4.17")
    d = host.domains[g]
    host.set_log_dirty(g, True)
    host.guest_access(g, 0, "mmio", 0x200_000, 8, write=True, data=1)
    assert host.clean_dirty_bitmap(g) == frozenset({0x200})
    assert d.p2m.get(0x200) == P2mType.RAM_LOGDIRTY
    assert host.clean_dirty_bitmap(g) == frozenset()
    host.guest_access(g, 0, "mmio", 0x200_000, 8, write=True, data=2)
    host.guest_access(g, 0, "mmio", 0x201_000, 8, write=True, data=3)
    assert host.clean_dirty_bitmap(g) == frozenset({0x200, 0x201})
    assert d.read_ram(0x200_000, 8) == 2


def test_a_clean_re_arms_logging_after_a_disclaim_switched_it_off() -> None:
    # A disclaim that resets protected pages runs p2m_change_entry_type_global(
    # ioreq_server, ram_rw), which leaves global_logdirty off (p2m.c, 4.17): writes
    # are not logged until hap_clean_dirty_bitmap turns every ram_rw frame back.
    host = Host(design="p2m", xen="4.17", xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 2)
    host.set_log_dirty(g, True)
    host.guest_access(g, 0, "mmio", 0x100_000, 8, write=True, data=1)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x100, 1)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 0)  # disclaim
    host.guest_access(g, 0, "mmio", 0x300_000, 8, write=True, data=2)
    assert 0x300 not in host.clean_dirty_bitmap(g)  # written while logging was off
    host.guest_access(g, 0, "mmio", 0x300_000, 8, write=True, data=3)
    host.guest_access(g, 0, "mmio", 0x301_000, 8, write=True, data=4)
    assert host.clean_dirty_bitmap(g) >= {0x300, 0x301}
    assert host.domains[g].read_ram(0x301_000, 8) == 4


@pytest.mark.parametrize(
    ("offset", "size"), [(0xFFF, 1), (0xFFE, 1), (0xFFE, 2), (0xFFC, 4), (0xFF8, 8), (0xFF7, 8)]
)
def test_a_write_ending_at_or_before_its_frames_end_dirties_that_frame_only(
    offset: int, size: int
) -> None:
    # linear_write (emulate.c, 4.17) touches the frames the bytes are in, no more.
    host, g, _ = setup("4.17")
    host.set_log_dirty(g, True)
    host.guest_access(g, 0, "mmio", (0x200 << 12) + offset, size, write=True, data=1)
    assert host.clean_dirty_bitmap(g) == frozenset({0x200})
    assert host.domains[g].p2m.get(0x201) == P2mType.RAM_LOGDIRTY


@pytest.mark.parametrize(("offset", "size"), [(0xFFF, 2), (0xFFC, 8), (0xFF9, 8)])
def test_a_ram_write_across_a_frame_end_puts_each_part_in_its_frame(offset: int, size: int) -> None:
    host, g, _ = setup("4.17")
    gpa = (0x200 << 12) + offset
    host.guest_access(g, 0, "mmio", 0x201_010, 1, write=True, data=0xAA)  # already there
    value = int.from_bytes(bytes(range(0x11, 0x11 + size)), "little")
    host.guest_access(g, 0, "mmio", gpa, size, write=True, data=value)
    for i in range(size):
        got = host.guest_access(g, 0, "mmio", gpa + i, 1, write=False).data
        assert got == 0x11 + i
    assert host.guest_access(g, 0, "mmio", 0x201_010, 1, write=False).data == 0xAA
    d = host.domains[g]
    assert {len(d.ram[0x200]), len(d.ram[0x201])} == {PAGE_SIZE}


def test_a_write_across_a_frame_end_dirties_the_next_frame_by_its_own_type() -> None:
    # The first frame already faulted (ram_rw), the next is still log-dirty: the
    # write's second part faults it (linear_write: each part to its own frame).
    host, g, _ = setup("4.17")
    host.set_log_dirty(g, True)
    host.guest_access(g, 0, "mmio", 0x200_010, 1, write=True, data=1)
    assert host.domains[g].p2m.get(0x200) == P2mType.RAM_RW
    host.guest_access(g, 0, "mmio", 0x200_FFC, 8, write=True, data=-1 & (2**64 - 1))
    assert host.domains[g].p2m.get(0x201) == P2mType.RAM_RW
    assert host.clean_dirty_bitmap(g) == frozenset({0x200, 0x201})
