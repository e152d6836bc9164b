"""Unmodified QEMU (Debian's qemu-system-xen) as the device model of a modelled guest.

QEMU 7.2's start-up as realclient.md records it: it creates its server
(buffered, atomic), maps the server's frames by resource, binds one port per
vCPU and the buffered port, maps its ranges and writes ``state = running``;
on SIGTERM it disables and destroys the server.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from ioreqlab.abi.constants import BufIoreqMode, DmOp, IoRangeType
from ioreqlab.hv.vcpu_io import Route, Status
from ioreqlab.realdm import DeviceModel, shared_host
from tests.realdm_helpers import qemu_argv


def _pci_read(dm: DeviceModel, bdf: tuple[int, int, int], reg: int) -> int:
    bus, dev, fn = bdf
    dm.access(
        0, "pio", 0xCF8, 4, write=True, data=0x80000000 | bus << 16 | dev << 11 | fn << 8 | reg
    )
    acc = dm.access(0, "pio", 0xCFC, 4, write=False)
    assert acc.status == Status.DONE
    assert acc.data is not None
    return acc.data


@pytest.fixture
def qemu(tmp_path: Path) -> Iterator[DeviceModel]:
    host = shared_host()
    g = host.create_domain(memory_mib=128, name="guest")
    argv = qemu_argv("-serial", f"file:{tmp_path / 'com1.txt'}")
    dm = DeviceModel(host, g, argv, timeout=30)
    dm.start()
    yield dm
    dm.stop()


def test_qemu_creates_maps_and_enables_its_server(qemu: DeviceModel) -> None:
    d = qemu.host.domains[qemu.domid]
    assert len(d.servers) == 1
    s = d.servers[0]
    assert s.enabled
    assert s.emulator == 0
    assert s.bufioreq == BufIoreqMode.ATOMIC
    assert s.frames  # mapped by XENMEM_acquire_resource, not by gfn
    assert s.ioreq_pfn is None
    ports = s.ranges[IoRangeType.PORT].ranges()
    assert any(lo <= 0x3F8 <= hi for lo, hi in ports)  # COM1
    assert qemu.fake.xenstore.read(f"/local/domain/0/device-model/{qemu.domid}/state") == (
        b"running"
    )
    # Every vCPU port and the buffered port are bound by QEMU's evtchn fd.
    channels = qemu.host.io.channels
    assert all(channels.bound(qemu.domid, p) for p in s.vcpu_ports)
    assert channels.bound(qemu.domid, s.bufioreq_port) is not None


def test_pci_config_identities_through_cf8_cfc(qemu: DeviceModel) -> None:
    # The i440FX host bridge, the PIIX3 ISA bridge and the Xen platform device.
    assert _pci_read(qemu, (0, 0, 0), 0) == 0x12378086
    assert _pci_read(qemu, (0, 1, 0), 0) == 0x70008086
    assert _pci_read(qemu, (0, 2, 0), 0) == 0x00015853
    assert _pci_read(qemu, (0, 31, 0), 0) == 0xFFFFFFFF  # no device there


def test_serial_output_and_a_rep_outs_from_guest_ram(qemu: DeviceModel, tmp_path: Path) -> None:
    for ch in b"hi\n":
        acc = qemu.access(0, "pio", 0x3F8, 1, write=True, data=ch)
        assert acc.status == Status.DONE
        assert acc.route == Route.SERVER
    # rep outsb: the bytes are in guest RAM at 0x10000, QEMU reads them itself.
    text = b"from RAM\n"
    for i, ch in enumerate(text):
        qemu.host.guest_access(qemu.domid, 0, "mmio", 0x10000 + i, 1, write=True, data=ch)
    acc = qemu.access(
        0, "pio", 0x3F8, 1, write=True, data=0x10000, count=len(text), data_is_ptr=True
    )
    assert acc.status == Status.DONE
    assert (tmp_path / "com1.txt").read_bytes() == b"hi\n" + text


def test_sigterm_tears_the_server_down(qemu: DeviceModel) -> None:
    d = qemu.host.domains[qemu.domid]
    assert d.servers
    assert qemu.stop() == 0
    assert d.servers == []  # QEMU's own destroy DMOP was served
    assert qemu.host.io.channels.bound(qemu.domid, 1) is None
    # Start-up and teardown: every DMOP QEMU sent was answered 0, as Xen answers them.
    ops = [(DmOp(struct.unpack_from("<I", bufs[0])[0]), rc) for _, bufs, rc in qemu.fake.dm_ops]
    assert all(rc == 0 for _, rc in ops)
    names = [op for op, _ in ops]
    assert names[:2] == [DmOp.CREATE_IOREQ_SERVER, DmOp.GET_IOREQ_SERVER_INFO]
    assert names[-2:] == [DmOp.SET_IOREQ_SERVER_STATE, DmOp.DESTROY_IOREQ_SERVER]
    assert names.count(DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER) >= 40  # 34 port, 3 MMIO, 5 PCI


def test_unserved_calls_are_logged_by_name(qemu: DeviceModel) -> None:
    names = {u.call for u in qemu.fake.unserved}
    # No gntdev on this host: QEMU's grant-table open is answered ENOENT and logged.
    assert "open /dev/xen/gntdev" in names


def test_qemu_writes_guest_ram_for_a_rep_ins(qemu: DeviceModel) -> None:
    # rep insb from COM1's line status register into guest RAM: QEMU writes the
    # bytes through its mapcache (IOCTL_PRIVCMD_MMAPBATCH_V2 of the guest frame).
    acc = qemu.access(0, "pio", 0x3FD, 1, write=False, count=4, data=0x20000, data_is_ptr=True)
    assert acc.status == Status.DONE
    assert acc.data is None
    d = qemu.host.domains[qemu.domid]
    assert d.read_ram(0x20000, 4) == 0x60606060  # THR empty, transmitter empty
    assert d.read_ram(0, 4) == 0  # and nothing at address 0


def test_restricted_qemu_still_serves_the_guest(tmp_path: Path) -> None:
    host = shared_host()
    g = host.create_domain(memory_mib=128, name="guest")
    with DeviceModel(host, g, qemu_argv("-xen-domid-restrict"), timeout=30) as dm:
        assert _pci_read(dm, (0, 0, 0), 0) == 0x12378086
        # xentoolcore_restrict_all: every privcmd and evtchn fd still open is restricted.
        assert [f.restriction for f in dm.fake.privcmd_files[-1:]] == [g]
        assert any(f.restriction == g for f in dm.fake.evtchn_files)
    assert host.domains[g].servers == []


def test_default_devices_vga_memory_through_the_buffered_ring(tmp_path: Path) -> None:
    # Without -nodefaults QEMU adds VGA (and populates video RAM and ROMs).  A write
    # to the VGA window goes into the buffered ring; QEMU drains it before it answers
    # the read that follows, which returns the byte written.
    host = shared_host()
    g = host.create_domain(memory_mib=128, name="guest")
    argv = [a for a in qemu_argv("-serial", "null") if a != "-nodefaults"]
    with DeviceModel(host, g, argv, timeout=30) as dm:
        d = host.domains[g]
        assert d.counters.get("populated_extents", 0) >= 4096  # 16 MiB of video RAM
        s = d.servers[0]
        assert any(lo <= 0xA0000 <= hi for lo, hi in s.ranges[IoRangeType.MEMORY].ranges())
        # Sequencer map mask: all planes; graphics bit mask: all bits.
        for port, value in ((0x3C4, 2), (0x3C5, 0x0F), (0x3CE, 8), (0x3CF, 0xFF)):
            assert dm.access(0, "pio", port, 1, write=True, data=value).status == Status.DONE
        acc = dm.access(0, "mmio", 0xA0010, 1, write=True, data=0x5A)
        assert acc.status == Status.BUFFERED
        assert dm.buffered_drained()
        back = dm.access(0, "mmio", 0xA0010, 1, write=False)
        assert (back.route, back.status, back.data) == (Route.SERVER, Status.DONE, 0x5A)


def test_without_resource_mapping_qemu_maps_the_legacy_gfns() -> None:
    # A privcmd without IOCTL_PRIVCMD_MMAP_RESOURCE (Linux < 4.18): libxenforeignmemory
    # reports EOPNOTSUPP and QEMU asks for the gfns and maps them while the server is
    # disabled (4.17 maps them on get_ioreq_server_info; ioreq.c:ioreq_server_get_info).
    host = shared_host()
    g = host.create_domain(memory_mib=128, name="guest")
    with DeviceModel(host, g, qemu_argv(), timeout=30, map_resource=False) as dm:
        s = host.domains[g].servers[0]
        assert not s.frames
        assert s.ioreq_pfn is not None
        assert s.bufioreq_pfn is not None
        assert s.enabled
        assert _pci_read(dm, (0, 1, 0), 0) == 0x70008086
