"""Fuzzing in CI (Hypothesis): the ABI boundary, the emulator side, the scenario loader.

* DMOP and HVMOP with arbitrary bytes and buffer counts, from any caller:
  only 0 or a -errno comes back, nothing else escapes, and the host's
  accounting stays exact.
* The emulator runtime fed arbitrary slot and ring contents (a hostile or
  broken hypervisor side, XSA-197/199/262): it never raises.
* The scenario loader fed arbitrary text: only ScenarioError, one line.

Longer, coverage-guided runs: ``fuzz/`` (atheris; see docs/reliability.md).
"""

from __future__ import annotations

import errno
import json
import struct
from collections import Counter
from dataclasses import fields, replace
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ioreqlab import devicemodel
from ioreqlab.abi import (
    IOREQ_SIZE,
    CreateIoreqServer,
    DestroyIoreqServer,
    DmOp,
    GetIoreqServerInfo,
    HvmGetMemType,
    HvmOp,
    HvmParam,
    HvmParamArg,
    InjectEvent,
    InjectMsi,
    IoreqServerRange,
    MapMemTypeToIoreqServer,
    ModifiedMemory,
    ModifiedMemoryExtent,
    NrVcpus,
    PinMemoryCacheattr,
    RelocateMemory,
    RemoteShutdown,
    SetIoreqServerState,
    SetIsaIrqLevel,
    SetMemType,
    SetPciIntxLevel,
    SetPciLinkRoute,
    TrackDirtyVram,
    WireStruct,
    dm_op_buffer,
)
from ioreqlab.dm.runtime import DeviceModelServer
from ioreqlab.errors import XenError
from ioreqlab.host import DESIGNS, Host
from ioreqlab.hv.dmop_ops import DM_OPS
from ioreqlab.scenario import ScenarioError, load_scenario
from ioreqlab.workload.guest import Guest, TraceRecord, replay

CALLERS = [0, 1, 2, 3, 777]  # dom0, the guest, a stub DM, another guest, nobody
DOMIDS = [0, 1, 2, 3, 777, 0x7FF0]

op_numbers = st.one_of(st.sampled_from([int(op) for op in DmOp]), st.integers(0, 2**32 - 1))


def make_host(design: str) -> Host:
    host = Host(design=design, xen_heap_bytes=1 << 20)
    stub = host.create_domain(memory_mib=16, hvm=False)  # domain 1 is a stub... not a target
    host.create_domain(memory_mib=64, dm_domid=stub)  # 2: served by the stub
    host.create_domain(memory_mib=64)  # 3
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(2)
    dm.map_io_range_to_ioreq_server(2, sid, False, 0x10, 0x20)
    return host


@given(
    design=st.sampled_from(DESIGNS),
    calls=st.lists(
        st.tuples(
            st.sampled_from(CALLERS),
            st.sampled_from(DOMIDS),
            op_numbers,
            st.binary(max_size=40),
            st.integers(0, 3),
        ),
        max_size=25,
    ),
)
def test_dm_op_returns_only_zero_or_minus_errno(
    design: str, calls: list[tuple[int, int, int, bytes, int]]
) -> None:
    host = make_host(design)
    for caller, domid, op, tail, nbufs in calls:
        buf = bytearray(struct.pack("<I", op) + tail)
        bufs = [buf] + [bytearray(8)] * (nbufs - 1) if nbufs else []
        rc = host.dm_op(caller, domid, bufs)
        assert isinstance(rc, int)
        assert rc <= 0
        host.check_invariants()


@given(
    calls=st.lists(
        st.tuples(st.sampled_from(CALLERS), st.integers(0, 40), st.binary(max_size=24)),
        max_size=25,
    )
)
def test_hvm_op_returns_only_zero_or_minus_errno(calls: list[tuple[int, int, bytes]]) -> None:
    host = make_host("p2m")
    for caller, op, raw in calls:
        rc = host.hvm_op(caller, op if op < 30 else HvmOp.GET_PARAM, bytearray(raw))
        assert isinstance(rc, int)
        assert rc <= 0


class Sink:
    def io(self, kind: str, offset: int, size: int, write: bool, data: int) -> int:
        return offset


