"""One named test per row of reference/reliability.md's bad-input table (hypervisor rows).

Each asserts Xen's errno and that nothing in the host changed (a snapshot of
every domain's servers, ranges, budgets, params, pool and the heap).
"""

from __future__ import annotations

import errno
import inspect
from collections.abc import Callable
from functools import partial

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import (
    DM_OP_SIZE,
    CreateIoreqServer,
    DestroyIoreqServer,
    DmOp,
    HvmParam,
    IoRangeType,
    IoreqServerRange,
    SetIoreqServerState,
    dm_op_buffer,
)
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.hv.boundary import PROTOTYPES, check_prototypes
from tests.hv_helpers import errno_of, snapshot


@pytest.fixture
def host() -> Host:
    return Host(design="p2m", xen_heap_bytes=8 << 20)


@pytest.fixture
def guest(host: Host) -> int:
    return host.create_domain(memory_mib=512, vcpus=2)


def refused(host: Host, code: int, call: Callable[[], object]) -> None:
    """``call`` fails with ``code`` and the host is exactly as before."""
    before = snapshot(host)
    with pytest.raises(XenError) as info:
        call()
    assert info.value.errno == code, info.value
    assert snapshot(host) == before


def test_start_after_end_is_einval_before_rangeset_xsa238(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    refused(host, errno.EINVAL, lambda: dm.map_io_range_to_ioreq_server(guest, sid, True, 9, 8))
    refused(host, errno.EINVAL, lambda: dm.unmap_io_range_from_ioreq_server(guest, sid, True, 9, 8))
    # XSA-238's check comes first: even an unknown server id gets EINVAL.
    refused(host, errno.EINVAL, lambda: dm.map_io_range_to_ioreq_server(guest, 999, True, 9, 8))


def test_extreme_but_valid_ranges_are_accepted_without_wrapping(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    dm.map_io_range_to_ioreq_server(guest, sid, True, 0, 0)
    dm.map_io_range_to_ioreq_server(guest, sid, True, 2**64 - 1, 2**64 - 1)
    dm.map_io_range_to_ioreq_server(guest, sid, True, 5, 5)
    ranges = host.domains[guest].find_server(sid).ranges[IoRangeType.MEMORY]  # type: ignore[union-attr]
    assert ranges.ranges() == [(0, 0), (5, 5), (2**64 - 1, 2**64 - 1)]


def test_overlapping_map_in_same_server_is_eexist(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    dm.map_io_range_to_ioreq_server(guest, sid, False, 0x3F8, 0x3FF)
    refused(
        host, errno.EEXIST, lambda: dm.map_io_range_to_ioreq_server(guest, sid, False, 0x3FF, 0x400)
    )
    # Adjacent is not overlapping: it merges.
    dm.map_io_range_to_ioreq_server(guest, sid, False, 0x400, 0x401)


def test_overlapping_map_across_servers_is_allowed_newest_wins(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    old = dm.create_ioreq_server(guest)
    new = dm.create_ioreq_server(guest)
    for sid in (old, new):
        dm.map_io_range_to_ioreq_server(guest, sid, False, 0x3F8, 0x3FF)
        dm.set_ioreq_server_state(guest, sid, True)
    access = host.guest_access(guest, 0, "pio", 0x3F8, 1, write=True, data=1)
    assert access.server_id == new


def test_unmap_not_inside_one_range_is_enoent(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    dm.map_io_range_to_ioreq_server(guest, sid, True, 0x1000, 0x1FFF)
    dm.map_io_range_to_ioreq_server(guest, sid, True, 0x3000, 0x3FFF)
    refused(
        host,
        errno.ENOENT,
        lambda: dm.unmap_io_range_from_ioreq_server(guest, sid, True, 0x1800, 0x3800),
    )
    refused(
        host,
        errno.ENOENT,
        lambda: dm.unmap_io_range_from_ioreq_server(guest, sid, True, 0x5000, 0x5000),
    )
    refused(
        host,
        errno.ENOENT,
        lambda: dm.unmap_io_range_from_ioreq_server(guest, sid, False, 0x1000, 0x1000),
    )


def test_unmap_split_at_limit_is_enomem(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    for i in range(256):
        dm.map_io_range_to_ioreq_server(guest, sid, True, i * 0x10000, i * 0x10000 + 0xFFF)
    refused(
        host,
        errno.ENOMEM,
        lambda: dm.unmap_io_range_from_ioreq_server(guest, sid, True, 0x10, 0x1F),
    )
    dm.unmap_io_range_from_ioreq_server(guest, sid, True, 0, 0xF)  # trimming an end is fine


def test_257th_disjoint_range_is_enomem(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    for port in range(0, 512, 2):
        dm.map_io_range_to_ioreq_server(guest, sid, False, port, port)
    refused(
        host, errno.ENOMEM, lambda: dm.map_io_range_to_ioreq_server(guest, sid, False, 1000, 1000)
    )
    dm.map_io_range_to_ioreq_server(guest, sid, False, 1, 1)  # bridging frees a node instead


@pytest.mark.parametrize("rtype", [3, 4, 0xFFFFFFFF])
def test_range_type_3_or_more_is_einval_outside_rangeset_design(
    host: Host, guest: int, rtype: int
) -> None:
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    refused(
        host,
        errno.EINVAL,
        lambda: dm._range(DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER, guest, sid, rtype, 1, 2),
    )


def test_wp_mem_type_3_is_accepted_by_the_rangeset_design_but_4_is_einval() -> None:
    host = Host(design="rangeset", xen_heap_bytes=8 << 20)
    guest = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    dm.map_wp_mem_range_to_ioreq_server(guest, sid, 0x100, 0x1FF)
    with pytest.raises(XenError) as info:
        dm._range(DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER, guest, sid, 4, 1, 2)
    assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize(
    ("op", "arg"),
    [
        (DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER, IoreqServerRange(1, 1, 0, 1, 2)),
        (DmOp.UNMAP_IO_RANGE_FROM_IOREQ_SERVER, IoreqServerRange(1, 0x8000, 0, 1, 2)),
    ],
)
def test_nonzero_pad_is_einval(host: Host, guest: int, op: DmOp, arg: IoreqServerRange) -> None:
    devicemodel.open(host, 0).create_ioreq_server(guest)
    before = snapshot(host)
    assert host.dm_op(0, guest, [dm_op_buffer(op, arg)]) == -errno.EINVAL
    assert (
        host.dm_op(0, guest, [dm_op_buffer(DmOp.DESTROY_IOREQ_SERVER, arg, pad=1)]) == -errno.EINVAL
    )
    raw = bytearray(dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, IoreqServerRange(0, 0, 0, 0, 0)))
    raw[9] = 1  # create's pad[0]
    assert host.dm_op(0, guest, [raw]) == -errno.EINVAL
    assert snapshot(host) == before


def test_unknown_and_stale_server_ids_are_enoent(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    dm.destroy_ioreq_server(guest, sid)
    for bad in (sid, 0, 12345):
        refused(host, errno.ENOENT, partial(dm.set_ioreq_server_state, guest, bad, True))
        refused(host, errno.ENOENT, partial(dm.get_ioreq_server_info, guest, bad))


def test_double_destroy_is_enoent(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    dm.destroy_ioreq_server(guest, sid)
    refused(host, errno.ENOENT, lambda: dm.destroy_ioreq_server(guest, sid))


def test_operation_by_non_creator_is_eperm(host: Host) -> None:
    stub = host.create_domain(memory_mib=32, hvm=False, name="stubdom")
    guest = host.create_domain(memory_mib=256, dm_domid=stub)
    mine = devicemodel.open(host, stub).create_ioreq_server(guest)
    dom0 = devicemodel.open(host, 0)
    refused(host, errno.EPERM, lambda: dom0.destroy_ioreq_server(guest, mine))
    refused(host, errno.EPERM, lambda: dom0.map_io_range_to_ioreq_server(guest, mine, False, 1, 1))
    refused(host, errno.EPERM, lambda: dom0.set_ioreq_server_state(guest, mine, True))
    refused(host, errno.EPERM, lambda: dom0.get_ioreq_server_info(guest, mine))


def test_stub_domain_may_only_serve_its_target(host: Host) -> None:
    stub = host.create_domain(memory_mib=32, hvm=False)
    mine = host.create_domain(memory_mib=64, dm_domid=stub)
    other = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, stub)
    dm.create_ioreq_server(mine)
    refused(host, errno.EPERM, lambda: dm.create_ioreq_server(other))


def test_ninth_server_exhausts_the_gmfn_pool_enomem(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    for _ in range(8):
        dm.create_ioreq_server(guest)
    refused(host, errno.ENOMEM, lambda: dm.create_ioreq_server(guest))


def test_bufioreq_servers_take_two_frames(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    for _ in range(4):
        dm.create_ioreq_server(guest, handle_bufioreq=1)
    refused(host, errno.ENOMEM, lambda: dm.create_ioreq_server(guest))


@pytest.mark.parametrize("mode", [3, 255])
def test_handle_bufioreq_above_2_is_einval(host: Host, guest: int, mode: int) -> None:
    refused(host, errno.EINVAL, lambda: devicemodel.open(host, 0).create_ioreq_server(guest, mode))


def test_dmop_on_oneself_is_eperm_and_on_nobody_esrch(host: Host, guest: int) -> None:
    refused(host, errno.EPERM, lambda: devicemodel.open(host, guest).create_ioreq_server(guest))
    refused(host, errno.ESRCH, lambda: devicemodel.open(host, 0).create_ioreq_server(4242))
    refused(host, errno.ESRCH, lambda: devicemodel.open(host, 4242).create_ioreq_server(guest))


def test_dmop_on_pv_domain_is_einval_from_415() -> None:
    # xen/arch/x86/hvm/dm.c:dm_op, 615367b527 (4.15): rc = -EINVAL before the check.
    host = Host(xen="4.17", xen_heap_bytes=1 << 20)
    pv = host.create_domain(memory_mib=64, hvm=False)
    refused(host, errno.EINVAL, lambda: devicemodel.open(host, 0).create_ioreq_server(pv))


def test_dmop_on_pv_domain_succeeds_doing_nothing_in_49(host: Host) -> None:
    # 4.9 dm.c:dm_op: "if ( !is_hvm_domain(d) ) goto out;" with rc still 0.
    pv = host.create_domain(memory_mib=64, hvm=False)
    before = snapshot(host)
    buf = dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(0))
    assert host.dm_op(0, pv, [buf]) == 0
    assert buf == dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(0))  # no output
    assert snapshot(host) == before


@pytest.mark.parametrize("index", [37, 38, 1000, 2**32 - 1])
def test_param_index_out_of_range_is_einval(host: Host, guest: int, index: int) -> None:
    dm = devicemodel.open(host, 0)
    refused(host, errno.EINVAL, lambda: dm.set_param(guest, index, 1))
    refused(host, errno.EINVAL, lambda: dm.get_param(guest, index))


def test_param_on_unknown_domain_is_esrch(host: Host) -> None:
    refused(
        host, errno.ESRCH, lambda: devicemodel.open(host, 0).set_param(777, HvmParam.TIMER_MODE, 1)
    )


@pytest.mark.parametrize("pages", [0, 65])
def test_nr_ioreq_server_pages_out_of_range_is_einval(pages: int) -> None:
    host = Host(xen_heap_bytes=1 << 20)
    guest = host.create_domain(memory_mib=64, ioreq_server_pages=0)
    dm = devicemodel.open(host, 0)
    refused(host, errno.EINVAL, lambda: dm.set_param(guest, HvmParam.NR_IOREQ_SERVER_PAGES, pages))


def test_nr_ioreq_server_pages_is_set_once_eexist(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    dm.set_param(guest, HvmParam.NR_IOREQ_SERVER_PAGES, 8)  # the same value again is fine
    refused(host, errno.EEXIST, lambda: dm.set_param(guest, HvmParam.NR_IOREQ_SERVER_PAGES, 4))


@pytest.mark.parametrize("value", [2**32, 2**32 + 1, 2**64 - 1])
def test_max_wp_ram_ranges_never_truncated_einval(value: int) -> None:
    host = Host(xen_heap_bytes=1 << 20, wp_ram_ranges_cap=2**32 - 1)
    guest = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    refused(host, errno.EINVAL, lambda: dm.set_param(guest, HvmParam.MAX_WP_RAM_RANGES, value))
    dm.set_param(guest, HvmParam.MAX_WP_RAM_RANGES, 2**32 - 1)  # the largest u32 is accepted
    assert dm.get_param(guest, HvmParam.MAX_WP_RAM_RANGES) == 2**32 - 1


def test_operations_on_destroyed_domain_fail_cleanly_esrch(host: Host, guest: int) -> None:
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    host.destroy_domain(guest)
    refused(host, errno.ESRCH, lambda: dm.map_io_range_to_ioreq_server(guest, sid, False, 1, 1))
    refused(host, errno.ESRCH, lambda: dm.set_param(guest, HvmParam.TIMER_MODE, 1))
    refused(host, errno.ESRCH, lambda: host.guest_access(guest, 0, "pio", 0x80, 1, write=True))
    refused(host, errno.ESRCH, lambda: host.destroy_domain(guest))


def test_dmop_without_buffers_is_efault_xsa506(host: Host, guest: int) -> None:
    before = snapshot(host)
    assert host.dm_op(0, guest, []) == -errno.EFAULT
    assert snapshot(host) == before


def test_dmop_with_too_many_buffers_is_e2big(host: Host, guest: int) -> None:
    buf = dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, IoreqServerRange(0, 0, 0, 0, 0))
    assert host.dm_op(0, guest, [buf, bytearray(8), bytearray(8)]) == -errno.E2BIG


def test_short_dmop_buffer_is_efault_in_49(host: Host, guest: int) -> None:
    # 4.9 dm.c: COPY_FROM_GUEST_BUF(op) needs sizeof(struct xen_dm_op) = 32 bytes.
    full = dm_op_buffer(DmOp.DESTROY_IOREQ_SERVER, DestroyIoreqServer(1))
    for n in (0, 8, 12, 31):
        assert host.dm_op(0, guest, [bytearray(full[:n])]) == -errno.EFAULT


def test_short_dmop_buffer_is_efault_below_the_op_size_from_411() -> None:
    # 4.11+ dm.c: the header, then op_size[op] bytes (85cb15dfe4); an op beyond
    # the table is -EOPNOTSUPP before its size is checked.
    host = Host(xen="4.17", xen_heap_bytes=1 << 20)
    guest = host.create_domain(memory_mib=64)
    sid = devicemodel.open(host, 0).create_ioreq_server(guest)
    full = dm_op_buffer(DmOp.DESTROY_IOREQ_SERVER, DestroyIoreqServer(sid))
    assert host.dm_op(0, guest, [bytearray(full[:7])]) == -errno.EFAULT
    assert host.dm_op(0, guest, [bytearray(full[:11])]) == -errno.EFAULT
    beyond = bytearray(8)
    beyond[0] = 21
    assert host.dm_op(0, guest, [beyond]) == -errno.EOPNOTSUPP
    assert host.dm_op(0, guest, [bytearray(full[:12])]) == 0  # exactly 8 + 4: enough
    assert not host.domains[guest].servers


def test_unknown_dmop_is_eopnotsupp(host: Host, guest: int) -> None:
    buf = bytearray(DM_OP_SIZE)
    buf[0] = 99
    assert host.dm_op(0, guest, [buf]) == -errno.EOPNOTSUPP


def test_read_only_output_buffer_is_efault_after_the_effect(host: Host, guest: int) -> None:
    buf = bytes(dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, IoreqServerRange(0, 0, 0, 0, 0)))
    assert host.dm_op(0, guest, [buf]) == -errno.EFAULT
    assert len(host.domains[guest].servers) == 1  # as in Xen: created, then the copy-out failed


def test_dmop_on_domid_self_is_esrch(xen: str) -> None:
    # rcu_lock_remote_domain_by_id does not resolve DOMID_SELF: no such domain.
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    buf = dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(0))
    assert host.dm_op(g, 0x7FF0, [buf]) == -errno.ESRCH
    assert host.dm_op(g, g, [buf]) == -errno.EPERM  # the caller itself, by its own id


def test_non_const_ops_copy_back_after_the_effect(xen: str) -> None:
    # dm.c: "if ( (!rc || rc == -ERESTART) && !const_op && copy_to_guest...) rc = -EFAULT"
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    ro = bytes(dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(0)))
    assert host.dm_op(0, g, [ro]) == -errno.EFAULT
    assert len(host.domains[g].servers) == 1  # created all the same
    sid = host.domains[g].servers[0].id
    state = bytes(dm_op_buffer(DmOp.SET_IOREQ_SERVER_STATE, SetIoreqServerState(sid, 1)))
    assert host.dm_op(0, g, [state]) == 0  # a const op needs no writable buffer


def test_get_mem_type_checks_the_caller_before_the_hvm_check(xen: str) -> None:
    # hvm.c:hvmop_get_mem_type: xsm_hvm_param(XSM_TARGET) first, then is_hvm_domain.
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    pv = host.create_domain(memory_mib=16, hvm=False)
    other = host.create_domain(memory_mib=16, hvm=False)
    dm = devicemodel.open(host, other)
    with pytest.raises(XenError) as info:
        dm.get_mem_type(pv, 0)
    assert info.value.errno == errno.EPERM
    with pytest.raises(XenError) as info:
        devicemodel.open(host, 0).get_mem_type(pv, 0)
    assert info.value.errno == errno.EINVAL


def test_a_reused_domid_inherits_nothing_from_a_dead_stub() -> None:
    # Xen: the stub's rights over its guest are the stub's own (d->target on the
    # stub), and each server holds a reference to its emulating domain
    # (get_knownalive_domain), so a destroyed stub with live servers is a zombie
    # whose id is not handed out again.  The model once let a new domain with the
    # dead stub's id act as the guest's device model and own the stub's servers.
    host = Host(xen="4.17")
    stub = host.create_domain(memory_mib=16, hvm=False)
    guest = host.create_domain(memory_mib=64, dm_domid=stub)
    second = host.create_domain(memory_mib=64, dm_domid=stub)
    host.create_ioreq_server(stub, guest)
    host.destroy_domain(stub)
    for _ in range(3):  # the rover comes round; the held id is skipped
        host._rover = stub - 1
        assert host.create_domain(memory_mib=16, hvm=False) != stub
    # Once the guest (and so the server, and its reference) goes, the id may be
    # reused — with no rights over the stub's other guest.
    host.destroy_domain(guest)
    host._rover = stub - 1
    again = host.create_domain(memory_mib=16, hvm=False)
    assert again == stub
    assert errno_of(lambda: host.create_ioreq_server(again, second)) == errno.EPERM


def test_the_abi_boundary_takes_its_arguments_as_the_c_prototype_does() -> None:
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=64)
    buf = dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(0))
    before = snapshot(host)
    # Not integers, not guest memory: refused, nothing done (no TypeError).
    assert host.dm_op(0, 1.0, [bytearray(buf)]) == -errno.EINVAL  # type: ignore[arg-type]
    assert host.dm_op(0, g, ["not memory"]) == -errno.EFAULT  # type: ignore[list-item]
    assert host.dm_op(0, g, bytearray(buf)) == -errno.EFAULT  # type: ignore[arg-type]
    assert host.hvm_op(0, 1.5, bytearray(16)) == -errno.EINVAL  # type: ignore[arg-type]
    assert host.hvm_op(0, 1, "x") == -errno.EFAULT  # type: ignore[arg-type]
    assert snapshot(host) == before
    # domid_t is 16 bits: the upper bits of a larger number are not seen.
    assert host.dm_op(0, g + 0x10000, [bytearray(buf)]) == 0
    assert len(host.domains[g].servers) == 1


def _placeholders(method: str) -> dict[str, object]:
    """Valid-typed arguments for every parameter of ``method`` (0 for integers)."""
    params = list(inspect.signature(getattr(Host, method)).parameters)[1:]
    types = PROTOTYPES[method]
    return {n: ([] if types.get(n, (None,))[0] == "xen_pfn_t[]" else 0) for n in params}


@pytest.mark.parametrize(
    ("method", "name"), [(m, n) for m, types in PROTOTYPES.items() for n in types]
)
def test_every_integer_argument_is_checked_as_its_c_type(
    host: Host, guest: int, method: str, name: str
) -> None:
    # Issue 15 #12: values no C caller could pass are -EINVAL before any effect.
    cname, lo, hi = PROTOTYPES[method][name]
    bad: list[object] = [1.0, "1", None]
    if cname != "bool":
        bad += [lo - 1, hi + 1]
    if cname.endswith("[]"):
        bad = [5, "ab", [1, -1], [1.5], [2**64]]
    for value in bad:
        args = {**_placeholders(method), name: value}
        before = snapshot(host)
        with pytest.raises(XenError) as info:
            getattr(host, method)(**args)
        assert info.value.errno == errno.EINVAL, (value, info.value)
        assert f"{name}" in str(info.value), (value, info.value)
        assert snapshot(host) == before


def test_the_prototype_table_names_real_arguments() -> None:
    # check_prototypes refuses a table entry for an argument the method lacks.
    class Tiny:
        def create_domain(self, *, memory_mib: int) -> None: ...

    with pytest.raises(TypeError, match="has no argument"):
        check_prototypes(Tiny)


def test_a_guest_port_is_16_bits_and_a_signal_names_a_vcpu(host: Host, guest: int) -> None:
    refused(host, errno.EINVAL, lambda: host.guest_access(guest, 0, "pio", 0x10000, 1, write=False))
    host.guest_access(guest, 0, "pio", 0xFFFF, 1, write=False)  # the last port is a port
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(guest)
    refused(host, errno.EINVAL, lambda: host.ioreq_completed(0, guest, sid, 2))
    assert host.ioreq_completed(0, guest, sid, 1) is None  # a real vcpu that waits for nothing


def test_dm_op_takes_any_integer_as_its_ids_and_refuses_anything_else(
    host: Host, guest: int
) -> None:
    # do_dm_op(domid_t domid, ...): an int subclass is an integer (a bool here);
    # anything else is -EINVAL, whichever of the two it is, before any buffer is read.
    def create(caller: object, domid: object) -> int:
        buf = dm_op_buffer(DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(0))
        return host.dm_op(caller, domid, [buf])  # type: ignore[arg-type]

    assert guest == 1
    assert create(False, guest) == 0  # dom0, as a bool
    assert create(0, True) == 0  # domain 1, as a bool
    before = snapshot(host)
    assert create("0", guest) == -errno.EINVAL
    assert create(0, str(guest)) == -errno.EINVAL
    assert create(0.0, guest) == -errno.EINVAL
    assert snapshot(host) == before
