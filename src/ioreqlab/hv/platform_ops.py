"""The emulated platform's DMOPs: interrupt lines, MSIs, events, dirty tracking,
memory relocation, pinned cache attributes, shutdown (``xen/arch/x86/hvm/dm.c``).

Each function takes the target domain after ``dm_op``'s common checks and
applies that op's own checks in Xen's order (RELEASE-4.17.0; the 4.9 forms
where they differ are noted), raising :class:`~ioreqlab.errors.XenError`; the
effect is kept in the domain's :class:`~ioreqlab.hv.platform.Platform`.
"""

from __future__ import annotations

from ioreqlab.abi.constants import PAGE_SHIFT, UINT64_MAX, P2mType
from ioreqlab.alloc import tlsf_cost
from ioreqlab.errors import (
    XenEBUSY,
    XenEFAULT,
    XenEINVAL,
    XenENOENT,
    XenENOMEM,
    XenEOVERFLOW,
    XenERANGE,
)
from ioreqlab.hv.domain import Domain
from ioreqlab.hv.heap import HeapAccount
from ioreqlab.hv.platform import Event, Msi
from ioreqlab.p2m import NO_PAGE_TYPES

__all__ = [
    "CACHEATTR_RANGE_BYTES",
    "DELETE_MEM_CACHEATTR",
    "PAT_TYPES",
    "inject_event",
    "inject_msi",
    "modified_memory",
    "pin_memory_cacheattr",
    "relocate_memory",
    "remote_shutdown",
    "set_isa_irq_level",
    "set_pci_intx_level",
    "set_pci_link_route",
    "track_dirty_vram",
]

#: ``PAT_TYPE_*`` a range may be pinned to (``hvm_set_mem_pinned_cacheattr``):
#: UC, WC, WT, WP, WB, UC-.
PAT_TYPES = frozenset({0, 1, 4, 5, 6, 7})
#: ``XEN_DMOP_DELETE_MEM_CACHEATTR`` (``~(uint32_t)0``).
DELETE_MEM_CACHEATTR = 0xFFFF_FFFF
#: ``sizeof(struct hvm_mem_pinned_cacheattr_range)``: list link, start, end,
#: type, rcu head (x86_64).
CACHEATTR_RANGE_BYTES = 56
#: The host's physical address width (``paddr_bits``) on the Broadwell-class
#: host the model stands for.
PADDR_BITS = 46
#: ``track_dirty_vram`` refuses more than 1 GiB of frames.
_MAX_VRAM_FRAMES = (1 << 30) >> PAGE_SHIFT
#: ``modified_memory`` checks for preemption every 256 frames.
_MODIFIED_BATCH = 0x100
#: ``sizeof(struct xen_dm_op_modified_memory_extent)``.
_EXTENT_BYTES = 16
#: MSI address/data fields (``asm/msi.h``).
_MSI_DEST_ID_MASK, _MSI_DEST_ID_SHIFT, _MSI_DESTMODE = 0x000FF000, 12, 0x4
_MSI_DELIVERY_MASK, _MSI_DELIVERY_SHIFT, _MSI_TRIGGER = 0x700, 8, 0x8000
_DEST_FIXED, _DEST_LOWPRIO = 0, 1


def _level(level: int) -> bool:
    if level not in (0, 1):
        raise XenEINVAL(f"interrupt level {level} is not 0 or 1")
    return bool(level)


def set_pci_intx_level(
    d: Domain, segment: int, bus: int, device: int, intx: int, level: int
) -> None:
    """``set_pci_intx_level``: only segment 0, bus 0 exist in an HVM guest."""
    if segment != 0 or bus != 0 or device > 0x1F or intx > 3:
        raise XenEINVAL(f"PCI INTx {segment:x}:{bus:x}:{device:x} INT{'ABCD'[intx & 3]} refused")
    if _level(level):
        d.platform.pci_intx.add((device, intx))
    else:
        d.platform.pci_intx.discard((device, intx))


def set_isa_irq_level(d: Domain, isa_irq: int, level: int) -> None:
    """``set_isa_irq_level``: ISA IRQs 0-15."""
    if isa_irq > 15:
        raise XenEINVAL(f"ISA IRQ {isa_irq} is not 0..15")
    d.platform.isa_irq_levels[isa_irq] = int(_level(level))


