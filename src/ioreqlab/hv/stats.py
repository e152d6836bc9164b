"""Frozen snapshots of the host: what :meth:`ioreqlab.host.Host.statistics` returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from ioreqlab.hv.heap import HeapStats
from ioreqlab.hv.platform import Platform, PlatformStats
from ioreqlab.profiles import DEFAULT_XEN

__all__ = ["DomainStats", "HostStats", "IoreqServerInfo"]


@dataclass(frozen=True, slots=True)
class IoreqServerInfo:
    """``get_ioreq_server_info``'s outputs (None where Xen leaves them untouched)."""

    ioreq_pfn: int | None
    bufioreq_pfn: int | None
    bufioreq_port: int | None


@dataclass(frozen=True, slots=True)
class DomainStats:
    """One domain's figures at one moment."""

    domid: int
    name: str
    servers: int
    heap: HeapStats
    tracked_pages: int
    tracking_entries: int
    tracking_bytes: int
    counters: tuple[tuple[str, int], ...]
    platform: PlatformStats = field(default_factory=Platform().statistics)

    def counter(self, name: str) -> int:
        """A named counter (0 if it never moved)."""
        return dict(self.counters).get(name, 0)


@dataclass(frozen=True, slots=True)
class HostStats:
    """The host at one moment: design, Xen heap, every domain."""

    design: str
    heap: HeapStats
    domains: tuple[DomainStats, ...]
    xen: str = DEFAULT_XEN
