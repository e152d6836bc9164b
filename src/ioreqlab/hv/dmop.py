"""The hypercall ABI boundary: DMOP and HVMOP bytes in, ``0`` or ``-errno`` out.

This is the one place where :class:`~ioreqlab.errors.XenError` becomes a
return value, so nothing but an ``int`` ever leaves it — whatever the bytes.

DMOP (``XEN_DMOP_*``, ``dm.c``), in order
-----------------------------------------
1. More than two buffers → ``-E2BIG`` (``do_dm_op``).
2. ``rcu_lock_remote_domain_by_id`` (``-ESRCH``; the caller itself ``-EPERM``).
3. A PV target: 4.9 leaves with ``rc`` still 0 — the call "succeeds" and
   does nothing; 4.15+ ``-EINVAL`` (``dmop_non_hvm_rc``).  Then
   ``XSM_DM_PRIV`` (``-EPERM``).
4. ``buf[0]`` (``-EFAULT`` if missing).  4.9 copies the whole 32-byte
   ``xen_dm_op`` (a shorter buffer is ``-EFAULT``), then checks the header
   pad (``-EINVAL``) and the op (``-EOPNOTSUPP``).  4.11+ copies the 8-byte
   header (shorter: ``-EFAULT``), refuses an op beyond its table
   (``-EOPNOTSUPP``), copies that op's struct (``op_size[op]``, shorter:
   ``-EFAULT``), then checks the pad (``-EINVAL``).
5. The op's own pad fields must be zero (``-EINVAL``), then the operation.
6. Ops that are not const copy back on success and on ``-ERESTART`` — 4.9 the
   whole ``xen_dm_op``, 4.11+ only the op's struct; a read-only buffer there
   is ``-EFAULT`` after the operation took effect, as in Xen.

HVMOP: ``set_param`` (0) and ``get_param`` (1) with ``xen_hvm_param``; a
buffer shorter than the struct is ``-EFAULT``; other ops ``-ENOSYS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ioreqlab.abi.constants import DmOp, HvmOp
from ioreqlab.abi.structs import (
    DM_OP_SIZE,
    DM_OP_SIZES,
    DM_OP_UNION_OFFSET,
    XEN_DMOP_NO_GFNS,
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


def _write_back(host: Host, buf: Buffer, op: int, out: WireStruct) -> None:
    """The copy back of a non-const op: 4.9 the whole ``xen_dm_op``, 4.11+ the op's struct."""
    if not isinstance(buf, bytearray):
        raise XenEFAULT("output buffer is not writable")
    body = out.pack()
    if host.xen.dmop_per_op_size:
        end = DM_OP_UNION_OFFSET + DM_OP_SIZES[op]
        buf[DM_OP_UNION_OFFSET:end] = body[: DM_OP_SIZES[op]].ljust(DM_OP_SIZES[op], b"\0")
        return
    full = bytearray(DM_OP_SIZE)
    full[:DM_OP_UNION_OFFSET] = DmOpHeader(op, 0).pack()
    full[DM_OP_UNION_OFFSET : DM_OP_UNION_OFFSET + len(body)] = body
    buf[:DM_OP_SIZE] = full


def _op_create(host: Host, caller: int, domid: int, raw: bytes, buf: Buffer) -> None:
    arg = _union(raw, CreateIoreqServer)
    assert isinstance(arg, CreateIoreqServer)
    if arg.pad != b"\0\0\0":
        raise XenEINVAL("create_ioreq_server: non-zero pad")
    sid = host.create_ioreq_server(caller, domid, arg.handle_bufioreq)
    _write_back(host, buf, DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(arg.handle_bufioreq, id=sid))


def _op_get_info(host: Host, caller: int, domid: int, raw: bytes, buf: Buffer) -> None:
    arg = _union(raw, GetIoreqServerInfo)
    assert isinstance(arg, GetIoreqServerInfo)
    valid = XEN_DMOP_NO_GFNS if host.xen.get_info_flags else 0
    if arg.flags & ~valid:
        raise XenEINVAL(f"get_ioreq_server_info: flags {arg.flags:#x} (valid {valid:#x})")
    info = host.get_ioreq_server_info(caller, domid, arg.id, gfns=not arg.flags & XEN_DMOP_NO_GFNS)
    # What Xen does not write stays as the caller passed it.
    out = GetIoreqServerInfo(
        arg.id,
        arg.flags,
        arg.bufioreq_port if info.bufioreq_port is None else info.bufioreq_port,
        arg.ioreq_pfn if info.ioreq_pfn is None else info.ioreq_pfn,
        arg.bufioreq_pfn if info.bufioreq_pfn is None else info.bufioreq_pfn,
    )
    _write_back(host, buf, DmOp.GET_IOREQ_SERVER_INFO, out)


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
        _write_back(host, buf, DmOp.SET_MEM_TYPE, rest)
        raise XenERESTART(f"set_mem_type continues at {rest.first_pfn:#x}")


def _op_map_mem_type(host: Host, caller: int, domid: int, raw: bytes, buf: Buffer) -> None:
    """Claim or disclaim; a disclaim's reset sweep continues through ``opaque``."""
    arg = _union(raw, MapMemTypeToIoreqServer)
    assert isinstance(arg, MapMemTypeToIoreqServer)
    nxt = host.map_mem_type_to_ioreq_server(caller, domid, arg.id, arg.type, arg.flags, arg.opaque)
    if nxt:
        out = MapMemTypeToIoreqServer(arg.id, arg.type, arg.flags, nxt)
        _write_back(host, buf, DmOp.MAP_MEM_TYPE_TO_IOREQ_SERVER, out)
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
    _, d = host._remote(caller, domid)
    if not d.hvm:
        if host.xen.dmop_non_hvm_rc == 0:
            return  # 4.9: "goto out" with rc still 0 from the domain lookup
        raise XenEINVAL(f"domain {domid} is not an HVM guest")
    host._dm_target(caller, domid)
    if not bufs:
        raise XenEFAULT("DMOP without buf[0]")
    raw = _copy_in(host, bufs[0])
    head = DmOpHeader.unpack(raw[:DM_OP_UNION_OFFSET])
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


def _copy_in(host: Host, buf: Buffer) -> bytes:
    """``buf[0]`` as Xen copies it in, with the size rule and header checks of the profile."""
    if not host.xen.dmop_per_op_size:
        if len(buf) < DM_OP_SIZE:
            raise XenEFAULT(f"buf[0] holds {len(buf)} bytes, xen_dm_op needs {DM_OP_SIZE}")
        raw = bytes(buf[:DM_OP_SIZE])
        if DmOpHeader.unpack(raw[:DM_OP_UNION_OFFSET]).pad:
            raise XenEINVAL("xen_dm_op: non-zero pad")
        return raw
    if len(buf) < DM_OP_UNION_OFFSET:
        raise XenEFAULT(f"buf[0] holds {len(buf)} bytes, the header needs {DM_OP_UNION_OFFSET}")
    head = DmOpHeader.unpack(bytes(buf[:DM_OP_UNION_OFFSET]))
    if head.op >= len(DM_OP_SIZES):
        raise XenEOPNOTSUPP(f"DMOP {head.op} is beyond Xen's table")
    need = DM_OP_UNION_OFFSET + DM_OP_SIZES[head.op]
    if len(buf) < need:
        raise XenEFAULT(f"buf[0] holds {len(buf)} bytes, DMOP {head.op} needs {need}")
    if head.pad:
        raise XenEINVAL("xen_dm_op: non-zero pad")
    return read_buffer(buf[:need], DM_OP_SIZE)  # what Xen did not copy is never read


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
