"""Write-protecting guest pages from a device model, whatever the host's design.

A device model (XenGT's mediator, say) wants one thing: "send me the writes
to these guest pages".  How it asks depends on the hypervisor:

* ``rangeset`` (the seed series): map the frames into the server's WP_MEM
  rangeset, then set them to ``HVMMEM_mmio_write_dm``.  The rangeset
  coalesces contiguous frames, and its node limit is ``max_wp_ram_ranges``:
  a full set is ``-ENOMEM``.
* ``p2m`` (Xen 4.9+): claim ``HVMMEM_ioreq_server`` once, then set each
  frame to it.  No limit but the guest's size.
* ``p2t``: the same, with the memory type this server claimed.

:class:`WriteProtector` hides the difference so the same device model and
workload run on every design.  It talks to the hypervisor only through the
:mod:`ioreqlab.devicemodel` client.  A failed :meth:`protect` leaves the
frames as they were (it undoes its own half-done steps) and re-raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ioreqlab.abi.constants import HvmMem, MemAccessFlag
from ioreqlab.devicemodel import DeviceModel
from ioreqlab.errors import XenError

__all__ = ["WriteProtector", "runs"]


def runs(gfns: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Maximal runs of consecutive frames, as ``(first, count)``.

    >>> list(runs([5, 1, 2, 3, 9]))
    [(1, 3), (5, 1), (9, 1)]
    """
    ordered = sorted(set(gfns))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        yield ordered[i], j - i + 1
        i = j + 1


class WriteProtector:
    """Protect and unprotect frames of one guest for one ioreq server."""

    def __init__(
        self,
        dm: DeviceModel,
        domid: int,
        server_id: int,
        *,
        mem_type: int = HvmMem.IOREQ_SERVER,
    ) -> None:
        self.dm = dm
        self.domid = domid
        self.server_id = server_id
        self.design = dm.host.design
        self.mem_type = mem_type
        self.claimed = False

    def start(self) -> None:
        """Claim the memory type (``p2m``/``p2t``); nothing to do for ``rangeset``."""
        if self.design != "rangeset" and not self.claimed:
            self.dm.map_mem_type_to_ioreq_server(
                self.domid, self.server_id, self.mem_type, MemAccessFlag.WRITE
            )
            self.claimed = True

    def stop(self) -> None:
        """Disclaim (Xen resets every frame still of the type to ``ram_rw``)."""
        if self.claimed:
            self.dm.map_mem_type_to_ioreq_server(self.domid, self.server_id, self.mem_type, 0)
            self.claimed = False

    def protect(self, gfns: Iterable[int]) -> None:
        """Send guest writes to these frames to our server; atomic per call."""
        done: list[tuple[int, int]] = []
        try:
            for first, count in runs(gfns):
                self._protect_run(first, count)
                done.append((first, count))
        except XenError:
            for first, count in reversed(done):
                self._unprotect_run(first, count)
            raise

    def _protect_run(self, first: int, count: int) -> None:
        if self.design == "rangeset":
            last = first + count - 1
            self.dm.map_wp_mem_range_to_ioreq_server(self.domid, self.server_id, first, last)
            try:
                self.dm.set_mem_type(self.domid, HvmMem.MMIO_WRITE_DM, first, count)
            except XenError:
                self._restore(first, count)
                self.dm.unmap_wp_mem_range_from_ioreq_server(
                    self.domid, self.server_id, first, last
                )
                raise
        else:
            try:
                self.dm.set_mem_type(self.domid, self.mem_type, first, count)
            except XenError:
                self._restore(first, count)
                raise

    def _restore(self, first: int, count: int) -> None:
        """Undo a partly applied ``set_mem_type`` (Xen does not roll back)."""
        tracked = HvmMem.MMIO_WRITE_DM if self.design == "rangeset" else self.mem_type
        for gfn in range(first, first + count):
            if self.dm.get_mem_type(self.domid, gfn) == tracked:
                self.dm.set_mem_type(self.domid, HvmMem.RAM_RW, gfn, 1)

    def unprotect(self, gfns: Iterable[int]) -> None:
        """Stop sending writes to these frames (they become ``ram_rw``)."""
        for first, count in runs(gfns):
            self._unprotect_run(first, count)

    def _unprotect_run(self, first: int, count: int) -> None:
        if self.design == "rangeset":
            # Unmap first: at the limit it may need a split and fail (-ENOMEM),
            # and then nothing has changed yet.
            last = first + count - 1
            self.dm.unmap_wp_mem_range_from_ioreq_server(self.domid, self.server_id, first, last)
        self.dm.set_mem_type(self.domid, HvmMem.RAM_RW, first, count)
