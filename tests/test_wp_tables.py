"""The p2m table and the p2t radix table."""

from __future__ import annotations

import random
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ioreqlab.abi import HvmMem, P2mType
from ioreqlab.alloc import CountingAllocator, tlsf_cost
from ioreqlab.errors import XenEINVAL, XenENOMEM
from ioreqlab.hv.domain import Domain
from ioreqlab.p2m import P2mTable, get_mem_type
from ioreqlab.p2t import P2tTable
from tests.test_rangeset_memory import RefusingAllocator


def test_defaults_follow_the_memory_map() -> None:
    d = Domain(1, "g", hvm=True, hap=True, nr_pages=(8 << 30) >> 12, vcpus=1)
    assert d.p2m.get(0) == P2mType.RAM_RW
    assert d.p2m.get(0xA0) == P2mType.INVALID  # the VGA hole
    assert d.p2m.get(0xF0000) == P2mType.INVALID  # the MMIO hole below 4 GiB
    assert d.p2m.get(0x100000) == P2mType.RAM_RW  # relocated above 4 GiB
    assert d.p2m.get(d.max_gpfn) == P2mType.RAM_RW
    assert d.p2m.get(d.max_gpfn + 1) == P2mType.INVALID


def test_a_1_tib_guest_with_8192_changes_stays_small() -> None:
    tracemalloc.start()
    d = Domain(1, "big", hvm=True, hap=True, nr_pages=(1 << 40) >> 12, vcpus=1)
    rng = random.Random(7)
    for gfn in rng.sample(range(d.max_gpfn), 8192):
        d.p2m.set(gfn, P2mType.IOREQ_SERVER)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(d.p2m) == 8192
    assert d.p2m.entry_count == 8192
    assert peak < 8 << 20, f"{peak} bytes for 8192 entries"
    d.p2m.check_invariants()


def test_get_mem_type_mapping_order() -> None:
    as_p2m = HvmMem.IOREQ_SERVER
    assert get_mem_type(P2mType.MMIO_DM, tracked_as=as_p2m) == HvmMem.MMIO_DM
    assert get_mem_type(P2mType.MMIO_DIRECT, tracked_as=as_p2m) == HvmMem.MMIO_DM
    assert get_mem_type(P2mType.IOREQ_SERVER, tracked_as=as_p2m) == HvmMem.IOREQ_SERVER
    assert get_mem_type(P2mType.IOREQ_SERVER, tracked_as=HvmMem.MMIO_WRITE_DM) == 3
    assert get_mem_type(P2mType.RAM_RO, tracked_as=as_p2m) == HvmMem.RAM_RO
    # hvm.c:hvmop_get_mem_type tests p2m_is_readonly before p2m_is_ram, and
    # P2M_RO_TYPES holds ram_logdirty and ram_shared (RELEASE-4.9.0 p2m.h on).
    assert get_mem_type(P2mType.RAM_LOGDIRTY, tracked_as=as_p2m) == HvmMem.RAM_RO
    assert get_mem_type(P2mType.RAM_SHARED, tracked_as=as_p2m) == HvmMem.RAM_RO
    assert get_mem_type(P2mType.GRANT_MAP_RO, tracked_as=as_p2m) == HvmMem.RAM_RO
    assert get_mem_type(P2mType.GRANT_MAP_RW, tracked_as=as_p2m) == HvmMem.RAM_RW
    assert get_mem_type(P2mType.POPULATE_ON_DEMAND, tracked_as=as_p2m) == HvmMem.RAM_RW
    assert get_mem_type(P2mType.INVALID, tracked_as=as_p2m) == HvmMem.MMIO_DM


#: Xen's masks, written out from ``xen/arch/x86/include/asm/p2m.h`` (RELEASE-4.17.0;
#: the same in ``xen/include/asm-x86/p2m.h`` of 4.9, and of 4.6/4.7 without ioreq_server).
_XEN_RAM = {"ram_rw", "ram_logdirty", "ram_ro", "ram_paging_out", "ram_paged",
            "ram_paging_in", "ram_shared", "ioreq_server"}  # fmt: skip
_XEN_HOLE = {"mmio_dm", "invalid", "ram_paging_in", "ram_paged"}
_XEN_NAMES = ["ram_rw", "invalid", "ram_logdirty", "ram_ro", "mmio_dm", "mmio_direct",
              "populate_on_demand", "grant_map_rw", "grant_map_ro", "ram_paging_out",
              "ram_paged", "ram_paging_in", "ram_shared", "ram_broken", "map_foreign",
              "ioreq_server"]  # fmt: skip


