"""Domains: what the hypervisor keeps per guest (and per device-model domain).

A domain has an id, a kind (HVM or PV), a RAM size in pages (so a highest
guest frame number), vCPUs, the HVM params array, its ioreq servers, the
cached CF8 value of its emulated PCI host bridge, and the id of the domain
allowed to act as its device model (Xen's ``XEN_DOMCTL_set_target``: the stub
domain's ``target`` is this guest; dom0 is always allowed).

Liveness: a domain is *alive* until destroyed; a crash (for instance an
emulator writing an impossible ioreq state) marks it *crashed*, after which
every operation on it fails like one on a domain being torn down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ioreqlab.abi.constants import PAGE_SHIFT, PAGE_SIZE, HvmParam
from ioreqlab.errors import XenEINVAL, XenENOMEM
from ioreqlab.hv.pages import HEAP_PAGES, Page, PageProvider
from ioreqlab.hv.platform import Platform
from ioreqlab.hv.server import IoreqServer
from ioreqlab.p2m import P2mTable
from ioreqlab.p2t import P2tTable
from ioreqlab.profiles import PROFILES

__all__ = ["LOWMEM_END_PFN", "Domain", "IoreqGmfnPool", "layout_hvm"]

#: RAM below 4 GiB ends where the MMIO hole starts (``HVM_BELOW_4G_RAM_END``,
#: 0xF0000000); the rest of a large guest's RAM is relocated above 4 GiB.
LOWMEM_END_PFN = 0xF0000000 >> PAGE_SHIFT
_FOUR_GIB_PFN = (1 << 32) >> PAGE_SHIFT
VGA_HOLE_FIRST_PFN, VGA_HOLE_LAST_PFN = 0xA0, 0xBF
_LEGACY_PARAMS = (HvmParam.IOREQ_PFN, HvmParam.BUFIOREQ_PFN)
#: Room for every profile's params (each host checks its own HVM_NR_PARAMS).
_PARAM_SLOTS = max(p.params.nr_params for p in PROFILES.values())


@dataclass(slots=True)
class IoreqGmfnPool:
    """The guest frames set aside for ioreq-server pages (4.5–4.10 ``ioreq_gmfn``).

    ``HVM_PARAM_IOREQ_SERVER_PFN`` sets the base, ``HVM_PARAM_NR_IOREQ_SERVER_PAGES``
    the number of bits in the mask; each non-default server takes one frame, or
    two with buffered ioreqs.  An empty pool makes server creation ``-ENOMEM``.
    """

    base: int = 0
    mask: int = 0
    #: 4.12+: the legacy ``IOREQ_PFN``/``BUFIOREQ_PFN`` params back the pool
    #: when it is empty (``hvm_alloc_legacy_ioreq_gfn``).
    legacy: bool = False
    #: Bit *i* is set when param *i* was set non-zero (``ioreq_gfn.legacy_mask``).
    legacy_mask: int = 0

    def take(self, params: list[int]) -> int | None:
        """Lowest free frame, then a legacy one, or None (``hvm_alloc_ioreq_gfn``).

        The legacy step is 4.17's, inverted as in every release from 4.12
        (3486f398a3) to 4.19.3 (ioreq.c, RELEASE-4.17.0: ``if (
        !test_and_clear_bit(i, legacy_mask) ) return params[i]``; fixed by
        282ed258a5, 2025, in 4.19.4, 4.20.2 and 4.21): a set bit is cleared and
        passed over, a clear bit hands out its param's frame.  So with both
        params set, the first request past the pool fails and clears both
        bits, and every later one gets ``IOREQ_PFN``'s frame, whoever holds it.
        """
        if self.mask:
            bit = (self.mask & -self.mask).bit_length() - 1
            self.mask &= ~(1 << bit)
            return self.base + bit
        if not self.legacy:
            return None
        for index in _LEGACY_PARAMS:
            if self.legacy_mask & (1 << index):
                self.legacy_mask &= ~(1 << index)
                continue
            return params[index]
        return None

    def give_back(self, gmfn: int, params: list[int]) -> bool:
        """Return a frame taken earlier (``hvm_free_ioreq_gfn``: legacy frames first).

        Xen computes the bit as ``unsigned int i = gfn - base``: if the toolstack
        moved ``HVM_PARAM_IOREQ_SERVER_PFN`` since the frame was taken, ``i``
        wraps or lands past the 64-bit mask, where release builds ``set_bit``
        outside it (memory that is not the pool's) and debug builds hit the
        ``ASSERT``.  The model drops such a frame and returns False (the caller
        counts it); a bit inside the mask is set, whatever frame it now names.
        """
        for index in _LEGACY_PARAMS:
            if params[index] == gmfn:
                self.legacy_mask |= 1 << index
                return True
        i = (gmfn - self.base) & 0xFFFF_FFFF
        if i >= 64:
            return False
        self.mask |= 1 << i
        return True

    def legacy_frames(self, params: list[int]) -> set[int]:
        """The frames the legacy params name, when they back the pool (4.12+)."""
        return {params[i] for i in _LEGACY_PARAMS} if self.legacy else set()

    def free_frames(self) -> int:
        """How many frames the pool has left (the legacy frames apart)."""
        return self.mask.bit_count()


@dataclass(slots=True, eq=False)
class Domain:
    """One domain's hypervisor state."""

    domid: int
    name: str
    hvm: bool
    hap: bool
    nr_pages: int
    vcpus: int
    privileged: bool = False
    dm_domid: int = 0
    alive: bool = True
    crashed: bool = False
    params: list[int] = field(default_factory=lambda: [0] * _PARAM_SLOTS)
    #: Non-default servers, newest first (4.7 ``list_add`` at the head).
    servers: list[IoreqServer] = field(default_factory=list)
    default_server: IoreqServer | None = None
    #: The last id handed out (``next_ioservid`` pre-increments it).
    last_ioservid: int = 0
    gmfn_pool: IoreqGmfnPool = field(default_factory=IoreqGmfnPool)
    #: The guest's event-channel ports in use by ioreq servers (port 0 is
    #: ``ECS_RESERVED`` from ``evtchn_init``).
    ports: set[int] = field(default_factory=set)
    #: Last value written to port 0xcf8 with a 4-byte write.
    pci_cf8: int = 0
    #: Hypervisor-side counters: requests sent, refused emulator moves, etc.
    counters: dict[str, int] = field(default_factory=dict)
    #: Guest RAM contents, sparse: untouched pages read as zeros.
    ram: dict[int, Page] = field(default_factory=dict)
    #: Where new pages come from (:mod:`ioreqlab.hv.pages`).
    pages: PageProvider = field(default=HEAP_PAGES, repr=False)
    #: Each frame's p2m type (all RAM ``ram_rw`` at creation).
    p2m: P2mTable = field(init=False)
    #: The p2t design's page-to-type table (None in other designs).
    p2t: P2tTable | None = None
    #: Pages per ioreq type held in the p2t.
    p2t_counts: dict[int, int] = field(default_factory=dict)
    #: Owner of each claimed ioreq memory type (``p2m->ioreq.server``).
    ioreq_owners: dict[int, IoreqServer] = field(default_factory=dict)
    #: Log-dirty paging mode is on (``PG_log_dirty``: live migration).
    log_dirty: bool = False
    #: ``p2m->global_logdirty``: every RAM frame starts log-dirty.  Cleared by
    #: any ``p2m_change_entry_type_global`` to another type — a disclaim with
    #: leftover p2m_ioreq_server pages included.
    global_logdirty: bool = False
    #: Frames libxc populates outside the RAM map: the special pages and the
    #: ioreq-server pool (``xc_dom_x86.c``: RAM in the p2m, like the rest).
    special: range = range(0)
    #: The platform DMOPs' state: interrupt lines, MSIs, dirty pages, shutdown.
    platform: Platform = field(default_factory=Platform)
    #: ``p2m->max_mapped_pfn``: the highest gfn ever mapped (set by the host).
    max_mapped_pfn: int = 0
    #: Pages the domain holds (``tot_pages``) and may hold (``max_pages``): the
    #: room QEMU populates video RAM and option ROMs into.
    tot_pages: int = 0
    max_pages: int = 0
    #: The virtual RTC's CMOS index (port 0x70), which decides who serves 0x71.
    rtc_index: int = 0
    #: Lines the guest printed on Xen's debug console (port 0xe9), and the partial one.
    console: list[str] = field(default_factory=list)
    console_buffer: str = ""

    def __post_init__(self) -> None:
        self.p2m = P2mTable(self.is_ram)
        self.max_mapped_pfn = self.max_gpfn

    @property
    def shut_down(self) -> bool:
        """Shut down (crashed, or a remote shutdown): vCPUs paused, DMOPs still served."""
        return self.crashed or self.platform.shutdown_reason is not None

    @property
    def max_gpfn(self) -> int:
        """Highest guest frame number backed by RAM (above 4 GiB for big guests)."""
        if self.nr_pages <= LOWMEM_END_PFN:
            return self.nr_pages - 1
        return _FOUR_GIB_PFN + (self.nr_pages - LOWMEM_END_PFN) - 1

    def is_ram(self, gfn: int) -> bool:
        """Whether ``gfn`` is backed by RAM: below the hole, or relocated above 4 GiB.

        The legacy VGA window 0xA0000–0xBFFFF is never populated (libxc's
        ``setup_guest`` skips it), so accesses there are emulated.
        """
        if gfn in self.special:
            return True
        if gfn < LOWMEM_END_PFN:
            return gfn < self.nr_pages and not VGA_HOLE_FIRST_PFN <= gfn <= VGA_HOLE_LAST_PFN
        return _FOUR_GIB_PFN <= gfn <= self.max_gpfn

    def read_ram(self, gpa: int, size: int) -> int:
        """Little-endian read of ``size`` bytes of guest RAM (the caller checked is_ram)."""
        out = bytearray()
        while size:
            page = self.ram.get(gpa >> PAGE_SHIFT)
            off = gpa & (PAGE_SIZE - 1)
            n = min(size, PAGE_SIZE - off)
            out += page[off : off + n] if page is not None else bytes(n)
            gpa += n
            size -= n
        return int.from_bytes(out, "little")

    def write_block(self, gpa: int, raw: bytes) -> None:
        """Bytes into one frame of guest RAM (the caller keeps ``raw`` inside it)."""
        gfn = gpa >> PAGE_SHIFT
        page = self.ram.get(gfn)
        if page is None:
            page = self.ram[gfn] = self.pages.new_page()
        off = gpa & (PAGE_SIZE - 1)
        page[off : off + len(raw)] = raw

    def write_ram(self, gpa: int, size: int, value: int) -> None:
        """Little-endian write of ``size`` bytes of guest RAM."""
        raw = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        if (gpa & (PAGE_SIZE - 1)) + size <= PAGE_SIZE:  # the common case: inside one frame
            self.write_block(gpa, raw)
            return
        while raw:  # across frames: each part into its own frame
            n = min(len(raw), PAGE_SIZE - (gpa & (PAGE_SIZE - 1)))
            self.write_block(gpa, raw[:n])
            raw = raw[n:]
            gpa += n

    @property
    def memory_bytes(self) -> int:
        """Guest RAM in bytes."""
        return self.nr_pages << PAGE_SHIFT

    def count(self, what: str, n: int = 1) -> None:
        """Bump a named counter."""
        self.counters[what] = self.counters.get(what, 0) + n

    def alloc_port(self) -> int:
        """``alloc_unbound_xen_event_channel``: ``get_free_port`` hands out the
        lowest free port (``common/event_channel.c``, 4.7 and 4.17)."""
        port = 1
        while port in self.ports:
            port += 1
        self.ports.add(port)
        return port

    def all_servers(self) -> list[IoreqServer]:
        """Every server, default included, newest first."""
        extra = [self.default_server] if self.default_server is not None else []
        return [*self.servers, *extra]

    def find_server(self, sid: int) -> IoreqServer | None:
        """The non-default server with id ``sid`` (id-based calls skip the default)."""
        for s in self.servers:
            if s.id == sid:
                return s
        return None


#: Where libxc puts the special pages (``xc_dom_x86.c``, 4.7 and
#: ``xg_dom_x86.c``, 4.17): eight special frames below 0xff000, and the
#: ioreq-server pool just below them.
_SPECIAL_PFN_BASE = 0xFF000 - 8
_SPECIAL_IOREQ, _SPECIAL_BUFIOREQ = 5, 3


def layout_hvm(d: Domain, ioreq_server_pages: int, *, legacy_gfns: bool) -> None:
    """What libxc's ``setup_guest`` leaves an HVM guest with.

    The special pages and the ioreq-server pool are populated as RAM; the
    legacy ``IOREQ_PFN``/``BUFIOREQ_PFN``, ``DM_DOMAIN`` and the pool params
    are set (with ``legacy_gfns``, 4.12+, ``hvm_set_param`` also offers the
    legacy frames to servers).
    """
    d.special = range(_SPECIAL_PFN_BASE - ioreq_server_pages, _SPECIAL_PFN_BASE + 8)
    d.max_mapped_pfn = max(d.max_gpfn, d.special.stop - 1)
    d.params[HvmParam.IOREQ_PFN] = _SPECIAL_PFN_BASE + _SPECIAL_IOREQ
    d.params[HvmParam.BUFIOREQ_PFN] = _SPECIAL_PFN_BASE + _SPECIAL_BUFIOREQ
    if legacy_gfns:
        d.gmfn_pool.legacy = True
        d.gmfn_pool.legacy_mask = (1 << HvmParam.IOREQ_PFN) | (1 << HvmParam.BUFIOREQ_PFN)
    d.params[HvmParam.DM_DOMAIN] = d.dm_domid
    if ioreq_server_pages:
        base = _SPECIAL_PFN_BASE - ioreq_server_pages
        d.params[HvmParam.IOREQ_SERVER_PFN] = base
        d.params[HvmParam.NR_IOREQ_SERVER_PAGES] = ioreq_server_pages
        d.gmfn_pool.base = base
        d.gmfn_pool.mask = (1 << ioreq_server_pages) - 1


#: The shared page holds one 32-byte slot per vCPU.
MAX_VCPUS = 128
#: The largest number of ioreq-server frames (bits in ``ioreq_gmfn.mask``).
MAX_IOREQ_SERVER_PAGES = 64


def check_new_domain(
    memory_mib: int, vcpus: int, ioreq_server_pages: int, preallocate_bytes: int, free: int
) -> int:
    """The creation arguments checked (``-EINVAL``); the guest's page count.

    ``free`` is how many pages of the machine's RAM no domain holds: a guest
    larger is ``-ENOMEM``, as its build's ``populate_physmap`` would be.
    """
    if type(memory_mib) is not int or memory_mib <= 0:
        raise XenEINVAL(f"memory_mib {memory_mib!r} must be a positive integer")
    if type(vcpus) is not int or not 1 <= vcpus <= MAX_VCPUS:
        raise XenEINVAL(f"vcpus {vcpus!r} must be 1..{MAX_VCPUS}")
    if not 0 <= ioreq_server_pages <= MAX_IOREQ_SERVER_PAGES:
        raise XenEINVAL(
            f"ioreq_server_pages {ioreq_server_pages} is not 0..{MAX_IOREQ_SERVER_PAGES}"
        )
    if preallocate_bytes < 0:
        raise XenEINVAL("preallocate_bytes must not be negative")
    nr_pages = (memory_mib << 20) >> PAGE_SHIFT
    if nr_pages > free:
        raise XenENOMEM(
            f"a guest of {memory_mib:,} MiB does not fit: the host has {max(free, 0) >> 8:,}"
            " MiB of RAM free (Host(memory_mib=...))"
        )
    return nr_pages
