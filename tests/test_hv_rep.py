"""REP MOVS / REP STOS as Xen's emulator does them (emulate.c:hvmemul_rep_movs).

``data_is_ptr`` accesses have a RAM buffer at ``data``; ``addr`` is the other
side.  RAM to RAM is a memmove done by Xen; onto a p2m_ioreq_server page it
is the profile's ``rep_movs_to_ioreq`` (4.9 copies past the owner, 4.12+ sends
each element to it, d7bff2bc00).
"""

from __future__ import annotations

from ioreqlab import devicemodel
from ioreqlab.abi import IOREQ_SIZE, HvmMem, IoReq, IoReqState, set_slot_state
from ioreqlab.host import Host
from tests.hv_helpers import EchoEmulator

MMIO = 0xF000_0000


def test_ram_to_ram_rep_movs_is_a_memmove(xen: str) -> None:
    host = Host(xen=xen)
    g = host.create_domain(memory_mib=64)
    d = host.domains[g]
    d.write_ram(0x5000, 8, 0x8877665544332211)
    got = host.guest_access(
        g, 0, "mmio", 0x9000, 4, write=True, data=0x5000, count=2, data_is_ptr=True
    )
    assert (got.route, got.status) == ("ram", "done")
    assert d.read_ram(0x9000, 8) == 0x8877665544332211
    # Backwards with DF: the elements end at the addresses given.
    got = host.guest_access(
        g, 0, "mmio", 0xA004, 4, write=True, data=0x5004, count=2, df=True, data_is_ptr=True
    )
    assert d.read_ram(0xA000, 8) == 0x8877665544332211


def test_overlapping_rep_movs_is_unhandleable(xen: str) -> None:
    host = Host(xen=xen)
    g = host.create_domain(memory_mib=64)
    got = host.guest_access(
        g, 0, "mmio", 0x5004, 4, write=True, data=0x5000, count=4, data_is_ptr=True
    )
    assert (got.status, got.fault) == ("unhandled", 13)


def test_rep_stos_to_ram_writes_every_element(xen: str) -> None:
    host = Host(xen=xen)
    g = host.create_domain(memory_mib=64)
    host.guest_access(g, 0, "mmio", 0x7000, 2, write=True, data=0xABCD, count=3)
    assert host.domains[g].read_ram(0x7000, 8) == 0x0000ABCDABCDABCD


def test_rep_movs_from_ram_to_emulated_mmio_goes_to_the_server_with_the_pointer(xen: str) -> None:
    host = Host(xen=xen)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, True, MMIO, MMIO + 0xFFF)
    echo = EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    host.guest_access(g, 0, "mmio", MMIO, 4, write=True, data=0x5000, count=8, data_is_ptr=True)
    req = echo.seen[-1]
    assert (req.addr, req.data, req.count, req.data_is_ptr) == (MMIO, 0x5000, 8, 1)


def test_elementwise_rep_movs_goes_on_after_an_asynchronous_completion() -> None:
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    seen: list[int] = []
    pages = dm.map_ioreq_server(g, sid, seen.append)  # an emulator that answers later
    dm.set_ioreq_server_state(g, sid, True)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 2)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x30, 1)
    host.domains[g].write_ram(0x1000, 4, 0x44332211)
    got = host.guest_access(
        g, 0, "mmio", 0x30000, 1, write=True, data=0x1000, count=4, data_is_ptr=True
    )
    assert got.status == "pending"
    values = []
    for _ in range(4):
        req = IoReq.unpack(bytes(pages.shared[:IOREQ_SIZE]))
        values.append((req.addr, req.data))
        set_slot_state(pages.shared, 0, IoReqState.IORESP_READY)
        dm.notify(g, sid, 0)
    assert values == [(0x30000 + i, 0x11 * (i + 1)) for i in range(4)]
    assert host.resume_vcpu(g, 0).status == "done"
    assert not host.io.blocked(g, 0)


def test_rep_ins_to_ram_sends_the_buffer_address_and_gives_no_value(xen: str) -> None:
    # A read with data_is_ptr (rep insb into guest RAM): the ioreq's data is the RAM
    # buffer's address, which the emulator writes (hvmemul_do_io_buffer/_addr in
    # arch/x86/hvm/emulate.c); the vCPU gets no register value.  Found by real QEMU,
    # which wrote LSR bytes at guest address 0 when the model sent data 0.
    host = Host(xen=xen)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0x3F8, 0x3FF)
    echo = EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    got = host.guest_access(
        g, 0, "pio", 0x3FD, 1, write=False, data=0x20000, count=4, data_is_ptr=True
    )
    req = echo.seen[-1]
    assert (req.addr, req.data, req.count, req.data_is_ptr, req.dir) == (0x3FD, 0x20000, 4, 1, 1)
    assert got.status == "done"
    assert got.data is None


def test_rep_stos_of_two_and_three_elements_writes_each_one(xen: str) -> None:
    host = Host(xen=xen)
    g = host.create_domain(memory_mib=64)
    for count in (2, 3):
        base = 0x8000 * count
        host.guest_access(g, 0, "mmio", base, 4, write=True, data=0x1122_3344, count=count)
        assert host.domains[g].read_ram(base, 16) == int.from_bytes(
            b"\x44\x33\x22\x11" * count + bytes(16 - 4 * count), "little"
        )
