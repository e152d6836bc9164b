"""The emulator loop every device model runs (reference/ecosystem.md A4).

Theory of operation
-------------------
A device model owns one ioreq server: it creates it, maps the ranges its
devices decode, enables it, and then serves requests until it disables and
destroys it — the shape of demu and QEMU's ``xen-hvm``.  Requests arrive in
the per-vCPU slots of the shared page and, for buffered writes, in the ring;
a notification says which.  For each synchronous request the runtime

1. copies the 32-byte slot *once* and works from the copy (XSA-197: a guest
   or a racing writer must not change what was validated);
2. ignores the slot unless it is READY, moves it to INPROCESS;
3. refuses what QEMU refuses: port I/O wider than 4 bytes, MMIO wider than
   8 (``hw_error`` in QEMU; here counted, answered with all-ones); port
   numbers are clamped to 16 bits before any table lookup (XSA-199);
4. dispatches by type: port, MMIO, or PCI config (SBDF in ``addr >> 32``);
5. writes the result and IORESP_READY, and notifies.

The buffered ring is drained from the read pointer to the write pointer; an
8-byte write takes two slots, and a ring that ends half-way through one is a
fault (QEMU: "Incomplete quad word buffered ioreq"): the runtime stops
draining and marks itself faulted.

Devices plug in through the :class:`Device` protocol: anything with an
``io(kind, offset, size, write, data)`` method.  Device models use only
:mod:`ioreqlab.devicemodel` and the mapped pages, never host internals.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ioreqlab.abi.constants import IOREQ_BUFFER_SLOT_NUM, IoReqState, IoReqType
from ioreqlab.abi.ioreq import (
    IOREQ_DATA_OFFSET,
    IOREQ_SIZE,
    IOREQ_STATE_MASK,
    IOREQ_STATE_OFFSET,
    BufIoReq,
    IoReq,
)
from ioreqlab.devicemodel import DeviceModel, IoreqPages

__all__ = ["Device", "DeviceModelServer", "Mapping"]

_RING = struct.Struct("<II")
_READ_PTR = struct.Struct("<I")
_ONES = (1 << 64) - 1


class Device(Protocol):
    """An emulated device: handles one access at ``offset`` within a region it owns."""

    def io(self, kind: str, offset: int, size: int, write: bool, data: int) -> int:
        """``kind`` is "pio", "mmio" or "pci"; returns the data read (ignored for writes)."""
        ...


@dataclass(frozen=True, slots=True)
class Mapping:
    """One region a device decodes: ``[start, end]`` of ``kind`` (for PCI: one SBDF)."""

    kind: str
    start: int
    end: int
    device: Device


@dataclass
class DeviceModelServer:
    """One ioreq server and the loop that serves it."""

    dm: DeviceModel
    domid: int
    bufioreq: int = 0
    name: str = "dm"
    server_id: int = -1
    pages: IoreqPages | None = None
    mappings: list[Mapping] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    faulted: bool = False
    #: Called for every request served (tracing, tests).
    observer: Callable[[IoReq], None] | None = None
    #: Writes to guest RAM pages this server write-protected (they match no
    #: mapping: they come by p2m type or WP_MEM range, not by MMIO range).
    wp_handler: Callable[[IoReq], None] | None = None

    def count(self, what: str, n: int = 1) -> None:
        """Bump a named counter."""
        self.counters[what] = self.counters.get(what, 0) + n

    # -- lifecycle -----------------------------------------------------------

    def start(self, *, enable: bool = True) -> int:
        """Create the server, map its pages and bind its ports; return its id."""
        self.server_id = self.dm.create_ioreq_server(self.domid, self.bufioreq)
        self.pages = self.dm.map_ioreq_server(self.domid, self.server_id, self.on_notify)
        if enable:
            self.dm.set_ioreq_server_state(self.domid, self.server_id, True)
        return self.server_id

    def stop(self) -> None:
        """Disable and destroy the server (its ranges go with it)."""
        if self.server_id < 0:
            return
        self.dm.set_ioreq_server_state(self.domid, self.server_id, False)
        self.dm.destroy_ioreq_server(self.domid, self.server_id)
        self.server_id = -1
        self.mappings.clear()

    # -- what the server decodes ----------------------------------------------

    def map(self, kind: str, start: int, end: int, device: Device) -> Mapping:
        """Decode ``[start, end]`` (ports, MMIO bytes, or a PCI SBDF) for ``device``."""
        if kind == "pci":
            seg, bus, dev, fn = start >> 16, (start >> 8) & 0xFF, (start >> 3) & 0x1F, start & 7
            self.dm.map_pcidev_to_ioreq_server(self.domid, self.server_id, seg, bus, dev, fn)
        else:
            self.dm.map_io_range_to_ioreq_server(
                self.domid, self.server_id, kind == "mmio", start, end
            )
        m = Mapping(kind, start, end, device)
        self.mappings.append(m)
        return m

    def unmap(self, m: Mapping) -> None:
        """Stop decoding a region mapped earlier."""
        if m.kind == "pci":
            s = m.start
            self.dm.unmap_pcidev_from_ioreq_server(
                self.domid, self.server_id, s >> 16, (s >> 8) & 0xFF, (s >> 3) & 0x1F, s & 7
            )
        else:
            self.dm.unmap_io_range_from_ioreq_server(
                self.domid, self.server_id, m.kind == "mmio", m.start, m.end
            )
        self.mappings.remove(m)

    def _find(self, kind: str, addr: int) -> Mapping | None:
        for m in self.mappings:
            if m.kind == kind and m.start <= addr <= m.end:
                return m
        return None

    # -- serving -----------------------------------------------------------------

    def on_notify(self, vcpu: int) -> None:
        """An event on one of our ports: a vCPU's slot, or (-1) the buffered ring."""
        if vcpu < 0:
            self.drain_ring()
            return
        assert self.pages is not None
        shared = self.pages.shared
        off = vcpu * IOREQ_SIZE
        raw = bytes(shared[off : off + IOREQ_SIZE])  # copy once, then never look again
        req = IoReq.unpack(raw)
        if req.state != IoReqState.READY:
            self.count("spurious_notify")
            return
        st, keep = IOREQ_STATE_OFFSET, raw[IOREQ_STATE_OFFSET] & ~IOREQ_STATE_MASK
        shared[off + st] = keep | IoReqState.INPROCESS
        data = self.handle(req)
        d0, d1 = IOREQ_DATA_OFFSET, IOREQ_DATA_OFFSET + 8
        reply = raw[:d0] + (data & _ONES).to_bytes(8, "little") + raw[d1:st]
        done = bytes([keep | IoReqState.IORESP_READY]) + raw[st + 1 :]
        shared[off : off + IOREQ_SIZE] = reply + done
        self.dm.notify(self.domid, self.server_id, vcpu)

    def handle(self, req: IoReq) -> int:
        """Dispatch one request; returns the value for a read (all-ones if refused)."""
        self.count("requests")
        if self.observer is not None:
            self.observer(req)
        write = req.dir == 0
        if req.type == IoReqType.PIO:
            if req.size not in (1, 2, 4):
                self.count("bad_size")
                return _ONES
            kind, addr = "pio", req.addr & 0xFFFF  # XSA-199: ports are 16 bits
        elif req.type == IoReqType.COPY:
            if req.size not in (1, 2, 4, 8):
                self.count("bad_size")
                return _ONES
            kind, addr = "mmio", req.addr
        elif req.type == IoReqType.PCI_CONFIG:
            if req.size not in (1, 2, 4):
                self.count("bad_size")
                return _ONES
            kind, addr = "pci", req.addr >> 32
        else:
            self.count(f"type_{req.type}")  # TIMEOFFSET, INVALIDATE: nothing to emulate
            return 0
        if req.data_is_ptr:
            self.count("data_is_ptr_refused")
            return _ONES
        m = self._find(kind, addr)
        if m is None:
            if kind == "mmio" and write and self.wp_handler is not None:
                self.count("wp_writes")
                self.wp_handler(req)
                return 0
            self.count("unclaimed")
            return _ONES
        offset = (req.addr & 0xFFFF_FFFF) if kind == "pci" else addr - m.start
        value = 0
        count = max(req.count, 1)
        step = -req.size if req.df else req.size
        for i in range(count):
            value = m.device.io(kind, offset + i * step, req.size, write, req.data)
        return 0 if write else value & ((1 << (8 * req.size)) - 1)

    def drain_ring(self) -> None:
        """Serve every buffered write between the read and write pointers."""
        assert self.pages is not None
        ring = self.pages.buffered
        rp, wp = _RING.unpack_from(ring, 0)
        if (wp - rp) & 0xFFFFFFFF > IOREQ_BUFFER_SLOT_NUM:
            self.faulted = True  # more pending than the ring holds: the pointers are garbage
            self.count("ring_pointers_corrupt")
            return
        while rp != wp and not self.faulted:
            first = BufIoReq.unpack(bytes(ring[8 + (rp % IOREQ_BUFFER_SLOT_NUM) * 8 :][:8]))
            data, used = first.data, 1
            if first.size == 8:
                if (wp - rp) & 0xFFFFFFFF < 2:
                    self.faulted = True
                    self.count("incomplete_quad_word")
                    break
                hi = BufIoReq.unpack(bytes(ring[8 + ((rp + 1) % IOREQ_BUFFER_SLOT_NUM) * 8 :][:8]))
                data, used = data | (hi.data << 32), 2
            req = IoReq(addr=first.addr, data=data, size=first.size, dir=first.dir, type=first.type)
            self.handle(req)
            self.count("buffered")
            rp = (rp + used) & 0xFFFFFFFF
            _READ_PTR.pack_into(ring, 0, rp)  # only the consumer's pointer is ours
