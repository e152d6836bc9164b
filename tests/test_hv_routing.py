"""Request routing against a small, separate reference function (xen-facts §2.5)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from ioreqlab import devicemodel
from ioreqlab.abi import HvmParam, IoReqState, IoReqType, pci_sbdf, set_slot_state
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from tests.hv_helpers import EchoEmulator


@dataclass
class RefServer:
    """What the reference needs to know about one non-default server."""

    sid: int
    enabled: bool
    ports: list[tuple[int, int]]
    mmio: list[tuple[int, int]]
    pci: set[int]


def reference_route(
    servers: list[RefServer],
    has_default: bool,
    cf8: int,
    space: str,
    addr: int,
    size: int,
    count: int,
    df: bool,
) -> tuple[str, int | None]:
    """Independent statement of §2.5: ``(route, sid)``; sid None for default/null."""
    fallback = ("default", None) if has_default else ("null", None)
    if not servers and not has_default:
        return "null", None
    if space == "pio" and 0xCFC <= addr <= 0xCFF and cf8 >> 31:
        sbdf = (cf8 >> 8) & 0xFFFF
        for s in servers:
            if s.enabled and sbdf in s.pci:
                return "server", s.sid
        return fallback
    if space == "pio":
        lo, hi = addr, addr + size - 1
        table = "ports"
    else:
        lo, hi = (
            (addr - (count - 1) * size, addr + size - 1) if df else (addr, addr + size * count - 1)
        )
        table = "mmio"
    for s in servers:
        if s.enabled and _covers(getattr(s, table), lo, hi):
            return "server", s.sid
    return fallback


def _covers(ranges: list[tuple[int, int]], lo: int, hi: int) -> bool:
    """Whether ``[lo, hi]`` lies inside the union of ``ranges``.

    A rangeset merges ranges that touch (``[a, b]`` and ``[b + 1, c]`` are one
    range), so an access across that seam is still inside one stored range.
    """
    merged: list[list[int]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return any(a <= lo and hi <= b for a, b in merged)


def test_the_reference_treats_touching_ranges_as_one() -> None:
    assert _covers([(0, 3), (4, 7)], 2, 5)
    assert not _covers([(0, 3), (5, 7)], 2, 5)
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0x3F0, 0x3F3)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0x3F4, 0x3F7)
    EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    assert host.guest_access(g, 0, "pio", 0x3F2, 4, write=False).route == "server"


MMIO_BASE = 0xF000_0000  # above the guest's RAM: every MMIO access here is emulated

server_spec = st.fixed_dictionaries(
    {
        "enabled": st.sampled_from([True, True, True, False]),
        "ports": st.lists(st.tuples(st.integers(0, 0x20), st.integers(0, 8)), max_size=4),
        "mmio": st.lists(st.tuples(st.integers(0, 0x100), st.integers(0, 0x40)), max_size=4),
        "pci": st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4)), max_size=3),
    }
)
access_spec = st.tuples(
    st.sampled_from(["pio", "mmio", "cfc"]),
    st.integers(0, 0x120),
    st.sampled_from([1, 2, 4]),
    st.integers(1, 4),
    st.booleans(),
    st.integers(0, 2),
    st.integers(0, 4),
)


@given(
    specs=st.lists(server_spec, min_size=1, max_size=4),
    has_default=st.booleans(),
    accesses=st.lists(access_spec, min_size=1, max_size=12),
)
def test_routing_matches_reference(
    specs: list[dict[str, object]],
    has_default: bool,
    accesses: list[tuple[str, int, int, int, bool, int, int]],
) -> None:
    host = Host(xen_heap_bytes=4 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    if has_default:
        dm.get_param(g, HvmParam.IOREQ_PFN)
        EchoDefault(host, g)
    refs: list[RefServer] = []
    for spec in specs:
        sid = dm.create_ioreq_server(g)
        ref = RefServer(sid, bool(spec["enabled"]), [], [], set())
        for base, length in spec["ports"]:  # type: ignore[attr-defined]
            try:
                dm.map_io_range_to_ioreq_server(g, sid, False, 0x3F0 + base, 0x3F0 + base + length)
                ref.ports.append((0x3F0 + base, 0x3F0 + base + length))
            except XenError:
                pass  # overlapping within one server: EEXIST, nothing mapped
        for base, length in spec["mmio"]:  # type: ignore[attr-defined]
            try:
                dm.map_io_range_to_ioreq_server(
                    g, sid, True, MMIO_BASE + base, MMIO_BASE + base + length
                )
                ref.mmio.append((MMIO_BASE + base, MMIO_BASE + base + length))
            except XenError:
                pass
        for bus, dev in spec["pci"]:  # type: ignore[attr-defined]
            try:
                dm.map_pcidev_to_ioreq_server(g, sid, 0, bus, dev, 0)
                ref.pci.add(pci_sbdf(0, bus, dev, 0))
            except XenError:
                pass
        dm.set_ioreq_server_state(g, sid, ref.enabled)
        EchoEmulator(host, 0, g, sid)
        refs.insert(0, ref)  # newest first
    for space, off, size, count, df, bus, dev in accesses:
        if space == "cfc":
            cf8 = 0x8000_0000 | (bus << 16) | (dev << 11)
            host.guest_access(g, 0, "pio", 0xCF8, 4, write=True, data=cf8)
            addr, count, df = 0xCFC + (off & 3), 1, False
            space = "pio"
        elif space == "pio":
            addr, count, df = 0x3F0 + (off & 0x2F), 1, False
        else:
            addr = MMIO_BASE + off
        # 4.7 routes a rep MMIO access by its upward span whatever the direction
        # flag (pinned in test_rep_access_must_be_covered_entirely).
        want = reference_route(
            refs, has_default, host.domains[g].pci_cf8, space, addr, size, count, df and False
        )
        got = host.guest_access(g, 0, space, addr, size, write=False, count=count, df=df)
        event(f"route {got.route}")
        assert (got.route, got.server_id if got.route == "server" else None) == want
        assert got.status == "done"
        if got.route == "null":
            assert got.data == (1 << (8 * size)) - 1


class EchoDefault:
    """Completes default-server requests (the legacy binding)."""

    def __init__(self, host: Host, domid: int) -> None:
        self.host = host
        self.domid = domid
        self.server = host.bind_default_notifier(0, domid, self.on_notify)

    def on_notify(self, vcpu: int) -> None:
        if vcpu < 0:
            return
        page = self.server.shared_page
        set_slot_state(page, vcpu, IoReqState.IORESP_READY)  # with data as sent
        self.host.ioreq_completed(0, self.domid, self.server.id, vcpu)


def test_cf8_cache_updates_only_on_4_byte_writes() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    host.guest_access(g, 0, "pio", 0xCF8, 4, write=True, data=0x8000_1000)
    assert host.domains[g].pci_cf8 == 0x8000_1000
    host.guest_access(g, 0, "pio", 0xCF8, 2, write=True, data=0x1234)
    host.guest_access(g, 0, "pio", 0xCF8, 4, write=False)
    host.guest_access(g, 0, "pio", 0xCF9, 1, write=True, data=0xFF)
    assert host.domains[g].pci_cf8 == 0x8000_1000


def test_pci_config_request_is_rewritten_and_skips_port_ranges() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    ports = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, ports, False, 0xCF8, 0xCFF)
    dm.set_ioreq_server_state(g, ports, True)
    pci = dm.create_ioreq_server(g)
    dm.map_pcidev_to_ioreq_server(g, pci, 0, 0, 2, 0)
    dm.set_ioreq_server_state(g, pci, True)
    echo = EchoEmulator(host, 0, g, pci)
    EchoEmulator(host, 0, g, ports)
    cf8 = 0x8000_0000 | (2 << 11) | 0x10  # bus 0, device 2, function 0, register 0x10
    assert host.guest_access(g, 0, "pio", 0xCF8, 4, write=True, data=cf8).server_id == ports
    got = host.guest_access(g, 0, "pio", 0xCFE, 2, write=False)
    assert got.server_id == pci
    sent = echo.seen[-1]
    assert sent.type == IoReqType.PCI_CONFIG
    assert sent.addr == (pci_sbdf(0, 0, 2, 0) << 32) | 0x10 | 2
    # CF8 disabled: the same data port goes by port ranges.
    host.guest_access(g, 0, "pio", 0xCF8, 4, write=True, data=cf8 & 0x7FFF_FFFF)
    assert host.guest_access(g, 0, "pio", 0xCFC, 4, write=False).server_id == ports
    # Enabled but no server has that device: default (none here), so null.
    host.guest_access(g, 0, "pio", 0xCF8, 4, write=True, data=0x8000_0000 | (5 << 11))
    assert host.guest_access(g, 0, "pio", 0xCFC, 4, write=False).route == "null"


@pytest.mark.parametrize(("xen", "df_route"), [("4.7", "null"), ("4.17", "server")])
def test_rep_access_must_be_covered_entirely(xen: str, df_route: str) -> None:
    # 4.7 hvm_select_ioreq_server: end = addr + size * count - 1 whatever the
    # direction flag; 4.12+ ioreq_mmio_first_byte/last_byte honour it (60a56dc006).
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, True, MMIO_BASE, MMIO_BASE + 0xFFF)
    EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    assert host.guest_access(g, 0, "mmio", MMIO_BASE, 4, write=False, count=1024).route == "server"
    assert host.guest_access(g, 0, "mmio", MMIO_BASE, 4, write=False, count=1025).route == "null"
    top = MMIO_BASE + 0xFFC
    assert (
        host.guest_access(g, 0, "mmio", top, 4, write=False, count=1024, df=True).route == df_route
    )
    assert host.guest_access(g, 0, "mmio", top, 4, write=False, count=1024).route == "null"


def test_disabled_servers_are_skipped_and_destroyed_ones_get_nothing() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0x60, 0x64)
    echo = EchoEmulator(host, 0, g, sid)
    assert host.guest_access(g, 0, "pio", 0x60, 1, write=True, data=1).route == "null"
    dm.set_ioreq_server_state(g, sid, True)
    assert host.guest_access(g, 0, "pio", 0x60, 1, write=True, data=1).route == "server"
    dm.destroy_ioreq_server(g, sid)
    assert host.guest_access(g, 0, "pio", 0x60, 1, write=True, data=1).route == "null"
    assert len(echo.seen) == 1


def test_ram_accesses_never_reach_a_server() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    assert (
        host.guest_access(g, 0, "mmio", 0x1000, 8, write=True, data=0x1122334455667788).route
        == "ram"
    )
    got = host.guest_access(g, 0, "mmio", 0x1004, 4, write=False)
    assert (got.route, got.data) == ("ram", 0x11223344)


@pytest.mark.parametrize(("space", "size"), [("pio", 8), ("pio", 3), ("mmio", 16), ("disk", 1)])
def test_bad_access_shapes_are_einval(space: str, size: int) -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    with pytest.raises(XenError):
        host.guest_access(g, 0, space, 0x80, size, write=False)
    with pytest.raises(XenError):
        host.guest_access(g, 5, "pio", 0x80, 1, write=False)