@pytest.mark.parametrize("value", range(16))
def test_every_p2m_type_is_ram_hole_and_class_as_xens_masks(value: int) -> None:
    from ioreqlab.hv.transitions import old_class  # noqa: PLC0415
    from ioreqlab.p2m import is_hole, is_ram  # noqa: PLC0415

    name = _XEN_NAMES[value]
    t = P2mType(value)
    assert is_ram(t) == (name in _XEN_RAM), name
    assert is_hole(t) == (name in _XEN_HOLE), name
    # allow_p2m_type_change (arch/x86/hvm/dm.c, 4.17) asks p2m_is_ram before p2m_is_hole.
    expected = (
        "type 15" if value == 15
        else "ram_rw" if name == "ram_rw"
        else "other RAM" if name in _XEN_RAM
        else "hole" if name in _XEN_HOLE
        else "other"
    )  # fmt: skip
    assert old_class(t) == expected, name
    # hvmop_get_mem_type (arch/x86/hvm/hvm.c, 4.17): mmio, ioreq_server, readonly, ram,
    # pod, grant, else mmio_dm; p2m_ram_broken is none of them.
    readonly = {"ram_logdirty", "ram_ro", "grant_map_ro", "ram_shared"}
    want = (
        HvmMem.MMIO_DM if name in ("mmio_dm", "mmio_direct")
        else HvmMem.IOREQ_SERVER if value == 15
        else HvmMem.RAM_RO if name in readonly
        else HvmMem.RAM_RW if name in _XEN_RAM | {"populate_on_demand", "grant_map_rw"}
        else HvmMem.MMIO_DM
    )  # fmt: skip
    assert get_mem_type(t, tracked_as=HvmMem.IOREQ_SERVER) == want, name


@given(st.lists(st.tuples(st.integers(0, 300), st.sampled_from(list(P2mType)[:16])), max_size=80))
def test_entry_count_is_exact(changes: list[tuple[int, P2mType]]) -> None:
    p2m = P2mTable(lambda g: g < 200)
    for gfn, t in changes:
        p2m.set(gfn, t)
        p2m.check_invariants()
        assert p2m.entry_count == sum(1 for g in range(301) if p2m.get(g) == P2mType.IOREQ_SERVER)


@given(st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 3)), max_size=120))
def test_p2t_matches_a_dict_and_charges_every_node(ops: list[tuple[int, int]]) -> None:
    alloc = CountingAllocator()
    t = P2tTable(max_gfn=4095, bits=3, allocator=alloc)
    ref: dict[int, int] = {}
    for gfn, kind in ops:
        if kind:
            t.set(gfn, kind)
            ref[gfn] = kind
        else:
            t.clear(gfn)
            ref.pop(gfn, None)
        t.check_invariants()
        assert dict(t.items()) == ref
        assert alloc.in_use == t.bytes_in_use
    t.purge()
    assert alloc.in_use == 0


def test_p2t_refused_node_is_enomem_and_atomic() -> None:
    alloc = RefusingAllocator(room=5)
    t = P2tTable(max_gfn=(1 << 20) - 1, allocator=alloc)  # 4 levels of 64
    t.set(0, 1)  # 4 nodes
    with pytest.raises(XenENOMEM):
        t.set(0xFFFFF, 2)  # needs 3 more, only 1 granted
    assert dict(t.items()) == {0: 1}
    assert t.nr_nodes == 4
    assert alloc.in_use == t.bytes_in_use
    t.check_invariants()


def test_p2t_bad_arguments() -> None:
    t = P2tTable(max_gfn=100)
    with pytest.raises(XenEINVAL):
        t.set(101, 1)
    with pytest.raises(XenEINVAL):
        t.set(1, 0)
    with pytest.raises(XenEINVAL):
        P2tTable(bits=0)


def test_p2t_memory_follows_the_tracked_set() -> None:
    scattered = P2tTable(max_gfn=(1 << 20) - 1)
    contiguous = P2tTable(max_gfn=(1 << 20) - 1)
    rng = random.Random(3)
    for gfn in rng.sample(range(1 << 20), 8192):
        scattered.set(gfn, 1)
    for gfn in range(8192):
        contiguous.set(gfn, 1)
    assert contiguous.nr_nodes == 128 + 2 + 1 + 1  # leaves, two mid levels, root
    assert scattered.bytes_in_use > 20 * contiguous.bytes_in_use


def test_the_set_mem_type_doc_is_the_table_the_code_reads() -> None:
    from pathlib import Path  # noqa: PLC0415  (only this test reads a file)

    from ioreqlab.hv.transitions import markdown  # noqa: PLC0415

    doc = Path(__file__).parent.parent / "docs" / "set-mem-type.md"
    assert doc.read_text() == markdown() + "\n", (
        "docs/set-mem-type.md is stale: .venv/bin/python -c 'from ioreqlab.hv.transitions "
        "import markdown; print(markdown())' > docs/set-mem-type.md"
    )


