"""The ``shipped`` policy: GPU page-table shadowing as GVT-g does it.

Read from ``drivers/gpu/drm/i915/gvt/gtt.c`` (upstream, 4.10 and later) and
from its 2016 ancestor ``drivers/gpu/drm/i915/vgt/gtt.c`` (XenGT on Xen 4.6/4.7,
intel/Igvtg-kernel); both behave alike in what the model follows:

* **Eager shadowing.**  An address space is shadowed whole when the guest
  announces it (``intel_vgpu_create_ppgtt_mm`` → ``shadow_ppgtt_mm``): every
  table page reachable from the root gets a shadow page and is write-protected
  (``ppgtt_populate_spt_by_guest_entry``: alloc, ``enable_page_track``,
  populate).  A trapped write that links a child table shadows and protects the
  child inside the trap (``ppgtt_handle_guest_entry_add``), before the old entry
  is dropped (``ppgtt_handle_guest_write_page_table``: add first, then remove).
  Shadow pages are found by guest frame and reference-counted, so a table
  linked twice (the guest's scratch tables) is shadowed once.
* **Every table page of every shadowed tree is protected.**  Nothing is
  re-read at submission; there is no "protect what fits".
* **Failure.**  When a protection fails (``-ENOMEM``: the rangeset limit or the
  Xen heap) inside a trapped write, the add returns its error and the shadow
  entry keeps its old value: stale, as gtt.c leaves it.  The vGPU then enters
  failsafe mode at its next submission: the workload is not dispatched
  ("fail to dispatch workload, skip", scheduler.c), and from then on its GPU
  work stops; in failsafe a trapped write removes that page's protection
  (page_track.c ``intel_vgpu_page_track_handler``).  A failure while
  shadowing at submission or creation does the same.  (Upstream enters the
  ``failsafe`` flag itself only for ``-EFAULT``/``-EBADRQC``; for ``-ENOMEM``
  every later dispatch of the broken tree fails the same way, so the guest's
  GPU is as dead until it resets the vGPU — the model calls both failsafe and
  does not model the reset.)
* **Out-of-sync pages.**  Each trapped write counts against its page
  (``write_cnt``); a leaf table written twice gets a snapshot from the physical
  GPU's pool and loses its protection (``can_do_out_of_sync``,
  ``ppgtt_set_guest_page_oos``).  Before each submission every oos page of the
  vGPU is re-protected and compared with its snapshot, and the changed
  entries re-shadowed (``intel_vgpu_sync_oos_pages``).
* **Partial writes** (4 of an entry's 8 bytes) drop the shadow entry and are
  re-read before the next submission (``ppgtt_set_post_shadow``,
  ``intel_vgpu_flush_post_shadow``).
* **Shadow memory.**  When the physical GPU's shadow-page budget is spent, the
  least recently used address space not running is unshadowed (its pages
  unprotected) and shadowed again at its next submission
  (``reclaim_one_ppgtt_mm``, ``intel_vgpu_pin_mm``).  The model does not
  reclaim an address space of the vGPU whose trapped write is being handled
  (gtt.c may; it would free the table being written).

What is left out: context and ring-buffer pages (2016 ``vgt`` keeps a context
protected only with ``shadow_execlist_context = NORMAL_CTX_SHADOW``; its default 0
and ``wp_submitted_ctx = false`` leave none protected; upstream copies the
context at submission); 64 KiB entries (split into 4 KiB shadow entries,
so they cost entries, not pages); 2 MiB entries are followed (a PDE with PS
has no table below it).
"""

from __future__ import annotations

import operator
from collections import Counter
from dataclasses import dataclass, field

from ioreqlab.abi.ioreq import IoReq
from ioreqlab.dm.gvtg import GvtgMediator, MediatorBase, child_tables, entry_gfn, links_table

__all__ = ["POLICIES", "ShadowFailure", "ShippedMediator", "Spt", "mediator_class"]


class ShadowFailure(Exception):
    """Shadowing could not complete: no room (gtt.c's -ENOMEM) or a table frame
    that is not guest RAM (-EFAULT).  The model sends the vGPU to failsafe for
    both (see the module docstring), so only the reason is kept."""