@given(
    slots=st.lists(st.tuples(st.integers(0, 1), st.binary(min_size=32, max_size=32)), max_size=20),
    ring=st.binary(min_size=0, max_size=4096),
)
def test_emulator_survives_any_slot_and_ring_contents(
    slots: list[tuple[int, bytes]], ring: bytes
) -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, vcpus=2)
    srv = DeviceModelServer(devicemodel.open(host, 0), g, bufioreq=1)
    srv.start()
    srv.map("pio", 0, 0xFFFF, Sink())
    srv.map("mmio", 0, 2**40, Sink())
    assert srv.pages is not None
    for vcpu, raw in slots:
        srv.pages.shared[vcpu * IOREQ_SIZE : (vcpu + 1) * IOREQ_SIZE] = raw
        srv.on_notify(vcpu)
    srv.pages.buffered[: len(ring)] = ring
    srv.on_notify(-1)


_JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8)
)
_JSON = st.recursive(_JSON_LEAF, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
_GOOD_TRACE = {
    "dom": st.just("g"),
    "vcpu": st.integers(0, 1),
    "space": st.sampled_from(["pio", "mmio"]),
    "addr": st.integers(0, 0x20_0000),
    "size": st.sampled_from([1, 2, 4, 8]),
    "write": st.booleans(),
    "data": st.integers(0, 2**64 - 1),
    "count": st.integers(1, 4),
    "df": st.booleans(),
    "ptr": st.booleans(),
}


@st.composite
def trace_lines(draw: st.DrawFn) -> str:
    """A well-formed trace record with 0-3 fields replaced by any JSON, or dropped."""
    obj: dict[str, object] = {k: draw(v) for k, v in _GOOD_TRACE.items()}
    for key in draw(st.lists(st.sampled_from(sorted(obj)), max_size=3)):
        if draw(st.booleans()):
            obj[key] = draw(_JSON)
        else:
            obj.pop(key, None)
    return json.dumps(obj)


@given(st.one_of(st.text(max_size=200), trace_lines()))
def test_trace_lines_raise_only_value_error(line: str) -> None:
    # Issue 15 #8: the trace parser raised OverflowError, RecursionError and, in
    # replay, KeyError.  Any line is a record or a ValueError; a record replays
    # or is refused (ValueError for the line, XenError for the access).
    try:
        TraceRecord.from_json(line)
    except ValueError:
        event("trace: refused by the parser")
        return
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=16, vcpus=2)
    try:
        replay(host, {"g": Guest(host, g, "g")}, [line])
        event("trace: replayed")
    except ValueError:
        event("trace: refused by replay")
    except XenError:
        event("trace: refused by the host")


@given(st.text(max_size=300))
def test_scenario_loader_raises_only_its_own_error(text: str) -> None:
    try:
        load_scenario(text, "fuzz.toml")
    except ScenarioError as err:
        assert "\n" not in str(err)
        assert str(err)


keys = st.sampled_from(
    [
        "name",
        "seed",
        "rounds",
        "host",
        "domain",
        "designs",
        "xl_cfg",
        "count",
        "workload",
        "kind",
        "bogus",
    ]
)
values = st.one_of(
    st.integers(-5, 10**6),
    st.text(max_size=20),
    st.booleans(),
    st.lists(st.text(max_size=8), max_size=3),
)


@given(st.dictionaries(keys, values, max_size=6))
def test_scenario_loader_on_toml_shaped_input(doc: dict[str, object]) -> None:
    lines = []
    for k, v in doc.items():
        rendered = repr(v).replace("'", '"') if not isinstance(v, bool) else str(v).lower()
        lines.append(f"{k} = {rendered}")
    try:
        load_scenario("\n".join(lines), "shaped.toml")
    except ScenarioError as err:
        assert "\n" not in str(err)


# -- structure-aware: valid ops with mutated fields, live ids, real domains ---------


