"""Device models: the emulator runtime under hostile ioreqs, and the QEMU-like emulator."""

from __future__ import annotations

import struct

from ioreqlab import devicemodel
from ioreqlab.abi import IOREQ_SIZE, BufIoReq, IoReq, IoReqState, IoReqType
from ioreqlab.dm.qemu import QemuEmulator
from ioreqlab.dm.runtime import DeviceModelServer
from ioreqlab.host import Host
from ioreqlab.workload.devices import config_read, move_bar, pci_probe, uart_print
from ioreqlab.workload.guest import Guest


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int, bool, int]] = []

    def io(self, kind: str, offset: int, size: int, write: bool, data: int) -> int:
        self.calls.append((kind, offset, size, write, data))
        return 0xAB


def server(xen: str = "4.7") -> tuple[Host, int, DeviceModelServer, Recorder]:
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, vcpus=2)
    srv = DeviceModelServer(devicemodel.open(host, 0), g, bufioreq=1)
    srv.start()
    rec = Recorder()
    srv.map("pio", 0x10, 0x1F, rec)
    return host, g, srv, rec


def put_slot(srv: DeviceModelServer, vcpu: int, req: IoReq) -> None:
    assert srv.pages is not None
    srv.pages.shared[vcpu * IOREQ_SIZE : (vcpu + 1) * IOREQ_SIZE] = req.pack()


def test_requests_are_served_through_the_real_path(xen: str) -> None:
    host, g, _, rec = server(xen)
    got = host.guest_access(g, 1, "pio", 0x12, 1, write=False)
    assert (got.status, got.data) == ("done", 0xAB)
    assert rec.calls == [("pio", 2, 1, False, 0)]


def test_port_numbers_are_clamped_to_16_bits_xsa199(xen: str) -> None:
    _, _, srv, rec = server(xen)
    put_slot(srv, 0, IoReq(addr=0x10012, size=1, dir=1, type=IoReqType.PIO, state=IoReqState.READY))
    srv.on_notify(0)
    assert rec.calls == [("pio", 2, 1, False, 0)]


def test_bad_sizes_are_refused_with_all_ones(xen: str) -> None:
    _, _, srv, rec = server(xen)
    put_slot(srv, 0, IoReq(addr=0x12, size=8, dir=1, type=IoReqType.PIO, state=IoReqState.READY))
    srv.on_notify(0)
    put_slot(srv, 1, IoReq(addr=0x12, size=16, dir=1, type=IoReqType.COPY, state=IoReqState.READY))
    srv.on_notify(1)
    assert rec.calls == []
    assert srv.counters["bad_size"] == 2
    assert srv.pages is not None
    assert IoReq.unpack(bytes(srv.pages.shared[0:32])).data == 2**64 - 1
    assert IoReq.unpack(bytes(srv.pages.shared[0:32])).state == IoReqState.IORESP_READY


def test_slot_not_ready_is_ignored(xen: str) -> None:
    _, _, srv, rec = server(xen)
    put_slot(
        srv, 0, IoReq(addr=0x12, size=1, dir=1, type=IoReqType.PIO, state=IoReqState.IORESP_READY)
    )
    srv.on_notify(0)
    assert rec.calls == []
    assert srv.counters["spurious_notify"] == 1


def test_request_is_copied_once(xen: str) -> None:
    """The emulator works from its copy even if the slot changes under it (XSA-197)."""
    _, _, srv, _ = server(xen)

    class Flipper:
        def io(self, kind: str, offset: int, size: int, write: bool, data: int) -> int:
            assert srv.pages is not None
            srv.pages.shared[0:8] = (0xDEAD).to_bytes(8, "little")  # a racing writer
            return offset

    srv.map("pio", 0x40, 0x4F, Flipper())
    put_slot(srv, 0, IoReq(addr=0x44, size=1, dir=1, type=IoReqType.PIO, state=IoReqState.READY))
    srv.on_notify(0)
    assert srv.pages is not None
    reply = IoReq.unpack(bytes(srv.pages.shared[0:32]))
    assert (reply.addr, reply.data) == (0x44, 4)


def test_buffered_ring_drains_and_half_quad_word_faults(xen: str) -> None:
    _, _, srv, rec = server(xen)
    srv.map("mmio", 0xA0000, 0xBFFFF, rec)
    assert srv.pages is not None
    ring = srv.pages.buffered
    lo = BufIoReq(type=1, dir=0, size=8, addr=0xA0000, data=0x11)
    hi = BufIoReq(type=1, dir=0, size=8, addr=0xA0000, data=0x22)
    ring[8:16], ring[16:24] = lo.pack(), hi.pack()
    ring[24:32] = lo.pack()  # a second quad word, missing its upper half
    struct.pack_into("<II", ring, 0, 0, 3)
    srv.on_notify(-1)
    assert rec.calls == [("mmio", 0, 8, True, (0x22 << 32) | 0x11)]
    assert srv.faulted
    assert srv.counters["incomplete_quad_word"] == 1
    assert struct.unpack_from("<I", ring, 0)[0] == 2


def test_uart_pci_probe_and_bar_move_through_routing(xen: str) -> None:
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=256)
    qemu = QemuEmulator(devicemodel.open(host, 0), g)
    qemu.start()
    guest = Guest(host, g, "vm")
    uart_print(guest, "Linux version 4.4\n")
    assert qemu.serial_output == b"Linux version 4.4\n"
    assert pci_probe(guest) == {0: 0x1237_8086, 2: 0x1111_1234}
    assert config_read(guest, 0, 2, 0, 0x0A, size=2) == 0x0300  # class: VGA
    guest.write(0xF000_0010, 4, 0xCAFE)
    assert guest.read(0xF000_0010, 4) == 0xCAFE
    assert move_bar(guest, 2, 0, 0xF400_0000) == 16 << 20
    assert guest.read(0xF400_0010, 4) == 0xCAFE  # the same framebuffer, moved
    assert host.guest_access(g, 0, "mmio", 0xF000_0010, 4, write=False).route == "null"
    assert qemu.server.counters["bar_moves"] == 2
    qemu.stop()
    assert host.domains[g].servers == []
