"""The fake Xen a real device-model process runs against: one thread, one lock.

:class:`FakeXen` listens on two unix sockets in a private directory: the
interposition library's (``IOREQLAB_SOCK``) and xenstore's
(``XENSTORED_PATH``).  One thread serves both, and the evtchn fds' data, with
``selectors``; every request is served holding :attr:`FakeXen.cond`, which
also guards the :class:`~ioreqlab.host.Host` for whoever plays the guest, and
is notified after each request, so a guest waiting for an emulator's answer
wakes on events, never on a timer.

The device nodes: ``/dev/xen/privcmd`` and ``/dev/xen/evtchn`` are served
(:mod:`~ioreqlab.realdm.privcmd`, :mod:`~ioreqlab.realdm.evtchn`); any other
node (``/dev/xen/hypercall``, ``gntdev``, ``gntalloc``, ``xenbus``,
``/proc/xen/...``) is ``-ENOENT`` — a host without that driver — and logged.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ioreqlab.errors import ModelLimitError
from ioreqlab.host import Host
from ioreqlab.realdm.evtchn import EvtchnFile
from ioreqlab.realdm.hypercall import Hypercalls
from ioreqlab.realdm.privcmd import IOCTL, PrivcmdFile
from ioreqlab.realdm.shm import SharedPages
from ioreqlab.realdm.wire import ClientMemory, Kind, Reply, Request, recv_request, send_reply
from ioreqlab.realdm.xenstored import XenStore, XenStoreConnection

__all__ = ["FakeXen", "Unserved"]


@dataclass(frozen=True, slots=True)
class Unserved:
    """A call the fake did not serve: which driver, what call, why."""

    driver: str
    call: str
    detail: str


@dataclass
class _Client:
    sock: socket.socket
    mem: ClientMemory | None = None
    files: dict[int, PrivcmdFile | EvtchnFile] = field(default_factory=dict)
    next_handle: int = 1


class FakeXen:
    """Serves device-model processes for ``host`` (whose pages must be :class:`SharedPages`)."""

    def __init__(
        self,
        host: Host,
        *,
        dm_op_ioctl: bool = True,
        map_resource: bool = True,
        on_event: Callable[[str, dict[str, object]], None] | None = None,
    ) -> None:
        if not isinstance(host.pages, SharedPages):
            raise ValueError("the host's pages must be SharedPages for a real device model")
        self.host = host
        self.pages: SharedPages = host.pages
        #: Serve ``IOCTL_PRIVCMD_DM_OP`` (False: ``-ENOTTY``, a kernel without it,
        #: so libxendevicemodel falls back to the raw hypercall).
        self.dm_op_ioctl = dm_op_ioctl
        #: Serve ``IOCTL_PRIVCMD_MMAP_RESOURCE`` (False: ``-ENOTTY``, a kernel before
        #: 4.18; libxenforeignmemory then says EOPNOTSUPP and QEMU maps the gfns).
        self.map_resource = map_resource
        self.cond = threading.Condition(threading.RLock())
        self.unserved: list[Unserved] = []
        self.on_event = on_event
        self.dir = Path(tempfile.mkdtemp(prefix="ioreqlab-dm-"))
        self.sock_path = str(self.dir / "preload.sock")
        self.xenstore_path = str(self.dir / "xenstored.sock")
        self.xenstore = XenStore(self._unserved, self._xs_write)
        self.xs_writes: list[tuple[str, bytes]] = []
        #: Every DMOP a client made, either transport: (domid, input buffers, rc).
        self.dm_ops: list[tuple[int, list[bytes], int]] = []
        self.xenstore_used = False
        self._sel = selectors.DefaultSelector()
        self._listen = self._listener(self.sock_path)
        self._xs_listen = self._listener(self.xenstore_path)
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._listen, selectors.EVENT_READ, ("accept", None))
        self._sel.register(self._xs_listen, selectors.EVENT_READ, ("xs-accept", None))
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._stop = False
        #: Set when serving had to stop: the model's own bound was reached.
        self.failure: ModelLimitError | None = None
        self._thread = threading.Thread(target=self._serve, name="ioreqlab-fakexen", daemon=True)
        self.requests = 0
        #: Every evtchn and privcmd fd opened so far (closed ones included, for the record).
        self.evtchn_files: list[EvtchnFile] = []
        self.privcmd_files: list[PrivcmdFile] = []

    @staticmethod
    def _listener(path: str) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(16)
        s.setblocking(False)
        return s

    def environment(self) -> dict[str, str]:
        """What the client's environment needs to find this fake."""
        return {"IOREQLAB_SOCK": self.sock_path, "XENSTORED_PATH": self.xenstore_path}

    def start(self) -> None:
        """Start serving (a daemon thread)."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving and remove the sockets (again: nothing)."""
        if self._stop:
            return
        self._stop = True
        self._wake_w.send(b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for key in list(self._sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]  # every registered object is a socket
        self._sel.close()
        self._wake_w.close()
        for p in (self.sock_path, self.xenstore_path):
            Path(p).unlink(missing_ok=True)
        self.dir.rmdir()

    # -- logging ------------------------------------------------------------

    def _unserved(self, driver: str, call: str, detail: str) -> None:
        self.unserved.append(Unserved(driver, call, detail))
        if self.on_event is not None:
            self.on_event("unserved", {"driver": driver, "call": call, "detail": detail})

    def _record_dm_op(self, domid: int, bufs: list[bytes], rc: int) -> None:
        self.dm_ops.append((domid, bufs, rc))

    def _xs_write(self, path: str, value: bytes) -> None:
        self.xs_writes.append((path, value))

    def _signal(self) -> None:
        """Called under the lock when Xen woke something or a client acted."""
        self.cond.notify_all()

    # -- the loop -------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop:
            for key, _ in self._sel.select():
                what, obj = key.data
                with self.cond:
                    try:
                        self._dispatch(what, obj, key.fileobj)  # type: ignore[arg-type]
                    except ModelLimitError as err:
                        # The model is full: no errno of Xen's says so.  Serve no more;
                        # whoever waits on the session gets the error (session.wait_for).
                        self.failure = err
                        self.cond.notify_all()
                        return
                    self.cond.notify_all()

    def _dispatch(self, what: str, obj: object, sock: socket.socket) -> None:
        if what == "wake":
            sock.recv(64)
        elif what == "accept":
            conn, _ = sock.accept()
            self._sel.register(conn, selectors.EVENT_READ, ("client", _Client(conn)))
        elif what == "xs-accept":
            conn, _ = sock.accept()
            self.xenstore_used = True
            self._sel.register(conn, selectors.EVENT_READ, ("xs", self.xenstore.connect(conn)))
        elif what == "xs":
            assert isinstance(obj, XenStoreConnection)
            data = sock.recv(65536)
            if data:
                self.xenstore.received(obj, data)
            else:
                self._sel.unregister(sock)
                self.xenstore.disconnect(obj)
        elif what == "evtchn":
            assert isinstance(obj, EvtchnFile)
            if not obj.readable():
                self._sel.unregister(sock)
        elif what == "client":
            assert isinstance(obj, _Client)
            try:
                req = recv_request(sock)
            except ConnectionResetError:
                req = None
            if req is None:
                self._client_gone(obj)
                return
            self.requests += 1
            reply = self._request(obj, req)
            if reply is not None:
                try:
                    send_reply(sock, reply)
                finally:
                    if reply.fd is not None:
                        os.close(reply.fd)

    def _client_gone(self, c: _Client) -> None:
        self._sel.unregister(c.sock)
        c.sock.close()
        for f in c.files.values():
            self._close_file(f)
        c.files.clear()

    def _close_file(self, f: PrivcmdFile | EvtchnFile) -> None:
        if isinstance(f, EvtchnFile):
            if f.sock.fileno() >= 0:
                with contextlib.suppress(KeyError):
                    self._sel.unregister(f.sock)
            f.close()

    def _request(self, c: _Client, req: Request) -> Reply | None:
        if req.kind == Kind.HELLO:
            c.mem = ClientMemory(req.args[0])
            return Reply(0, fd=os.dup(self.pages.fd))
        if c.mem is None:
            return Reply(-errno.EPROTO)
        if req.kind == Kind.OPEN:
            return self._open(c, c.mem, req.data.split(b"\0", 1)[0].decode(errors="replace"))
        f = c.files.get(req.handle)
        if req.kind == Kind.CLOSE:
            if f is not None:
                del c.files[req.handle]
                self._close_file(f)
            return Reply(0)
        if req.kind == Kind.MUNMAP:
            for pf in c.files.values():
                if isinstance(pf, PrivcmdFile):
                    pf.munmap(req.args[0])
            return Reply(0)
        if f is None:
            return Reply(-errno.EBADF)
        if req.kind == Kind.MMAP:
            if isinstance(f, EvtchnFile):
                return Reply(-errno.EINVAL)  # the evtchn driver has no mmap
            return Reply(f.mmap(req.args[0], req.args[1], req.args[2]))
        if req.kind == Kind.IOCTL:
            if isinstance(f, EvtchnFile):
                return Reply(f.ioctl(req.args[0], req.args[1]))
            if not self.dm_op_ioctl and req.args[0] == _DM_OP_IOCTL:
                return Reply(-errno.ENOTTY)
            if not self.map_resource and req.args[0] == _MMAP_RESOURCE_IOCTL:
                return Reply(-errno.ENOTTY)
            ret, maps = f.ioctl(req.args[0], req.args[1])
            return Reply(ret, maps)
        return Reply(-errno.EINVAL)

    def _open(self, c: _Client, mem: ClientMemory, path: str) -> Reply:
        if path == "/dev/xen/privcmd":
            pf = PrivcmdFile(
                self.host,
                self.pages,
                mem,
                Hypercalls(self.host, mem, self._unserved, self._record_dm_op),
                self._unserved,
            )
            self.privcmd_files.append(pf)
            f: PrivcmdFile | EvtchnFile = pf
            ours, theirs = socket.socketpair()
            ours.close()
        elif path == "/dev/xen/evtchn":
            ours, theirs = socket.socketpair()
            ours.setblocking(False)
            f = EvtchnFile(self.host, mem, self._unserved, ours, self._signal)
            self._sel.register(ours, selectors.EVENT_READ, ("evtchn", f))
            self.evtchn_files.append(f)
        else:
            self._unserved("linux", f"open {path}", "no such driver here")
            return Reply(-errno.ENOENT)
        handle = c.next_handle
        c.next_handle += 1
        c.files[handle] = f
        fd = theirs.detach()
        return Reply(handle, fd=fd)


_DM_OP_IOCTL = IOCTL["DM_OP"]
_MMAP_RESOURCE_IOCTL = IOCTL["MMAP_RESOURCE"]