def valid_call(op: int, sid: int) -> Any:
    """A call of ``op`` a real device model would make on the fixture's guest."""
    calls: dict[int, WireStruct] = {
        DmOp.CREATE_IOREQ_SERVER: CreateIoreqServer(1),
        DmOp.GET_IOREQ_SERVER_INFO: GetIoreqServerInfo(sid),
        DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER: IoreqServerRange(sid, 0, 0, 0x3F8, 0x3FF),
        DmOp.UNMAP_IO_RANGE_FROM_IOREQ_SERVER: IoreqServerRange(sid, 0, 0, 0x10, 0x20),
        DmOp.SET_IOREQ_SERVER_STATE: SetIoreqServerState(sid, 1),
        DmOp.DESTROY_IOREQ_SERVER: DestroyIoreqServer(sid),
        DmOp.TRACK_DIRTY_VRAM: TrackDirtyVram(64, 0, 0x100),
        DmOp.SET_PCI_INTX_LEVEL: SetPciIntxLevel(0, 0, 3, 0, 1),
        DmOp.SET_ISA_IRQ_LEVEL: SetIsaIrqLevel(4, 1),
        DmOp.SET_PCI_LINK_ROUTE: SetPciLinkRoute(1, 11),
        DmOp.MODIFIED_MEMORY: ModifiedMemory(1),
        DmOp.SET_MEM_TYPE: SetMemType(4, 1, 0, 0x40),
        DmOp.INJECT_EVENT: InjectEvent(1, 14, 3, 0),
        DmOp.INJECT_MSI: InjectMsi(0x4031, 0, 0xFEE0_1000),
        DmOp.MAP_MEM_TYPE_TO_IOREQ_SERVER: MapMemTypeToIoreqServer(sid, 4, 2),
        DmOp.REMOTE_SHUTDOWN: RemoteShutdown(4),
        DmOp.RELOCATE_MEMORY: RelocateMemory(2, 0, 0x20, 0x3000),
        DmOp.PIN_MEMORY_CACHEATTR: PinMemoryCacheattr(0x100, 0x1FF, 6),
        DmOp.NR_VCPUS: NrVcpus(),
    }
    return calls[op]


def fuzz_host(xen: str) -> tuple[Host, int, int]:
    host = Host(design="p2m", xen=xen, xen_heap_bytes=1 << 20)
    stub = host.create_domain(memory_mib=16, hvm=False)
    g = host.create_domain(memory_mib=64, vcpus=2, dm_domid=stub)
    host.set_log_dirty(g, True)  # so modified_memory has work
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g, 1)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0x10, 0x20)
    return host, g, sid


def extent() -> bytearray:
    return bytearray(ModifiedMemoryExtent(4, 0, 0x10).pack())


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
@pytest.mark.parametrize("op", sorted(DM_OPS), ids=lambda o: DmOp(o).name.lower())
def test_each_valid_dmop_succeeds_where_the_profile_has_it(xen: str, op: int) -> None:
    host, g, sid = fuzz_host(xen)
    rc = host.dm_op(0, g, [dm_op_buffer(op, valid_call(op, sid)), extent()])
    if op > host.xen.dmop_max:
        assert rc == -errno.EOPNOTSUPP
    elif op == DmOp.MODIFIED_MEMORY and xen == "4.7":
        assert rc == -errno.EFAULT  # 4.9's inverted copy check (fixed in 4.10)
    else:
        assert rc == 0
    host.check_invariants()


#: Ops that end what later calls need (the guest, the server) come up less often.
_WEIGHT: dict[int, int] = {DmOp.REMOTE_SHUTDOWN: 1, DmOp.DESTROY_IOREQ_SERVER: 2}
_OP_POOL = [op for op in sorted(DM_OPS) for _ in range(_WEIGHT.get(op, 4))]

Mutation = tuple[str, int | bytes]


@st.composite
def structured_call(draw: st.DrawFn) -> tuple[int, int, list[Mutation]]:
    """A valid op with 0-2 fields mutated (pads included), from dom0 mostly.

    The buffer is built at call time (:func:`build_call`), with the fixture's
    live server id unless a mutation changes it.
    """
    op = draw(st.sampled_from(_OP_POOL))
    names = [f.name for f in fields(valid_call(op, 0))]
    muts: list[Mutation] = []
    for name in draw(st.lists(st.sampled_from(names), max_size=2)):
        if isinstance(getattr(valid_call(op, 0), name), bytes):
            muts.append((name, draw(st.binary(min_size=3, max_size=3))))
        else:
            muts.append((name, draw(st.integers(0, 0xFF))))  # fits every field
    caller = draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 3]))
    return op, caller, muts


def build_call(op: int, sid: int, muts: list[Mutation]) -> bytearray:
    arg = valid_call(op, sid)
    for name, value in muts:
        arg = replace(arg, **{name: value})
    return dm_op_buffer(op, arg)


