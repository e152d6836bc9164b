"""One scripted device-model session on all three designs, and entry_count as a property."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioreqlab import devicemodel
from ioreqlab.abi import HvmMem, P2mType
from ioreqlab.errors import XenError
from ioreqlab.host import DESIGNS, Host
from ioreqlab.wpclient import WriteProtector
from tests.hv_helpers import EchoEmulator

PAGES = [0x100, 0x101, 0x102, 0x200, 0x300]


def session(design: str, *, limit: int = 0, xen: str = "4.7") -> dict[str, object]:
    """A mediator protects pages, the guest writes and reads, the mediator lets go."""
    host = Host(design=design, xen=xen, xen_heap_bytes=16 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    if limit:
        dm.set_param(g, host.xen.params.max_wp_ram_ranges, limit)
    sid = dm.create_ioreq_server(g)
    echo = EchoEmulator(host, 0, g, sid)  # map, then enable: vp_eport is written on enable
    dm.set_ioreq_server_state(g, sid, True)
    wp = WriteProtector(dm, g, sid)
    wp.start()
    out: dict[str, object] = {}
    try:
        wp.protect(PAGES)
        out["protect"] = "ok"
    except XenError as err:
        out["protect"] = err.errno
    out["types"] = [dm.get_mem_type(g, p) for p in PAGES]
    routes = [host.guest_access(g, 0, "mmio", p << 12, 8, write=True, data=p).route for p in PAGES]
    out["write_routes"] = routes
    out["seen"] = [r.addr >> 12 for r in echo.seen]
    out["read_route"] = host.guest_access(g, 0, "mmio", PAGES[0] << 12, 8, write=False).route
    out["ram_write"] = host.guest_access(g, 0, "mmio", 0x400 << 12, 8, write=True, data=1).route
    if out["protect"] == "ok":
        wp.unprotect(PAGES[:2])
    wp.stop()
    d = host.domains[g]
    out["left_tracked"] = sum(1 for p in PAGES if d.p2m.get(p) == P2mType.IOREQ_SERVER)
    out["tracking_bytes"] = host.wp.tracking_bytes(d)
    return out


def test_designs_agree_on_what_the_guest_sees(xen: str) -> None:
    results = {design: session(design, xen=xen) for design in DESIGNS}
    for design, r in results.items():
        assert r["protect"] == "ok", design
        assert r["write_routes"] == ["server"] * len(PAGES), design
        assert r["seen"] == PAGES, design
        assert r["read_route"] == "ram", design
        assert r["ram_write"] == "ram", design
    # Documented differences: what the type reads back as, and what a
    # disclaim does to pages still protected (rangeset has no claim to drop).
    assert results["rangeset"]["types"] == [HvmMem.MMIO_WRITE_DM] * len(PAGES)
    assert results["p2m"]["types"] == [HvmMem.IOREQ_SERVER] * len(PAGES)
    assert results["p2t"]["types"] == [HvmMem.IOREQ_SERVER] * len(PAGES)
    assert results["rangeset"]["left_tracked"] == 3
    assert results["p2m"]["left_tracked"] == 0
    assert results["p2t"]["left_tracked"] == 0


def test_rangeset_design_hits_its_limit_where_the_others_do_not(xen: str) -> None:
    # PAGES form 3 runs: a limit of 2 refuses the third; protect() undoes its own work.
    limited = session("rangeset", limit=2, xen=xen)
    assert limited["protect"] == errno.ENOMEM
    assert limited["types"] == [HvmMem.RAM_RW] * len(PAGES)
    assert limited["write_routes"] == ["ram"] * len(PAGES)
    for design in ("p2m", "p2t"):
        assert session(design, limit=2)["protect"] == "ok"


OPS = st.lists(
    st.tuples(
        st.sampled_from(["protect", "unprotect", "claim", "disclaim", "destroy"]),
        st.integers(0, 40),
        st.integers(1, 6),
    ),
    max_size=25,
)


@pytest.mark.parametrize("design", ["p2m", "p2t"])
@settings(max_examples=60)
@given(ops=OPS)
def test_entry_count_equals_ioreq_typed_pages_after_every_step(
    design: str, ops: list[tuple[str, int, int]]
) -> None:
    host = Host(design=design, xen_heap_bytes=16 << 20)
    g = host.create_domain(memory_mib=16)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    d = host.domains[g]
    for op, first, n in ops:
        try:
            if op == "protect":
                dm.set_mem_type(g, HvmMem.IOREQ_SERVER, first, n)
            elif op == "unprotect":
                dm.set_mem_type(g, HvmMem.RAM_RW, first, n)
            elif op == "claim":
                dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 2)
            elif op == "disclaim":
                dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 0)
            else:
                dm.destroy_ioreq_server(g, sid)
                sid = dm.create_ioreq_server(g)
        except XenError:
            pass
        typed = sum(1 for gfn in range(64) if d.p2m.get(gfn) == P2mType.IOREQ_SERVER)
        assert d.p2m.entry_count == typed
        assert len(d.ioreq_owners) <= 1
        d.p2m.check_invariants()
        if d.p2t is not None:
            d.p2t.check_invariants()
            assert d.p2t.count == typed