@dataclass(slots=True)
class Spt:
    """One shadow page table: the guest frame it shadows and what it was built from."""

    gfn: int
    level: int
    #: The guest entries the shadow entries were built from (8-byte little-endian).
    shadow: bytearray
    refs: int = 1
    write_cnt: int = 0
    #: The oos snapshot, while the page holds one of the pool's pages.
    snapshot: bytes | None = None
    out_of_sync: bool = False
    #: Entries written partly: shadowed again before the next submission.
    post: set[int] = field(default_factory=set)


_ODD = bytes(range(1, 256, 2))


def _present_count(table: bytes | bytearray) -> int:
    """Entries with the present bit (bit 0 of each entry's low byte)."""
    low = bytes(table[0::8])
    return len(low) - len(low.translate(None, _ODD))


@dataclass
class _Mm:
    """One address space (``struct intel_vgpu_mm``)."""

    root: int
    tables: list[tuple[int, int]] = field(default_factory=list)
    shadowed: bool = False


class ShippedMediator(MediatorBase):
    """One guest's vGPU under the shipped policy (see the module docstring)."""

    POLICY = "shipped"
    COUNTERS = (*MediatorBase.COUNTERS, "oos_entries_synced", "post_shadow_flushes")

    def _setup(self) -> None:
        self.spts: dict[int, Spt] = {}
        self.mms: dict[int, _Mm] = {}
        self.oos_list: dict[int, None] = {}
        self.post_list: dict[int, None] = {}
        #: Why the vGPU will enter failsafe at its next submission, if it will.
        self.broken: str | None = None
        self.failsafe_reason = ""
        #: Pages still protected although their shadow is gone (an unprotect refused).
        self.stuck: set[int] = set()
        #: Shadowed pages whose protection failsafe mode removed.
        self.untracked: set[int] = set()
        #: References a failed populate left on the children it had shadowed
        #: (nothing drops them, so such a child is never freed).
        self.leaked: Counter[int] = Counter()
        self._trap_gfn: int | None = None
        self.oos_peak = 0

    # -- shadow pages ------------------------------------------------------------

    def _busy(self, key: tuple[int, int]) -> bool:
        """While a trapped write is handled, the address spaces holding the written
        table are not reclaimed (gtt.c would free the table under the handler)."""
        if self._trap_gfn is None or key[0] != id(self) or key[1] not in self.mms:
            return False
        todo = list(self.mms[key[1]].tables)
        seen: set[int] = set()
        while todo:
            gfn, level = todo.pop()
            if gfn == self._trap_gfn:
                return True
            spt = self.spts.get(gfn)
            if gfn in seen or spt is None:
                continue
            seen.add(gfn)
            todo.extend((c, level - 1) for c in set(child_tables(spt.shadow, level)))
        return False

    def populate(self, gfn: int, level: int) -> Spt:
        """Shadow (or take one more reference on) the table at ``gfn``."""
        spt = self.spts.get(gfn)
        if spt is not None:
            spt.refs += 1
            return spt
        page = self._page(gfn)
        if page is None:
            raise ShadowFailure(f"table frame {gfn:#x} is not guest RAM")
        if not self.gpu.alloc_shadow(self._busy):
            raise ShadowFailure("no shadow page left to allocate or reclaim")
        spt = Spt(gfn, level, bytearray(page))
        self.spts[gfn] = spt
        if gfn not in self.protected and not self._try_protect([gfn]):
            self._free(spt)
            raise ShadowFailure(f"write protection of {gfn:#x} refused")
        self.stats["pages_shadowed"] += 1
        self.cpu_ns += self.costs.shadow_page_ns
        self.cpu_ns += self.costs.shadow_entry_ns * _present_count(spt.shadow)
        done: list[tuple[int, int]] = []
        try:
            # A child linked k times (the scratch table below every unused entry)
            # is populated once and referenced k times, as k lookups would.
            for child, k in Counter(child_tables(spt.shadow, level)).items():
                self.populate(child, level - 1).refs += k - 1
                done.append((child, k))
        except ShadowFailure:
            # ppgtt_populate_spt's error path frees this table only: the children
            # it had populated keep their references, as gtt.c leaves them.
            for child, k in done:
                self.leaked[child] += k
            self._free(spt)
            raise
        return spt

    def _free(self, spt: Spt) -> None:
        del self.spts[spt.gfn]
        self.untracked.discard(spt.gfn)
        self.gpu.free_shadow()
        self.oos_list.pop(spt.gfn, None)
        self.post_list.pop(spt.gfn, None)
        if spt.snapshot is not None:
            self.gpu.give_oos((id(self), spt.gfn))
        if spt.gfn in self.protected and not self._unprotect([spt.gfn]):
            self.stuck.add(spt.gfn)

    def invalidate(self, spt: Spt) -> None:
        """Drop one reference; at none, unshadow the table and what it holds."""
        spt.refs -= 1
        if spt.refs > 0:
            return
        self._free(spt)
        for child, k in Counter(child_tables(spt.shadow, spt.level)).items():
            below = self.spts.get(child)
            if below is not None:
                below.refs -= k - 1
                self.invalidate(below)

    # -- address spaces -------------------------------------------------------------

    def _shadow_mm(self, mm: _Mm) -> None:
        if mm.shadowed:
            return
        mm.tables = self._roots(mm.root)
        done = []
        try:
            for gfn, level in mm.tables:
                done.append(self.populate(gfn, level))
        except ShadowFailure:
            for spt in done:  # shadow_ppgtt_mm fails: invalidate_ppgtt_mm
                self.invalidate(spt)
            raise
        mm.shadowed = True
        self.gpu.touch((id(self), mm.root), lambda: self._unshadow(mm, reclaimed=True))

    def _unshadow(self, mm: _Mm, *, reclaimed: bool = False) -> None:
        if not mm.shadowed:
            return
        mm.shadowed = False
        for gfn, _level in mm.tables:
            spt = self.spts.get(gfn)
            if spt is not None:
                self.invalidate(spt)
        self.gpu.forget((id(self), mm.root))
        if reclaimed:
            self.stats["evictions"] += 1

    def create(self, root: int) -> None:
        """The guest announced an address space: shadow it whole, now."""
        if self.failsafe or root in self.mms:
            return
        mm = self.mms[root] = _Mm(root)
        try:
            self._shadow_mm(mm)
        except ShadowFailure as err:
            del self.mms[root]
            self._break(err)

    def destroy(self, root: int) -> None:
        """The guest dropped an address space: unshadow it."""
        if self.failsafe:
            return  # failsafe emulates no register: GVT-g never hears of it
        mm = self.mms.pop(root, None)
        if mm is not None:
            self._unshadow(mm)

    def drop_all(self) -> None:
        """Unshadow every address space."""
        for mm in list(self.mms.values()):
            self._unshadow(mm)
        self.mms.clear()

    def _break(self, err: ShadowFailure) -> None:
        if self.broken is None:
            self.broken = str(err)

    # -- trapped writes ---------------------------------------------------------------

    def _trapped_write(self, req: IoReq) -> None:
        self.stats["trapped_writes"] += 1
        self.cpu_ns += self.costs.trap_ns
        try:
            for gfn, off, n in self._emulate(req):
                self._trap_gfn = gfn
                if self.failsafe:
                    # page_track.c: in failsafe, remove the protection of a written page.
                    if gfn in self.protected and self._unprotect([gfn]):
                        self.untracked.add(gfn)
                    continue
                spt = self.spts.get(gfn)
                if spt is not None and not spt.out_of_sync:
                    self._write_entry(spt, off, n)
        finally:
            self._trap_gfn = None

    def _write_entry(self, spt: Spt, off: int, n: int) -> None:
        index = off >> 3
        page = self._page(spt.gfn)
        assert page is not None  # it was RAM when _emulate wrote it
        new = int.from_bytes(page[index * 8 : index * 8 + 8], "little")
        if n == 8 and off % 8 == 0:
            self._write_table(spt, index, new)
        else:
            if index not in spt.post:
                self._remove(spt, index)
                spt.shadow[index * 8 : index * 8 + 8] = bytes(8)
                spt.post.add(index)
            self.post_list[spt.gfn] = None
        if not self.gpu.oos_enabled:
            return
        spt.write_cnt += 1
        if spt.snapshot is not None:
            snap = bytearray(spt.snapshot)
            snap[index * 8 : index * 8 + 8] = new.to_bytes(8, "little")
            spt.snapshot = bytes(snap)
        if spt.level == 1 and spt.write_cnt >= 2:
            self._go_out_of_sync(spt)

    def _write_table(self, spt: Spt, index: int, new: int) -> None:
        """``ppgtt_handle_guest_write_page_table``: add the new entry, then remove the old."""
        level = spt.level
        if links_table(new, level):
            try:
                self.populate(entry_gfn(new), level - 1)
            except ShadowFailure as err:
                self.stats["stale_entries"] += 1  # the shadow entry keeps its old value
                self._break(err)
                return
        self._remove(spt, index)
        spt.shadow[index * 8 : index * 8 + 8] = new.to_bytes(8, "little")
        self.cpu_ns += self.costs.shadow_entry_ns

    def _remove(self, spt: Spt, index: int) -> None:
        old = int.from_bytes(spt.shadow[index * 8 : index * 8 + 8], "little")
        if links_table(old, spt.level):
            below = self.spts.get(entry_gfn(old))
            if below is not None:
                self.invalidate(below)

    # -- out of sync ------------------------------------------------------------------

    def _go_out_of_sync(self, spt: Spt) -> None:
        key = (id(self), spt.gfn)
        if spt.snapshot is None:
            if not self.gpu.take_oos(key, lambda: self._steal(spt)):
                return
            spt.snapshot = self._snapshot(spt.gfn)
        if self._unprotect([spt.gfn]):
            spt.out_of_sync = True
            self.oos_list[spt.gfn] = None
            self.oos_peak = max(self.oos_peak, len(self.oos_list))

    def _sync(self, spt: Spt) -> bool:
        """``ppgtt_set_guest_page_sync``: protect again, then re-shadow what changed."""
        if spt.out_of_sync:
            if not self._try_protect([spt.gfn]):
                return False
            spt.out_of_sync = False
        self.oos_list.pop(spt.gfn, None)
        now = self._snapshot(spt.gfn)
        old = spt.snapshot
        assert old is not None, "only a page holding a pool page is synced"
        changed = 0
        if now != old:
            changed = sum(map(operator.ne, memoryview(old).cast("Q"), memoryview(now).cast("Q")))
        spt.shadow[:] = now
        spt.snapshot = now
        spt.write_cnt = 0
        self.stats["oos_syncs"] += 1
        self.stats["oos_entries_synced"] += changed
        self.cpu_ns += self.costs.oos_sync_page_ns + self.costs.shadow_entry_ns * changed
        return True

    def _steal(self, spt: Spt) -> bool:
        """Another page needs this one's oos snapshot: sync it and let go."""
        if not self._sync(spt):
            return False
        spt.snapshot = None
        return True

    # -- submission ---------------------------------------------------------------------

    def _enter_failsafe(self, reason: str) -> None:
        self.failsafe = True
        self.failsafe_reason = reason

    def _submit(self, root: int) -> None:
        self.stats["submissions"] += 1
        if not self.failsafe and self.broken is not None:
            self._enter_failsafe(self.broken)
        if self.failsafe:
            self.stats["lost_submissions"] += 1
            return
        self.cpu_ns += self.costs.submission_ns
        mm = self.mms.get(root)
        if mm is None:  # never announced: GVT-g creates it at its first use
            mm = self.mms[root] = _Mm(root)
        key = (id(self), root)
        self.gpu.pinned.add(key)
        try:
            if not mm.shadowed:
                self.stats["reshadows"] += 1
                self._shadow_mm(mm)
            self.gpu.touch(key, lambda: self._unshadow(mm, reclaimed=True))
            for gfn in list(self.oos_list):
                if not self._sync(self.spts[gfn]):
                    raise ShadowFailure(f"re-protecting oos page {gfn:#x} refused")
            self._flush_post()
        except ShadowFailure as err:
            self._enter_failsafe(str(err))
            self.stats["lost_submissions"] += 1
            return
        finally:
            self.gpu.pinned.discard(key)
        self.stats["submissions_run"] += 1
        self.verify(mm)

    def _flush_post(self) -> None:
        for gfn in list(self.post_list):
            spt = self.spts.get(gfn)
            self.post_list.pop(gfn, None)
            if spt is None:
                continue
            page = self._page(gfn)
            assert page is not None
            for index in sorted(spt.post):
                new = int.from_bytes(page[index * 8 : index * 8 + 8], "little")
                self._write_table(spt, index, new)
                if self.broken is not None:
                    raise ShadowFailure(self.broken)
            spt.post.clear()
            self.stats["post_shadow_flushes"] += 1

    def verify(self, mm: _Mm) -> int:
        """Compare the shadow reachable from ``mm`` with the guest's tables: a
        table missing from the shadow, or whose entries differ, is a mismatch."""
        bad = 0
        seen: set[int] = set()
        todo = list(self._roots(mm.root))
        if [g for g, _ in todo] != [g for g, _ in mm.tables]:
            bad += 1
        while todo:
            gfn, level = todo.pop()
            if gfn in seen:
                continue
            seen.add(gfn)
            spt = self.spts.get(gfn)
            page = self._page(gfn)
            if spt is None or page is None or spt.shadow != page:
                bad += 1
                continue
            todo.extend((c, level - 1) for c in child_tables(spt.shadow, level))
        self.stats["shadow_mismatches"] += bad
        return bad

    def check_invariants(self) -> None:
        """``AssertionError`` on the first inconsistency (tests call it after each step).

        Each shadow page's reference count is the number of present entries of
        other shadow pages, and of shadowed roots, that point at it; protected
        are exactly the shadowed pages not out of sync (and any stuck ones);
        the oos list is the out-of-sync pages; the pool holds this mediator's
        pages that have a snapshot.
        """
        refs: dict[int, int] = dict.fromkeys(self.spts, 0)
        for mm in self.mms.values():
            if mm.shadowed:
                for gfn, _level in mm.tables:
                    assert gfn in refs, f"root {gfn:#x} of a shadowed space has no shadow"
                    refs[gfn] += 1
        for spt in self.spts.values():
            for child in child_tables(spt.shadow, spt.level):
                if child in refs:
                    refs[child] += 1
        for gfn, spt in self.spts.items():
            found = refs[gfn] + self.leaked[gfn]
            assert spt.refs == found, f"{gfn:#x}: {spt.refs} references, {found} found"
            assert spt.gfn == gfn
        wanted = {g for g, t in self.spts.items() if not t.out_of_sync} - self.untracked
        held = set(self.protected)
        assert wanted <= held, f"shadowed but unprotected: {sorted(wanted - held)[:4]}"
        assert held - wanted <= self.stuck, f"protected, not shadowed: {sorted(held - wanted)[:4]}"
        assert set(self.oos_list) == {g for g, t in self.spts.items() if t.out_of_sync}
        pool = {g for (owner, g) in self.gpu.oos_in_use if owner == id(self)}
        assert pool == {g for g, t in self.spts.items() if t.snapshot is not None}

    def statistics(self) -> dict[str, int]:
        """Counters plus the shadow's size."""
        return {
            **super().statistics(),
            "trees": sum(1 for mm in self.mms.values() if mm.shadowed),
            "shadowed_pages": len(self.spts),
            "oos_pages": len(self.oos_list),
            "oos_pages_peak": self.oos_peak,
        }


#: ``[host] gvt_policy`` → the mediator class.
POLICIES: dict[str, type[MediatorBase]] = {
    "shipped": ShippedMediator,
    "proposal-2016": GvtgMediator,
}


def mediator_class(policy: str) -> type[MediatorBase]:
    """The mediator for ``policy``; ``ValueError`` naming the choices otherwise."""
    try:
        return POLICIES[policy]
    except KeyError:
        raise ValueError(
            f"unknown GVT-g policy {policy!r} (known: {', '.join(POLICIES)})"
        ) from None
