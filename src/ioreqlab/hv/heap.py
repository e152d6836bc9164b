"""The Xen heap: one bounded pool shared by every domain on a host.

Theory of operation
-------------------
Xen allocates ioreq servers, their rangeset nodes and (in the ``p2t`` design)
page-to-type nodes with ``xmalloc`` from the Xen heap, which all domains share
(Jan Beulich, 2016-02-02: "one domain exhausting Xen's memory can affect
another domain").  :class:`XenHeap` models that pool: a capacity fixed at
boot, bytes in use, and who uses them.  Each allocation is charged through a
:class:`HeapAccount` — the view one domain's structures hold — so the same
bytes are known per host and per domain.

Two more things a domain can have:

* a *reservation* ("preallocate tracking at create", the shadow/HAP-pool
  approach George Dunlap described on 2016-02-04): bytes set aside when the
  domain is built; the domain's later allocations draw on its reservation
  first and never fail for others' sake, and nobody else can take them;
* *fault injection*: an optional ``fault(site, nbytes) -> bool`` hook decides,
  per allocation, whether it fails as if the heap were exhausted.  Tests use it
  to make every allocation site fail at least once.

Exhaustion is ``False`` from :meth:`HeapAccount.allocate`; the caller turns it
into ``-ENOMEM`` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FaultHook", "HeapAccount", "HeapStats", "XenHeap"]

#: ``fault(site, nbytes)`` returns True to make that allocation fail.
FaultHook = Callable[[str, int], bool]


@dataclass(frozen=True, slots=True)
class HeapStats:
    """A snapshot of the heap, or of one domain's share of it."""

    capacity: int
    in_use: int
    peak: int
    reserved: int
    allocations: int
    failures: int

    @property
    def free(self) -> int:
        """Bytes nobody uses or has reserved."""
        return self.capacity - self.in_use - self.reserved


class HeapAccount:
    """One domain's (or the host's own) window onto the heap.

    Satisfies :class:`ioreqlab.alloc.Allocator`; ``site`` names what the
    allocations are for, so fault injection and statistics can tell them apart.
    """

    __slots__ = (
        "_heap",
        "allocations",
        "failures",
        "in_use",
        "owner",
        "peak",
        "reserved",
        "reserved_used",
    )

    def __init__(self, heap: XenHeap, owner: int) -> None:
        self._heap = heap
        self.owner = owner
        self.in_use = 0
        self.peak = 0
        self.allocations = 0
        self.failures = 0
        self.reserved = 0
        self.reserved_used = 0

    def allocate(self, nbytes: int, site: str = "xmalloc") -> bool:
        """Charge ``nbytes``; False (and nothing charged) if the heap refuses."""
        return self._heap._allocate(self, nbytes, site)

    def free(self, nbytes: int) -> None:
        """Give back ``nbytes`` charged earlier by this account."""
        self._heap._free(self, nbytes)

    def site(self, name: str) -> SiteAllocator:
        """An allocator charging this account under the site name ``name``."""
        return SiteAllocator(self, name)

    def statistics(self) -> HeapStats:
        """This account's share."""
        return HeapStats(
            capacity=self._heap.capacity,
            in_use=self.in_use,
            peak=self.peak,
            reserved=self.reserved,
            allocations=self.allocations,
            failures=self.failures,
        )


class SiteAllocator:
    """An :class:`~ioreqlab.alloc.Allocator` that names its allocation site."""

    __slots__ = ("_account", "site")

    def __init__(self, account: HeapAccount, site: str) -> None:
        self._account = account
        self.site = site

    def allocate(self, nbytes: int) -> bool:
        """Charge the account under this site's name."""
        return self._account.allocate(nbytes, self.site)

    def free(self, nbytes: int) -> None:
        """Give back to the account."""
        self._account.free(nbytes)


class XenHeap:
    """A bounded heap shared by all domains.

    >>> heap = XenHeap(1024)
    >>> a, b = heap.account(1), heap.account(2)
    >>> a.allocate(1000), b.allocate(48)
    (True, False)
    >>> a.free(1000); b.allocate(48), heap.statistics().in_use
    (True, 48)
    """

    __slots__ = ("_accounts", "allocations", "capacity", "failures", "fault", "in_use", "peak")

    def __init__(self, capacity: int, *, fault: FaultHook | None = None) -> None:
        if capacity < 0:
            raise ValueError(f"heap capacity {capacity} is negative")
        self.capacity = capacity
        self.fault = fault
        self.in_use = 0
        self.peak = 0
        self.allocations = 0
        self.failures = 0
        self._accounts: dict[int, HeapAccount] = {}

    def account(self, owner: int) -> HeapAccount:
        """The account of ``owner`` (a domid), created on first use."""
        acct = self._accounts.get(owner)
        if acct is None:
            acct = self._accounts[owner] = HeapAccount(self, owner)
        return acct

    def drop_account(self, owner: int) -> None:
        """Forget an account that holds nothing (domain destroyed)."""
        acct = self._accounts.get(owner)
        if acct is None:
            return
        if acct.in_use:
            raise RuntimeError(f"domain {owner} still holds {acct.in_use} heap bytes")
        del self._accounts[owner]  # its reservation goes with it

    @property
    def reserved(self) -> int:
        """Bytes set aside by reservations and not yet used."""
        return sum(a.reserved - a.reserved_used for a in self._accounts.values())

    def reserve(self, owner: int, nbytes: int) -> bool:
        """Set ``nbytes`` aside for ``owner`` alone; False if they are not free."""
        acct = self.account(owner)
        if nbytes > self.capacity - self.in_use - self.reserved:
            return False
        acct.reserved += nbytes
        return True

    def _allocate(self, acct: HeapAccount, nbytes: int, site: str) -> bool:
        if self.fault is not None and self.fault(site, nbytes):
            acct.failures += 1
            self.failures += 1
            return False
        from_reserve = min(nbytes, acct.reserved - acct.reserved_used)
        beyond = nbytes - from_reserve
        if beyond > self.capacity - self.in_use - self.reserved:
            acct.failures += 1
            self.failures += 1
            return False
        acct.reserved_used += from_reserve
        acct.in_use += nbytes
        acct.allocations += 1
        acct.peak = max(acct.peak, acct.in_use)
        self.in_use += nbytes
        self.allocations += 1
        self.peak = max(self.peak, self.in_use)
        return True

    def _free(self, acct: HeapAccount, nbytes: int) -> None:
        if nbytes > acct.in_use:
            raise RuntimeError(
                f"domain {acct.owner} frees {nbytes} heap bytes but holds {acct.in_use}"
            )
        # Shared bytes go back to the shared heap first, the reservation refills last:
        # allocations take the reservation first, so the newest bytes (those a failed
        # creation rolls back) are the shared ones.  Giving them to the reservation
        # instead would move shared heap into the domain's reserve for good.
        shared_used = acct.in_use - acct.reserved_used
        acct.in_use -= nbytes
        self.in_use -= nbytes
        acct.reserved_used -= max(nbytes - shared_used, 0)

    def statistics(self) -> HeapStats:
        """The whole heap."""
        return HeapStats(
            capacity=self.capacity,
            in_use=self.in_use,
            peak=self.peak,
            reserved=self.reserved,
            allocations=self.allocations,
            failures=self.failures,
        )

    def accounts(self) -> dict[int, HeapStats]:
        """Every account's snapshot, by owner."""
        return {owner: a.statistics() for owner, a in sorted(self._accounts.items())}