def structured_dmop_outcomes(
    xen: str, max_examples: int | None = None
) -> tuple[Counter[str], Counter[str]]:
    """Run the structured DMOP fuzzer on profile ``xen``; calls and successes per op.

    Only the ops the profile has are drawn.  ``max_examples`` None takes the
    loaded Hypothesis profile's (CI or long).
    """
    calls: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    chosen = settings() if max_examples is None else settings(max_examples=max_examples)
    top = fuzz_host(xen)[0].xen.dmop_max

    @chosen
    @given(st.lists(structured_call().filter(lambda c: c[0] <= top), min_size=1, max_size=12))
    def run(seq: list[tuple[int, int, list[Mutation]]]) -> None:
        host, g, sid = fuzz_host(xen)
        for op, caller, muts in seq:
            rc = host.dm_op(caller, g, [build_call(op, sid, muts), extent()])
            assert rc <= 0
            name = DmOp(op).name
            calls[name] += 1
            ok[name] += rc == 0
            event(f"{name} {'ok' if rc == 0 else errno.errorcode.get(-rc, rc)}")
            host.check_invariants()

    run()
    return calls, ok


#: The share of each op's structured calls that must get through every check.
STRUCTURED_SUCCESS_SHARE = 0.1
#: Ops whose valid call cannot succeed under a profile, with the reason.  (A mutation
#: can still make one trivially valid: modified_memory with no extents copies nothing.)
NEVER_SUCCEEDS = {("4.7", "MODIFIED_MEMORY"): "4.9's inverted copy check: -EFAULT"}


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
def test_structured_dmops_reach_every_handler_and_mostly_succeed(xen: str) -> None:
    # A fuzzer whose calls all bounce off the first check tests nothing: every
    # op the profile has must be called, and a stated share of its calls succeed.
    calls, ok = structured_dmop_outcomes(xen)
    top = fuzz_host(xen)[0].xen.dmop_max
    for op in sorted(o for o in DM_OPS if o <= top):
        name = DmOp(op).name
        assert calls[name] >= 5, (name, dict(calls))
        if (xen, name) in NEVER_SUCCEEDS:
            assert ok[name] < STRUCTURED_SUCCESS_SHARE * calls[name], (name, ok[name])
            continue
        assert ok[name] >= STRUCTURED_SUCCESS_SHARE * calls[name], (name, ok[name], calls[name])


@st.composite
def structured_hvm_call(draw: st.DrawFn) -> tuple[int, int, bytearray]:
    """set_param / get_param / get_mem_type with real domains and mostly real indices."""
    op = draw(st.sampled_from([HvmOp.SET_PARAM, HvmOp.GET_PARAM, HvmOp.GET_MEM_TYPE]))
    domid = draw(st.sampled_from([2, 2, 2, 1, 0x7FF0, 9]))
    caller = draw(st.sampled_from([0, 0, 0, 1, 2]))
    if op == HvmOp.GET_MEM_TYPE:
        return op, caller, bytearray(HvmGetMemType(domid, 0, draw(st.integers(0, 0x10000))).pack())
    index = draw(
        st.one_of(st.sampled_from(sorted(HvmParam)), st.integers(0, 40), st.integers(0, 2**32 - 1))
    )
    value = draw(st.sampled_from([0, 1, 3, 4, 8, 256, 2**32, 2**64 - 1]))
    return op, caller, bytearray(HvmParamArg(domid, index, value).pack())


def structured_hvmop_outcomes(max_examples: int | None = None) -> tuple[Counter[str], Counter[str]]:
    """Run the structured HVMOP fuzzer; calls and successes per op."""
    calls: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    chosen = settings() if max_examples is None else settings(max_examples=max_examples)

    @chosen
    @given(
        st.lists(structured_hvm_call(), min_size=1, max_size=12), st.sampled_from(["4.7", "4.17"])
    )
    def run(seq: list[tuple[int, int, bytearray]], xen: str) -> None:
        host, g, _ = fuzz_host(xen)
        assert g == 2
        for op, caller, buf in seq:
            rc = host.hvm_op(caller, op, buf)
            assert rc <= 0
            name = HvmOp(op).name
            calls[name] += 1
            ok[name] += rc == 0
            event(f"{name} {'ok' if rc == 0 else errno.errorcode.get(-rc, rc)}")
            host.check_invariants()

    run()
    return calls, ok


def test_structured_hvmops_reach_every_op_and_mostly_succeed() -> None:
    calls, ok = structured_hvmop_outcomes()
    for name in ("SET_PARAM", "GET_PARAM", "GET_MEM_TYPE"):
        assert calls[name] >= 5, (name, dict(calls))
        assert ok[name] >= STRUCTURED_SUCCESS_SHARE * calls[name], (name, ok[name], calls[name])