def set_pci_link_route(d: Domain, link: int, isa_irq: int) -> None:
    """``hvm_set_pci_link_route``: link 0-3 to ISA IRQ 0-15 (0 disables)."""
    if link > 3 or isa_irq > 15:
        raise XenEINVAL(f"PCI link {link} -> ISA IRQ {isa_irq} refused")
    d.platform.pci_link_routes[link] = isa_irq


def inject_msi(d: Domain, addr: int, data: int) -> None:
    """``hvm_inject_msi``: a vector delivers through the vLAPICs; vector 0 names a pirq."""
    dest = (addr & _MSI_DEST_ID_MASK) >> _MSI_DEST_ID_SHIFT
    dest_mode = int(bool(addr & _MSI_DESTMODE))
    delivery = (data & _MSI_DELIVERY_MASK) >> _MSI_DELIVERY_SHIFT
    trigger = int(bool(data & _MSI_TRIGGER))
    vector = data & 0xFF
    if not vector:
        pirq = ((addr >> 32) & 0xFFFF_FF00) | dest
        if pirq <= 0:
            raise XenERANGE(f"MSI with vector 0 and no pirq (addr {addr:#x})")
        d.platform.msi_pirqs.add(pirq)
        d.platform.msis.append(Msi(0, dest, dest_mode, delivery, trigger, pirq))
        return
    if delivery not in (_DEST_FIXED, _DEST_LOWPRIO):
        raise XenEINVAL(f"MSI delivery mode {delivery} is not supported")
    d.platform.msis.append(Msi(vector, dest, dest_mode, delivery, trigger))


def inject_event(
    d: Domain, vcpu: int, vector: int, etype: int, insn_len: int, error_code: int, cr2: int
) -> None:
    """``inject_event``: one pending event per vCPU (``-EBUSY`` while one waits)."""
    if vcpu >= d.vcpus:
        raise XenEINVAL(f"domain {d.domid} has no vcpu {vcpu}")
    if vcpu in d.platform.events:
        raise XenEBUSY(f"vcpu {vcpu} already has an event pending")
    d.platform.events[vcpu] = Event(vector, etype, insn_len, error_code, cr2)


def remote_shutdown(d: Domain, reason: int) -> None:
    """``domain_shutdown``: the first reason sticks; other values are not blocked."""
    if d.platform.shutdown_reason is None:
        d.platform.shutdown_reason = reason


