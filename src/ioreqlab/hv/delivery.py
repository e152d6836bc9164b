"""Putting requests in front of an emulator: the shared slots and the buffered ring.

Synchronous requests (``hvm_send_ioreq``, xen-facts §2.6)
---------------------------------------------------------
Each vCPU owns one 32-byte ``ioreq_t`` slot in the server's shared page.  Xen
sends only into a slot whose state is NONE and whose ``vp_eport`` is the
vCPU's port (otherwise the access is unhandleable and the guest takes
#GP(0)), writes the request with state READY and notifies the emulator, which
moves the slot to INPROCESS and then IORESP_READY and notifies back.  The vCPU
is blocked on its port: only that notification wakes it, and on each wake-up
Xen reads the state *once*:

* IORESP_READY → take ``data`` (for a read) and set NONE: done;
* READY or INPROCESS → keep waiting (the vCPU stays blocked);
* NONE → the emulator went away: complete with all-ones data;
* anything else → the domain is crashed.

XSA-262 (``wait_for_io``, applied under both profiles as SPEC.md says): the
emulator may only move a slot forward.  A state lower than the last one Xen
saw (INPROCESS → READY, IORESP_READY → INPROCESS ...) crashes the domain, so
a hostile emulator cannot make Xen loop or act twice.

Buffered requests (``hvm_send_buffered_ioreq``)
-----------------------------------------------
Writes with ``addr <= 0xfffff``, no data pointer and ``count == 1`` may go to
the server's 511-slot ring instead: 8-byte writes take two slots, the second
carrying the high half.  The ring is full when ``write − read >= 511 − qw``;
then (or for a server without buffering) the request is not buffered and the
caller sends it synchronously.  There is no reply.  For a server in
``BUFIOREQ_ATOMIC`` mode both pointers are then brought back below one ring
(``n = read / 511`` rings taken off each), as Xen does after every write.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from enum import Enum

from ioreqlab.abi.constants import IOREQ_BUFFER_SLOT_NUM, BufIoreqMode, IoReqState
from ioreqlab.abi.ioreq import (
    BUF_IOREQ_SIZE,
    BUFIOREQ_RING_OFFSET,
    IOREQ_DATA_OFFSET,
    IOREQ_SIZE,
    IOREQ_STATE_MASK,
    IOREQ_STATE_OFFSET,
    IOREQ_VP_EPORT_OFFSET,
    BufIoReq,
    IoReq,
)
from ioreqlab.abi.value import value
from ioreqlab.hv.pages import Page
from ioreqlab.hv.server import IoreqServer

#: The page provider's 64-bit compare-and-swap: ``(page, offset, old, new) -> swapped``.
CompareExchange = Callable[[Page, int, int, int], bool]

__all__ = [
    "SendRefused",
    "SlotOutcome",
    "SlotStatus",
    "check_slot",
    "send_buffered",
    "send_sync",
]

_STATE_BYTE = IOREQ_STATE_OFFSET
_STATE_MASK = IOREQ_STATE_MASK
_DATA_OFFSET = IOREQ_DATA_OFFSET
_PORT_OFFSET = IOREQ_VP_EPORT_OFFSET
_PORT = struct.Struct("<I")
_RING = struct.Struct("<II")
_FULL = struct.Struct("<Q")  # union bufioreq_pointers: read pointer low, write pointer high
_WRITE_POINTER = 4
_RING_BASE = BUFIOREQ_RING_OFFSET
_SLOT = BUF_IOREQ_SIZE


class SlotStatus(Enum):
    """What Xen concludes from one read of a slot."""

    DONE = "done"
    PENDING = "pending"
    EMULATOR_GONE = "emulator_gone"
    CRASH = "crash"


@value
class SlotOutcome:
    """Xen's reading of a slot: status, the data for a read, a refused move."""

    status: SlotStatus
    data: int = 0
    refused_move: bool = False


class SendRefused(Enum):
    """Why ``ioreq_send`` could not use the slot (the access is then unhandleable)."""

    NO_PAGE = "no_page"
    BUSY = "busy"
    BAD_PORT = "bad_port"


