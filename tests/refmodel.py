"""A deliberately naive reference model of the hypercall surface, for model checking.

Everything is sets of integers and plain dicts, and every rule is written out
from xen-facts and SPEC.md independently of ``ioreqlab.hv``: the state
machine in ``test_model_check.py`` drives this and the real host with the same
calls and requires the same errno (or result) every time.

Address spaces are small so that ranges collide: ports 0..63, MMIO bytes
0xF0000000 + 0..255, PCI SBDFs 0..15, WP_MEM frames 0x10..0x4F, RAM frames for
memory types 0x10..0x4F.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

PORT, MEMORY, PCI, WP_MEM = 0, 1, 2, 3
E = errno


@dataclass
class RServer:
    sid: int
    emulator: int
    frames: int
    enabled: bool = False
    covered: dict[int, set[int]] = field(
        default_factory=lambda: {0: set(), 1: set(), 2: set(), 3: set()}
    )
    limit: dict[int, int] = field(default_factory=dict)


@dataclass
class RDomain:
    domid: int
    hvm: bool
    dm: int
    privileged: bool = False
    servers: list[RServer] = field(default_factory=list)  # creation order
    last_id: int = 0
    free_frames: int = 8
    wp_param: int = 0
    owners: dict[int, int] = field(default_factory=dict)  # mem type -> server id
    types: dict[int, int] = field(default_factory=dict)  # gfn -> HVMMEM type (absent: ram_rw)


def runs(values: set[int]) -> int:
    return sum(1 for v in values if v - 1 not in values)


class RefModel:
    """The reference: returns 0/-errno (and results) for each call, and updates itself."""

    def __init__(self, design: str, domains: list[RDomain], xen: str = "4.7") -> None:
        self.design = design
        self.domains = {d.domid: d for d in domains}
        self.xen = xen

    # -- common checks --------------------------------------------------------

    def dm_target(self, caller: int, domid: int) -> int | RDomain:
        if caller not in self.domains:
            return -E.ESRCH
        if domid == caller:
            return -E.EPERM
        d = self.domains.get(domid)
        if d is None:
            return -E.ESRCH
        if not d.hvm:
            return 0 if self.xen == "4.7" else -E.EINVAL  # 4.9 dm_op: rc still 0
        if not (self.domains[caller].privileged or d.dm == caller):
            return -E.EPERM
        return d

    def param_target(self, caller: int, domid: int) -> int | tuple[RDomain, RDomain]:
        """The HVMOP param checks both ops share: (caller, target) or -errno."""
        if caller not in self.domains:
            return -E.ESRCH
        d = self.domains.get(domid)
        if d is None:
            return -E.ESRCH
        if not d.hvm:
            return -E.EINVAL
        c = self.domains[caller]
        if not (c is d or c.privileged or d.dm == caller):
            return -E.EPERM
        return c, d

    def server(self, d: RDomain, caller: int, sid: int) -> int | RServer:
        for s in d.servers:
            if s.sid == sid:
                return s if s.emulator == caller else -E.EPERM
        return -E.ENOENT

    # -- servers -------------------------------------------------------------------

    def create(self, caller: int, domid: int, buf: int) -> int:
        d = self.dm_target(caller, domid)
        if isinstance(d, int):
            return d
        if buf > 2:
            return -E.EINVAL
        used = {s.sid for s in d.servers}
        if self.xen == "4.17":
            # An array of 8, lowest free slot; frames only when asked for later.
            free = [i for i in range(8) if i not in used]
            if not free:
                return -E.ENOSPC
            s = RServer(free[0], caller, 0)
            s.limit = {PORT: 256, MEMORY: 256, PCI: 256, WP_MEM: d.wp_param or 256}
            d.servers.append(s)
            return s.sid
        sid = d.last_id
        while True:
            sid = (sid + 1) & 0xFFFF
            if sid not in used:
                break
        d.last_id = sid  # 4.7 advances the counter before the pool check
        need = 2 if buf else 1
        if d.free_frames < need:
            return -E.ENOMEM
        d.free_frames -= need
        s = RServer(sid, caller, need)
        s.limit = {PORT: 256, MEMORY: 256, PCI: 256, WP_MEM: d.wp_param or 256}
        d.servers.append(s)
        return sid

    def destroy(self, caller: int, domid: int, sid: int) -> int:
        d = self.dm_target(caller, domid)
        if isinstance(d, int):
            return d
        s = self.server(d, caller, sid)
        if isinstance(s, int):
            return s
        d.servers.remove(s)
        d.free_frames += s.frames
        for mem in [m for m, o in d.owners.items() if o == sid]:
            del d.owners[mem]  # destroy only disclaims
        return 0

    def set_state(self, caller: int, domid: int, sid: int, enabled: bool) -> int:
        d = self.dm_target(caller, domid)
        if isinstance(d, int):
            return d
        s = self.server(d, caller, sid)
        if isinstance(s, int):
            return s
        s.enabled = enabled
        return 0

    def _valid_type(self, rtype: int) -> bool:
        return rtype in (PORT, MEMORY, PCI) or (rtype == WP_MEM and self.design == "rangeset")

    def _range_target(
        self, caller: int, domid: int, sid: int, rtype: int, lo: int, hi: int
    ) -> int | tuple[RServer, set[int]]:
        """The checks map and unmap share, in Xen's order; the server and its set."""
        d = self.dm_target(caller, domid)
        if isinstance(d, int):
            return d
        if lo > hi:
            return -E.EINVAL
        s = self.server(d, caller, sid)
        if isinstance(s, int):
            return s
        if not self._valid_type(rtype):
            return -E.EINVAL
        return s, s.covered[rtype]

    def map(self, caller: int, domid: int, sid: int, rtype: int, lo: int, hi: int) -> int:
        found = self._range_target(caller, domid, sid, rtype, lo, hi)
        if isinstance(found, int):
            return found
        s, cov = found
        new = set(range(lo, hi + 1))
        if cov & new:
            return -E.EEXIST
        touching = lo in cov or (lo - 1) in cov
        starts_inside = any(g in cov and g - 1 not in cov for g in range(lo + 1, hi + 1))
        if not touching and not starts_inside and s.limit[rtype] - runs(cov) <= 0:
            return -E.ENOMEM
        cov |= new
        return 0

    def unmap(self, caller: int, domid: int, sid: int, rtype: int, lo: int, hi: int) -> int:
        found = self._range_target(caller, domid, sid, rtype, lo, hi)
        if isinstance(found, int):
            return found
        s, cov = found
        if not all(g in cov for g in range(lo, hi + 1)):
            return -E.ENOENT
        split = (lo - 1) in cov and (hi + 1) in cov
        if split and s.limit[rtype] - runs(cov) <= 0:
            return -E.ENOMEM
        cov -= set(range(lo, hi + 1))
        return 0

    # -- params -----------------------------------------------------------------------

    def set_wp_param(self, caller: int, domid: int, value: int, cap: int) -> int:
        got = self.param_target(caller, domid)
        if isinstance(got, int):
            return got
        c, d = got
        if c is d or not c.privileged:
            return -E.EPERM
        if value > 2**32 - 1 or value > cap:
            return -E.EINVAL
        if d.servers:
            return -E.EBUSY
        d.wp_param = value
        return 0

    def get_param(self, caller: int, domid: int, index: int, wp_index: int = 36) -> int:
        """HVMOP_get_param of the seed param (``wp_index``), 10 (timer mode) or 0 (callback irq)."""
        got = self.param_target(caller, domid)
        if isinstance(got, int):
            return got
        c, d = got
        if c is d and index != 0:  # a guest may read CALLBACK_IRQ on itself, not these two
            return -E.EPERM
        return d.wp_param if index == wp_index else 0

    # -- memory types and claims ---------------------------------------------------------

    def claim_types(self) -> range:
        return range(4, 5) if self.design == "p2m" else range(4, 8)

    def mem_type_range(self) -> range:
        if self.design == "rangeset":
            return range(4)
        return range(4 + len(self.claim_types()))

    def claim(self, caller: int, domid: int, sid: int, mem: int, flags: int) -> int:
        d = self.dm_target(caller, domid)
        if isinstance(d, int):
            return d
        if self.design == "rangeset":
            return -E.EOPNOTSUPP
        if mem not in self.claim_types() or flags & ~2:
            return -E.EINVAL
        s = self.server(d, caller, sid)
        if isinstance(s, int):
            return s
        owner = d.owners.get(mem)
        if flags == 0:
            if owner != sid:
                return -E.EINVAL
            del d.owners[mem]
            for gfn in [g for g, t in d.types.items() if t == mem]:
                del d.types[gfn]  # the reset sweep
            return 0
        if owner is not None or any(t == mem for t in d.types.values()):
            return -E.EBUSY
        d.owners[mem] = sid
        return 0

    def set_mem_type(
        self, caller: int, domid: int, mem: int, first: int, nr: int, ram: range
    ) -> int:
        d = self.dm_target(caller, domid)
        if isinstance(d, int):
            return d
        last = first + nr - 1
        if nr == 0 or last > ram.stop - 1 or first < 0:
            return -E.EINVAL
        if mem not in self.mem_type_range() or (mem == 3 and self.design != "rangeset"):
            return -E.EINVAL
        ioreq = self.design != "rangeset" and mem in self.claim_types()
        if ioreq and mem not in d.owners:
            return -E.EINVAL
        for gfn in range(first, last + 1):
            old = d.types.get(gfn, 0)
            if not self._allowed(old, mem):
                return -E.EINVAL  # earlier pages stay changed
            if mem == 0:
                d.types.pop(gfn, None)
            else:
                d.types[gfn] = mem
        return 0

    def _allowed(self, old: int, new: int) -> bool:
        if old == 2:  # mmio_dm is a hole: it may only stay mmio_dm
            return new == 2
        if self.design == "rangeset":
            if old == 3:
                return new == 0
            return True  # every frame here is RAM (ram_rw, ram_ro or mmio_dm-on-RAM)
        claimable = self.claim_types()
        if new in claimable:
            return old == 0
        if old in claimable:
            return new == 0
        return True

    # -- routing -----------------------------------------------------------------------------

    def walk_order(self, d: RDomain) -> list[RServer]:
        """The order servers are tried: 4.7 newest first, 4.17 highest slot first."""
        if self.xen == "4.17":
            return sorted(d.servers, key=lambda s: -s.sid)
        return list(reversed(d.servers))

    def route_port(self, domid: int, port: int) -> tuple[str, int | None]:
        """A 1-byte port read: Xen's own PIC (0x20-0x21) and PIT (0x40-0x43) first."""
        if port in (0x20, 0x21, 0x40, 0x41, 0x42, 0x43):
            return "xen", None
        d = self.domains[domid]
        for s in self.walk_order(d):
            if s.enabled and port in s.covered[PORT]:
                return "server", s.sid
        return "null", None