def track_dirty_vram(d: Domain, first_pfn: int, nr: int, bitmap: bytearray | None) -> None:
    """``track_dirty_vram``/``hap_track_dirty_vram``: fill ``bitmap`` with the dirty frames.

    A new range starts out all dirty; afterwards a frame is dirty if the
    guest wrote it since the last call.  ``nr`` 0 stops tracking.
    """
    if nr > _MAX_VRAM_FRAMES:
        raise XenEINVAL(f"{nr} VRAM frames is more than 1 GiB")
    if not d.alive:
        raise XenEINVAL(f"domain {d.domid} is dying")
    need = -(-nr // 8)
    if bitmap is None or need > len(bitmap):
        raise XenEINVAL(f"the dirty bitmap needs {need} bytes")
    p = d.platform
    if not nr:
        p.vram, p.vram_dirty = None, set()
        return
    if p.vram != (first_pfn, nr):
        p.vram = (first_pfn, nr)
        dirty = set(range(first_pfn, first_pfn + nr))
    else:
        dirty = p.vram_dirty
    out = bytearray(need)
    for gfn in dirty:
        off = gfn - first_pfn
        out[off // 8] |= 1 << (off % 8)
    bitmap[:need] = out
    p.vram_dirty = set()


def modified_memory(
    d: Domain, nr_extents: int, opaque: int, extents: bytes | None, *, efault_bug: bool
) -> tuple[int, int]:
    """``modified_memory``: mark every frame of each extent dirty, last extent first.

    Returns the advanced ``(nr_extents, opaque)`` after one batch of 256
    frames; ``(0, 0)`` when done.  Nothing happens without log-dirty mode.
    ``efault_bug`` is 4.9's inverted copy check (every extent read is
    ``-EFAULT``; fixed by 1c2ea5ee05 in 4.10).
    """
    if not d.log_dirty:
        return 0, 0
    if (len(extents or b"") // _EXTENT_BYTES) < nr_extents:
        raise XenEINVAL(f"buf[1] holds fewer than {nr_extents} extents")
    budget = _MODIFIED_BATCH
    while nr_extents > 0:
        if efault_bug:
            raise XenEFAULT("4.9 modified_memory: COPY_FROM_GUEST_BUF_OFFSET check inverted")
        assert extents is not None
        off = (nr_extents - 1) * _EXTENT_BYTES
        nr = int.from_bytes(extents[off : off + 4], "little")
        pad = int.from_bytes(extents[off + 4 : off + 8], "little")
        first = int.from_bytes(extents[off + 8 : off + 16], "little")
        if pad:
            raise XenEINVAL("modified_memory extent: non-zero pad")
        end = (first + nr) & UINT64_MAX
        if end <= first or end > d.max_mapped_pfn:
            raise XenEINVAL(f"extent [{first:#x}, +{nr}) is not within the guest")
        if opaque >= nr:
            raise XenEINVAL(f"extent progress {opaque} >= its {nr} frames")
        pfn = first + opaque
        batch = nr - opaque
        if batch > budget:
            batch = budget
            opaque += batch
        else:
            nr_extents -= 1
            opaque = 0
        budget -= batch
        for gfn in range(pfn, pfn + batch):
            if d.p2m.get(gfn) != P2mType.INVALID:
                d.platform.dirty.add(gfn)
        if budget == 0 and nr_extents > 0:
            return nr_extents, opaque  # a continuation
    return 0, 0


def relocate_memory(d: Domain, size: int, src: int, dst: int) -> tuple[int, int, int]:
    """``XENMAPSPACE_gmfn_range`` of ``size`` frames from ``src`` to ``dst``.

    Each frame's page moves (contents and all): ``src`` becomes a hole and
    whatever ``dst`` held is dropped.  Returns what is left ``(size, src,
    dst)`` after a batch (all 0 when done); a frame that is not RAM is
    ``-EINVAL`` and the frames before it stay moved.
    """
    if dst == UINT64_MAX:
        raise XenEINVAL("relocate_memory to INVALID_GFN")
    if dst + size > UINT64_MAX or src + size > UINT64_MAX:
        raise XenEOVERFLOW(f"relocating {size} frames wraps")
    done = 0
    while done < size:
        s, t = src + done, dst + done
        old = d.p2m.get(s)
        if old in NO_PAGE_TYPES:
            raise XenEINVAL(f"gfn {s:#x} holds no page to relocate")
        page = d.ram.pop(s, None)
        d.ram.pop(t, None)
        if page is not None:
            d.ram[t] = page
        d.p2m.set(s, P2mType.INVALID)
        d.p2m.set(t, P2mType.RAM_RW)
        d.max_mapped_pfn = max(d.max_mapped_pfn, t)
        done += 1
        if done % 16 == 0 and done < size:
            return size - done, src + done, dst + done
    return 0, 0, 0


def pin_memory_cacheattr(d: Domain, start: int, end: int, ptype: int, account: HeapAccount) -> None:
    """``hvm_set_mem_pinned_cacheattr``: pin, re-type, or delete one gfn range."""
    if end < start or (start | end) >> PADDR_BITS:
        raise XenEINVAL(f"cache-attribute range [{start:#x}, {end:#x}] refused")
    p = d.platform
    if ptype == DELETE_MEM_CACHEATTR:
        for r in p.pinned:
            if (r[0], r[1]) == (start, end):
                p.pinned.remove(r)
                cost = tlsf_cost(CACHEATTR_RANGE_BYTES)
                account.free(cost)
                p.pinned_bytes -= cost
                return
        raise XenENOENT(f"no pinned range [{start:#x}, {end:#x}]")
    if ptype not in PAT_TYPES:
        raise XenEINVAL(f"cache attribute {ptype} is not a PAT type")
    for r in p.pinned:
        if (r[0], r[1]) == (start, end):
            r[2] = ptype
            return
        if r[0] <= end and start <= r[1]:
            raise XenEBUSY(f"[{start:#x}, {end:#x}] overlaps pinned [{r[0]:#x}, {r[1]:#x}]")
    cost = tlsf_cost(CACHEATTR_RANGE_BYTES)
    if not account.allocate(cost, "cacheattr_range"):
        raise XenENOMEM("Xen heap exhausted pinning a cache-attribute range")
    p.pinned_bytes += cost
    p.pinned.insert(0, [start, end, ptype])
