"""The hypercall ABI boundary: DMOP and HVMOP bytes in, ``0`` or ``-errno`` out.

This is the one place where :class:`~ioreqlab.errors.XenError` becomes a
return value, so nothing but an ``int`` ever leaves it — whatever the bytes.

DMOP (``XEN_DMOP_*``, 4.9 ``dm.c`` with later fixes), in order
---------------------------------------------------------------
1. More than two buffers → ``-E2BIG``.
2. ``rcu_lock_remote_domain_by_id`` (``-ESRCH``; the caller itself ``-EPERM``),
   an HVM target (``-EINVAL``, the 4.15 fix), ``XSM_DM_PRIV`` (``-EPERM``).
3. ``buf[0]`` must exist (``-EFAULT``; XSA-506).  It is copied as Xen's
   ``copy_buf_from_guest`` does: ``min(32, size)`` bytes, the rest zero.
4. A non-zero header pad → ``-EINVAL``; an unknown op → ``-EOPNOTSUPP``.
5. The op's own pad fields must be zero (``-EINVAL``), then the operation.
6. Ops with outputs copy the whole ``xen_dm_op`` back into ``buf[0]``
   (truncated to its size); a read-only buffer there is ``-EFAULT`` — after
   the operation took effect, as in Xen.

HVMOP: ``set_param`` (0) and ``get_param`` (1) with ``xen_hvm_param``; a
buffer shorter than the struct is ``-EFAULT``; other ops ``-ENOSYS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ioreqlab.abi.constants import DmOp, HvmOp
from ioreqlab.abi.structs import (
    DM_OP_SIZE,
    DM_OP_UNION_OFFSET,
    CreateIoreqServer,
    DestroyIoreqServer,
    DmOpHeader,
    GetIoreqServerInfo,
    HvmGetMemType,
    HvmParamArg,
    IoreqServerRange,
    MapMemTypeToIoreqServer,
    SetIoreqServerState,
    SetMemType,
    WireStruct,
    read_buffer,
)
from ioreqlab.errors import (
    XenE2BIG,
    XenEFAULT,
    XenEINVAL,
    XenENOSYS,
    XenEOPNOTSUPP,
    XenERESTART,
    XenError,
)

if TYPE_CHECKING:
    from ioreqlab.host import Host

__all__ = ["WP_DM_OPS", "Buffer", "DmOpHandler", "dispatch_dm_op", "dispatch_hvm_op"]

#: A guest buffer: ``bytearray`` is writable guest memory, ``bytes`` read-only.
Buffer = bytes | bytearray
#: ``handler(host, caller, domid, xen_dm_op bytes, buf[0])``; raises XenError.
DmOpHandler = Callable[["Host", int, int, bytes, Buffer], None]

_MAX_BUFS = 2  # ARRAY_SIZE(args.buf) in 4.9 do_dm_op


def _union(raw: bytes, cls: type[WireStruct]) -> WireStruct:
    return cls.unpack(raw[DM_OP_UNION_OFFSET : DM_OP_UNION_OFFSET + cls.size()])


def _write_back(buf: Buffer, op: int, out: WireStruct) -> None:
    """``copy_buf_to_guest`` of the whole ``xen_dm_op``, truncated to the buffer."""
    if not isinstance(buf, bytearray):
        raise XenEFAULT("output buffer is not writable")
    full = bytearray(DM_OP_SIZE)
    full[:DM_OP_UNION_OFFSET] = DmOpHeader(op, 0).pack()
    body = out.pack()
    full[DM_OP_UNION_OFFSET : DM_OP_UNION_OFFSET + len(body)] = body
    n = min(len(buf), DM_OP_SIZE)
    buf[:n] = full[:n]


def _op_create(host: Host, caller: int, domid: int, raw: bytes, buf: Buffer) -> None:
    arg = _union(raw, CreateIoreqServer)
    assert isinstance(arg, CreateIoreqServer)
    if arg.pad != b"\0\0\0":
        raise XenEINVAL("create_ioreq_server: non-zero pad")
    sid = host.create_ioreq_server(caller, domid, arg.handle_bufioreq)
    _write_back(buf, DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(arg.handle_bufioreq, id=sid))


def _op_get_info(host: Host, caller: int, domid: int, raw: bytes, buf: Buffer) -> None:
    arg = _union(raw, GetIoreqServerInfo)
    assert isinstance(arg, GetIoreqServerInfo)
    if arg.pad:
        raise XenEINVAL("get_ioreq_server_info: non-zero pad")
    info = host.get_ioreq_server_info(caller, domid, arg.id)
    # Without buffering Xen leaves those outputs as the caller passed them.
    out = GetIoreqServerInfo(
        arg.id,
        0,
        arg.bufioreq_port if info.bufioreq_port is None else info.bufioreq_port,
        info.ioreq_pfn,
        arg.bufioreq_pfn if info.bufioreq_pfn is None else info.bufioreq_pfn,
    )
    _write_back(buf, DmOp.GET_IOREQ_SERVER_INFO, out)


def _range_op(
    method: Callable[[int, int, int, int, int, int], None],
) -> DmOpHandler:
    def run(host: Host, caller: int, domid: int, raw: bytes, buf: Buffer) -> None:
        arg = _union(raw, IoreqServerRange)
        assert isinstance(arg, IoreqServerRange)
        if arg.pad:
            raise XenEINVAL("ioreq_server_range: non-zero pad")
        method(caller, domid, arg.id, arg.type, arg.start, arg.end)

    return run


def _op_set_state(host: Host, caller: int, domid: int, raw: bytes, buf: Buffer) -> None:
    arg = _union(raw, SetIoreqServerState)
    assert isinstance(arg, SetIoreqServerState)
    if arg.pad:
        raise XenEINVAL("set_ioreq_server_state: non-zero pad")
    host.set_ioreq_server_state(caller, domid, arg.id, bool(arg.enabled))


def _op_destroy(host: Host, caller: int, domid: int, raw: bytes, buf: Buffer) -> None:
    arg = _union(raw, DestroyIoreqServer)
    assert isinstance(arg, DestroyIoreqServer)
    if arg.pad:
        raise XenEINVAL("destroy_ioreq_server: non-zero pad")
    host.destroy_ioreq_server(caller, domid, arg.id)


def _op_set_mem_type(host: Host, caller: int, domid: int, raw: bytes, buf: Buffer) -> None:
    """Up to 256 pages per call; the rest is a continuation (``first_pfn``/``nr`` advanced)."""
    arg = _union(raw, SetMemType)
    assert isinstance(arg, SetMemType)
    if arg.pad:
        raise XenEINVAL("set_mem_type: non-zero pad")
    done = host.set_mem_type(caller, domid, arg.mem_type, arg.first_pfn, arg.nr)
    if done < arg.nr:
        rest = SetMemType(arg.nr - done, arg.mem_type, 0, arg.first_pfn + done)
        _write_back(buf, DmOp.SET_MEM_TYPE, rest)
        raise XenERESTART(f"set_mem_type continues at {rest.first_pfn:#x}")


def _op_map_mem_type(host: Host, caller: int, domid: int, raw: bytes, buf: Buffer) -> None:
    """Claim or disclaim; a disclaim's reset sweep continues through ``opaque``."""
    arg = _union(raw, MapMemTypeToIoreqServer)
    assert isinstance(arg, MapMemTypeToIoreqServer)
    nxt = host.map_mem_type_to_ioreq_server(caller, domid, arg.id, arg.type, arg.flags, arg.opaque)
    if nxt:
        out = MapMemTypeToIoreqServer(arg.id, arg.type, arg.flags, nxt)
        _write_back(buf, DmOp.MAP_MEM_TYPE_TO_IOREQ_SERVER, out)
        raise XenERESTART(f"p2m reset sweep continues at gfn {nxt:#x}")


