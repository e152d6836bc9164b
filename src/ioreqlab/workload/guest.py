"""The guest side of the model: a vCPU's accesses, guest page allocation, and traces.

:class:`Guest` is how workloads touch the machine: every port or MMIO access
goes through :meth:`ioreqlab.host.Host.guest_access`, exactly as a vCPU's
would, and may be recorded in a trace.  A retried access (the p2m design's
"no owner" race) is re-issued, as the instruction would be.

:class:`GuestAllocator` hands out guest frames for page tables under a
placement policy: ``scattered`` (anywhere: a fragmented guest), ``chunked``
(consecutive pages of 2 MiB chunks, Ian Campbell's suggestion of 2016-02-04)
or ``mixed``.  Everything random comes from an explicit ``random.Random``.

Trace format (JSON lines, one object per access, in order)::

    {"dom": "vm1", "vcpu": 0, "space": "mmio", "addr": 4096, "size": 8,
     "write": true, "data": 1}

Reads record ``"data": null``; replaying a trace (:func:`replay`) re-issues
the accesses on a freshly built system and returns what the reads returned.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from ioreqlab.abi.constants import PAGE_SHIFT
from ioreqlab.host import Access, Host

__all__ = ["CHUNK_PAGES", "Guest", "GuestAllocator", "TraceRecord", "replay"]

CHUNK_PAGES = 512
_MAX_RETRIES = 64


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One guest access."""

    dom: str
    vcpu: int
    space: str
    addr: int
    size: int
    write: bool
    data: int | None
    #: A rep access: how many elements, the direction flag, and whether the
    #: data is in guest RAM at ``data`` (``rep ins``/``outs``).
    count: int = 1
    df: bool = False
    ptr: bool = False

    def as_dict(self) -> dict[str, object]:
        """The record's fields; the rep fields only when they are not the defaults."""
        out: dict[str, object] = {
            "dom": self.dom,
            "vcpu": self.vcpu,
            "space": self.space,
            "addr": self.addr,
            "size": self.size,
            "write": self.write,
            "data": self.data,
        }
        if self.count != 1:
            out["count"] = self.count
        if self.df:
            out["df"] = True
        if self.ptr:
            out["ptr"] = True
        return out

    def to_json(self) -> str:
        """One line of the trace."""
        return json.dumps(self.as_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> TraceRecord:
        """Parse one line (``ValueError`` on anything malformed)."""
        try:
            obj = json.loads(line)
        except RecursionError:
            raise ValueError("trace line nests too deeply") from None
        if not isinstance(obj, dict):
            raise ValueError("trace line is not an object")
        try:
            rec = cls(
                str(obj["dom"]),
                int(obj["vcpu"]),
                str(obj["space"]),
                int(obj["addr"]),
                int(obj["size"]),
                bool(obj["write"]),
                None if obj["data"] is None else int(obj["data"]),
                int(obj.get("count", 1)),
                bool(obj.get("df", False)),
                bool(obj.get("ptr", False)),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"trace line lacks a field: {err}") from None
        except OverflowError:
            raise ValueError("trace line has a number that is not finite") from None
        if rec.count < 1:
            raise ValueError(f"trace line has count {rec.count}: a rep access has at least 1")
        if rec.ptr and rec.data is None:
            raise ValueError("trace line with ptr needs data: the guest address of the buffer")
        return rec


@dataclass
class Guest:
    """One guest's vCPU as workloads see it."""

    host: Host
    domid: int
    name: str
    vcpu: int = 0
    trace: list[TraceRecord] | None = None
    retries: int = 0

    def access(
        self, space: str, addr: int, size: int, *, write: bool, data: int = 0, count: int = 1
    ) -> Access:
        """Issue one access (retrying while the hypervisor says retry)."""
        if self.trace is not None:
            self.trace.append(
                TraceRecord(
                    self.name, self.vcpu, space, addr, size, write, data if write else None, count
                )
            )
        for _ in range(_MAX_RETRIES):
            got = self.host.guest_access(
                self.domid, self.vcpu, space, addr, size, write=write, data=data, count=count
            )
            if got.route != "retry":
                return got
            self.retries += 1
        return got

    def write(self, addr: int, size: int, data: int) -> Access:
        """An MMIO (or RAM) write."""
        return self.access("mmio", addr, size, write=True, data=data)

    def fill(self, gfn: int, value: int) -> Access:
        """``rep stosq`` over one frame: all 512 entries set to ``value``."""
        return self.access("mmio", gfn << PAGE_SHIFT, 8, write=True, data=value, count=512)

    def read(self, addr: int, size: int) -> int:
        """An MMIO (or RAM) read; the value read."""
        return self.access("mmio", addr, size, write=False).data or 0

    def outb(self, port: int, value: int, size: int = 1) -> None:
        """A port write."""
        self.access("pio", port, size, write=True, data=value)

    def inb(self, port: int, size: int = 1) -> int:
        """A port read."""
        return self.access("pio", port, size, write=False).data or 0


@dataclass
class GuestAllocator:
    """Free guest frames for page tables, handed out under a placement policy.

    Only used frames are remembered, so a large guest costs nothing up front;
    picks are rejection-sampled, which stays cheap while page tables are a
    small part of guest memory (as they are).
    """

    rng: random.Random
    first: int
    last: int
    policy: str = "scattered"
    used: set[int] = field(default_factory=set)
    _chunk: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.policy not in ("scattered", "chunked", "mixed"):
            raise ValueError(f"unknown placement policy {self.policy!r}")
        if self.last < self.first:
            raise ValueError("empty guest memory range")

    def take(self) -> int:
        """One free frame."""
        chunked = self.policy == "chunked" or (self.policy == "mixed" and self.rng.random() < 0.5)
        if chunked:
            while self._chunk:
                gfn = self._chunk.pop(0)
                if gfn not in self.used:
                    self.used.add(gfn)
                    return gfn
            if self._new_chunk():
                return self.take()
        return self._scattered()

    def _scattered(self) -> int:
        size = self.last - self.first + 1
        if len(self.used) >= size:
            raise MemoryError("guest has no free frame left")
        for _ in range(1000):
            gfn = self.first + self.rng.randrange(size)
            if gfn not in self.used:
                self.used.add(gfn)
                return gfn
        for gfn in range(self.first, self.last + 1):  # nearly full: scan
            if gfn not in self.used:
                self.used.add(gfn)
                return gfn
        raise MemoryError("guest has no free frame left")  # pragma: no cover

    def _new_chunk(self) -> bool:
        lo, hi = -(-self.first // CHUNK_PAGES), (self.last + 1) // CHUNK_PAGES - 1
        if hi < lo:
            return False
        for _ in range(64):
            base = self.rng.randint(lo, hi) * CHUNK_PAGES
            if not any(base + i in self.used for i in range(CHUNK_PAGES)):
                self._chunk = list(range(base, base + CHUNK_PAGES))
                return True
        return False  # memory too fragmented for a whole chunk: fall back to scattered

    def give_back(self, gfns: Iterable[int]) -> None:
        """Return frames for reuse."""
        self.used.difference_update(gfns)


def replay(host: Host, guests: dict[str, Guest], lines: Iterable[str]) -> list[int | None]:
    """Re-issue a trace's accesses; return each access's data (reads) or None.

    A malformed line, or one naming an unknown domain, is ``ValueError``; an
    access the host refuses (a vCPU the guest lacks, a bad size) is the host's
    :class:`~ioreqlab.errors.XenError`.
    """
    out: list[int | None] = []
    for line in lines:
        if not line.strip():
            continue
        rec = TraceRecord.from_json(line)
        g = guests.get(rec.dom)
        if g is None:
            raise ValueError(f"trace names a domain {rec.dom!r} the host does not have")
        for _ in range(_MAX_RETRIES + 1):
            got = g.host.guest_access(
                g.domid,
                rec.vcpu,
                rec.space,
                rec.addr,
                rec.size,
                write=rec.write,
                data=rec.data or 0,
                count=rec.count,
                df=rec.df,
                data_is_ptr=rec.ptr,
            )
            if got.route != "retry":
                break
        out.append(None if rec.write else got.data)
    return out


def gpa(gfn: int, index: int = 0) -> int:
    """Guest-physical address of entry ``index`` (8 bytes each) of frame ``gfn``."""
    return (gfn << PAGE_SHIFT) + 8 * index
