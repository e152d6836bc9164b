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
5. The op's own checks and effect (:mod:`ioreqlab.hv.dmop_ops`, one table).
6. Ops that are not const copy back on success and on ``-ERESTART`` — 4.9 the
   whole ``xen_dm_op``, 4.11+ only the op's struct; a read-only buffer there
   is ``-EFAULT`` after the operation took effect, as in Xen.
7. ``-ERESTART`` is a hypercall continuation: Xen re-issues the call with
   what it copied back, below the caller, who never sees it.  So does
   :func:`dispatch_dm_op`, one bounded chunk at a time.

HVMOP: ``set_param`` (0) and ``get_param`` (1) with ``xen_hvm_param``; a
buffer shorter than the struct is ``-EFAULT``; other ops ``-ENOSYS``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ioreqlab.abi.constants import HvmOp
from ioreqlab.abi.structs import (
    DM_OP_SIZE,
    DM_OP_SIZES,
    DM_OP_UNION_OFFSET,
    DmOpHeader,
    HvmGetMemType,
    HvmParamArg,
    WireStruct,
)
from ioreqlab.errors import (
    XenE2BIG,
    XenEFAULT,
    XenEINVAL,
    XenENOSYS,
    XenEOPNOTSUPP,
    XenError,
)
from ioreqlab.hv.dmop_ops import DM_OPS, Continue, OpCall
from ioreqlab.hv.ports import HypercallHost

__all__ = ["MAX_DM_OP_BUFS", "Buffer", "dispatch_dm_op", "dispatch_hvm_op"]

#: A guest buffer: ``bytearray`` is writable guest memory, ``bytes`` read-only.
Buffer = bytes | bytearray

MAX_DM_OP_BUFS = 2  # ARRAY_SIZE(args.buf) in do_dm_op
#: ``struct xen_dm_op``'s header, ``u32 op; u32 pad``, read in place (no object: issue 18).
_HEADER = DmOpHeader.LAYOUT


def _write_back(host: HypercallHost, buf: Buffer, op: int, out: WireStruct) -> None:
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


def dispatch_dm_op(host: HypercallHost, caller: int, domid: int, bufs: Sequence[Buffer]) -> int:
    """Run one DMOP to its end (continuations included); return 0 or ``-errno``.

    Never raises for any input (only the model's own memory bound,
    :class:`~ioreqlab.errors.ModelLimitError`, which is no errno of Xen's,
    goes through).  The arguments are taken as the C prototype
    takes them (``do_dm_op(domid_t domid, ...)``): ``domid`` is truncated to its
    16 bits; a caller or domid that is not an integer is ``-EINVAL``, a buffer
    that is not bytes ``-EFAULT`` (no guest memory behind the handle).
    """
    try:
        if caller.__class__ is not int or domid.__class__ is not int:  # the common case: ints
            caller, domid = _integers(caller, domid)
        domid &= 0xFFFF
        _buffers(bufs)
        while True:
            try:
                _dm_op(host, caller, domid, bufs)
            except Continue:
                host.count_continuation(domid)
                continue  # re-issued with what was copied back, as Xen does
            return 0
    except XenError as err:
        return -(err.errno or 0)


def _integers(caller: object, domid: object) -> tuple[int, int]:
    if not isinstance(caller, int):
        raise XenEINVAL(f"{caller!r} is not a domain id")
    if not isinstance(domid, int):
        raise XenEINVAL(f"{domid!r} is not a domain id")
    return caller, domid


def _buffers(bufs: object) -> None:
    if not isinstance(bufs, (list, tuple)):
        raise XenEFAULT("the buffer array is not a sequence of buffers")
    for buf in bufs:
        if not isinstance(buf, (bytes, bytearray)):
            raise XenEFAULT(f"a {type(buf).__name__} is not guest memory")


def _dm_op(host: HypercallHost, caller: int, domid: int, bufs: Sequence[Buffer]) -> None:
    if len(bufs) > MAX_DM_OP_BUFS:
        raise XenE2BIG(f"{len(bufs)} DMOP buffers, at most {MAX_DM_OP_BUFS}")
    c, d = host.lookup.remote(caller, domid)
    if not d.hvm:
        if host.xen.dmop_non_hvm_rc == 0:
            return  # 4.9: "goto out" with rc still 0 from the domain lookup
        raise XenEINVAL(f"domain {domid} is not an HVM guest")
    host.lookup.dm_priv(c, d)
    if not bufs:
        raise XenEFAULT("DMOP without buf[0]")
    op, raw = _copy_in(host, bufs[0])
    spec = DM_OPS.get(op) if op <= host.xen.dmop_max else None
    if spec is None:
        raise XenEOPNOTSUPP(f"DMOP {op} is not served by Xen {host.xen.version}")
    struct = spec.struct
    arg = struct(*struct.LAYOUT.unpack_from(raw, DM_OP_UNION_OFFSET))
    call = OpCall(host, caller, domid, d, bufs[1:])
    try:
        out = spec.run(call, arg)
    except Continue as more:
        _write_back(host, bufs[0], op, more.out)
        raise
    if out is not None:
        _write_back(host, bufs[0], op, out)


def _copy_in(host: HypercallHost, buf: Buffer) -> tuple[int, bytes]:
    """``buf[0]`` as Xen copies it in, with the size rule and header checks of the
    profile: the op, and the 32 bytes of ``xen_dm_op`` (what Xen did not copy is
    zeros, never read)."""
    n = len(buf)
    if not host.xen.dmop_per_op_size:
        if n < DM_OP_SIZE:
            raise XenEFAULT(f"buf[0] holds {n} bytes, xen_dm_op needs {DM_OP_SIZE}")
        op, pad = _HEADER.unpack_from(buf, 0)
        if pad:
            raise XenEINVAL("xen_dm_op: non-zero pad")
        return op, bytes(buf[:DM_OP_SIZE])
    if n < DM_OP_UNION_OFFSET:
        raise XenEFAULT(f"buf[0] holds {n} bytes, the header needs {DM_OP_UNION_OFFSET}")
    op, pad = _HEADER.unpack_from(buf, 0)
    if op >= len(DM_OP_SIZES):
        raise XenEOPNOTSUPP(f"DMOP {op} is beyond Xen's table")
    need = DM_OP_UNION_OFFSET + DM_OP_SIZES[op]
    if n < need:
        raise XenEFAULT(f"buf[0] holds {n} bytes, DMOP {op} needs {need}")
    if pad:
        raise XenEINVAL("xen_dm_op: non-zero pad")
    return op, bytes(buf[:need]).ljust(DM_OP_SIZE, b"\0")


def _get_mem_type(host: HypercallHost, caller: int, buf: Buffer) -> None:
    if len(buf) < HvmGetMemType.size():
        raise XenEFAULT(f"xen_hvm_get_mem_type needs {HvmGetMemType.size()} bytes")
    arg = HvmGetMemType.unpack(bytes(buf[: HvmGetMemType.size()]))
    mem = host.get_mem_type(caller, arg.domid, arg.pfn)
    if not isinstance(buf, bytearray):
        raise XenEFAULT("get_mem_type output buffer is not writable")
    buf[: HvmGetMemType.size()] = HvmGetMemType(arg.domid, int(mem), arg.pfn).pack()


def dispatch_hvm_op(host: HypercallHost, caller: int, op: int, buf: Buffer) -> int:
    """Run ``set_param``, ``get_param`` or ``get_mem_type``; return 0 or ``-errno``."""
    try:
        _integers(caller, op)  # both as they are: hvm_op's cmd is an unsigned long
        _buffers([buf])
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
