"""Re-entrancy: an emulator that acts on the host from inside Xen's notification.

Issue 15, item 2: ``guest_access`` raised ``KeyError`` when, during its event
notification, the emulator destroyed its server, crashed the guest with an
impossible slot state, or destroyed the guest.  In Xen the notification only
makes the emulator runnable; in the model the emulator runs *inside* it, so
every path that notifies must find the world possibly changed when it returns.

Named tests pin each outcome; a stateful driver then lets emulators with any
of these behaviours (and a few more: re-entering with another guest access,
answering twice, unmapping or disabling on the way) serve port, MMIO,
straddling, ``rep`` and buffered accesses on every design and profile, from
dom0 and from a stub domain that can itself be destroyed mid-notification.
After every step ``check_invariants`` holds (which includes: no in-flight
entry for a dead domain) and every failure is a ``XenError``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ioreqlab import devicemodel
from ioreqlab.abi import IOREQ_SIZE, IOREQ_STATE_OFFSET, IoReq, IoReqState
from ioreqlab.abi.constants import PAGE_SIZE, HvmMem, HvmParam
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.hv.vcpu_io import Access, Route, Status
from ioreqlab.wpclient import WriteProtector

MODES = (
    "answer",
    "ignore",
    "destroy_server",
    "bad_state",
    "destroy_guest",
    "destroy_stub",
    "reenter",
    "answer_twice",
    "unmap",
    "disable",
)
PORT0 = 0x100
WP_GFN = 0x40  # each server protects WP_GFN + its index

#: Outcomes the stateful runs reached, checked by the coverage test below.
REACHED: Counter[str] = Counter()


@dataclass
class Emulator:
    """A device model whose reaction to a notification is set by ``mode``."""

    host: Host
    caller: int
    domid: int
    sid: int
    index: int
    mode: str = "answer"
    errors: list[int] = field(default_factory=list)
    inner: Access | None = None  # what a re-entered access returned

    def __post_init__(self) -> None:
        self.dm = devicemodel.open(self.host, self.caller)
        self.pages = self.dm.map_ioreq_server(self.domid, self.sid, self.on_notify)

    def on_notify(self, vcpu: int) -> None:
        # A real emulator sees -errno from its own hypercalls; it never raises into Xen.
        try:
            self._react(vcpu)
        except XenError as err:
            self.errors.append(err.errno or 0)

    def _react(self, vcpu: int) -> None:
        if vcpu < 0:
            if self.mode in ("destroy_guest", "destroy_server"):
                self._act(self.mode)
            return
        off = vcpu * IOREQ_SIZE
        req = IoReq.unpack(bytes(self.pages.shared[off : off + IOREQ_SIZE]))
        if req.state != IoReqState.READY:
            return
        if self.mode == "reenter":
            other = 1 - vcpu
            try:
                self.inner = self.host.guest_access(self.domid, other, "pio", PORT0, 1, write=False)
            except XenError as err:
                self.errors.append(err.errno or 0)
        if self.mode in ("answer", "reenter", "answer_twice", "unmap", "disable"):
            if self.mode != "answer":
                self._act(self.mode)
            self._answer(vcpu, req)
            return
        if self.mode == "bad_state":
            self.pages.shared[off + IOREQ_STATE_OFFSET] = 7  # no such state: Xen crashes the guest
            self.dm.notify(self.domid, self.sid, vcpu)
            return
        self._act(self.mode)

    def _act(self, mode: str) -> None:
        if mode == "destroy_server":
            self.dm.destroy_ioreq_server(self.domid, self.sid)
        elif mode == "destroy_guest":
            self.host.destroy_domain(self.domid)
        elif mode == "destroy_stub" and self.caller != 0:
            self.host.destroy_domain(self.caller)
        elif mode == "unmap":
            port = PORT0 + 16 * self.index
            self.dm.unmap_io_range_from_ioreq_server(self.domid, self.sid, False, port, port + 15)
        elif mode == "disable":
            self.dm.set_ioreq_server_state(self.domid, self.sid, False)

    def _answer(self, vcpu: int, req: IoReq) -> None:
        off = vcpu * IOREQ_SIZE
        data = (req.addr * 3) & ((1 << (8 * req.size)) - 1) if req.dir == 1 else req.data
        reply = replace(req, data=data, state=IoReqState.IORESP_READY)
        self.pages.shared[off : off + IOREQ_SIZE] = reply.pack()
        self.dm.notify(self.domid, self.sid, vcpu)
        if self.mode == "answer_twice":
            self.dm.notify(self.domid, self.sid, vcpu)


def setup(design: str, xen: str, mode: str, *, stub: bool = False) -> tuple[Host, Emulator]:
    host = Host(design=design, xen=xen)
    caller = host.create_domain(memory_mib=16, hvm=False) if stub else 0
    g = host.create_domain(memory_mib=64, vcpus=2, dm_domid=caller)
    emu = serve(host, caller, g, 0, mode)
    return host, emu


def serve(host: Host, caller: int, g: int, index: int, mode: str) -> Emulator:
    dm = devicemodel.open(host, caller)
    sid = dm.create_ioreq_server(g, 1)
    emu = Emulator(host, caller, g, sid, index, mode)
    port = PORT0 + 16 * index
    dm.map_io_range_to_ioreq_server(g, sid, False, port, port + 15)
    dm.map_io_range_to_ioreq_server(g, sid, True, 0xA0000, 0xBFFFF)  # the buffered VGA window
    # One owner of HVMMEM_ioreq_server in p2m; p2t gives each server its own type.
    if host.design != "p2m" or index == 0:
        mem = HvmMem.IOREQ_SERVER + (index if host.design == "p2t" else 0)
        wp = WriteProtector(dm, g, sid, mem_type=mem)
        wp.start()
        wp.protect([WP_GFN + index])
    dm.set_ioreq_server_state(g, sid, True)
    return emu


DESIGNS = [("rangeset", "4.7"), ("p2m", "4.17"), ("p2t", "4.17")]


@pytest.mark.parametrize(("design", "xen"), DESIGNS)
def test_emulator_destroying_its_server_leaves_the_vcpu_blocked(design: str, xen: str) -> None:
    # ioreq_server_remove_all_vcpus (xen/common/ioreq.c, 4.17): the port the
    # vCPU waits on is freed and nothing will wake it.
    host, emu = setup(design, xen, "destroy_server")
    got = host.guest_access(emu.domid, 0, "pio", PORT0, 1, write=False)
    assert got.status == Status.PENDING
    assert host.resume_vcpu(emu.domid, 0).status == Status.PENDING
    assert host.domains[emu.domid].find_server(emu.sid) is None
    host.check_invariants()


@pytest.mark.parametrize(("design", "xen"), DESIGNS)
def test_emulator_writing_an_impossible_state_crashes_the_guest(design: str, xen: str) -> None:
    # hvm_wait_for_io (4.7) / wait_for_io (4.17): an unknown state is domain_crash.
    host, emu = setup(design, xen, "bad_state")
    got = host.guest_access(emu.domid, 0, "pio", PORT0, 1, write=False)
    assert got.status == Status.CRASHED
    assert host.domains[emu.domid].crashed
    host.check_invariants()


@pytest.mark.parametrize(("design", "xen"), DESIGNS)
@pytest.mark.parametrize("stub", [False, True])
def test_emulator_destroying_the_guest_mid_access_is_gone(
    design: str, xen: str, stub: bool
) -> None:
    host, emu = setup(design, xen, "destroy_guest", stub=stub)
    got = host.guest_access(emu.domid, 1, "pio", PORT0, 2, write=True, data=5)
    assert got.status == Status.GONE
    assert emu.domid not in host.domains
    host.check_invariants()


@pytest.mark.parametrize(("design", "xen"), DESIGNS)
def test_guest_destroyed_between_the_parts_of_a_straddling_write(design: str, xen: str) -> None:
    # Two protected frames side by side: the first part's notification destroys
    # the guest, so the second part is never sent.
    host, emu = setup(design, xen, "destroy_guest")
    wp = WriteProtector(emu.dm, emu.domid, emu.sid)
    wp.claimed = design != "rangeset"
    wp.protect([WP_GFN + 1])
    addr = (WP_GFN + 1) * PAGE_SIZE - 4
    got = host.guest_access(emu.domid, 0, "mmio", addr, 8, write=True, data=2**63 + 1)
    # The outcome still names who was serving the write when the guest went.
    assert (got.route, got.server_id, got.status) == (Route.SERVER, emu.sid, Status.GONE)
    host.check_invariants()


@pytest.mark.parametrize(("design", "xen"), DESIGNS)
def test_guest_destroyed_by_a_buffered_notification(design: str, xen: str) -> None:
    host, emu = setup(design, xen, "destroy_guest")
    got = host.guest_access(emu.domid, 0, "mmio", 0xA0000, 2, write=True, data=1)
    assert got.status == Status.BUFFERED
    assert emu.domid not in host.domains
    host.check_invariants()


@pytest.mark.parametrize(("design", "xen"), DESIGNS)
def test_a_timeoffset_broadcast_skips_servers_an_earlier_notification_destroyed(
    design: str, xen: str
) -> None:
    host, emu = setup(design, xen, "answer")
    later = serve(host, 0, emu.domid, 1, "answer")
    first = host.domains[emu.domid].all_servers()[0]
    killer = emu if first.id == emu.sid else later
    victim = later if killer is emu else emu
    host.io.notifiers[(emu.domid, killer.sid)] = lambda v: victim.dm.destroy_ioreq_server(
        victim.domid, victim.sid
    )
    assert host.broadcast_timeoffset(emu.domid, 60) == 0
    host.check_invariants()


@pytest.mark.parametrize(("design", "xen"), DESIGNS)
def test_reentering_access_from_the_notification_completes_both(design: str, xen: str) -> None:
    host, emu = setup(design, xen, "reenter")
    got = host.guest_access(emu.domid, 0, "pio", PORT0 + 2, 1, write=False)
    assert (got.status, got.data) == (Status.DONE, (PORT0 + 2) * 3 & 0xFF)
    # The inner access on vCPU 1 completed too (its notification answered it).
    assert emu.inner is not None
    assert (emu.inner.status, emu.inner.data) == (Status.DONE, PORT0 * 3 & 0xFF)
    host.check_invariants()


class ReentrancyMachine(RuleBasedStateMachine):
    """Emulators with every behaviour above, on one guest that can die at any step."""

    design = "p2m"
    xen = "4.17"

    def __init__(self) -> None:
        super().__init__()
        self.host = Host(design=self.design, xen=self.xen)
        self.stub: int | None = None
        self.guest: int | None = None
        self.emus: list[Emulator] = []
        self.new_guest()

    def alive(self) -> bool:
        return self.guest is not None and self.guest in self.host.domains

    @rule()
    def new_guest(self) -> None:
        """The toolstack replaces a destroyed or crashed guest."""
        if self.alive():
            assert self.guest is not None
            if not self.host.domains[self.guest].crashed:
                return
            self.host.destroy_domain(self.guest)
        if self.stub is None or self.stub not in self.host.domains:
            self.stub = self.host.create_domain(memory_mib=16, hvm=False)
        self.guest = self.host.create_domain(memory_mib=64, vcpus=2, dm_domid=self.stub)
        self.emus = []

    @rule(from_stub=st.booleans(), mode=st.sampled_from(MODES))
    def add_server(self, from_stub: bool, mode: str) -> None:
        if not self.alive() or len(self.emus) >= 4:
            return
        assert self.guest is not None
        assert self.stub is not None
        caller = self.stub if from_stub and self.stub in self.host.domains else 0
        try:
            self.emus.append(serve(self.host, caller, self.guest, len(self.emus), mode))
        except XenError as err:
            REACHED[f"add_refused_{err.errno}"] += 1

    @rule(i=st.integers(0, 3), mode=st.sampled_from(MODES))
    def change_mode(self, i: int, mode: str) -> None:
        if self.emus:
            self.emus[i % len(self.emus)].mode = mode

    def access(self, vcpu: int, space: str, addr: int, size: int, **kw: object) -> None:
        if not self.alive():
            return
        assert self.guest is not None
        g = self.guest
        try:
            got = self.host.guest_access(g, vcpu, space, addr, size, **kw)  # type: ignore[arg-type]
        except XenError as err:
            REACHED[f"refused_{err.errno}"] += 1
            return
        REACHED[got.status.value] += 1
        self.check_outcome(g, got)

    def check_outcome(self, g: int, got: Access) -> None:
        assert isinstance(got.status, Status)
        if got.status == Status.GONE:
            assert g not in self.host.domains
        elif g in self.host.domains and got.status == Status.CRASHED:
            assert self.host.domains[g].crashed

    @rule(vcpu=st.integers(0, 1), i=st.integers(0, 3), write=st.booleans())
    def port_access(self, vcpu: int, i: int, write: bool) -> None:
        self.access(vcpu, "pio", PORT0 + 16 * i + 3, 2, write=write, data=0xBEEF)

    @rule(vcpu=st.integers(0, 1), i=st.integers(0, 3), straddle=st.booleans())
    def protected_write(self, vcpu: int, i: int, straddle: bool) -> None:
        gfn = WP_GFN + i
        addr = gfn * PAGE_SIZE - 4 if straddle else gfn * PAGE_SIZE + 8
        self.access(vcpu, "mmio", addr, 8, write=True, data=0x1122334455667788)

    @rule(vcpu=st.integers(0, 1), i=st.integers(0, 3), df=st.booleans())
    def rep_write(self, vcpu: int, i: int, df: bool) -> None:
        addr = (WP_GFN + i) * PAGE_SIZE + 16
        self.access(vcpu, "mmio", addr, 4, write=True, data=0x10, count=3, df=df, data_is_ptr=True)

    @rule(vcpu=st.integers(0, 1))
    def buffered_write(self, vcpu: int) -> None:
        self.access(vcpu, "mmio", 0xA0010, 2, write=True, data=7)

    @rule(offset=st.integers(-100, 100))
    def timeoffset(self, offset: int) -> None:
        if self.alive():
            assert self.guest is not None
            try:
                self.host.broadcast_timeoffset(self.guest, offset)
            except XenError as err:
                REACHED[f"timeoffset_refused_{err.errno}"] += 1

    @rule(vcpu=st.integers(0, 1))
    def resume(self, vcpu: int) -> None:
        if not self.alive():
            return
        assert self.guest is not None
        try:
            got = self.host.resume_vcpu(self.guest, vcpu)
        except XenError as err:
            REACHED[f"resume_refused_{err.errno}"] += 1
            return
        REACHED[f"resumed_{got.status.value}"] += 1

    @rule(i=st.integers(0, 3))
    def complete_late(self, i: int) -> None:
        """An emulator that ignored a request answers it now."""
        if not self.alive() or not self.emus:
            return
        emu = self.emus[i % len(self.emus)]
        for vcpu in (0, 1):
            off = vcpu * IOREQ_SIZE
            req = IoReq.unpack(bytes(emu.pages.shared[off : off + IOREQ_SIZE]))
            if req.state == IoReqState.READY:
                saved, emu.mode = emu.mode, "answer"
                emu.on_notify(vcpu)
                emu.mode = saved
                self.resume(vcpu)  # the guest collects the answer

    @rule(
        index=st.sampled_from([HvmParam.IOREQ_SERVER_PFN, HvmParam.NR_IOREQ_SERVER_PAGES]),
        value=st.one_of(st.integers(0, 70), st.sampled_from([0xFEFF0, 0xFEFF8, 2**64 - 1])),
        current=st.booleans(),
    )
    def stub_sets_the_pool(self, index: int, value: int, current: bool) -> None:
        """Issue 15 #3/#4: a stub moves the pool or re-sets it to what it is."""
        if not self.alive() or self.stub not in self.host.domains:
            return
        assert self.guest is not None
        assert self.stub is not None
        try:
            if current:
                value = self.host.get_param(self.stub, self.guest, index)
            self.host.set_param(self.stub, self.guest, index, value)
            REACHED["pool_set"] += 1
        except XenError as err:
            REACHED[f"pool_refused_{err.errno}"] += 1

    @rule(i=st.integers(0, 3))
    def destroy_server(self, i: int) -> None:
        if not self.alive() or not self.emus:
            return
        emu = self.emus[i % len(self.emus)]
        try:
            emu.dm.destroy_ioreq_server(emu.domid, emu.sid)
            REACHED["destroyed"] += 1
        except XenError as err:
            REACHED[f"destroy_refused_{err.errno}"] += 1

    @rule()
    def replace_the_stub(self) -> None:
        """Issue 15 #5: the stub dies and a new domain comes; it inherits nothing."""
        if self.stub is None or self.stub not in self.host.domains:
            return
        old = self.stub
        self.host.destroy_domain(old)
        self.stub = self.host.create_domain(memory_mib=16, hvm=False)
        if not self.alive():
            return
        assert self.guest is not None
        for emu in self.emus:
            if emu.caller == old:  # the dead stub's servers are not the newcomer's
                try:
                    devicemodel.open(self.host, self.stub).destroy_ioreq_server(self.guest, emu.sid)
                except XenError as err:
                    REACHED[f"newcomer_refused_{err.errno}"] += 1
                else:
                    raise AssertionError(f"domain {self.stub} destroyed a dead stub's server")

    @rule(i=st.integers(0, 3), vcpu=st.integers(0, 1))
    def answered_late(self, i: int, vcpu: int) -> None:
        """An emulator takes its time: the access pends, is answered, then collected."""
        if not self.alive() or not self.emus:
            return
        emu = self.emus[i % len(self.emus)]
        saved, emu.mode = emu.mode, "ignore"
        self.port_access(vcpu, emu.index, False)
        emu.mode = saved
        self.complete_late(i)

    @invariant()
    def invariants_hold(self) -> None:
        shared = self.shared_frames()
        if shared:
            # Xen refills the pool when NR_IOREQ_SERVER_PAGES is set again to its
            # value (hvm_set_param sets the mask bits anew, 4.7 and 4.17), so two
            # servers can get one frame.  The model must let that happen and catch it.
            REACHED["frame_used_twice"] += 1
            with pytest.raises(AssertionError, match="an ioreq frame is used twice"):
                self.host.check_invariants()
            self.drop_servers(shared)  # what an administrator would do; then all is sound
        self.host.check_invariants()

    def shared_frames(self) -> set[int]:
        """Ids of servers of the guest that share an ioreq frame with another."""
        if not self.alive():
            return set()
        assert self.guest is not None
        owners: dict[int, list[int]] = {}
        for s in self.host.domains[self.guest].servers:
            for pfn in (s.ioreq_pfn, s.bufioreq_pfn):
                if pfn is not None:
                    owners.setdefault(pfn, []).append(s.id)
        return {sid for ids in owners.values() if len(ids) > 1 for sid in ids}

    def drop_servers(self, sids: set[int]) -> None:
        assert self.guest is not None
        d = self.host.domains[self.guest]
        owners = {s.emulator for s in d.servers if s.id in sids}
        if not owners <= set(self.host.domains):
            # A dead stub's server can be destroyed by nobody (4.11's ownership
            # rule, which the model applies to 4.7 too): the toolstack destroys the guest.
            self.host.destroy_domain(self.guest)
            self.emus = []
            return
        for sid in sids:
            s = d.find_server(sid)
            if s is not None:  # by its own emulator
                self.host.destroy_ioreq_server(s.emulator, self.guest, sid)
        self.emus = [e for e in self.emus if e.sid not in sids]


class ReentrancyRangeset47(ReentrancyMachine):
    design = "rangeset"
    xen = "4.7"


class ReentrancyP2t(ReentrancyMachine):
    design = "p2t"


class ReentrancyP2m47(ReentrancyMachine):
    xen = "4.7"


MACHINES = (ReentrancyMachine, ReentrancyRangeset47, ReentrancyP2t, ReentrancyP2m47)


def test_stateful_reentrancy_reaches_every_outcome() -> None:
    REACHED.clear()
    for machine in MACHINES:
        run_state_machine_as_test(machine, settings=settings(max_examples=60))  # type: ignore[no-untyped-call]
    # Each outcome was reached, so the driver cannot silently stop exercising
    # the re-entrant paths.
    for outcome in (
        "done", "pending", "crashed", "gone", "buffered", "resumed_done", "refused_16",
        "pool_set", "destroyed", "newcomer_refused_1", "frame_used_twice",
    ):  # fmt: skip
        assert REACHED[outcome] > 0, (outcome, dict(REACHED))
