"""Linux's evtchn driver (``drivers/xen/evtchn.c``, Linux 6.1), played for a client.

The client's fd is one end of a socket pair; this side holds the other.  A
signal from Xen on a bound port writes the port (a 32-bit number) to the
socket and masks the port, as the driver's interrupt handler does
(``evtchn_interrupt``: disable the IRQ, queue the port); the client
``read``s pending ports straight from its fd and ``write``s them back to
unmask (``evtchn_write`` → ``enable_irq``); a signal that came while the port
was masked is delivered on unmask.  So ``poll``, ``select`` and ``epoll`` on
the fd are the kernel's own.

ioctls (``xen/sys/evtchn.h``): ``BIND_INTERDOMAIN`` returns the local port;
``UNBIND`` and ``NOTIFY`` take a port bound *by this fd* (``-ENOTCONN``
otherwise); ``RESTRICT_DOMID`` limits binding to one domain (``-EPERM`` for
others, and no more virq or unbound-port binding); ``RESET`` clears the
ring.  ``BIND_VIRQ`` and ``BIND_UNBOUND_PORT`` are not modelled (no virqs,
no guest-offered ports): logged and ``-ENOSYS``.  Xen's own errors come
back as ``-errno``.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from ioreqlab.abi.constants import DOMID_INVALID
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.realdm.wire import ClientMemory, Fault

__all__ = ["EVTCHN_IOCTL", "EvtchnFile"]


def _ioc(nr: int, size: int) -> int:
    return (size << 16) | (ord("E") << 8) | nr


EVTCHN_IOCTL = {
    "BIND_VIRQ": _ioc(0, 4),
    "BIND_INTERDOMAIN": _ioc(1, 8),
    "BIND_UNBOUND_PORT": _ioc(2, 4),
    "UNBIND": _ioc(3, 4),
    "NOTIFY": _ioc(4, 4),
    "RESET": _ioc(5, 0),
    "RESTRICT_DOMID": _ioc(6, 2),
}
_NAMES = {v: k for k, v in EVTCHN_IOCTL.items()}
_PORT = struct.Struct("<I")

Unserved = Callable[[str, str, str], None]


@dataclass
class _Port:
    masked: bool = False
    pending: bool = False


@dataclass
class EvtchnFile:
    """One open ``/dev/xen/evtchn``: its ports, and the model's end of its socket."""

    host: Host
    mem: ClientMemory
    unserved: Unserved
    sock: socket.socket
    #: Runs after Xen woke something (so a waiting guest can look).
    on_signal: Callable[[], None]
    restriction: int = DOMID_INVALID
    ports: dict[int, _Port] = field(default_factory=dict)
    #: Ports the client wrote back (unmasked): its event loop runs once this is > 0.
    unmasks: int = 0
    _partial: bytes = b""

    caller = 0

    def _fire(self, port: int) -> None:
        p = self.ports.get(port)
        if p is None:
            return
        if p.masked:
            p.pending = True
            return
        p.masked = True
        try:
            self.sock.send(_PORT.pack(port))
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            p.pending = True  # the ring is full or the client is gone: keep it latched

    def readable(self) -> bool:
        """The client wrote to its fd: unmask the ports it wrote.  False at EOF."""
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return True
        except ConnectionResetError:
            data = b""
        if not data:
            return False
        data = self._partial + data
        whole = len(data) - len(data) % 4
        self._partial = data[whole:]
        for (port,) in _PORT.iter_unpack(data[:whole]):
            p = self.ports.get(port)
            if p is None:
                continue
            p.masked = False
            self.unmasks += 1
            if p.pending:
                p.pending = False
                self._fire(port)
        return True

    def ioctl(self, request: int, arg: int) -> int:
        """Serve one ioctl: a value or ``-errno``."""
        name = _NAMES.get(request)
        try:
            if name == "BIND_INTERDOMAIN":
                return self._bind_interdomain(arg)
            if name in ("UNBIND", "NOTIFY"):
                (port,) = _PORT.unpack(self.mem.read(arg, 4))
                if port not in self.ports:
                    return -errno.ENOTCONN
                return self._unbind(port) if name == "UNBIND" else self._notify(port)
            if name == "RESTRICT_DOMID":
                (dom,) = struct.unpack("<H", self.mem.read(arg, 2))
                if self.restriction not in (DOMID_INVALID, dom):
                    return -errno.EINVAL
                self.restriction = dom
                return 0
            if name == "RESET":
                for p in self.ports.values():
                    p.masked = p.pending = False
                return 0
        except Fault:
            return -errno.EFAULT
        if name in ("BIND_VIRQ", "BIND_UNBOUND_PORT"):
            if self.restriction != DOMID_INVALID:
                return -errno.EPERM
            self.unserved("evtchn", f"IOCTL_EVTCHN_{name}", "not modelled")
            return -errno.ENOSYS
        self.unserved("evtchn", f"ioctl {request:#x}", "unknown request")
        return -errno.ENOTTY

    def _bind_interdomain(self, arg: int) -> int:
        remote_dom, remote_port = struct.unpack("<II", self.mem.read(arg, 8))
        if self.restriction not in (DOMID_INVALID, remote_dom):
            return -errno.EPERM
        try:
            return self._bind(remote_dom, remote_port)
        except XenError as err:
            return -(err.errno or 0)

    def _bind(self, remote_dom: int, remote_port: int) -> int:
        box: list[int] = []  # the local port, once Xen has chosen it

        def notify() -> None:
            if box:
                self._fire(box[0])
                self.on_signal()

        local = self.host.evtchn_bind_interdomain(self.caller, remote_dom, remote_port, notify)
        box.append(local)
        self.ports[local] = _Port()
        self._fire(local)  # Xen set it pending at binding
        return local

    def _unbind(self, port: int) -> int:
        del self.ports[port]
        try:
            self.host.evtchn_close(self.caller, port)
        except XenError as err:
            return -(err.errno or 0)
        return 0

    def _notify(self, port: int) -> int:
        try:
            self.host.evtchn_send(self.caller, port)
        except XenError as err:
            return -(err.errno or 0)
        self.on_signal()
        return 0

    def close(self) -> None:
        """The client closed its fd: every port it bound is closed."""
        for port in list(self.ports):
            self._unbind(port)
        self.sock.close()
