"""Xen's port handlers at their edges: the port just past each, accesses that stick
out of one, the RTC's index and data ports, and what a bad access size reads
(issue 17's mutants).

Sources: xen/arch/x86/hvm/intercept.c:hvm_portio_accept (``addr + size <= port +
n``); vpic.c (2 ports each, byte accesses), emul-i8254.c (4 ports), rtc.c
handle_rtc_io (0x70-0x71: a byte write to 0x70 sets the index, bit 7 is NMI
masking), pmtimer.c handle_pmt_io (4-byte reads only), hvm.c hvm_print_line
(RELEASE-4.17.0; the same in RELEASE-4.7.0).
"""

from __future__ import annotations

import pytest

from ioreqlab.host import Host
from tests.test_hv_intercept import setup


@pytest.mark.parametrize(
    ("port", "size"),
    [
        (0x62, 1),  # past the speaker
        (0x61, 2),  # the speaker's one port and the next
        (0x22, 1),  # past the master PIC
        (0x21, 2),
        (0xA2, 1),  # past the slave PIC
        (0xA1, 2),
        (0x4D2, 1),  # past the ELCRs
        (0x4D0, 2),  # two ELCR ports are two handlers of one port each
        (0x4D1, 2),
        (0x72, 1),  # past the RTC
        (0x71, 2),
        (0x1F44, 1),  # past the PM1a event block
        (0x1F41, 4),
        (0x1F4C, 1),  # past the PM timer
        (0x1F49, 4),
        (0xEA, 1),  # past the debug console
        (0xE9, 2),
    ],
)
def test_what_is_not_wholly_inside_a_handler_reaches_the_server(port: int, size: int) -> None:
    host, g, sid, echo = setup("4.17")
    got = host.guest_access(g, 0, "pio", port, size, write=True, data=1)
    assert (got.route, got.server_id) == ("server", sid)
    assert echo.seen[-1].addr == port


def _xen(host: Host, g: int, port: int, size: int, *, write: bool, data: int = 0) -> object:
    got = host.guest_access(g, 0, "pio", port, size, write=write, data=data)
    assert got.route == "xen"
    return got.device, got.data


def test_the_slave_pic_starts_at_0xa0() -> None:
    host, g, _, _ = setup("4.17")
    assert _xen(host, g, 0xA0, 1, write=True, data=0x11) == ("pic", None)


@pytest.mark.parametrize(
    ("port", "size", "write", "want"),
    [
        (0x20, 2, False, ("pic", 0xFFFF)),  # a PIC takes bytes only: all ones
        (0x40, 2, True, ("pit", None)),  # a bad-size write is dropped
        (0x70, 2, False, ("rtc", 0xFFFF)),
        (0x70, 2, True, ("rtc", None)),
        (0x1F40, 2, False, ("pm1a", None)),  # the event block takes any size
        (0x1F48, 4, False, ("pmtimer", None)),  # the timer's value is not modelled
        (0x1F48, 2, False, ("pmtimer", 0xFFFF)),
        (0x1F48, 4, True, ("pmtimer", None)),  # the timer cannot be written
        (0xE9, 1, True, ("debugcon", None)),
    ],
)
def test_what_a_xen_handler_answers(
    port: int, size: int, write: bool, want: tuple[str, int | None]
) -> None:
    host, g, _, _ = setup("4.17")
    assert _xen(host, g, port, size, write=write, data=0x41) == want


def test_the_rtc_index_is_a_byte_written_to_0x70() -> None:
    host, g, _, _ = setup("4.17")

    def route(port: int, *, write: bool, data: int = 0) -> str:
        return str(host.guest_access(g, 0, "pio", port, 1, write=write, data=data).route)

    assert _xen(host, g, 0x70, 1, write=True, data=0x0D) == ("rtc", None)  # 13: Xen's CMOS
    assert route(0x71, write=False) == "xen"
    assert _xen(host, g, 0x71, 1, write=True, data=0x0F) == ("rtc", None)  # data, not index
    assert route(0x71, write=False) == "xen"  # the index is still 13
    assert route(0x70, write=True, data=0x0E) == "server"  # index 14: the device model's
    assert route(0x71, write=False) == "server"
    assert route(0x70, write=True, data=0x8D) == "xen"  # bit 7 (NMI mask) is not the index
    assert route(0x70, write=True, data=0x0F) == "server"
    assert route(0x70, write=False) == "server"  # reading 0x70 leaves the index
    assert route(0x71, write=False) == "server"
    assert host.domains[g].rtc_index == 0x0F
