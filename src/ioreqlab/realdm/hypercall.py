"""Raw hypercalls a client makes through ``IOCTL_PRIVCMD_HYPERCALL``.

The arguments are the hypercall's own: numbers, and pointers into the
client's memory (libxencall's hypercall buffers).  Each op is decoded to what
the model's :class:`~ioreqlab.host.Host` serves; an op or sub-op the model
does not have is answered ``-ENOSYS`` — as Xen answers a hypercall it does not
know (``do_ni_hypercall``) and as ``do_memory_op``/``do_xen_version`` answer
an unknown command — and logged with its name.

Served: ``dm_op``, ``hvm_op`` (the ops :func:`~ioreqlab.hv.dmop.dispatch_hvm_op`
serves), ``memory_op`` (``XENMEM_populate_physmap``), ``xen_version`` (the
version, extraversion, capabilities, page size, features and changeset), and
``multicall`` of those (libxenctrl 4.17 sends ``populate_physmap`` as a
one-entry multicall).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable, Sequence

from ioreqlab.abi.constants import PAGE_SIZE, HvmOp
from ioreqlab.abi.structs import HvmGetMemType, HvmParamArg
from ioreqlab.host import Host
from ioreqlab.hv.dmop import MAX_DM_OP_BUFS
from ioreqlab.realdm.wire import ClientMemory, Fault

__all__ = ["HYPERCALL_NAMES", "Hypercalls"]

#: ``__HYPERVISOR_*`` (``public/xen.h``): the ones a device model may make.
HYPERCALL_NAMES = {
    12: "memory_op",
    13: "multicall",
    17: "xen_version",
    20: "grant_table_op",
    29: "sched_op",
    32: "event_channel_op",
    34: "hvm_op",
    35: "sysctl",
    36: "domctl",
    41: "dm_op",
}
_XENMEM_POPULATE_PHYSMAP = 6
_RESERVATION = struct.Struct("<QQIIH6x")  # xen_memory_reservation (x86_64)
_DM_OP_BUF = struct.Struct("<QQ")  # xen_dm_op_buf: handle, size
_MULTICALL = struct.Struct("<8Q")  # multicall_entry: op, result, args[6]
_HVM_ARG_SIZES: dict[int, int] = {
    HvmOp.SET_PARAM: HvmParamArg.size(),
    HvmOp.GET_PARAM: HvmParamArg.size(),
    HvmOp.GET_MEM_TYPE: HvmGetMemType.size(),
}

Unserved = Callable[[str, str, str], None]


class Hypercalls:
    """The hypercalls of one client (dom0), decoded from its memory."""

    def __init__(
        self,
        host: Host,
        mem: ClientMemory,
        unserved: Unserved,
        record: Callable[[int, list[bytes], int], None] | None = None,
    ) -> None:
        self.record = record
        self.host = host
        self.mem = mem
        self.unserved = unserved
        major, minor = (int(x) for x in host.xen.version.split("."))
        self._version = (major << 16) | minor

    def call(self, op: int, args: Sequence[int]) -> int:
        """One hypercall: its return value (``-errno`` on failure)."""
        handler = {
            41: self._dm_op,
            34: self._hvm_op,
            12: self._memory_op,
            17: self._xen_version,
            13: self._multicall,
        }.get(op)
        if handler is None:
            name = HYPERCALL_NAMES.get(op, f"hypercall {op}")
            self.unserved("xen", name, f"cmd {args[0]:#x}")
            return -errno.ENOSYS
        try:
            return handler(args)
        except Fault:
            return -errno.EFAULT

    def dm_op_bufs(
        self, domid: int, descs: Sequence[tuple[int, int]], bufs: list[bytearray]
    ) -> int:
        """``HYPERVISOR_dm_op`` with buffers read from the client; outputs copied back."""
        before = [bytes(b) for b in bufs]
        rc = self.host.dm_op(0, domid, bufs)
        if self.record is not None:
            self.record(domid, before, rc)
        for (ptr, _), old, new in zip(descs, before, bufs, strict=True):
            if bytes(new) != old:
                self.mem.write(ptr, bytes(new))
        return rc

    def _dm_op(self, args: Sequence[int]) -> int:
        domid, nr, ptr = args[0] & 0xFFFF, args[1], args[2]
        if nr > MAX_DM_OP_BUFS:  # do_dm_op refuses before it copies anything in
            return -errno.E2BIG
        raw = self.mem.read(ptr, nr * _DM_OP_BUF.size)
        descs = [_DM_OP_BUF.unpack_from(raw, i * _DM_OP_BUF.size) for i in range(nr)]
        bufs = [bytearray(self.mem.read(p, size)) for p, size in descs]
        return self.dm_op_bufs(domid, descs, bufs)

    def _hvm_op(self, args: Sequence[int]) -> int:
        op, ptr = args[0], args[1]
        size = _HVM_ARG_SIZES.get(op)
        if size is None:
            self.unserved("xen", "hvm_op", f"HVMOP {op}")
            return -errno.ENOSYS
        buf = bytearray(self.mem.read(ptr, size))
        before = bytes(buf)
        rc = self.host.hvm_op(0, op, buf)
        if bytes(buf) != before:
            self.mem.write(ptr, bytes(buf))
        return rc

    def _memory_op(self, args: Sequence[int]) -> int:
        cmd, ptr = args[0] & 0xFFFF, args[1]  # the upper bits carry a continuation
        if cmd != _XENMEM_POPULATE_PHYSMAP:
            self.unserved("xen", "memory_op", f"XENMEM {cmd}")
            return -errno.ENOSYS
        start, nr, order, _flags, domid = _RESERVATION.unpack(self.mem.read(ptr, _RESERVATION.size))
        gfns = struct.unpack(f"<{nr}Q", self.mem.read(start, 8 * nr)) if nr else ()
        return self.host.populate_physmap(0, domid, gfns, order)

    def _xen_version(self, args: Sequence[int]) -> int:
        cmd, ptr = args[0], args[1]
        texts = {
            1: (b".0", 16),  # extraversion
            3: (b"hvm-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p", 1024),  # capabilities
            4: (b"ioreqlab model", 64),  # changeset
        }
        if cmd == 0:
            return self._version
        if cmd == 7:  # pagesize
            return PAGE_SIZE
        if cmd in texts:
            text, size = texts[cmd]
            self.mem.write(ptr, text.ljust(size, b"\0"))
            return 0
        if cmd == 6:  # get_features: submap 0 says nothing extra
            idx = struct.unpack("<I", self.mem.read(ptr, 4))[0]
            self.mem.write(ptr, struct.pack("<II", idx, 0))
            return 0
        self.unserved("xen", "xen_version", f"XENVER {cmd}")
        return -errno.ENOSYS

    def _multicall(self, args: Sequence[int]) -> int:
        ptr, nr = args[0], args[1]
        for i in range(nr):
            at = ptr + i * _MULTICALL.size
            op, _, *call_args = _MULTICALL.unpack(self.mem.read(at, _MULTICALL.size))
            result = self.call(op, call_args) if op != 13 else -errno.EINVAL
            self.mem.write(at + 8, struct.pack("<q", result))
        return 0
