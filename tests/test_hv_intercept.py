"""Xen's own port handlers run before any ioreq server (both profiles).

Sources: xen/arch/x86/hvm/intercept.c:hvm_portio_accept, vpic.c, emul-i8254.c
(i8254.c in 4.7), rtc.c:handle_rtc_io and rtc_ioport_write, pmtimer.c,
hvm.c:hvm_print_line (RELEASE-4.7.0, RELEASE-4.17.0).
"""

from __future__ import annotations

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import HvmParam
from ioreqlab.host import Host
from tests.hv_helpers import EchoEmulator


def setup(xen: str) -> tuple[Host, int, int, EchoEmulator]:
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0, 0xFFFF)  # every port
    echo = EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    return host, g, sid, echo


@pytest.mark.parametrize(
    ("port", "device"),
    [
        (0x40, "pit"),
        (0x43, "pit"),
        (0x61, "speaker"),
        (0x20, "pic"),
        (0xA1, "pic"),
        (0x4D0, "elcr"),
        (0x4D1, "elcr"),
        (0x1F40, "pm1a"),
        (0x1F48, "pmtimer"),
    ],
)
def test_xen_devices_take_their_ports_before_the_server(xen: str, port: int, device: str) -> None:
    host, g, _, echo = setup(xen)
    got = host.guest_access(g, 0, "pio", port, 1, write=True, data=0x11)
    assert (got.route, got.device) == ("xen", device)
    assert echo.seen == []


@pytest.mark.parametrize("port", [0x80, 0xED, 0x3F8])
def test_ports_without_a_xen_handler_reach_the_server(xen: str, port: int) -> None:
    host, g, sid, echo = setup(xen)
    got = host.guest_access(g, 0, "pio", port, 1, write=False)
    assert (got.route, got.server_id) == ("server", sid)
    assert echo.seen[-1].addr == port


def test_an_access_not_wholly_inside_a_handler_goes_on(xen: str) -> None:
    # hvm_portio_accept: addr + size <= port + n; a 2-byte access at 0x43 sticks out.
    host, g, _, _ = setup(xen)
    assert host.guest_access(g, 0, "pio", 0x43, 2, write=False).route == "server"
    # A 2-byte read inside the PIT is Xen's, and a bad size reads all ones.
    got = host.guest_access(g, 0, "pio", 0x40, 2, write=False)
    assert (got.route, got.data) == ("xen", 0xFFFF)


def test_rtc_keeps_cmos_0_to_13_and_gives_the_rest_to_the_device_model(xen: str) -> None:
    host, g, _, echo = setup(xen)
    assert host.guest_access(g, 0, "pio", 0x70, 1, write=True, data=0x0B).route == "xen"
    assert host.guest_access(g, 0, "pio", 0x71, 1, write=False).route == "xen"
    assert host.guest_access(g, 0, "pio", 0x70, 1, write=True, data=0x8F).route == "server"
    assert host.guest_access(g, 0, "pio", 0x71, 1, write=False).route == "server"  # index 0x0f
    assert [r.addr for r in echo.seen] == [0x70, 0x71]


def test_pm_blocks_follow_acpi_ioports_location(xen: str) -> None:
    host, g, _, _ = setup(xen)
    devicemodel.open(host, 0).set_param(g, HvmParam.ACPI_IOPORTS_LOCATION, 1)
    assert host.guest_access(g, 0, "pio", 0xB008, 4, write=False).device == "pmtimer"
    assert host.guest_access(g, 0, "pio", 0x1F48, 4, write=False).route == "server"


def test_debug_console_prints_lines_and_gives_reads_back(xen: str) -> None:
    host, g, _, _ = setup(xen)
    for c in b"hi\x07 there\n":
        assert host.guest_access(g, 0, "pio", 0xE9, 1, write=True, data=c).route == "xen"
    assert host.domains[g].console == ["hi there"]  # BEL is not printable: dropped
    assert host.guest_access(g, 0, "pio", 0xE9, 1, write=False).route == "server"
    for _ in range(199):
        host.guest_access(g, 0, "pio", 0xE9, 1, write=True, data=ord("x"))
    assert host.domains[g].console[-1] == "x" * 199  # DOMAIN_PBUF_SIZE - 1 flushes