#: The write-protect DMOPs, added to the ioreq-server six by the host.
WP_DM_OPS: dict[int, DmOpHandler] = {
    DmOp.SET_MEM_TYPE: _op_set_mem_type,
    DmOp.MAP_MEM_TYPE_TO_IOREQ_SERVER: _op_map_mem_type,
}


def dispatch_dm_op(host: Host, caller: int, domid: int, bufs: Sequence[Buffer]) -> int:
    """Run one DMOP; return 0 or ``-errno``.  Never raises for any input."""
    try:
        _dm_op(host, caller, domid, bufs)
    except XenError as err:
        return -(err.errno or 0)
    return 0


def _dm_op(host: Host, caller: int, domid: int, bufs: Sequence[Buffer]) -> None:
    if len(bufs) > _MAX_BUFS:
        raise XenE2BIG(f"{len(bufs)} DMOP buffers, at most {_MAX_BUFS}")
    host._dm_target(caller, domid)
    if not bufs:
        raise XenEFAULT("DMOP without buf[0] (XSA-506)")
    raw = read_buffer(bufs[0], DM_OP_SIZE)
    head = DmOpHeader.unpack(raw[:DM_OP_UNION_OFFSET])
    if head.pad:
        raise XenEINVAL("xen_dm_op: non-zero pad")
    handlers: dict[int, DmOpHandler] = {
        DmOp.CREATE_IOREQ_SERVER: _op_create,
        DmOp.GET_IOREQ_SERVER_INFO: _op_get_info,
        DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER: _range_op(host.map_io_range),
        DmOp.UNMAP_IO_RANGE_FROM_IOREQ_SERVER: _range_op(host.unmap_io_range),
        DmOp.SET_IOREQ_SERVER_STATE: _op_set_state,
        DmOp.DESTROY_IOREQ_SERVER: _op_destroy,
        **host._extra_dm_ops(),
    }
    handler = handlers.get(head.op)
    if handler is None:
        raise XenEOPNOTSUPP(f"DMOP {head.op} is not supported")
    handler(host, caller, domid, raw, bufs[0])


