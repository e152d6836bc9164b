"""The state behind the platform DMOPs: what a device model did to its guest.

A device model drives the guest's virtual platform through DMOPs
(:mod:`ioreqlab.hv.platform_ops`).  Xen's effect is state in its virtual
interrupt controllers, its p2m or its log-dirty bitmap; the model keeps that
state per domain in :class:`Platform`, so a test can read what a device model
did (line levels, the MSIs delivered, the pages marked dirty, the shutdown
reason), and :meth:`Platform.statistics` puts it in the host's snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Event", "Msi", "Platform", "PlatformStats"]


@dataclass(frozen=True, slots=True)
class Msi:
    """One MSI Xen delivered (``vmsi_deliver``) or sent as an emulated pirq."""

    vector: int
    dest: int
    dest_mode: int
    delivery_mode: int
    trigger: int
    pirq: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """An event pending injection into a vCPU (``XEN_DMOP_inject_event``)."""

    vector: int
    type: int
    insn_len: int
    error_code: int
    cr2: int


@dataclass(frozen=True, slots=True)
class PlatformStats:
    """What the device model did to the domain's platform, at one moment."""

    isa_irq_levels: tuple[int, ...]
    pci_intx_asserted: tuple[tuple[int, int], ...]
    pci_link_routes: tuple[int, ...]
    msis: int
    events_pending: int
    dirty_pages: int
    pinned_ranges: int
    shutdown_reason: int | None


@dataclass(slots=True)
class Platform:
    """Per-domain state behind the platform DMOPs."""

    isa_irq_levels: list[int] = field(default_factory=lambda: [0] * 16)
    #: Asserted PCI INTx lines, as (device, intx).
    pci_intx: set[tuple[int, int]] = field(default_factory=set)
    pci_link_routes: list[int] = field(default_factory=lambda: [0] * 4)
    msis: list[Msi] = field(default_factory=list)
    #: pirqs bound as emulated MSIs (``map_domain_emuirq_pirq``).
    msi_pirqs: set[int] = field(default_factory=set)
    events: dict[int, Event] = field(default_factory=dict)
    #: The frames ``track_dirty_vram`` watches, and those written since it last looked.
    vram: tuple[int, int] | None = None
    vram_dirty: set[int] = field(default_factory=set)
    #: Frames marked dirty in the log-dirty bitmap (``paging_mark_pfn_dirty``).
    dirty: set[int] = field(default_factory=set)
    #: Pinned cache-attribute ranges, newest first: [start, end, type].
    pinned: list[list[int]] = field(default_factory=list)
    #: Heap bytes the pinned ranges hold (charged to the domain).
    pinned_bytes: int = 0
    shutdown_reason: int | None = None

    def note_write(self, gfn: int) -> None:
        """A guest write to RAM frame ``gfn``: log-dirty and VRAM tracking see it."""
        if self.vram is not None and self.vram[0] <= gfn < self.vram[0] + self.vram[1]:
            self.vram_dirty.add(gfn)

    def statistics(self) -> PlatformStats:
        """A frozen snapshot."""
        return PlatformStats(
            isa_irq_levels=tuple(self.isa_irq_levels),
            pci_intx_asserted=tuple(sorted(self.pci_intx)),
            pci_link_routes=tuple(self.pci_link_routes),
            msis=len(self.msis),
            events_pending=len(self.events),
            dirty_pages=len(self.dirty),
            pinned_ranges=len(self.pinned),
            shutdown_reason=self.shutdown_reason,
        )
