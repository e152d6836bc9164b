"""Xen's own port handlers: what a guest's port I/O meets before any ioreq server.

``hvm_io_intercept`` (``xen/arch/x86/hvm/intercept.c``) first offers a port
access to the handlers Xen registered for the domain; only an access no
handler takes, or one a handler gives back (``X86EMUL_UNHANDLEABLE``), goes on
to ``ioreq_server_select``.  A handler takes an access when it lies wholly
inside its ports (``hvm_portio_accept``: ``addr >= port`` and ``addr + size <=
port + n``).  The handlers of an HVM guest, the same in RELEASE-4.7.0 and
RELEASE-4.17.0:

=========================  ==============  ===========================================
device                     ports           gives back to the device model
=========================  ==============  ===========================================
PIT (i8254)                0x40-0x43       nothing
PC speaker                 0x61            nothing
PIC master / slave         0x20-21, a0-a1  nothing
ELCR                       0x4d0, 0x4d1    nothing
RTC (``handle_rtc_io``)    0x70-0x71       CMOS index >= 14 (``RTC_CMOS_SIZE``)
PM1a event block           0x1f40+4 (V0)   nothing
PM timer                   0x1f48+4 (V0)   nothing
debug console              0xe9            reads (``hvm_print_line``)
=========================  ==============  ===========================================

The PM blocks move to 0xb000/0xb008 when ``HVM_PARAM_ACPI_IOPORTS_LOCATION``
is 1 (``pmtimer_change_ioport``).  0x80 and 0xed have no handler: they go to
the device model like any other port.  0xcf8 is snooped, never taken (the
CF8 cache, :mod:`ioreqlab.hv.vcpu_io`).

The model routes these accesses as Xen does but does not emulate the
devices: a read Xen answers has no modelled value (``None``), except the
all-ones Xen returns for a bad access size.  Debug-console writes are kept,
line by line, as Xen prints them (printable characters, tab and newline; a
line is flushed at a newline or at 199 characters).
"""

from __future__ import annotations

from dataclasses import dataclass

from ioreqlab.abi.constants import HvmParam, IoReqDir
from ioreqlab.abi.ioreq import IoReq
from ioreqlab.hv.domain import Domain

__all__ = ["Intercepted", "intercept_port"]

#: ``RTC_CMOS_SIZE`` (``public/arch-x86/hvm/save.h``): Xen keeps CMOS 0-13.
RTC_CMOS_SIZE = 14
#: ``DOMAIN_PBUF_SIZE``: the debug console's line buffer.
_PBUF_SIZE = 200
_PM_V0, _PM_V1 = 0x1F40, 0xB000


@dataclass(frozen=True, slots=True)
class Intercepted:
    """Xen handled a port access itself: which device, and a read's value if modelled."""

    device: str
    data: int | None = None


def _handlers(d: Domain) -> tuple[tuple[int, int, str], ...]:
    pm = _PM_V1 if d.params[HvmParam.ACPI_IOPORTS_LOCATION] == 1 else _PM_V0
    return (
        (0x40, 4, "pit"),
        (0x61, 1, "speaker"),
        (0x20, 2, "pic"),
        (0xA0, 2, "pic"),
        (0x4D0, 1, "elcr"),
        (0x4D1, 1, "elcr"),
        (0x70, 2, "rtc"),
        (pm, 4, "pm1a"),
        (pm + 8, 4, "pmtimer"),
        (0xE9, 1, "debugcon"),
    )


def intercept_port(d: Domain, req: IoReq) -> Intercepted | None:
    """Offer a port access to Xen's handlers; None when it goes on to the servers."""
    for port, n, device in _handlers(d):
        if req.addr >= port and req.addr + req.size <= port + n:
            return _handle(d, device, req)
    return None


def _handle(d: Domain, device: str, req: IoReq) -> Intercepted | None:
    write = req.dir == IoReqDir.WRITE
    ones = (1 << (8 * req.size)) - 1
    if device == "debugcon":
        if not write:
            return None  # "Deny any input requests": unhandleable, on to the servers
        _print_char(d, req.data & 0xFF)
        return Intercepted(device)
    if device == "rtc":
        if req.size != 1:
            return Intercepted(device, None if write else ones)
        if req.addr & 1 == 0 and write:
            d.rtc_index = req.data & 0x7F
            return Intercepted(device) if d.rtc_index < RTC_CMOS_SIZE else None
        if d.rtc_index >= RTC_CMOS_SIZE:
            return None  # the rest of CMOS is the device model's
        return Intercepted(device)
    if device in ("pit", "pic") and req.size != 1:
        return Intercepted(device, None if write else ones)
    if device == "pmtimer" and (req.size != 4 or write):
        return Intercepted(device, None if write else ones)
    return Intercepted(device)


def _print_char(d: Domain, c: int) -> None:
    """``hvm_print_line``."""
    ch = chr(c)
    if not (ch.isprintable() and c < 0x7F) and ch not in "\n\t":
        return
    if ch != "\n":
        d.console_buffer += ch
    if len(d.console_buffer) == _PBUF_SIZE - 1 or ch == "\n":
        d.console.append(d.console_buffer)
        d.console_buffer = ""