def _get_mem_type(host: Host, caller: int, buf: Buffer) -> None:
    if len(buf) < HvmGetMemType.size():
        raise XenEFAULT(f"xen_hvm_get_mem_type needs {HvmGetMemType.size()} bytes")
    arg = HvmGetMemType.unpack(bytes(buf[: HvmGetMemType.size()]))
    mem = host.get_mem_type(caller, arg.domid, arg.pfn)
    if not isinstance(buf, bytearray):
        raise XenEFAULT("get_mem_type output buffer is not writable")
    buf[: HvmGetMemType.size()] = HvmGetMemType(arg.domid, int(mem), arg.pfn).pack()


def dispatch_hvm_op(host: Host, caller: int, op: int, buf: Buffer) -> int:
    """Run ``set_param``, ``get_param`` or ``get_mem_type``; return 0 or ``-errno``."""
    try:
        if op == HvmOp.GET_MEM_TYPE:
            _get_mem_type(host, caller, buf)
            return 0
        if op not in (HvmOp.SET_PARAM, HvmOp.GET_PARAM):
            raise XenENOSYS(f"HVMOP {op} is not modelled")
        if len(buf) < HvmParamArg.size():
            raise XenEFAULT(f"xen_hvm_param needs {HvmParamArg.size()} bytes, got {len(buf)}")
        arg = HvmParamArg.unpack(bytes(buf[: HvmParamArg.size()]))
        if op == HvmOp.SET_PARAM:
            host.set_param(caller, arg.domid, arg.index, arg.value)
        else:
            value = host.get_param(caller, arg.domid, arg.index)
            if not isinstance(buf, bytearray):
                raise XenEFAULT("get_param output buffer is not writable")
            buf[: HvmParamArg.size()] = HvmParamArg(arg.domid, arg.index, value).pack()
    except XenError as err:
        return -(err.errno or 0)
    return 0
