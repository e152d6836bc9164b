"""Linux's privcmd driver (``drivers/xen/privcmd.c``, Linux 6.1), played for a client.

What the driver answers itself, before Xen, is kept as Linux does it:

* ``IOCTL_PRIVCMD_DM_OP``: a bad argument pointer ``-EFAULT``; a restricted
  fd used for another domain ``-EPERM``; **no buffers returns 0 without
  calling Xen** (libxendevicemodel's probe at open); more than 16 buffers or
  one over 4096 bytes ``-E2BIG``; an unreadable buffer ``-EFAULT``.
* ``IOCTL_PRIVCMD_HYPERCALL``: a restricted fd ``-EPERM``; otherwise the raw
  hypercall (:mod:`ioreqlab.realdm.hypercall`).
* ``IOCTL_PRIVCMD_MMAP_RESOURCE``: a restricted fd for another domain
  ``-EPERM``; ``num == 0`` with ``addr == 0`` is the size query; otherwise the
  target range must lie in a mapping of this fd (``-EINVAL``), then
  ``XENMEM_acquire_resource`` and the frames are mapped there.
* ``IOCTL_PRIVCMD_MMAPBATCH_V2``: the range must lie in a mapping of this fd
  (``-EINVAL``); each frame's error goes to ``err[]``; the call returns
  ``-ENOENT`` only when a frame was paged out (never here), else 0.
* ``IOCTL_PRIVCMD_RESTRICT``: once restricted to a domain, another ``-EINVAL``.
* Anything else, ``IOCTL_PRIVCMD_UNIMPLEMENTED`` included, ``-ENOTTY``.
  ``IOCTL_PRIVCMD_MMAP`` and ``IOCTL_PRIVCMD_MMAPBATCH`` (v1) exist in Linux
  only for PV dom0 and are ``-ENOSYS``/``-EINVAL`` on an HVM/PVH one; here
  they are ``-ENOSYS``, logged.

The caller is always dom0 (the device model runs in the control domain);
``-xen-domid-restrict`` only narrows what its fds may target.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from ioreqlab.abi.constants import DOMID_INVALID, PAGE_SIZE
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.realdm.hypercall import Hypercalls
from ioreqlab.realdm.shm import SharedPages
from ioreqlab.realdm.wire import ClientMemory, Fault, Mapping

__all__ = ["IOCTL", "PrivcmdFile"]


def _ioc(nr: int, size: int) -> int:
    return (size << 16) | (ord("P") << 8) | nr


#: ``_IOC(_IOC_NONE, 'P', nr, sizeof(...))`` of ``xen/sys/privcmd.h``.
IOCTL = {
    "HYPERCALL": _ioc(0, 48),
    "MMAP": _ioc(2, 16),
    "MMAPBATCH": _ioc(3, 24),
    "MMAPBATCH_V2": _ioc(4, 32),
    "DM_OP": _ioc(5, 16),
    "RESTRICT": _ioc(6, 2),
    "MMAP_RESOURCE": _ioc(7, 32),
    "UNIMPLEMENTED": _ioc(0xFF, 0),
}
_NAMES = {v: k for k, v in IOCTL.items()}

DM_OP_MAX_BUFS = 16  # privcmd_dm_op_max_num
DM_OP_MAX_BUF_SIZE = 4096  # privcmd_dm_op_buf_max_size
TASK_SIZE = (1 << 47) - 4096  # x86_64 TASK_SIZE_MAX: access_ok's limit
_XENMEM_RESOURCE_IOREQ_SERVER = 0

_DM_OP = struct.Struct("<HH4xQ")
_DM_OP_BUF = struct.Struct("<QQ")
_HYPERCALL = struct.Struct("<6Q")
_MMAP_RESOURCE = struct.Struct("<H2xIIIQQ")
_MMAPBATCH_V2 = struct.Struct("<IH2xQQQ")

#: The log of calls the fake does not serve: (driver, call, detail).
Unserved = Callable[[str, str, str], None]


@dataclass
class PrivcmdFile:
    """One open ``/dev/xen/privcmd``: its restriction and its mappings."""

    host: Host
    pages: SharedPages
    mem: ClientMemory
    hypercalls: Hypercalls
    unserved: Unserved
    #: ``IOCTL_PRIVCMD_RESTRICT``'s domain (DOMID_INVALID: not restricted).
    restriction: int = DOMID_INVALID
    #: The client's mappings of this fd: start address -> (size, prot).
    vmas: dict[int, tuple[int, int]] = field(default_factory=dict)

    caller = 0

    def mmap(self, addr: int, size: int, prot: int) -> int:
        """The client mapped the device: remember the range (frames come by ioctl)."""
        self.vmas[addr] = (size, prot)
        return 0

    def munmap(self, addr: int) -> None:
        """The client unmapped a range of the device."""
        self.vmas.pop(addr, None)

    def ioctl(self, request: int, arg: int) -> tuple[int, list[Mapping]]:
        """Serve one ioctl: ``(value or -errno, mappings to make)``."""
        name = _NAMES.get(request)
        try:
            if name == "DM_OP":
                return self._dm_op(arg), []
            if name == "MMAP_RESOURCE":
                return self._mmap_resource(arg)
            if name == "MMAPBATCH_V2":
                return self._mmapbatch_v2(arg)
            if name == "HYPERCALL":
                return self._hypercall(arg), []
            if name == "RESTRICT":
                return self._restrict(arg), []
        except Fault:
            return -errno.EFAULT, []
        if name in ("MMAP", "MMAPBATCH"):
            self.unserved("privcmd", f"IOCTL_PRIVCMD_{name}", "PV-only interface")
            return -errno.ENOSYS, []
        if name != "UNIMPLEMENTED":  # the libraries' probe: expected, not worth a log line
            self.unserved("privcmd", f"ioctl {request:#x}", "unknown request")
        return -errno.ENOTTY, []

    def _restricted_away(self, domid: int) -> bool:
        return self.restriction not in (DOMID_INVALID, domid)

    def _dm_op(self, arg: int) -> int:
        dom, num, ubufs = _DM_OP.unpack(self.mem.read(arg, _DM_OP.size))
        if self._restricted_away(dom):
            return -errno.EPERM
        if num == 0:
            return 0
        if num > DM_OP_MAX_BUFS:
            return -errno.E2BIG
        raw = self.mem.read(ubufs, num * _DM_OP_BUF.size)
        descs = [_DM_OP_BUF.unpack_from(raw, i * _DM_OP_BUF.size) for i in range(num)]
        for ptr, size in descs:  # per buffer, in order: the size, then access_ok
            if size > DM_OP_MAX_BUF_SIZE:
                return -errno.E2BIG
            if ptr + size > TASK_SIZE:
                return -errno.EFAULT
        bufs = [bytearray(self.mem.read(ptr, size)) for ptr, size in descs]
        return self.hypercalls.dm_op_bufs(dom, descs, bufs)

    def _hypercall(self, arg: int) -> int:
        op, *args = _HYPERCALL.unpack(self.mem.read(arg, _HYPERCALL.size))
        if self.restriction != DOMID_INVALID:
            return -errno.EPERM
        return self.hypercalls.call(op, args)

    def _restrict(self, arg: int) -> int:
        (dom,) = struct.unpack("<H", self.mem.read(arg, 2))
        if self._restricted_away(dom):
            return -errno.EINVAL
        self.restriction = dom
        return 0

    def _vma_covers(self, addr: int, size: int) -> int | None:
        """The prot of this fd's mapping holding ``[addr, addr+size)``, if one does."""
        for start, (length, prot) in self.vmas.items():
            if start <= addr and addr + size <= start + length:
                return prot
        return None

    def _mmap_resource(self, arg: int) -> tuple[int, list[Mapping]]:
        dom, rtype, rid, idx, num, addr = _MMAP_RESOURCE.unpack(
            self.mem.read(arg, _MMAP_RESOURCE.size)
        )
        if self._restricted_away(dom):
            return -errno.EPERM, []
        if num == 0 and addr == 0:  # the size query
            try:
                self.host.acquire_ioreq_server_frames(self.caller, dom, rid, 0, 0)
                frames = (
                    self.host.ioreq_server_max_frames(dom)
                    if rtype == _XENMEM_RESOURCE_IOREQ_SERVER
                    else 0
                )
            except XenError as err:
                return -(err.errno or 0), []
            out = _MMAP_RESOURCE.pack(dom, rtype, rid, idx, frames, addr)
            self.mem.write(arg, out)
            return 0, []
        prot = self._vma_covers(addr, num * PAGE_SIZE)
        if prot is None or addr % PAGE_SIZE:
            return -errno.EINVAL, []
        if rtype != _XENMEM_RESOURCE_IOREQ_SERVER:
            self.unserved("privcmd", "XENMEM_acquire_resource", f"resource type {rtype}")
            return -errno.EOPNOTSUPP, []
        try:
            pages = self.host.acquire_ioreq_server_frames(self.caller, dom, rid, idx, num)
        except XenError as err:
            return -(err.errno or 0), []
        maps = [
            Mapping(addr + i * PAGE_SIZE, PAGE_SIZE, self.pages.offset(p), prot)
            for i, p in enumerate(pages)
        ]
        return 0, maps

    def _mmapbatch_v2(self, arg: int) -> tuple[int, list[Mapping]]:
        num, dom, addr, arr, err_ptr = _MMAPBATCH_V2.unpack(self.mem.read(arg, _MMAPBATCH_V2.size))
        if self._restricted_away(dom):
            return -errno.EPERM, []
        prot = self._vma_covers(addr, num * PAGE_SIZE)
        if prot is None or addr % PAGE_SIZE or num == 0:
            return -errno.EINVAL, []
        gfns = struct.unpack(f"<{num}Q", self.mem.read(arr, 8 * num))
        errs: list[int] = []
        maps: list[Mapping] = []
        for i, gfn in enumerate(gfns):
            try:
                page = self.host.foreign_page(self.caller, dom, gfn)
            except XenError as err:
                errs.append(-(err.errno or 0))
                continue
            errs.append(0)
            at = addr + i * PAGE_SIZE
            if maps and maps[-1].addr + maps[-1].size == at:
                last = maps[-1]
                if last.offset + last.size == self.pages.offset(page):
                    maps[-1] = Mapping(last.addr, last.size + PAGE_SIZE, last.offset, prot)
                    continue
            maps.append(Mapping(at, PAGE_SIZE, self.pages.offset(page), prot))
        self.mem.write(err_ptr, struct.pack(f"<{num}i", *errs))
        return 0, maps