@pytest.mark.parametrize("design", ["rangeset", "p2m", "p2t"])
def test_set_mem_type_follows_the_transition_table(design: str) -> None:
    # Every (old class, new kind) pair, driven through the real DMOP, agrees with the table.
    from ioreqlab import devicemodel  # noqa: PLC0415
    from ioreqlab.errors import XenError  # noqa: PLC0415
    from ioreqlab.host import Host  # noqa: PLC0415
    from ioreqlab.hv.transitions import KINDS, allowed  # noqa: PLC0415

    mem_of = {
        "ioreq type": HvmMem.IOREQ_SERVER,
        "ram_rw": HvmMem.RAM_RW,
        "ram_ro": HvmMem.RAM_RO,
        "mmio_dm": HvmMem.MMIO_DM,
        "mmio_write_dm": HvmMem.MMIO_WRITE_DM,
    }
    start = {
        "ram_rw": None,
        "other RAM": HvmMem.RAM_RO,
        "hole": None,
        "type 15": HvmMem.MMIO_WRITE_DM if design == "rangeset" else HvmMem.IOREQ_SERVER,
    }
    for old, setup in start.items():
        for kind in KINDS:
            host = Host(design=design, xen_heap_bytes=1 << 20)
            g = host.create_domain(memory_mib=64)
            dm = devicemodel.open(host, 0)
            if design != "rangeset":
                sid = dm.create_ioreq_server(g)
                dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 2)
            gfn = 0x8000 if old == "hole" else 0x40
            if setup is not None:
                dm.set_mem_type(g, setup, gfn, 1)
            mem = mem_of[kind]
            valid = (mem in host.wp.mem_types() and mem != HvmMem.UNUSED) or (
                design == "rangeset" and mem == HvmMem.MMIO_WRITE_DM
            )
            try:
                dm.set_mem_type(g, mem, gfn, 1)
                ok = True
            except XenError:
                ok = False
            assert ok == (valid and allowed(design, old, kind)), (design, old, kind)


def test_p2t_bounds_and_node_cost_exactly() -> None:
    # Survivors of the p2m-p2t mutation stage (docs/mutation.md): the accepted
    # ranges of bits and max_gfn, the node size, the level count, and a miss under
    # an existing node reading as 0.
    for bits in (1, 12):
        P2tTable(max_gfn=0, bits=bits)
    for bits in (0, 13):
        with pytest.raises(XenEINVAL):
            P2tTable(max_gfn=0, bits=bits)
    P2tTable(max_gfn=(1 << 40) - 1)
    with pytest.raises(XenEINVAL):
        P2tTable(max_gfn=1 << 40)
    with pytest.raises(XenEINVAL):
        P2tTable(max_gfn=-1)
    alloc = CountingAllocator()
    t = P2tTable(max_gfn=0, bits=6, allocator=alloc)  # one level: gfn 0 only
    t.set(0, 3)
    assert alloc.in_use == tlsf_cost(24 + 8 * 64)  # radix_tree_node: header + 64 slots
    deep = P2tTable(max_gfn=(1 << 12) - 1, bits=6, allocator=CountingAllocator())
    deep.set(5, 1)
    assert deep.bytes_in_use == 2 * tlsf_cost(24 + 8 * 64)  # two levels for 12 bits
    assert (deep.get(5), deep.get(6), deep.get(64 * 7)) == (1, 0, 0)


def test_p2t_one_bit_nodes_for_gfns_0_and_1_need_one_level() -> None:
    # max_gfn 1 has one significant bit: one level of 2-slot nodes, so one node.
    t = P2tTable(max_gfn=1, bits=1)
    t.set(1, 3)
    assert (t.nr_nodes, t.get(1), t.get(0)) == (1, 3, 0)
    assert list(t.items()) == [(1, 3)]


def test_p2t_untracked_gfns_read_0_wherever_the_walk_stops() -> None:
    t = P2tTable(max_gfn=(1 << 18) - 1, bits=6)  # three levels
    assert t.get(5) == 0  # no root
    t.set(0x3FFFF, 1)
    t.set(0x3FFFE, 4)
    assert t.get(0) == 0  # the root has no child there
    assert t.get(0x3FFC0) == 0  # the leaf node exists, the slot is empty
    assert list(t.items()) == [(0x3FFFE, 4), (0x3FFFF, 1)]
    t.set(0x01041, 2)  # a second path from the root
    t.clear(0x3FFFF)  # its leaf node keeps 0x3FFFE
    t.check_invariants()
    assert (t.nr_nodes, list(t.items())) == (5, [(0x01041, 2), (0x3FFFE, 4)])
    t.clear(0x3FFFE)
    t.check_invariants()
    assert (t.nr_nodes, list(t.items())) == (3, [(0x01041, 2)])


def test_p2m_global_change_keeps_a_hole_frame_set_to_ram() -> None:
    # A frame outside the RAM map (default INVALID) made RAM_RW is an override; a
    # global RAM_RW -> LOGDIRTY change must carry it (p2m_change_entry_type_global).
    p2m = P2mTable(lambda gfn: gfn < 16)
    p2m.set(32, P2mType.RAM_RW)
    p2m.change_type_global(P2mType.RAM_RW, P2mType.RAM_LOGDIRTY)
    assert (p2m.get(32), p2m.get(3), len(p2m)) == (
        P2mType.RAM_LOGDIRTY,
        P2mType.RAM_LOGDIRTY,
        1,
    )


def test_p2m_tracks_gfn_0() -> None:
    p2m = P2mTable(lambda gfn: True)
    p2m.set(0, P2mType.IOREQ_SERVER)
    assert list(p2m.tracked()) == [0]
    p2m.check_invariants()
