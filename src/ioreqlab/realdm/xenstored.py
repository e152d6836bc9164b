"""A small xenstored: the socket protocol QEMU and libxenstore speak, and a tree.

Why our own: Debian's C ``xenstored`` crashed on the first write from a socket
client here, and ``oxenstored`` will not start without ``setrlimit`` rights
(``../shared/reference/realclient.md``).  This one serves one host's
clients, all dom0, on a unix socket (``XENSTORED_PATH``).

The protocol (``xen/io/xs_wire.h``): a 16-byte header ``type, req_id, tx_id,
len`` and up to 4096 bytes of payload; errors are ``XS_ERROR`` with the
errno's name.  Served: ``DIRECTORY``, ``READ``, ``WRITE`` (parents created),
``MKDIR``, ``RM`` (a subtree; a missing node whose parent exists is fine),
``GET_PERMS``/``SET_PERMS`` (kept, not enforced: every client is dom0),
``WATCH`` (fires once at once, then on every change at or below the path) and
``UNWATCH``, ``TRANSACTION_START``/``END`` (applied as they come, without
isolation: every END succeeds), ``GET_DOMAIN_PATH``, ``INTRODUCE``,
``RELEASE``, ``RESUME``, ``IS_DOMAIN_INTRODUCED``, ``RESET_WATCHES``.  Others
are ``EINVAL`` and logged.  Relative paths are under ``/local/domain/0``.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["XenStore", "XenStoreConnection"]

_HEADER = struct.Struct("<IIII")
PAYLOAD_MAX = 4096
_NAMES = (
    "CONTROL",
    "DIRECTORY",
    "READ",
    "GET_PERMS",
    "WATCH",
    "UNWATCH",
    "TRANSACTION_START",
    "TRANSACTION_END",
    "INTRODUCE",
    "RELEASE",
    "GET_DOMAIN_PATH",
    "WRITE",
    "MKDIR",
    "RM",
    "SET_PERMS",
    "WATCH_EVENT",
    "ERROR",
    "IS_DOMAIN_INTRODUCED",
    "RESUME",
    "SET_TARGET",
    "RESTRICT",
    "RESET_WATCHES",
    "DIRECTORY_PART",
)
XS = {name: i for i, name in enumerate(_NAMES)}

Unserved = Callable[[str, str, str], None]


class _Error(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass
class XenStoreConnection:
    """One client connection: its socket, its watches and what it has half sent."""

    sock: socket.socket
    watches: list[tuple[str, str]] = field(default_factory=list)
    buffer: bytes = b""


class XenStore:
    """The tree, and the protocol for each connection."""

    def __init__(self, unserved: Unserved, on_write: Callable[[str, bytes], None]) -> None:
        self.nodes: dict[str, bytes] = {"/": b"", "/local": b"", "/local/domain": b""}
        self.perms: dict[str, list[str]] = {}
        self.unserved = unserved
        self.on_write = on_write
        self.connections: list[XenStoreConnection] = []
        self._tx = 0

    # -- the tree, for the toolstack side --------------------------------

    def write(self, path: str, value: bytes | str) -> None:
        """Write a node (and its missing parents), firing watches."""
        raw = value.encode() if isinstance(value, str) else value
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            parent = "/" + "/".join(parts[:i])
            if parent not in self.nodes:
                self.nodes[parent] = b""
                self._fire(parent)
        self.nodes[path] = raw
        self._fire(path)
        self.on_write(path, raw)

    def read(self, path: str) -> bytes | None:
        """A node's value, or None."""
        return self.nodes.get(path)

    def _children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix) :].split("/")[0] for p in self.nodes if p.startswith(prefix)}
        return sorted(n for n in names if n)

    def _rm(self, path: str) -> None:
        if path not in self.nodes:
            parent = path.rsplit("/", 1)[0] or "/"
            if parent not in self.nodes:
                raise _Error("ENOENT")
            return
        for p in [p for p in self.nodes if p == path or p.startswith(path + "/")]:
            del self.nodes[p]
            self.perms.pop(p, None)
        self._fire(path)

    def _fire(self, path: str) -> None:
        for conn in self.connections:
            for wpath, token in conn.watches:
                if path == wpath or path.startswith(wpath.rstrip("/") + "/"):
                    self._send(conn, XS["WATCH_EVENT"], 0, 0, f"{path}\0{token}\0".encode())

    # -- the protocol ------------------------------------------------------

    def connect(self, sock: socket.socket) -> XenStoreConnection:
        """A new client."""
        conn = XenStoreConnection(sock)
        self.connections.append(conn)
        return conn

    def disconnect(self, conn: XenStoreConnection) -> None:
        """The client went away: its watches go with it."""
        self.connections.remove(conn)
        conn.sock.close()

    def _send(self, conn: XenStoreConnection, mtype: int, req: int, tx: int, body: bytes) -> None:
        try:
            conn.sock.sendall(_HEADER.pack(mtype, req, tx, len(body)) + body)
        except OSError:
            return  # the client is gone; its disconnect will follow

    def received(self, conn: XenStoreConnection, data: bytes) -> None:
        """Bytes from a client: serve every whole message in them."""
        conn.buffer += data
        while len(conn.buffer) >= _HEADER.size:
            mtype, req, tx, length = _HEADER.unpack_from(conn.buffer)
            if len(conn.buffer) < _HEADER.size + length:
                return
            body = conn.buffer[_HEADER.size : _HEADER.size + length]
            conn.buffer = conn.buffer[_HEADER.size + length :]
            try:
                if length > PAYLOAD_MAX:
                    raise _Error("E2BIG")
                reply = self._serve(conn, mtype, body)
            except _Error as err:
                self._send(conn, XS["ERROR"], req, tx, err.name.encode() + b"\0")
                continue
            self._send(conn, mtype, req, tx, reply)
            if mtype == XS["WATCH"]:
                wpath, token = conn.watches[-1]
                if wpath in self.nodes:
                    self._send(conn, XS["WATCH_EVENT"], 0, 0, f"{wpath}\0{token}\0".encode())

    @staticmethod
    def _path(raw: bytes) -> str:
        path = raw.split(b"\0", 1)[0].decode(errors="replace")
        if not path:
            raise _Error("EINVAL")
        return path if path.startswith(("/", "@")) else "/local/domain/0/" + path

    def _serve(self, conn: XenStoreConnection, mtype: int, body: bytes) -> bytes:
        name = _NAMES[mtype] if mtype < len(_NAMES) else f"type {mtype}"
        ok = b"OK\0"
        if name == "READ":
            value = self.nodes.get(self._path(body))
            if value is None:
                raise _Error("ENOENT")
            return value
        if name == "DIRECTORY":
            path = self._path(body)
            if path not in self.nodes:
                raise _Error("ENOENT")
            return b"".join(c.encode() + b"\0" for c in self._children(path))
        if name == "WRITE":
            raw_path, _, value = body.partition(b"\0")
            self.write(self._path(raw_path), value)
            return ok
        if name == "MKDIR":
            path = self._path(body)
            if path not in self.nodes:
                self.write(path, b"")
            return ok
        if name == "RM":
            self._rm(self._path(body))
            return ok
        if name == "GET_PERMS":
            path = self._path(body)
            if path not in self.nodes:
                raise _Error("ENOENT")
            return b"".join(p.encode() + b"\0" for p in self.perms.get(path, ["n0"]))
        if name == "SET_PERMS":
            raw_path, *perms = body.rstrip(b"\0").split(b"\0")
            full = self._path(raw_path)
            if full not in self.nodes:
                raise _Error("ENOENT")
            self.perms[full] = [p.decode(errors="replace") for p in perms]
            return ok
        if name in ("WATCH", "UNWATCH"):
            parts = body.split(b"\0")
            if len(parts) < 2:
                raise _Error("EINVAL")
            watch = (self._path(parts[0]), parts[1].decode(errors="replace"))
            if name == "WATCH":
                conn.watches.append(watch)
            elif watch in conn.watches:
                conn.watches.remove(watch)
            else:
                raise _Error("ENOENT")
            return ok
        if name == "TRANSACTION_START":
            self._tx += 1
            return f"{self._tx}\0".encode()
        if name == "GET_DOMAIN_PATH":
            domid = body.split(b"\0", 1)[0].decode(errors="replace")
            return f"/local/domain/{domid}\0".encode()
        if name == "IS_DOMAIN_INTRODUCED":
            return b"T\0"
        if name in ("TRANSACTION_END", "INTRODUCE", "RELEASE", "RESUME", "RESET_WATCHES"):
            return ok
        self.unserved("xenstore", f"XS_{name}", "not served")
        raise _Error("EINVAL")
