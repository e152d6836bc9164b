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

import struct

from hypothesis import given
from hypothesis import strategies as st

from ioreqlab import devicemodel
from ioreqlab.abi import DmOp, HvmOp
from ioreqlab.dm.runtime import DeviceModelServer
from ioreqlab.host import DESIGNS, Host
from ioreqlab.scenario import ScenarioError, load_scenario

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
        srv.pages.shared[vcpu * 32 : vcpu * 32 + 32] = raw
        srv.on_notify(vcpu)
    srv.pages.buffered[: len(ring)] = ring
    srv.on_notify(-1)


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
