"""The version table, tested as a table: every row observed under every profile.

Each row of :data:`ioreqlab.profiles.BEHAVIOURS` has a check here that builds
a host of the profile, does what tells the behaviour apart, and returns what
it saw; the test compares that with the row's value for the profile.  A row
without a check fails :func:`test_every_row_has_a_check`, so a new row cannot
go untested, and the parametrisation runs each check under both profiles.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import Any

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import (
    CreateIoreqServer,
    DestroyIoreqServer,
    DmOp,
    GetIoreqServerInfo,
    HvmMem,
    HvmOp,
    HvmParam,
    HvmParamArg,
    dm_op_buffer,
)
from ioreqlab.alloc import tlsf_cost
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.hv.ioreq import IOREQ_VCPU_BYTES, RANGESET_STRUCT_BYTES
from ioreqlab.profiles import (
    BEHAVIOURS,
    PARAMS_47,
    PARAMS_417,
    PROFILES,
    XEN_VERSIONS,
    ParamTable,
    profile,
)
from ioreqlab.toolstack import build_config, domain_create, parse_xl_cfg
from tests.hv_helpers import EchoEmulator

MMIO = 0xF000_0000


def _host(xen: str) -> tuple[Host, int]:
    host = Host(xen=xen, xen_heap_bytes=4 << 20)
    return host, host.create_domain(memory_mib=64, ioreq_server_pages=16)


def check_max_servers(xen: str) -> Any:
    host, g = _host(xen)
    dm = devicemodel.open(host, 0)
    made = 0
    while True:
        try:
            dm.create_ioreq_server(g)
        except XenError as err:
            # ENOSPC: a fixed array is full; ENOMEM: the 16-frame pool ran out.
            return made if err.errno == errno.ENOSPC else None
        made += 1


def check_first_server_id(xen: str) -> Any:
    host, g = _host(xen)
    return devicemodel.open(host, 0).create_ioreq_server(g)


def check_default_server(xen: str) -> Any:
    host, g = _host(xen)
    devicemodel.open(host, 0).get_param(g, HvmParam.IOREQ_PFN)
    return host.statistics().domains[1].servers == 1


def check_pages_at_create(xen: str) -> Any:
    host, g = _host(xen)
    before = host.domains[g].gmfn_pool.free_frames()
    devicemodel.open(host, 0).create_ioreq_server(g, 1)
    return host.domains[g].gmfn_pool.free_frames() < before


def check_legacy_gfns(xen: str) -> Any:
    host = Host(xen=xen, xen_heap_bytes=4 << 20)
    g = host.create_domain(memory_mib=64, ioreq_server_pages=1)
    dm = devicemodel.open(host, 0)
    pfns = set()
    for _ in range(4):  # past the pool, 4.17 fails once, then hands out IOREQ_PFN's frame
        try:
            pfns.add(dm.get_ioreq_server_info(g, dm.create_ioreq_server(g))[0])
        except XenError:
            continue
    return host.domains[g].params[HvmParam.IOREQ_PFN] in pfns


def check_get_info_flags(xen: str) -> Any:
    host, g = _host(xen)
    sid = devicemodel.open(host, 0).create_ioreq_server(g, 1)
    buf = dm_op_buffer(DmOp.GET_IOREQ_SERVER_INFO, GetIoreqServerInfo(sid, flags=1))
    rc = host.dm_op(0, g, [buf])
    assert rc in (0, -errno.EINVAL)
    return rc == 0


def check_acquire_resource(xen: str) -> Any:
    host, g = _host(xen)
    sid = devicemodel.open(host, 0).create_ioreq_server(g, 1)
    try:
        pages = host.acquire_ioreq_server_frames(0, g, sid, 0, 2)
    except XenError as err:
        assert err.errno == errno.ENOSYS
        return False
    s = host.domains[g].find_server(sid)
    assert s is not None
    assert pages[0] is s.buffered_page  # frame 0 the ring, frame 1 the slots
    assert pages[1] is s.shared_page
    return True


def check_broadcast_disabled(xen: str) -> Any:
    host, g = _host(xen)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g, 1)
    pages = dm.map_ioreq_server(g, sid, lambda _: None)  # never enabled
    host.broadcast_timeoffset(g, 5)
    return struct.unpack_from("<I", pages.buffered, 4)[0] != 0


def check_mmio_df(xen: str) -> Any:
    host, g = _host(xen)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, True, MMIO, MMIO + 0xFF)
    EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    got = host.guest_access(g, 0, "mmio", MMIO + 0xFC, 4, write=False, count=64, df=True)
    return got.route == "server"


def check_dmop_non_hvm_rc(xen: str) -> Any:
    host, _ = _host(xen)
    pv = host.create_domain(memory_mib=16, hvm=False)
    return host.dm_op(0, pv, [dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(0))])


def check_dmop_per_op_size(xen: str) -> Any:
    host, g = _host(xen)
    buf = bytearray(dm_op_buffer(DmOp.DESTROY_IOREQ_SERVER, DestroyIoreqServer(5))[:12])
    rc = host.dm_op(0, g, [buf])
    assert rc in (-errno.EFAULT, -errno.ENOENT)
    return rc == -errno.ENOENT  # the 12 bytes were enough to reach the lookup


def _set_rc(xen: str, caller: str, index: int, *values: int) -> int:
    """Set ``index`` to each value in turn on a fresh guest; the last errno (0: all set)."""
    host = Host(xen=xen, xen_heap_bytes=4 << 20)
    stub = host.create_domain(memory_mib=16, hvm=False)
    g = host.create_domain(memory_mib=64, dm_domid=stub)
    who = {"dom0": 0, "guest": g, "stub": stub}[caller]
    rc = 0
    for v in values:
        rc = -host.hvm_op(who, HvmOp.SET_PARAM, HvmParamArg(g, index, v).pack())
    return rc


def _get_rc(xen: str, caller: str, index: int) -> int:
    host = Host(xen=xen, xen_heap_bytes=4 << 20)
    g = host.create_domain(memory_mib=64)
    buf = bytearray(HvmParamArg(g, index).pack())
    return -host.hvm_op(0 if caller == "dom0" else g, HvmOp.GET_PARAM, buf)


def check_params(xen: str) -> Any:
    """Rebuild the param table from behaviour alone, index by index."""
    probe = range(48)
    readable = [i for i in probe if _get_rc(xen, "dom0", i) == 0]
    nr_params = max(readable) + 1
    assert _get_rc(xen, "dom0", nr_params) == errno.EINVAL
    cap = 8192
    wp = [
        i for i in probe if _set_rc(xen, "dom0", i, cap) == 0 and _set_rc(xen, "dom0", i, cap + 1)
    ]
    tss = Host(xen=xen)
    g = tss.create_domain(memory_mib=16)
    tss.set_param(0, g, HvmParam.VM86_TSS, 0x1000)
    sized = tss.get_param(0, g, 37) == 128 << 32 | 0x1000 if nr_params > 37 else False
    deprecated = frozenset(i for i in range(nr_params) if _get_rc(xen, "dom0", i) == errno.EINVAL)
    return ParamTable(
        nr_params=nr_params,
        max_wp_ram_ranges=wp[0],
        guest_settable=frozenset(
            i
            for i in range(nr_params)
            if i not in deprecated and _set_rc(xen, "guest", i, 0) != errno.EPERM
        ),
        guest_gettable=frozenset(i for i in readable if _get_rc(xen, "guest", i) == 0),
        deprecated=deprecated,
        set_once=frozenset(
            i for i in range(nr_params) if _set_rc(xen, "dom0", i, 1, 3) == errno.EEXIST
        ),
        memory_event=frozenset(
            i for i in range(nr_params) if _set_rc(xen, "dom0", i, 0) == errno.EOPNOTSUPP
        ),
        altp2m_max=max(v for v in range(6) if _set_rc(xen, "dom0", HvmParam.ALTP2M, v) == 0),
        tss_sized=sized,
    )


def check_nested_altp2m_privileged(xen: str) -> Any:
    # The stub is the guest's device-model domain: XSM_TARGET lets it set
    # params; XSM_PRIV does not.
    return frozenset(
        i
        for i in (HvmParam.NESTEDHVM, HvmParam.ALTP2M, HvmParam.TIMER_MODE)
        if _set_rc(xen, "stub", i, 0) == errno.EPERM and _set_rc(xen, "dom0", i, 0) == 0
    )


def check_libxl_hvm_params(xen: str) -> Any:
    host = Host(xen=xen, xen_heap_bytes=4 << 20)
    seen: list[int] = []
    real = host.set_param

    def record(caller: int, domid: int, index: int, value: int) -> None:
        seen.append(index)
        real(caller, domid, index, value)

    host.set_param = record  # type: ignore[method-assign]  # a recording shim
    domain_create(host, build_config(parse_xl_cfg("name='g'\ntype='hvm'\nmemory=256\n")))
    return tuple(seen)


def check_dmop_max(xen: str) -> Any:
    host, g = _host(xen)
    served = [op for op in range(1, 21) if host.dm_op(0, g, [_op(op)]) != -errno.EOPNOTSUPP]
    return max(served)


def _op(op: int) -> bytearray:
    buf = bytearray(32)
    buf[0] = op
    return buf


def check_rep_movs_to_ioreq(xen: str) -> Any:
    host, g = _host(xen)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    echo = EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 2)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x30, 1)
    host.domains[g].write_ram(0x1000, 8, 0x0807060504030201)
    got = host.guest_access(
        g, 0, "mmio", 0x30000, 2, write=True, data=0x1000, count=4, data_is_ptr=True
    )
    assert got.status == "done"
    if not echo.seen:
        assert host.domains[g].read_ram(0x30000, 8) == 0x0807060504030201  # bypassed
        return "copy"
    assert [(r.addr, r.data, r.count, r.data_is_ptr) for r in echo.seen] == [
        (0x30000 + 2 * i, 0x0201 + 0x0202 * i, 1, 0) for i in range(4)
    ]
    assert host.domains[g].read_ram(0x30000, 8) == 0  # the owner decides what RAM gets
    return "elements"


def check_ioreq_server_bytes(xen: str) -> Any:
    """What creating a server of each kind charges, read back as struct sizes."""
    sizes = {}
    for design, ranges in (("p2m", 3), ("rangeset", 4)):
        host = Host(design=design, xen=xen, xen_heap_bytes=1 << 20)
        g = host.create_domain(memory_mib=64)
        devicemodel.open(host, 0).create_ioreq_server(g)
        charged = host.domain_heap(g).in_use
        rest = ranges * tlsf_cost(RANGESET_STRUCT_BYTES) + tlsf_cost(IOREQ_VCPU_BYTES)
        sizes[ranges] = charged - rest  # the server struct's TLSF block
    # TLSF rounds 152 and 160 to the same block, so the charge tells the row's sizes
    # apart only up to rounding: the row holds if every charge is its size's block.
    expected = PROFILES[xen].ioreq_server_bytes
    return expected if sizes == {n: tlsf_cost(b) for n, b in expected.items()} else sizes


CHECKS: dict[str, Callable[[str], Any]] = {
    "max_servers": check_max_servers,
    "first_server_id": check_first_server_id,
    "default_server": check_default_server,
    "pages_at_create": check_pages_at_create,
    "legacy_gfns": check_legacy_gfns,
    "get_info_flags": check_get_info_flags,
    "acquire_resource": check_acquire_resource,
    "broadcast_disabled": check_broadcast_disabled,
    "mmio_df": check_mmio_df,
    "dmop_non_hvm_rc": check_dmop_non_hvm_rc,
    "dmop_per_op_size": check_dmop_per_op_size,
    "dmop_max": check_dmop_max,
    "rep_movs_to_ioreq": check_rep_movs_to_ioreq,
    "ioreq_server_bytes": check_ioreq_server_bytes,
    "params": check_params,
    "nested_altp2m_privileged": check_nested_altp2m_privileged,
    "libxl_hvm_params": check_libxl_hvm_params,
}


def test_every_row_has_a_check() -> None:
    assert set(CHECKS) == {b.name for b in BEHAVIOURS}


def test_every_row_cites_a_file_and_a_release() -> None:
    for b in BEHAVIOURS:
        assert "xen/" in b.source or "tools/" in b.source, b.name
        assert "(4." in b.source or "RELEASE-4" in b.source, b.name
        assert set(b.values) == set(XEN_VERSIONS), b.name


def test_the_profiles_differ_in_every_row() -> None:
    for b in BEHAVIOURS:
        assert b.values["4.7"] != b.values["4.17"], b.name


@pytest.mark.parametrize("row", BEHAVIOURS, ids=lambda b: b.name)
def test_row_holds_under_the_profile(row: Any, xen: str) -> None:
    assert CHECKS[row.name](xen) == row.values[xen]
    assert getattr(PROFILES[xen], row.name) == row.values[xen]


def test_an_unknown_release_is_refused() -> None:
    for bad in ("4.9", "", "4.17.0"):
        with pytest.raises(XenError) as info:
            profile(bad)
        assert info.value.errno == errno.EINVAL
    with pytest.raises(XenError):
        Host(xen="5.0")


# -- the param tables, entry by entry against Xen's own lists -------------------------

#: xen/arch/x86/hvm/hvm.c (RELEASE-4.7.0): hvm_allow_set_param's guest list, its
#: set-once list, hvm_allow_get_param's guest list.  X87_FIP_WIDTH (36) is left
#: out: the seed patch's max_wp_ram_ranges took that number (SPEC.md).
XEN_47_GUEST_SET = {
    "CALLBACK_IRQ",
    "VM86_TSS",
    "ACPI_IOPORTS_LOCATION",
    "VM_GENERATION_ID_ADDR",
    "STORE_EVTCHN",
    "CONSOLE_EVTCHN",
}
XEN_47_SET_ONCE = {"VIRIDIAN", "IOREQ_SERVER_PFN", "NR_IOREQ_SERVER_PAGES", "ALTP2M"}
XEN_47_GUEST_GET = {
    "CALLBACK_IRQ",
    "VM86_TSS",
    "ACPI_IOPORTS_LOCATION",
    "VM_GENERATION_ID_ADDR",
    "STORE_PFN",
    "STORE_EVTCHN",
    "CONSOLE_PFN",
    "CONSOLE_EVTCHN",
    "ALTP2M",
}
#: hvm.c (RELEASE-4.7.0) do_hvm_op: MEMORY_EVENT_* are -EOPNOTSUPP.
XEN_47_MEMORY_EVENT = {
    "MEMORY_EVENT_CR0",
    "MEMORY_EVENT_CR3",
    "MEMORY_EVENT_CR4",
    "MEMORY_EVENT_INT3",
    "MEMORY_EVENT_SINGLE_STEP",
    "MEMORY_EVENT_MSR",
}
#: hvm.c (RELEASE-4.17.0): the same lists, plus "The following parameters are
#: deprecated" (-EINVAL for everyone).  Numbers past 35: X87_FIP_WIDTH 36,
#: VM86_TSS_SIZED 37, MCA_CAP 38 (public/hvm/params.h).
XEN_417_GUEST_SET = {
    "CALLBACK_IRQ",
    "VM86_TSS",
    37,
    "ACPI_IOPORTS_LOCATION",
    "VM_GENERATION_ID_ADDR",
    "STORE_EVTCHN",
    "CONSOLE_EVTCHN",
    36,
}
XEN_417_SET_ONCE = {
    "VIRIDIAN",
    "IOREQ_PFN",
    "BUFIOREQ_PFN",
    "IOREQ_SERVER_PFN",
    "NR_IOREQ_SERVER_PAGES",
    "ALTP2M",
    38,
}
XEN_417_GUEST_GET = {
    "CALLBACK_IRQ",
    "VM86_TSS",
    37,
    "ACPI_IOPORTS_LOCATION",
    "VM_GENERATION_ID_ADDR",
    "STORE_PFN",
    "STORE_EVTCHN",
    "CONSOLE_PFN",
    "CONSOLE_EVTCHN",
    "ALTP2M",
    36,
}
XEN_417_DEPRECATED = {
    "PAE_ENABLED",
    "DM_DOMAIN",
    "MEMORY_EVENT_CR0",
    "MEMORY_EVENT_CR3",
    "MEMORY_EVENT_CR4",
    "MEMORY_EVENT_INT3",
    "NESTEDHVM",
    "MEMORY_EVENT_SINGLE_STEP",
    "BUFIOREQ_EVTCHN",
    "MEMORY_EVENT_MSR",
}


def _numbers(names: set[str | int]) -> frozenset[int]:
    return frozenset(n if isinstance(n, int) else int(HvmParam[n]) for n in names)


@pytest.mark.parametrize(
    ("table", "lists"),
    [
        (
            PARAMS_47,
            (XEN_47_GUEST_SET, XEN_47_GUEST_GET, set(), XEN_47_SET_ONCE, XEN_47_MEMORY_EVENT),
        ),
        (
            PARAMS_417,
            (XEN_417_GUEST_SET, XEN_417_GUEST_GET, XEN_417_DEPRECATED, XEN_417_SET_ONCE, set()),
        ),
    ],
    ids=["4.7", "4.17"],
)
def test_param_lists_are_xens(table: ParamTable, lists: tuple[set[Any], ...]) -> None:
    guest_set, guest_get, deprecated, set_once, memory_event = lists
    assert table.guest_settable == _numbers(guest_set)
    assert table.guest_gettable == _numbers(guest_get)
    assert table.deprecated == _numbers(deprecated)
    assert table.set_once == _numbers(set_once)
    assert table.memory_event == _numbers(memory_event)


# -- struct sizes, computed from Xen's definitions ---------------------------------------


def c_sizeof(fields: list[tuple[int, int]]) -> int:
    """sizeof a C struct of (size, alignment) members on x86_64 (GCC's layout)."""
    off = 0
    align = 1
    for size, al in fields:
        off = -(-off // al) * al + size
        align = max(align, al)
    return -(-off // align) * align


# Members as x86_64 non-debug builds lay them out: a list_head is 16 (align 8), a
# pointer 8, spinlock_t 8 (align 4: 4-byte tickets, then u16 recurse bits, empty
# lock_debug), a page descriptor 24 (gfn, page, va), evtchn_port_t 4, bool 1.
_LIST, _PTR, _LOCK, _PAGE = (16, 8), (8, 8), (8, 4), (24, 8)


def _xen_47_server(ranges: int) -> int:
    # struct hvm_ioreq_server, xen/include/asm-x86/hvm/domain.h (RELEASE-4.7.0).
    return c_sizeof(
        [_LIST, _PTR, _LOCK, (2, 2), (2, 2), _PAGE, _LIST, _PAGE, _LOCK, (4, 4)]
        + [_PTR] * ranges
        + [(1, 1), (1, 1)]
    )


def _xen_417_server(ranges: int) -> int:
    # struct ioreq_server, xen/include/xen/ioreq.h (RELEASE-4.17.0).
    return c_sizeof(
        [_PTR, _PTR, _LOCK, _PAGE, _LIST, _PAGE, _LOCK, (4, 4)] + [_PTR] * ranges + [(1, 1), (1, 1)]
    )


def test_server_struct_sizes_are_xens() -> None:
    for ranges in (3, 4):
        assert PROFILES["4.7"].ioreq_server_bytes[ranges] == _xen_47_server(ranges)
        assert PROFILES["4.17"].ioreq_server_bytes[ranges] == _xen_417_server(ranges)
    # struct hvm_ioreq_vcpu / ioreq_vcpu: list link, vcpu pointer, port, flag.
    assert c_sizeof([_LIST, _PTR, (4, 4), (1, 1)]) == IOREQ_VCPU_BYTES
    # struct rangeset (xen/common/rangeset.c): links, domain, range list, nr_ranges,
    # rwlock_t (atomic_t + spinlock_t: 12, align 4), name[32], flags.
    rangeset = [_LIST, _PTR, _LIST, (4, 4), (12, 4), (32, 1), (4, 4)]
    assert c_sizeof(rangeset) == RANGESET_STRUCT_BYTES
