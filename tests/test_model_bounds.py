"""The model's own memory is bounded and charged (issue 15 #13).

A host states two bounds: the machine's RAM, which guests share (a guest
that does not fit is ``-ENOMEM``, as its build's ``populate_physmap`` would
be), and what the model itself may hold — pages written or mapped, p2m
entries for retyped frames.  Past the second, the model refuses with
:class:`ModelLimitError` (not a ``XenError``: no device model may take it for
a full rangeset), and nothing is half-changed.
"""

from __future__ import annotations

import tracemalloc

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import DmOp, SetMemType, dm_op_buffer
from ioreqlab.abi.constants import PAGE_SIZE, HvmMem, MemAccessFlag
from ioreqlab.cli import main
from ioreqlab.errors import ModelLimitError, XenENOMEM, XenError
from ioreqlab.host import Host
from ioreqlab.hv.census import model_bytes
from ioreqlab.hv.pages import MODEL_ENTRY_COST, MODEL_PAGE_COST
from tests.hv_helpers import snapshot


def test_a_guest_larger_than_the_machine_is_refused_and_room_comes_back() -> None:
    host = Host(memory_mib=1024)
    before = snapshot(host)
    with pytest.raises(XenENOMEM, match="does not fit: the host has 1,024 MiB"):
        host.create_domain(memory_mib=2**50)
    assert snapshot(host) == before
    g = host.create_domain(memory_mib=768)
    with pytest.raises(XenENOMEM, match="256 MiB of RAM free"):
        host.create_domain(memory_mib=512)
    host.create_domain(memory_mib=256)  # exactly what is left
    host.destroy_domain(g)
    host.create_domain(memory_mib=512)  # the destroyed guest's RAM is free again


def test_the_default_machine_holds_a_terabyte_of_guests() -> None:
    host = Host()
    host.create_domain(memory_mib=1 << 20)
    with pytest.raises(XenENOMEM):
        host.create_domain(memory_mib=1)


def test_guest_pages_past_the_model_bound_are_refused_with_nothing_changed() -> None:
    host = Host(model_memory_bytes=10 * MODEL_PAGE_COST)
    g = host.create_domain(memory_mib=64)
    d = host.domains[g]
    for gfn in range(0x100, 0x10A):
        host.guest_access(g, 0, "mmio", gfn * PAGE_SIZE, 4, write=True, data=gfn)
    with pytest.raises(ModelLimitError, match="model_memory_bytes") as info:
        host.guest_access(g, 0, "mmio", 0x1FF * PAGE_SIZE, 4, write=True, data=1)
    assert not isinstance(info.value, XenError)
    assert len(d.ram) == 10
    assert model_bytes(host.domains) <= 10 * MODEL_PAGE_COST
    # What was written is intact; what was refused left no page behind.
    assert host.guest_access(g, 0, "mmio", 0x100 * PAGE_SIZE, 4, write=False).data == 0x100
    assert host.guest_access(g, 0, "mmio", 0x1FF * PAGE_SIZE, 4, write=False).data == 0
    host.check_invariants()
    # Destroying the guest gives its pages back.
    host.destroy_domain(g)
    g2 = host.create_domain(memory_mib=64)
    host.guest_access(g2, 0, "mmio", 0x100 * PAGE_SIZE, 4, write=True, data=1)


def test_ioreq_server_pages_and_mappings_count_against_the_bound() -> None:
    host = Host(model_memory_bytes=3 * MODEL_PAGE_COST)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    dm.create_ioreq_server(g)  # its two pages
    with pytest.raises(ModelLimitError):
        dm.create_ioreq_server(g)
    assert len(host.domains[g].servers) == 1
    host.check_invariants()
    dm.map_foreign(g, 0x50)  # the third page
    with pytest.raises(ModelLimitError):
        dm.map_foreign(g, 0x51)


def test_retyped_frames_past_the_bound_are_refused_before_any_is_retyped() -> None:
    host = Host(design="p2m", model_memory_bytes=2 * MODEL_PAGE_COST + 300 * MODEL_ENTRY_COST)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, MemAccessFlag.WRITE)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x100, 256)  # one chunk of 256 fits
    before = snapshot(host)
    with pytest.raises(ModelLimitError, match="retyped pages"):
        host.set_mem_type(0, g, HvmMem.IOREQ_SERVER, 0x200, 256)
    assert snapshot(host) == before
    assert len(host.domains[g].p2m) == 256
    # Through the ABI the model's limit is raised too, not turned into -ENOMEM.
    arg = SetMemType(nr=256, mem_type=HvmMem.IOREQ_SERVER, pad=0, first_pfn=0x200)
    with pytest.raises(ModelLimitError):
        host.dm_op(0, g, [dm_op_buffer(DmOp.SET_MEM_TYPE, arg)])


def test_the_stated_costs_cover_what_the_model_really_holds() -> None:
    # MODEL_PAGE_COST and MODEL_ENTRY_COST are what the bound charges; they must
    # not be below what Python really spends (tracemalloc, 2,000 of each).
    host = Host(design="p2m")
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, MemAccessFlag.WRITE)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for gfn in range(0x1000, 0x1000 + 2000):
            host.guest_access(g, 0, "mmio", gfn * PAGE_SIZE, 1, write=True, data=1)
        pages = tracemalloc.get_traced_memory()[0] - start
        start = tracemalloc.get_traced_memory()[0]
        dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x2000, 2000)
        entries = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert pages / 2000 <= MODEL_PAGE_COST, pages / 2000
    assert entries / 2000 <= MODEL_ENTRY_COST, entries / 2000


def test_the_cli_reports_the_model_bound_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ioreqlab import cli  # noqa: PLC0415

    def full(args: object) -> int:
        raise ModelLimitError("one more page would take the model past its own memory bound")

    monkeypatch.setattr(cli, "_cmd_run", full)
    assert main(["run", "any.toml"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("ioreqlab: error: one more page")


def test_model_bytes_counts_each_page_the_model_holds_once() -> None:
    # An independent count: every distinct page object (RAM written, each
    # server's two pages, which a disabled gfn-mapped server shares with RAM)
    # plus every p2m entry, summed over all domains.
    host = Host(xen="4.7")  # 4.7 maps each server's pages at guest frames at creation
    a = host.create_domain(memory_mib=64)
    b = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    disabled = dm.create_ioreq_server(a, handle_bufioreq=1)  # pages in a's RAM
    enabled = dm.create_ioreq_server(a, handle_bufioreq=1)
    dm.set_ioreq_server_state(a, enabled, True)  # pages out of the p2m
    dm.create_ioreq_server(b, handle_bufioreq=0)
    for g, gfns in ((a, (0x100, 0x101)), (b, (0x200,))):
        for gfn in gfns:
            host.guest_access(g, 0, "mmio", gfn * PAGE_SIZE, 4, write=True, data=1)
    dm.set_mem_type(b, HvmMem.RAM_RO, 0x300, 3)

    def independent() -> int:
        total = 0
        for d in host.domains.values():
            held = {id(p) for p in d.ram.values()}
            for s in d.all_servers():
                held |= {id(s.shared_page), id(s.buffered_page)}
            total += len(held) * MODEL_PAGE_COST + len(d.p2m) * MODEL_ENTRY_COST
        return total

    assert host.domains[a].find_server(disabled) is not None
    assert model_bytes(host.domains) == independent()
    assert len(host.domains[b].p2m) == 3  # the retyped frames
