"""Stateful model checking of the whole hypercall surface (reliability.md B3).

A Hypothesis ``RuleBasedStateMachine`` issues create, destroy, set_state,
map/unmap of every range type (PCI included), claims, set_mem_type, the
seed's HVM param and guest accesses — from dom0, a stub device-model domain
with a target, a second stub that serves nobody, the guests themselves, and a
domain that does not exist, with server ids that include stale ones.  Each
call goes through the real ABI (``Host.dm_op``/``hvm_op``) and its result is
compared with :mod:`tests.refmodel`.  After every step:

1. every rangeset is canonical and within its budget;
2. heap accounting is exact and never negative; after teardown it is zero;
3. at most one owner per ioreq type, and ``entry_count`` is exact;
4. no step changed any domain other than its target (snapshots);
5. ioreq slots are back to NONE after every access (states only went forward).

Run on all three designs.  CI runs the bounded profile; the long one is
``HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_model_check.py``.
"""

from __future__ import annotations

import errno
from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from ioreqlab.abi import (
    CreateIoreqServer,
    DestroyIoreqServer,
    DmOp,
    HvmOp,
    HvmParamArg,
    IoreqServerRange,
    MapMemTypeToIoreqServer,
    SetIoreqServerState,
    SetMemType,
    WireStruct,
    dm_op_buffer,
    slot_state,
)
from ioreqlab.host import Host
from tests.hv_helpers import EchoEmulator, snapshot
from tests.refmodel import RDomain, RefModel

DOM0, STUB, GUEST1, GUEST2, STUB2, NOBODY = 0, 1, 2, 3, 4, 777
CALLERS = st.sampled_from([DOM0, DOM0, STUB, STUB, STUB2, GUEST1, GUEST2, NOBODY])
TARGETS = st.sampled_from([GUEST1, GUEST1, GUEST2, STUB, NOBODY])
RAM = range(0x10, 0x50)
MMIO_BASE = 0xF000_0000
CAP = 8192
#: Most calls come from the server's own emulator on its own guest; the rest from anyone.
OWN = st.sampled_from([True, True, True, False])
Srv = tuple[int, int, int]


def pick(srv: Srv, own: bool, domid: int, caller: int) -> Srv:
    """The bundle's (domid, emulator, id), or the id with a random caller and target."""
    return srv if own else (domid, caller, srv[2])


def dm(host: Host, caller: int, domid: int, op: DmOp, arg: WireStruct) -> tuple[int, bytearray]:
    buf = dm_op_buffer(op, arg)
    rc = host.dm_op(caller, domid, [buf])
    while rc == -85:  # a continuation: re-issue with what Xen wrote back
        rc = host.dm_op(caller, domid, [buf])
    return rc, buf


