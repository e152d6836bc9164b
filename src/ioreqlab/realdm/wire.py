"""The interposition library's wire, and the client's memory.

The C side (``preload.c``) sends fixed-size requests; this module frames them
and the replies, and reads and writes the client's memory with
``process_vm_readv``/``process_vm_writev`` — as Linux's drivers use
``copy_from_user``/``copy_to_user``: a bad pointer is ``-EFAULT``, never a crash.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import struct
from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["ClientMemory", "Kind", "Mapping", "Reply", "Request", "recv_request", "send_reply"]

_REQ = struct.Struct("<II4QI")
_REP = struct.Struct("<qII")
_MAP = struct.Struct("<4Q")


class Kind(IntEnum):
    """Request kinds, as ``preload.c`` numbers them."""

    HELLO = 1
    OPEN = 2
    IOCTL = 3
    MMAP = 4
    CLOSE = 5
    MUNMAP = 6


@dataclass(frozen=True, slots=True)
class Request:
    """One forwarded call: its kind, the device handle, four numbers and a payload."""

    kind: Kind
    handle: int
    args: tuple[int, int, int, int]
    data: bytes


@dataclass(frozen=True, slots=True)
class Mapping:
    """Map ``size`` bytes of the shared memory file at ``offset`` to ``addr`` in the client."""

    addr: int
    size: int
    offset: int
    prot: int


@dataclass(slots=True)
class Reply:
    """The answer: a value or ``-errno``, mappings to make, a file descriptor to pass."""

    ret: int
    maps: list[Mapping] = field(default_factory=list)
    fd: int | None = None


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return bytes(out)


def recv_request(sock: socket.socket) -> Request | None:
    """The next request, or None when the client closed the connection."""
    head = _recv_exact(sock, _REQ.size)
    if head is None:
        return None
    kind, handle, a0, a1, a2, a3, length = _REQ.unpack(head)
    data = _recv_exact(sock, length) if length else b""
    if data is None:
        return None
    return Request(Kind(kind), handle, (a0, a1, a2, a3), data)


def send_reply(sock: socket.socket, reply: Reply) -> None:
    """Send ``reply``; its file descriptor, if any, rides along (SCM_RIGHTS)."""
    raw = _REP.pack(reply.ret, len(reply.maps), 0) + b"".join(
        _MAP.pack(m.addr, m.size, m.offset, m.prot) for m in reply.maps
    )
    if reply.fd is None:
        sock.sendall(raw)
    else:
        socket.send_fds(sock, [raw], [reply.fd])


class _IoVec(ctypes.Structure):
    _fields_ = (("base", ctypes.c_void_p), ("len", ctypes.c_size_t))


_libc = ctypes.CDLL(None, use_errno=True)
_readv = _libc.process_vm_readv
_writev = _libc.process_vm_writev
for _fn in (_readv, _writev):
    _fn.restype = ctypes.c_ssize_t
    _fn.argtypes = (
        ctypes.c_int,
        ctypes.POINTER(_IoVec),
        ctypes.c_ulong,
        ctypes.POINTER(_IoVec),
        ctypes.c_ulong,
        ctypes.c_ulong,
    )


class Fault(OSError):
    """A bad client pointer: what ``copy_from_user`` turns into ``-EFAULT``."""

    def __init__(self, addr: int, size: int) -> None:
        super().__init__(errno.EFAULT, f"bad client address {addr:#x}+{size}")


class ClientMemory:
    """The client process's address space, read and written from outside."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def read(self, addr: int, size: int) -> bytes:
        """``copy_from_user``: ``size`` bytes at ``addr`` (:class:`Fault` if not all readable)."""
        if size == 0:
            return b""
        if addr <= 0 or size < 0 or addr + size > 1 << 64:
            raise Fault(addr, size)
        buf = ctypes.create_string_buffer(size)
        local = _IoVec(ctypes.cast(buf, ctypes.c_void_p), size)
        remote = _IoVec(addr, size)
        if _readv(self.pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) != size:
            raise Fault(addr, size)
        return buf.raw

    def write(self, addr: int, data: bytes) -> None:
        """``copy_to_user`` (:class:`Fault` if not all writable)."""
        if not data:
            return
        if addr <= 0 or addr + len(data) > 1 << 64:
            raise Fault(addr, len(data))
        buf = ctypes.create_string_buffer(bytes(data), len(data))
        local = _IoVec(ctypes.cast(buf, ctypes.c_void_p), len(data))
        remote = _IoVec(addr, len(data))
        if _writev(self.pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) != len(data):
            raise Fault(addr, len(data))

    def alive(self) -> bool:
        """Whether the process still exists."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True
