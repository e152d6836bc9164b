"""Helpers for hypervisor tests: host snapshots and a minimal echo emulator."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ioreqlab import devicemodel
from ioreqlab.abi import IOREQ_SIZE, IOREQ_STATE_MASK, IOREQ_STATE_OFFSET, IoReq, IoReqState
from ioreqlab.errors import XenError
from ioreqlab.host import Host


def errno_of(call: object) -> int:
    """The errno ``call()`` raised as a XenError, or 0 if it returned."""
    assert callable(call)
    try:
        call()
    except XenError as err:
        return err.errno or 0
    return 0


def snapshot(host: Host) -> dict[str, Any]:
    """Everything a failed call must leave unchanged, host-wide."""
    doms: dict[int, Any] = {}
    for domid, d in sorted(host.domains.items()):
        doms[domid] = {
            "params": list(d.params),
            "pool": (d.gmfn_pool.base, d.gmfn_pool.mask),
            "cf8": d.pci_cf8,
            "crashed": d.crashed,
            "servers": [
                (
                    s.id,
                    s.emulator,
                    s.enabled,
                    s.is_default,
                    {int(k): r.ranges() for k, r in s.ranges.items()},
                    {int(k): r.budget for k, r in s.ranges.items()},
                )
                for s in d.all_servers()
            ],
        }
    # Heap *state* only: peak and allocation counters are statistics, and a
    # call that allocates, fails and frees legitimately moves them.
    heap = {o: (a.in_use, a.reserved) for o, a in host.heap.accounts().items()}
    return {"domains": doms, "heap": heap, "in_use": host.heap.in_use}


@dataclass
class EchoEmulator:
    """Answers every synchronous request at once; reads return ``reply(req)``."""

    host: Host
    caller: int
    domid: int
    sid: int
    seen: list[IoReq] = field(default_factory=list)
    buffered: int = 0

    def __post_init__(self) -> None:
        self.dm = devicemodel.open(self.host, self.caller)
        self.pages = self.dm.map_ioreq_server(self.domid, self.sid, self.on_notify)

    def reply(self, req: IoReq) -> int:
        return (req.addr * 7 + self.sid) & ((1 << (8 * req.size)) - 1)

    def on_notify(self, vcpu: int) -> None:
        if vcpu < 0:
            self.buffered += 1
            return
        off = vcpu * IOREQ_SIZE
        req = IoReq.unpack(bytes(self.pages.shared[off : off + IOREQ_SIZE]))
        if req.state != IoReqState.READY:
            return
        self.seen.append(req)
        st = off + IOREQ_STATE_OFFSET
        self.pages.shared[st] = (self.pages.shared[st] & ~IOREQ_STATE_MASK) | IoReqState.INPROCESS
        data = self.reply(req) if req.dir == 1 else req.data
        done = replace(req, data=data, state=IoReqState.IORESP_READY)
        self.pages.shared[off : off + IOREQ_SIZE] = done.pack()
        self.dm.notify(self.domid, self.sid, vcpu)