class HypercallMachine(RuleBasedStateMachine):
    design = "p2m"
    xen = "4.7"
    servers = Bundle("servers")

    def __init__(self) -> None:
        super().__init__()
        self.host = Host(
            design=self.design, xen=self.xen, xen_heap_bytes=8 << 20, wp_ram_ranges_cap=CAP
        )
        h = self.host
        assert h.create_domain(memory_mib=16, hvm=False, name="stub") == STUB
        assert h.create_domain(memory_mib=16, dm_domid=STUB, name="g1") == GUEST1
        assert h.create_domain(memory_mib=16, name="g2") == GUEST2
        assert h.create_domain(memory_mib=16, hvm=False, name="stub2") == STUB2
        self.ref = RefModel(
            self.design,
            [
                RDomain(DOM0, hvm=False, dm=0, privileged=True),
                RDomain(STUB, hvm=False, dm=0),
                RDomain(GUEST1, hvm=True, dm=STUB),
                RDomain(GUEST2, hvm=True, dm=DOM0),
                RDomain(STUB2, hvm=False, dm=0),
            ],
            self.xen,
        )
        self.echo: list[EchoEmulator] = []

    # -- helpers -----------------------------------------------------------------

    def others(self, domid: int) -> dict[int, Any]:
        snap = snapshot(self.host)
        return {k: v for k, v in snap["domains"].items() if k != domid}

    def check(self, domid: int, got: int, want: int, what: str) -> None:
        event(f"{what} -> {'ok' if want >= 0 else errno.errorcode[-want]}")
        assert got == want, f"{what}: host {got}, reference {want}"

    # -- servers ---------------------------------------------------------------------

    @rule(target=servers, caller=CALLERS, domid=TARGETS, buf=st.sampled_from([0, 0, 1, 2, 3]))
    def create(self, caller: int, domid: int, buf: int) -> tuple[int, int, int]:
        before = self.others(domid)
        rc, raw = dm(self.host, caller, domid, DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(buf))
        want = self.ref.create(caller, domid, buf)
        got = CreateIoreqServer.unpack(raw[8:14]).id if rc == 0 else rc
        self.check(domid, got, want, "create")
        assert self.others(domid) == before
        if rc == 0 and self.host.domains[domid].hvm:  # 4.9 "succeeds" on a PV target
            self.echo.append(EchoEmulator(self.host, caller, domid, got))
            return (domid, caller, got)
        return (domid, caller, 4242)  # an unknown id for later rules

    @rule(caller=CALLERS, domid=TARGETS, srv=servers, own=OWN)
    def destroy(self, caller: int, domid: int, srv: Srv, own: bool) -> None:
        domid, caller, sid = pick(srv, own, domid, caller)
        before = self.others(domid)
        rc, _ = dm(self.host, caller, domid, DmOp.DESTROY_IOREQ_SERVER, DestroyIoreqServer(sid))
        self.check(domid, rc, self.ref.destroy(caller, domid, sid), "destroy")
        assert self.others(domid) == before

    @rule(caller=CALLERS, domid=TARGETS, srv=servers, own=OWN, enabled=st.booleans())
    def set_state(self, caller: int, domid: int, srv: Srv, own: bool, enabled: bool) -> None:
        domid, caller, sid = pick(srv, own, domid, caller)
        rc, _ = dm(
            self.host,
            caller,
            domid,
            DmOp.SET_IOREQ_SERVER_STATE,
            SetIoreqServerState(sid, int(enabled)),
        )
        self.check(domid, rc, self.ref.set_state(caller, domid, sid, enabled), "set_state")

    @rule(
        caller=CALLERS,
        domid=TARGETS,
        srv=servers,
        own=OWN,
        rtype=st.sampled_from([0, 0, 1, 2, 3, 3, 7]),
        lo=st.integers(0, 63),
        n=st.integers(-1, 6),
        unmap=st.booleans(),
    )
    def map_or_unmap(
        self, caller: int, domid: int, srv: Srv, own: bool, rtype: int, lo: int, n: int, unmap: bool
    ) -> None:
        domid, caller, sid = pick(srv, own, domid, caller)
        hi = lo + n
        base = MMIO_BASE if rtype == 1 else (0x10 if rtype == 3 else 0)
        if rtype == 2:
            lo, hi = lo % 16, hi % 16 if hi >= 0 else hi
        op = DmOp.UNMAP_IO_RANGE_FROM_IOREQ_SERVER if unmap else DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER
        before = self.others(domid)
        start, end = base + lo, base + hi
        if n < 0:
            start, end = base + lo + 1, base + lo  # start > end (XSA-238)
        rc, _ = dm(self.host, caller, domid, op, IoreqServerRange(sid, 0, rtype, start, end))
        fn = self.ref.unmap if unmap else self.ref.map
        self.check(domid, rc, fn(caller, domid, sid, rtype, start, end), op.name.lower())
        assert self.others(domid) == before

    # -- params, claims, memory types ------------------------------------------------------

    @rule(
        caller=CALLERS,
        domid=TARGETS,
        value=st.sampled_from([0, 2, 3, 64, CAP, CAP + 1, 2**32 - 1, 2**32, 2**64 - 1]),
    )
    def set_wp_param(self, caller: int, domid: int, value: int) -> None:
        wp = self.host.xen.params.max_wp_ram_ranges  # 36 in 4.7, 39 in 4.17
        rc = self.host.hvm_op(caller, HvmOp.SET_PARAM, HvmParamArg(domid, wp, value).pack())
        self.check(domid, rc, self.ref.set_wp_param(caller, domid, value, CAP), "set_param 36")

    @rule(caller=CALLERS, domid=TARGETS, which=st.sampled_from(["wp", "timer", "callback"]))
    def get_param(self, caller: int, domid: int, which: str) -> None:
        wp = self.host.xen.params.max_wp_ram_ranges
        index = {"wp": wp, "timer": 10, "callback": 0}[which]
        buf = bytearray(HvmParamArg(domid, index).pack())
        rc = self.host.hvm_op(caller, HvmOp.GET_PARAM, buf)
        got = HvmParamArg.unpack(buf).value if rc == 0 else rc
        self.check(domid, got, self.ref.get_param(caller, domid, index, wp), f"get_param {which}")

    @rule(
        caller=CALLERS,
        domid=TARGETS,
        srv=servers,
        own=OWN,
        mem=st.sampled_from([0, 4, 4, 5, 6, 12]),
        flags=st.sampled_from([0, 2, 2, 1, 6]),
    )
    def claim(self, caller: int, domid: int, srv: Srv, own: bool, mem: int, flags: int) -> None:
        domid, caller, sid = pick(srv, own, domid, caller)
        before = self.others(domid)
        rc, _ = dm(
            self.host,
            caller,
            domid,
            DmOp.MAP_MEM_TYPE_TO_IOREQ_SERVER,
            MapMemTypeToIoreqServer(sid, mem, flags),
        )
        self.check(domid, rc, self.ref.claim(caller, domid, sid, mem, flags), "claim")
        assert self.others(domid) == before

    @rule(
        caller=CALLERS,
        domid=TARGETS,
        mem=st.sampled_from([0, 1, 2, 3, 4, 4, 5, 6, 9]),
        first=st.integers(0x0C, 0x52),
        nr=st.integers(0, 6),
    )
    def set_mem_type(self, caller: int, domid: int, mem: int, first: int, nr: int) -> None:
        # Frames 0x50+ exist in the guest but are outside the reference's window: keep
        # requests inside RAM so both sides agree on what exists.
        if first + nr > RAM.stop or first < RAM.start:
            first, nr = RAM.start, min(nr, 4)
        before = self.others(domid)
        rc, _ = dm(self.host, caller, domid, DmOp.SET_MEM_TYPE, SetMemType(nr, mem, 0, first))
        want = self.ref.set_mem_type(caller, domid, mem, first, nr, range(0x1000))
        self.check(domid, rc, want, "set_mem_type")
        assert self.others(domid) == before

    # -- the guest ----------------------------------------------------------------------------

    @rule(domid=st.sampled_from([GUEST1, GUEST2]), port=st.integers(0, 63))
    def guest_reads_a_port(self, domid: int, port: int) -> None:
        before = self.others(domid)
        got = self.host.guest_access(domid, 0, "pio", port, 1, write=False)
        route, sid = self.ref.route_port(domid, port)
        assert (got.route, got.server_id if got.route == "server" else None) == (route, sid)
        assert got.status == "done"
        assert self.others(domid) == before

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def host_matches_reference(self) -> None:
        self.host.check_invariants()
        for domid in (GUEST1, GUEST2):
            d, r = self.host.domains[domid], self.ref.domains[domid]
            order = self.ref.walk_order(r)
            assert [s.id for s in d.servers] == [s.sid for s in order]
            for s, rs in zip(d.servers, order, strict=True):
                assert s.enabled == rs.enabled
                for rtype, ranges in s.ranges.items():
                    covered = {x for lo, hi in ranges for x in range(lo, hi + 1)}
                    assert covered == rs.covered[int(rtype)]
            assert {m: o.id for m, o in d.ioreq_owners.items()} == r.owners
            host_types = {g: int(self.host.get_mem_type(DOM0, domid, g)) for g in range(0x0C, 0x52)}
            want = {g: r.types.get(g, 0) for g in range(0x0C, 0x52)}
            assert host_types == want
            assert len(d.ioreq_owners) <= (1 if self.design == "p2m" else 4)
            for s in d.servers:  # every slot is NONE again: states only went forward
                assert all(slot_state(s.shared_page, v) == 0 for v in range(d.vcpus))

    def teardown(self) -> None:
        for domid in (GUEST1, GUEST2):
            self.host.destroy_domain(domid)
        assert self.host.heap.in_use == 0


class RangesetMachine(HypercallMachine):
    design = "rangeset"


class P2tMachine(HypercallMachine):
    design = "p2t"


class P2mMachine417(HypercallMachine):
    xen = "4.17"


class RangesetMachine417(HypercallMachine):
    design = "rangeset"
    xen = "4.17"


class P2tMachine417(HypercallMachine):
    design = "p2t"
    xen = "4.17"


TestP2mDesign = HypercallMachine.TestCase
TestRangesetDesign = RangesetMachine.TestCase
TestP2tDesign = P2tMachine.TestCase
TestP2mDesign417 = P2mMachine417.TestCase
TestRangesetDesign417 = RangesetMachine417.TestCase
TestP2tDesign417 = P2tMachine417.TestCase