def send_sync(s: IoreqServer, vcpu: int, req: IoReq) -> SendRefused | None:
    """Write ``req`` into the vCPU's slot with state READY, as ``ioreq_send`` does.

    Refused (and nothing written) when the server has no pages, the slot is
    not NONE ("device model set bad IO state"), or the slot's ``vp_eport`` is
    not the vCPU's port ("device model set bad event channel"): Xen writes
    the port when the server is enabled, never here.
    """
    if not s.has_pages:
        return SendRefused.NO_PAGE
    off = vcpu * IOREQ_SIZE
    page = s.shared_page
    if page[off + _STATE_BYTE] & _STATE_MASK != IoReqState.NONE:
        return SendRefused.BUSY
    port = s.vcpu_ports[vcpu]
    if _PORT.unpack_from(page, off + _PORT_OFFSET)[0] != port:
        return SendRefused.BAD_PORT
    page[off : off + IOREQ_SIZE] = req.pack()
    _PORT.pack_into(page, off + _PORT_OFFSET, port)
    page[off + _STATE_BYTE] = (page[off + _STATE_BYTE] & ~_STATE_MASK) | IoReqState.READY
    s.delivered["sync"] = s.delivered.get("sync", 0) + 1
    return None


def check_slot(s: IoreqServer, vcpu: int, last_seen: int) -> tuple[SlotOutcome, int]:
    """Read the slot once, as Xen does on wake-up; return the outcome and new last state.

    ``last_seen`` is the state Xen last accepted for this request (READY after
    sending).  On DONE or EMULATOR_GONE the slot is reset to NONE.
    """
    off = vcpu * IOREQ_SIZE
    raw = bytes(s.shared_page[off : off + IOREQ_SIZE])  # one copy: no double fetch
    state = raw[_STATE_BYTE] & _STATE_MASK
    if state > IoReqState.IORESP_READY:
        return SlotOutcome(SlotStatus.CRASH), last_seen
    if state == IoReqState.NONE:
        return SlotOutcome(SlotStatus.EMULATOR_GONE, data=~0 & (2**64 - 1)), IoReqState.NONE
    if state < last_seen:
        return SlotOutcome(SlotStatus.CRASH, refused_move=True), last_seen
    if state == IoReqState.IORESP_READY:
        data = int.from_bytes(raw[_DATA_OFFSET : _DATA_OFFSET + 8], "little")
        s.shared_page[off + _STATE_BYTE] &= ~_STATE_MASK & 0xFF
        return SlotOutcome(SlotStatus.DONE, data=data), IoReqState.NONE
    return SlotOutcome(SlotStatus.PENDING), state


def send_buffered(s: IoreqServer, req: IoReq, cmpxchg: CompareExchange) -> bool:
    """Append a write to the buffered ring; False when it cannot be buffered.

    ``ioreq_send_buffered`` (``common/ioreq.c``, 4.17; ``hvm/ioreq.c``, 4.7):
    the slots, then only the write pointer moves (the emulator owns the read
    pointer).  In ``BUFIOREQ_ATOMIC`` mode both pointers are then brought
    below one ring with a 64-bit ``cmpxchg`` (``cmpxchg`` is the page
    provider's, atomic on a shared page), retried while the read pointer is
    still past a ring, at most 511 times.
    """
    if not s.has_bufioreq or not s.has_pages:
        return False
    if req.addr > 0xFFFFF or req.data_is_ptr or req.count != 1 or req.size not in (1, 2, 4, 8):
        return False
    page = s.buffered_page
    rp, wp = _RING.unpack_from(page, 0)
    qw = 1 if req.size == 8 else 0
    if ((wp - rp) & 0xFFFFFFFF) >= IOREQ_BUFFER_SLOT_NUM - qw:
        return False
    first = BufIoReq(
        type=req.type, dir=req.dir, size=req.size, addr=req.addr, data=req.data & 0xFFFFFFFF
    )
    slots = [first.pack()]
    if qw:
        slots.append(
            BufIoReq(
                type=req.type, dir=req.dir, size=req.size, addr=req.addr, data=req.data >> 32
            ).pack()
        )
    for i, raw in enumerate(slots):
        idx = (wp + i) % IOREQ_BUFFER_SLOT_NUM
        page[_RING_BASE + idx * _SLOT : _RING_BASE + (idx + 1) * _SLOT] = raw
    _PORT.pack_into(page, _WRITE_POINTER, (wp + len(slots)) & 0xFFFFFFFF)
    if s.bufioreq == BufIoreqMode.ATOMIC:
        tries = qw
        while tries < IOREQ_BUFFER_SLOT_NUM:
            tries += 1
            full = _FULL.unpack_from(page, 0)[0]
            rp, wp = full & 0xFFFFFFFF, full >> 32
            if rp < IOREQ_BUFFER_SLOT_NUM:
                break
            n = (rp // IOREQ_BUFFER_SLOT_NUM) * IOREQ_BUFFER_SLOT_NUM
            cmpxchg(page, 0, full, (rp - n) | (((wp - n) & 0xFFFFFFFF) << 32))
    s.delivered["buffered"] = s.delivered.get("buffered", 0) + 1
    return True
